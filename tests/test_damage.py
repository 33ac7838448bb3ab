"""--ffpe-filter (damage.py): hand-built read pairs whose alt reads come in one orientation or in both."""
from __future__ import annotations

import numpy as np

from builders import make_read
from deepvariant_py.candidates import find_candidates
from deepvariant_py.damage import DamageFilter, f1r2
from deepvariant_py.read_events import extract_events

#         0         1         2
#         012345678901234567890123456789
REF = "GATTACACGTTAGCCATGCAGTCAAGTCGA"
C_AT, G_AT = 13, 8  # REF[13] == "C", REF[8] == "G"
READ1, READ2 = 0x1 | 0x40, 0x1 | 0x80


def _read(i: int, alt_at: int | None, alt: str, orientation: str):
    """Read i over the whole of REF, showing `alt` at `alt_at` (None: the reference), in pair orientation F1R2
    (read 1 forward or read 2 reverse, alternately) or F2R1."""
    seq = REF if alt_at is None else REF[:alt_at] + alt + REF[alt_at + 1:]
    first = i % 2 == 0
    flag = READ1 if first else READ2
    reverse = (not first) if orientation == "F1R2" else first
    return make_read(f"r{i}", 0, f"{len(REF)}M", seq, flag=flag, reverse=reverse)


def _site(alt_reads: list[str], ref_reads: list[str], alt_at: int = C_AT, alt: str = "T"):
    """Events and the one candidate of a pileup: alt reads then reference reads, each given its orientation."""
    reads = [_read(i, alt_at, alt, o) for i, o in enumerate(alt_reads)]
    reads += [_read(len(reads) + i, None, alt, o) for i, o in enumerate(ref_reads)]
    events = extract_events(reads, REF, 0)
    (candidate,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    return events, candidate


def test_pair_orientation_of_each_read():
    reads = [make_read("a", 0, "5M", REF[:5], flag=READ1), make_read("b", 0, "5M", REF[:5], flag=READ2, reverse=True),
             make_read("c", 0, "5M", REF[:5], flag=READ1, reverse=True), make_read("d", 0, "5M", REF[:5], flag=READ2),
             make_read("single", 0, "5M", REF[:5])]
    assert f1r2(extract_events(reads, REF, 0)).tolist() == [True, True, False, False, True]


def test_c_to_t_in_f1r2_reads_only_is_damage_and_in_both_orientations_is_not():
    ref_reads = ["F1R2", "F2R1"] * 10
    events, cand = _site(["F1R2"] * 3, ref_reads)
    assert cand.alts == ("T",) and DamageFilter().select(events, [cand]) == []
    events, cand = _site(["F1R2", "F1R2", "F2R1"], ref_reads)
    assert DamageFilter().select(events, [cand]) == [cand]


def test_each_change_has_its_own_orientation():
    ref_reads = ["F1R2", "F2R1"] * 10
    events, cand = _site(["F2R1"] * 3, ref_reads)  # C>T in the orientation that cannot show deamination as C>T
    assert DamageFilter().select(events, [cand]) == [cand]
    events, cand = _site(["F2R1"] * 3, ref_reads, alt_at=G_AT, alt="A")  # G>A: the bottom strand's damage
    assert cand.alts == ("A",) and DamageFilter().select(events, [cand]) == []
    events, cand = _site(["F1R2"] * 3, ref_reads, alt_at=C_AT, alt="A")  # C>A is no deamination
    assert DamageFilter().select(events, [cand]) == [cand]


def test_a_het_fraction_or_too_few_reads_of_the_other_orientation_keep_the_candidate():
    events, cand = _site(["F1R2"] * 6, ["F1R2", "F2R1"] * 7)  # 6 of 20 reads: above 25%
    assert DamageFilter().select(events, [cand]) == [cand]
    assert DamageFilter(max_fraction=0.3).select(events, [cand]) == []
    events, cand = _site(["F1R2"] * 3, ["F1R2"] * 14 + ["F2R1"] * 2)  # 2 F2R1 reads: their lack of T says little
    assert DamageFilter().select(events, [cand]) == [cand]
    assert DamageFilter(min_other_reads=2).select(events, [cand]) == []


def test_unpaired_reads_in_one_orientation_are_left_alone():
    reads = [make_read(f"a{i}", 0, f"{len(REF)}M", REF[:C_AT] + "T" + REF[C_AT + 1:]) for i in range(3)]
    reads += [make_read(f"r{i}", 0, f"{len(REF)}M", REF) for i in range(20)]  # forward, unpaired: all "F1R2"
    events = extract_events(reads, REF, 0)
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert DamageFilter().select(events, [cand]) == [cand]
    assert np.all(f1r2(events))


def test_a_low_quality_alt_read_of_the_other_orientation_keeps_the_candidate():
    ref_reads = ["F1R2", "F2R1"] * 10
    reads = [_read(i, C_AT, "T", "F1R2") for i in range(3)]
    odd = _read(3, C_AT, "T", "F2R1")
    odd.query_qualities = np.full(len(REF), 5, np.uint8)  # under the counting floor, but it shows the alt
    reads += [odd] + [_read(4 + i, None, "T", o) for i, o in enumerate(ref_reads)]
    events = extract_events(reads, REF, 0)
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert cand.allele_depths[1] == 3
    assert DamageFilter().select(events, [cand]) == [cand]


def test_the_run_says_what_each_filter_dropped():
    from deepvariant_py.make_examples import MakeExamplesOptions, dropped_note

    plain = MakeExamplesOptions()
    assert dropped_note(3, 0, plain) == ""
    assert dropped_note(0, 1234, MakeExamplesOptions(damage_filter=DamageFilter())) == " (--ffpe-filter dropped 1,234 as damage)"


def test_the_signal_counts_damage_and_its_swapped_orientation_control():
    ref_reads = ["F1R2", "F2R1"] * 10
    events, damage = _site(["F1R2"] * 3, ref_reads)
    assert DamageFilter().signal(events, [damage]) == (1, 0)
    events, control = _site(["F2R1"] * 3, ref_reads)  # C>T where deamination cannot put it: an error's look
    assert DamageFilter().signal(events, [control]) == (0, 1)
    events, both = _site(["F1R2", "F2R1", "F2R1"], ref_reads)
    assert DamageFilter().signal(events, [both]) == (0, 0)


def test_a_library_with_far_more_damage_than_control_is_warned_about():
    from deepvariant_py.make_examples import DAMAGE_WARNING_MIN, DAMAGE_WARNING_RATIO, MakeExamplesStats, damage_warning

    def stats(like, control):
        return [MakeExamplesStats(damage_like_candidates=like, damage_control_candidates=control)]
    assert damage_warning(stats(DAMAGE_WARNING_MIN - 1, 0)) is None  # too few to say
    assert damage_warning(stats(400, 400 // DAMAGE_WARNING_RATIO + 1)) is None  # errors put as many either way
    line = damage_warning(stats(126, 0))
    assert line.startswith("126 C>T/G>A candidates have every alt read in the one read-pair orientation") and "--ffpe-filter" in line

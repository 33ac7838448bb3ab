"""read_events: extraction at another quality threshold, and splicing re-extracted reads into a partition's events."""
from __future__ import annotations

import array

import numpy as np

from builders import header_for, make_read
from deepvariant_py.read_events import ReadEvents, extract_events, replace_reads

REF = "ACGTTGCAAGCTTAGGCATCGATCGGATCCATGACTGACCGTAGCTAGGCTAACGTTACG" * 3
HEADER = header_for(length=len(REF))


def read(name, start, cigar, seq, **kw):
    return make_read(name, start, cigar, seq, header=HEADER, **kw)


def reads_with_events():
    return [
        read("plain", 5, "30M", REF[5:35]),
        read("ins", 10, "10M2I18M", REF[10:20] + "GG" + REF[20:38], quals=[30] * 10 + [8, 9] + [30] * 18),
        read("del", 12, "3S10M3D15M", "TTT" + REF[12:22] + REF[25:40]),
        read("clip", 40, "25M5S", REF[40:65] + "AAAAA", quals=[30] * 25 + [15] * 5),
    ]


def as_plain(ev: ReadEvents) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(ev).items()}


def test_low_quality_at_another_threshold_equals_extracting_at_it():
    reads = reads_with_events()
    at10 = extract_events(reads, REF, 0, 10)
    for threshold in (5, 9, 10, 15, 20, 31):
        assert at10.low_quality(threshold).tolist() == extract_events(reads, REF, 0, threshold).e_low_quality.tolist()
    assert at10.e_low_quality.tolist() == at10.low_quality(10).tolist()


def test_replacing_reads_equals_extracting_everything_again():
    reads = reads_with_events()
    events = extract_events(reads, REF, 0)
    moved = {1: read("ins", 10, "12M18M", REF[10:20] + "GG" + REF[20:38]),  # the insertion realigned as mismatches
             2: read("del", 12, "13M3D15M", REF[9:22] + REF[25:40])}  # the clip turned into aligned bases
    rows = sorted(moved)
    new_reads = [moved.get(i, r) for i, r in enumerate(reads)]
    spliced = replace_reads(events, np.array(rows), extract_events([moved[i] for i in rows], REF, 0))
    assert as_plain(spliced) == as_plain(extract_events(new_reads, REF, 0))
    assert as_plain(replace_reads(events, np.array([], np.int64), extract_events([], REF, 0))) == as_plain(events)
    backwards = replace_reads(events, np.array(rows[::-1]), extract_events([moved[i] for i in rows[::-1]], REF, 0))
    assert as_plain(backwards) == as_plain(extract_events(new_reads, REF, 0))  # rows in any order


def test_aligned_bases_match_a_base_by_base_walk_in_read_order():
    """One-block reads (taken as arrays) and walked reads, interleaved, come out in read order with each base's
    code and quality: a read without qualities gets MISSING_BASE_QUALITY, a quality above 222 (no one-byte
    character) is kept."""
    rng = np.random.default_rng(7)
    quals = [int(q) for q in rng.integers(2, 41, 28)]
    reads = [
        read("one", 3, "20M", REF[3:23], quals=quals[:20]),
        read("ins", 10, "10M2I18M", REF[10:20] + "GG" + REF[20:38], quals=[30] * 10 + [8, 9] + [30] * 18),
        read("noqual", 7, "25M", REF[7:32], quals=None),
        read("del", 12, "3S10M3D15M", "TTT" + REF[12:22] + REF[25:40], quals=quals),
        read("eq", 30, "12=", REF[30:42], hp=2),
        read("high", 20, "5M1D5M", REF[20:25] + REF[26:31]),
    ]
    reads[-1].query_qualities = array.array("B", [250] * 10)
    events = extract_events(reads, REF, 0)
    expect = []
    for i, r in enumerate(reads):
        q = r.query_qualities
        for qpos, rpos in r.get_aligned_pairs(matches_only=True):
            expect.append((i, rpos, "ACGT".index(r.query_sequence[qpos]), 30 if q is None else q[qpos]))
    got = list(zip(events.m_read.tolist(), events.m_pos.tolist(), events.m_base.tolist(), events.m_qual.tolist()))
    assert got == expect
    assert events.end.tolist() == [r.reference_end for r in reads]
    assert events.hp.tolist() == [0, 0, 0, 0, 2, 0]
    assert events.e_read.tolist() == [1, 3, 3, 5]
    assert events.no_qualities == 1  # counted for run's warning (make_examples.missing_quality_warning)


def test_an_indel_after_a_clip_an_insertion_or_a_deletion_is_anchored_on_the_reference():
    """The anchor of an insertion, clip or deletion is the read's base only where that base is aligned to the
    anchor position; after a soft clip or next to another indel (minimap2 writes 2I3D) the read's base before is a
    clipped or inserted one, and an allele spelled with it was a substitution no read carries (CAGC -> G)."""
    s = 20
    reads = [read("clip_del", s, "5S3D20M", "GGGGG" + REF[s + 3:s + 23]),  # anchor s - 1, not the last clipped G
             read("ins_del", s - 10, "10M2I3D20M", REF[s - 10:s] + "AA" + REF[s + 3:s + 23]),
             read("del_ins", s - 10, "10M3D2I20M", REF[s - 10:s] + "AA" + REF[s + 3:s + 23]),
             read("snp_ins", s - 10, "10M2I20M", REF[s - 10:s - 1] + "T" + "AA" + REF[s:s + 20])]  # aligned anchor: read's T
    ev = extract_events(reads, REF, 0)
    events = {(reads[i].query_name, int(p), str(b)) for i, p, b in zip(ev.e_read, ev.e_pos, ev.e_bases)}
    assert ("clip_del", s - 1, REF[s - 1:s + 3]) in events
    assert ("ins_del", s - 1, REF[s - 1] + "AA") in events and ("ins_del", s - 1, REF[s - 1:s + 3]) in events
    assert ("del_ins", s - 1, REF[s - 1:s + 3]) in events and ("del_ins", s + 2, REF[s + 2] + "AA") in events
    assert ("snp_ins", s - 1, "TAA") in events


def test_hp_is_read_within_the_phase_set_most_tagged_reads_share():
    """HP 1/2 mean something only within a read's PS (whatshap's phase block, each oriented on its own): in a
    pileup over a block boundary the reads of the phase set most tagged reads share keep their HP, the others
    count as untagged. One PS, or none, leaves HP as it is."""
    tagged = [(1, 100), (2, 100), (1, 100), (2, 200), (1, 200), (None, None)]
    reads = [read(f"r{i}", 5, "30M", REF[5:35], hp=hp, tags=[("PS", ps)] if ps else []) for i, (hp, ps) in enumerate(tagged)]
    ev = extract_events(reads, REF, 0)
    assert ev.ps.tolist() == [100, 100, 100, 200, 200, 0]
    assert ev.hp_of(np.arange(6)).tolist() == [1, 2, 1, 0, 0, 0]
    assert ev.hp_of(np.array([3, 4, 5])).tolist() == [2, 1, 0]  # one phase set among these rows
    tie = ev.hp_of(np.array([0, 3]))
    assert tie.tolist() == [1, 0]  # a tie goes to the smaller PS
    no_ps = extract_events([read("a", 5, "30M", REF[5:35], hp=1), read("b", 5, "30M", REF[5:35], hp=2)], REF, 0)
    assert no_ps.hp_of(np.arange(2)).tolist() == [1, 2]


def test_reads_without_qualities_are_named_when_they_are_more_than_a_few():
    from deepvariant_py.make_examples import MakeExamplesStats, missing_quality_warning
    assert missing_quality_warning([MakeExamplesStats(reads=1000, reads_without_qualities=5)]) is None
    line = missing_quality_warning([MakeExamplesStats(reads=600, reads_without_qualities=300),
                                    MakeExamplesStats(reads=400, reads_without_qualities=0)])
    assert line.startswith("30% of the reads carry no base qualities ('*'): each of their bases is taken as Q30")


def test_one_base_reads_keep_their_quality():
    """hostile18: pysam 0.24's query_qualities_str reads past a 1-base read's quality (garbage, or a
    UnicodeDecodeError that stopped make_examples); a read hard-clipped to 1M is legal."""
    reads = [make_read(f"one{i}", 5 + i % 50, "1M", REF[5 + i % 50], quals=[i % 41], header=HEADER) for i in range(400)]
    reads += [make_read("bare", 7, "1M", REF[7], quals=None, header=HEADER), make_read("two", 8, "2M", REF[8:10], quals=[7, 9],
                                                                                        header=HEADER)]
    events = extract_events(reads, REF, 0)
    assert events.m_qual.tolist() == [i % 41 for i in range(400)] + [events.m_qual[400], 7, 9]
    assert events.no_qualities == 1


def test_an_n_base_is_worth_no_more_than_q2_whatever_its_quality():
    """hostile18: reads of Ns at their original qualities (a masking tool that kept them) were drawn as confident
    bases that differ from the reference, and 4 true SNPs of the real HG002 reads went to RefCall."""
    from deepvariant_py.alt_aligned import ReadLayout
    from deepvariant_py.read_events import N_BASE_QUALITY
    seq = REF[5:15] + "NN" + REF[17:25] + "n" + REF[26:35]
    quals = [40] * 10 + [40, 1] + [40] * 8 + [37] + [40] * 9
    reads = [read("masked", 5, "30M", seq, quals=quals), read("ins", 10, "10M2I18M", REF[10:20] + "NG" + REF[20:38], quals=40)]
    events = extract_events(reads, REF, 0)
    masked = events.m_read == 0
    n_at = np.array([b in "Nn" for b in seq])
    assert events.m_qual[masked][n_at].tolist() == [N_BASE_QUALITY, 1, N_BASE_QUALITY]  # lower ones stay lower
    assert (events.m_qual[masked][~n_at] == 40).all()
    assert events.e_low_quality.tolist() == [False]  # an inserted N beside a good base: the insertion's mean stays high
    layout = ReadLayout(reads[0])
    assert layout.qual[n_at].tolist() == [N_BASE_QUALITY, 1, N_BASE_QUALITY] and (layout.qual[~n_at] == 40).all()

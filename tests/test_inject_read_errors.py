"""scripts/inject_read_errors.py: the robustness rows' base damage at good quality."""
import importlib.util
from pathlib import Path

import numpy as np
import pysam
import pytest

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
_spec = importlib.util.spec_from_file_location("inject_read_errors",
                                               Path(__file__).resolve().parent.parent / "scripts" / "inject_read_errors.py")
ie = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ie)


def _changes(before: bytes, after: bytes) -> list[tuple[str, str]]:
    return [(chr(a), chr(b)) for a, b in zip(before, after) if a != b]


def test_ffpe_turns_only_c_to_t_on_the_first_strand_and_g_to_a_on_the_other():
    seq = b"ACGTN" * 4000
    first = ie.damage(seq, np.random.default_rng(1), ffpe=0.05, first=True)
    other = ie.damage(seq, np.random.default_rng(1), ffpe=0.05, first=False)
    assert set(_changes(seq, first)) == {("C", "T")} and set(_changes(seq, other)) == {("G", "A")}
    assert 0.03 < len(_changes(seq, first)) / seq.count(b"C") < 0.07


def test_substitutions_change_bases_to_another_base_and_leave_n():
    seq = b"ACGTN" * 4000
    out = ie.damage(seq, np.random.default_rng(2), substitutions=0.1)
    changes = _changes(seq, out)
    assert all(a != b and a in "ACGT" and b in "ACGT" for a, b in changes)
    assert {b for _, b in changes} == set("ACGT")
    assert 0.08 < len(changes) / (len(seq) * 0.8) < 0.12


@pytest.mark.parametrize("reverse", [False, True])
def test_bad_cycles_count_from_where_the_read_was_sequenced(reverse):
    seq = b"ACGT" * 25  # 100 cycles
    out = ie.damage(seq, np.random.default_rng(3), cycles=(11, 20, 1.0), reverse=reverse)
    hit = [i for i, (a, b) in enumerate(zip(seq, out)) if a != b]
    assert hit == (list(range(80, 90)) if reverse else list(range(10, 20)))


def test_first_strand_follows_the_fragment():
    read = pysam.AlignedSegment()
    for flag, first in ((0x1 | 0x40, True), (0x1 | 0x40 | 0x10, False), (0x1 | 0x80 | 0x10, True), (0x1 | 0x80, False),
                        (0, True), (0x10, False)):
        read.flag = flag
        assert ie.first_strand(read) is first


def test_a_damaged_bam_keeps_qualities_alignments_and_drops_md_nm(tmp_path):
    src = TESTDATA / "NA12878.chr20_10.00-10.02Mb.bam"
    out = tmp_path / "out.bam"
    ie.inject(str(src), str(out), substitutions=0.05, seed=7)
    again = tmp_path / "again.bam"
    ie.inject(str(src), str(again), substitutions=0.05, seed=7)
    with pysam.AlignmentFile(str(src)) as a, pysam.AlignmentFile(str(out)) as b, pysam.AlignmentFile(str(again)) as c:
        triples = list(zip(a, b, c))
    changed = total = 0
    for x, y, z in triples:
        assert (x.query_name, x.reference_start, x.cigarstring, list(x.query_qualities or [])) == \
            (y.query_name, y.reference_start, y.cigarstring, list(y.query_qualities or []))
        assert y.query_sequence == z.query_sequence  # seeded by the read: the same BAM again
        assert not y.has_tag("MD") and not y.has_tag("NM")
        if x.query_sequence and not x.is_secondary and not x.is_supplementary:
            changed += sum(p != q for p, q in zip(x.query_sequence, y.query_sequence))
            total += len(x.query_sequence)
    assert 0.04 < changed / total < 0.06

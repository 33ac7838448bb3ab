"""AlignedBases: one alignment's CIGAR as arrays, checked against a walk over the operations base by base."""
from __future__ import annotations

import numpy as np
import pytest

from builders import make_read
from deepvariant_py.cigar import (ALIGNED, DEL, EQUAL, HARD_CLIP, INS, MATCH, READ_ADVANCING, REF_ADVANCING,
                                  SOFT_CLIP, AlignedBases)
from deepvariant_py.realigner.debruijn import _query_range


def walk(cigar, start):
    """Per operation (op, reference position before it, read offset before it): the slow, obvious way."""
    out, pos, q = [], start, 0
    for op, n in cigar:
        out.append((op, n, pos, q))
        pos += n if op in REF_ADVANCING else 0
        q += n if op in READ_ADVANCING else 0
    return out


def slow_offsets(cigar, start, positions):
    where = {}
    for op, n, pos, q in walk(cigar, start):
        if op in ALIGNED:
            where.update({pos + i: q + i for i in range(n)})
    return [where.get(p, -1) for p in positions]


def slow_query_range(cigar, start, lo, hi):
    """First and last read offset of the bases aligned in [lo, hi), insertions and clips beside their anchor."""
    spans = []
    for op, n, pos, q in walk(cigar, start):
        if op in ALIGNED:
            a, b = max(pos, lo), min(pos + n, hi)
            if a < b:
                spans.append((q + a - pos, q + b - pos))
        elif op in (INS, SOFT_CLIP) and lo <= pos <= hi:
            spans.append((q, q + n))
    return (spans[0][0], spans[-1][1]) if spans else (0, 0)


def random_cigar(rng):
    ops = []
    if rng.random() < 0.3:
        ops.append((HARD_CLIP, int(rng.integers(1, 5))))
    if rng.random() < 0.5:
        ops.append((SOFT_CLIP, int(rng.integers(1, 8))))
    for _ in range(int(rng.integers(1, 12))):
        ops.append((int(rng.choice([MATCH, MATCH, EQUAL, INS, DEL])), int(rng.integers(1, 9))))
    ops.append((MATCH, int(rng.integers(1, 9))))
    if rng.random() < 0.5:
        ops.append((SOFT_CLIP, int(rng.integers(1, 8))))
    return ops


@pytest.mark.parametrize("seed", range(20))
def test_offsets_and_query_range_match_a_walk(seed):
    rng = np.random.default_rng(seed)
    cigar, start = random_cigar(rng), int(rng.integers(0, 50))
    bases = AlignedBases(cigar, start)
    read = make_read("r", start, "".join(f"{n}{'MIDNSHP=X'[op]}" for op, n in cigar))
    span = range(start - 5, start + 120)
    assert bases.offsets(list(span)).tolist() == slow_offsets(cigar, start, span)
    for lo in range(start - 5, start + 80, 3):
        for width in (0, 1, 4, 17, 60):
            expected = slow_query_range(cigar, start, lo, lo + width)
            assert bases.query_range(lo, lo + width) == expected, (cigar, lo, width)
            assert _query_range(read, lo, lo + width) == expected  # the walk read_segments does for short reads


def test_query_range_keeps_an_insertion_at_either_edge_and_clips_beside_their_anchor():
    cigar = [(SOFT_CLIP, 3), (MATCH, 5), (INS, 2), (MATCH, 5), (SOFT_CLIP, 4)]  # reference 10..20
    bases = AlignedBases(cigar, 10)
    assert bases.query_range(15, 18) == (8, 13)  # the insertion at 15 (its anchor is 14) is inside [15, 18]
    assert bases.query_range(12, 15) == (5, 10)  # ... and at the right edge, included too
    assert bases.query_range(0, 11) == (0, 4)  # the leading clip sits at 10
    assert bases.query_range(20, 30) == (15, 19)  # the trailing clip at 20
    assert bases.query_range(30, 40) == (0, 0)


def _piece(p):
    return p.reference_start, p.cigarstring, p.query_sequence, list(p.query_qualities)


def test_a_spliced_read_splits_into_the_alignments_between_its_skips():
    """CIGAR N (RNA-seq): each piece aligns only its own bases; an insertion a skip cuts off from the bases it
    followed becomes a soft clip, a deletion beside a skip is dropped, a piece without an aligned base goes."""
    from deepvariant_py.cigar import has_skip, split_at_skips
    seq = "ACGTACGTAC" + "GGTTTTTCCCCC" + "GGG" + "AAA"
    quals = list(range(len(seq)))
    read = make_read("r", 100, "2S8M50N2I5M1D5M20N3D3I40N3M", seq=seq, quals=quals,
                     tags=[("HP", 1), ("MD", "8"), ("NM", 3), ("RG", "x")])
    assert has_skip(read) and not has_skip(make_read("d", 100, "5M30D5M"))
    for cigar in ("60S50M30N40M", "50M30N40M40I", "10M25N80M60S"):  # clips and insertions do not hide a skip
        assert has_skip(make_read("c", 100, cigar)), cigar
    pieces = split_at_skips(read)
    assert [_piece(p) for p in pieces] == [
        (100, "2S8M", seq[0:10], quals[0:10]),
        (158, "2S5M1D5M", seq[10:22], quals[10:22]),  # 100 + 8 + 50; the 2I after the skip is a clip
        (232, "3M", seq[25:28], quals[25:28]),  # 158 + 11 + 20 + 3 + 40; the 3D3I piece aligns nothing
    ]
    assert all(p.query_name == "r" and p.get_tag("HP") == 1 and p.get_tag("RG") == "x" for p in pieces)
    assert not any(p.has_tag("MD") or p.has_tag("NM") for p in pieces)
    assert [_piece(p) for p in split_at_skips(make_read("n", 10, "5M", seq="ACGTA", quals=[30] * 5))] == [
        (10, "5M", "ACGTA", [30] * 5)]


def test_equals_bases_take_the_reference_base_they_are_aligned_to():
    """`samtools calmd -e` writes '=' for a base that matches the reference: filled from it where the base is
    aligned; one in a clip or an insertion has no reference base and stays (read as N); qualities are kept."""
    from deepvariant_py.cigar import fill_equals
    ref = "TTACGTACGTAC"  # positions 100-111
    # 2S at 100-101, 3M at 102-104 (the T its own), 2I, 2M at 105-106 (the G its own), 1D at 107, 2M at 108-109
    read = make_read("r", 102, "2S3M2I2M1D2M", "==" + "==T" + "==" + "G=" + "=C", quals=list(range(20, 31)))
    fill_equals(read, ref, 100)
    assert read.query_sequence == "==" + "ACT" + "==" + "GA" + "GC"
    assert list(read.query_qualities) == list(range(20, 31))
    bare = make_read("b", 100, "4M", "A==T", quals=None)
    fill_equals(bare, ref, 100)
    assert bare.query_sequence == "ATAT" and bare.query_qualities is None

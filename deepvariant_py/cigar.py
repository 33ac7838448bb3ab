"""CIGAR operations: pysam's constants, the one vocabulary of every module that walks or writes an alignment
(read_events.py's INSERTION / DELETION / CLIPPED are event kinds of its own, not CIGAR operations), and
AlignedBases, one alignment's CIGAR as arrays for many position lookups."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pysam

MATCH, INS, DEL, REF_SKIP = pysam.CMATCH, pysam.CINS, pysam.CDEL, pysam.CREF_SKIP
SOFT_CLIP, HARD_CLIP, PAD, EQUAL, DIFF = pysam.CSOFT_CLIP, pysam.CHARD_CLIP, pysam.CPAD, pysam.CEQUAL, pysam.CDIFF

ALIGNED = (MATCH, EQUAL, DIFF)  # a read base against a reference base
REF_ADVANCING = (MATCH, DEL, REF_SKIP, EQUAL, DIFF)
READ_ADVANCING = (MATCH, INS, SOFT_CLIP, EQUAL, DIFF)

_OPS = 16  # BAM CIGAR operation codes are 0-8
_IS_ALIGNED, _ADVANCES_REF, _ADVANCES_READ, _CLIP_OR_INSERTION = (
    np.isin(np.arange(_OPS), ops) for ops in (ALIGNED, REF_ADVANCING, READ_ADVANCING, (INS, SOFT_CLIP)))


class AlignedBases:
    """Where one alignment puts its read's bases: per reference position, the offset in the read of the base
    aligned to it (`offsets`). Built once per read and asked many times (each window a long read crosses asks
    for its cut points), so the CIGAR is turned into arrays only once."""

    __slots__ = ("ops", "ref_start", "ref_end", "query_start", "query_len")

    def __init__(self, cigar: Sequence[tuple[int, int]], start: int):
        cig = np.asarray(cigar, np.int64).reshape(-1, 2)
        self.ops, lens = cig[:, 0], cig[:, 1]
        ref_len = np.where(_ADVANCES_REF[self.ops], lens, 0)
        self.ref_end = start + np.cumsum(ref_len)
        self.ref_start = self.ref_end - ref_len
        self.query_len = np.where(_ADVANCES_READ[self.ops], lens, 0)
        self.query_start = np.cumsum(self.query_len) - self.query_len

    @classmethod
    def of(cls, read: pysam.AlignedSegment) -> "AlignedBases":
        return cls(read.cigartuples or (), read.reference_start)

    def offsets(self, positions) -> np.ndarray:
        """Per reference position, the offset in the read of the base aligned to it, or -1 where that position
        is deleted in the read, clipped or outside the alignment: every position in one pass (bisection over
        the operations' cumulative reference ends)."""
        pos = np.asarray(positions, np.int64)
        if not len(self.ops):
            return np.full(pos.shape, -1, np.int64)
        k = np.minimum(np.searchsorted(self.ref_end, pos, side="right"), len(self.ops) - 1)  # the operation over each
        inside = _IS_ALIGNED[self.ops[k]] & (self.ref_start[k] <= pos) & (pos < self.ref_end[k])
        return np.where(inside, self.query_start[k] + pos - self.ref_start[k], -1)

    def query_range(self, ref_start: int, ref_end: int) -> tuple[int, int]:
        """The read's interval [start, end) of the bases aligned in [ref_start, ref_end), insertions and soft
        clips counted next to their anchor (when it lies in [ref_start, ref_end], ends included); (0, 0) when
        none. Only the operations near the interval are looked at."""
        i0 = int(np.searchsorted(self.ref_end, ref_start, side="left"))  # earlier ones end before it
        i1 = int(np.searchsorted(self.ref_start, ref_end, side="right"))  # later ones start after it
        lo = hi = None
        for op, r0, r1, q0, qn in zip(self.ops[i0:i1].tolist(), self.ref_start[i0:i1].tolist(),  # a few operations
                                      self.ref_end[i0:i1].tolist(), self.query_start[i0:i1].tolist(),
                                      self.query_len[i0:i1].tolist()):
            if _IS_ALIGNED[op]:
                a, b = max(r0, ref_start), min(r1, ref_end)
                if a < b:
                    lo = q0 + a - r0 if lo is None else lo
                    hi = q0 + b - r0
            elif _CLIP_OR_INSERTION[op] and ref_start <= r0 <= ref_end:
                lo = q0 if lo is None else lo
                hi = q0 + qn
        return (lo, hi) if lo is not None else (0, 0)


def has_skip(read: pysam.AlignedSegment) -> bool:
    """Whether the alignment skips reference (CIGAR N: a spliced RNA-seq alignment). Asked of every read of every
    partition: the CIGAR string, built in C, is 0.25 us a short read where get_cigar_stats' arrays are 2 us."""
    return "N" in (read.cigarstring or "")


def split_at_skips(read: pysam.AlignedSegment) -> list[pysam.AlignedSegment]:
    """A spliced alignment as the pieces between its skips (CIGAR N), each its own alignment of the same read
    (name, flags, MAPQ, tags but MD/NM), as DeepVariant's split_skip_reads makes them: a piece covers only the
    bases it aligns, so a read no longer counts, or shows in a pileup, where it only skips. An insertion that a
    skip cuts off from its aligned bases becomes a soft clip, a deletion there is dropped, and a piece that aligns
    no base is left out."""
    seq, quals = read.query_sequence, read.query_qualities
    tags = [(k, v) for k, v in read.get_tags(with_value_type=False) if k not in ("MD", "NM")]
    pieces: list[pysam.AlignedSegment] = []
    ops: list[tuple[int, int]] = []
    pos = piece_start = read.reference_start
    q = piece_q = 0

    def close(end_q: int) -> None:
        aligned = [i for i, (op, _) in enumerate(ops) if op in ALIGNED]
        if not aligned:
            return
        first, last = aligned[0], aligned[-1]
        start = piece_start + sum(length for op, length in ops[:first] if op == DEL)
        cigar = _merged([(SOFT_CLIP if op == INS else op, length) for op, length in ops[:first] if op != DEL]
                        + ops[first:last + 1]
                        + [(SOFT_CLIP if op == INS else op, length) for op, length in ops[last + 1:] if op != DEL])
        piece = pysam.AlignedSegment(read.header)
        piece.query_name, piece.flag = read.query_name, read.flag
        piece.reference_id, piece.reference_start = read.reference_id, start
        piece.mapping_quality = read.mapping_quality
        piece.cigartuples = cigar
        piece.query_sequence = seq[piece_q:end_q]
        if quals is not None:
            piece.query_qualities = quals[piece_q:end_q]
        piece.next_reference_id, piece.next_reference_start = read.next_reference_id, read.next_reference_start
        piece.template_length = read.template_length
        piece.set_tags(tags)
        pieces.append(piece)

    for op, length in read.cigartuples:
        if op == REF_SKIP:
            close(q)
            ops = []
            pos += length
            piece_start, piece_q = pos, q
            continue
        ops.append((op, length))
        if op in READ_ADVANCING:
            q += length
        if op in REF_ADVANCING:
            pos += length
    close(q)
    return pieces


def _merged(cigar: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent operations of one kind as one (a clip next to an insertion made a clip)."""
    out: list[tuple[int, int]] = []
    for op, length in cigar:
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + length)
        else:
            out.append((op, length))
    return out


def fill_equals(read: pysam.AlignedSegment, ref_bases: str, ref_start: int) -> None:
    """Each '=' base of `read` (SAM's "same as the reference", as `samtools calmd -e` writes it) replaced, in place, by
    the reference base it is aligned to; `ref_bases` starts at `ref_start` and covers the read's span. An '=' on no
    reference base (in an insertion or a clip) stays and reads as N. Qualities are kept."""
    seq = read.query_sequence
    if not seq or "=" not in seq or read.reference_end is None:
        return
    start, end = read.reference_start, read.reference_end
    ref = np.frombuffer(ref_bases[start - ref_start:end - ref_start].encode(), np.uint8)
    bases = np.frombuffer(seq.encode(), np.uint8).copy()
    offsets = AlignedBases.of(read).offsets(np.arange(start, start + len(ref)))  # -1: deleted or outside
    aligned = offsets >= 0
    equals = bases[offsets[aligned]] == ord("=")
    bases[offsets[aligned][equals]] = ref[aligned][equals]
    quals = read.query_qualities
    read.query_sequence = bases.tobytes().decode()
    read.query_qualities = quals  # pysam drops them when the sequence is set

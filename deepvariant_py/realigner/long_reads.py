"""Long reads realigned to the haplotypes of a window (docs/design.md §3.4), and the haplotypes long reads spell
themselves. In hybrid runs the short reads of the same sample pick the windows and assemble; in long-read-only
runs (`--realign --realign-long-reads` on HiFi) the long reads' own disagreements pick them, and the sequences
two or more of them spell identically are the haplotypes (their pieces are assembled only where no two agree).

Long reads are never assembled or realigned whole. In a window with haplotypes, each long read that spans the
window is cut at two reference positions `flank` bases outside it
(positions its alignment matches, so the cut is anchored), the piece between is aligned end to end to every
haplotype (padded with the same flanking reference), and the best haplotype's alignment, projected back to
the reference, replaces the piece's CIGAR operations. The rest of the CIGAR is untouched.

Why: in a tandem repeat the mapper writes a long read's haplotype with whatever mix of indels and
mismatches its own scores prefer, and the short-read realigner writes the same haplotype another way (one
8-bp deletion and a SNP against a 2-bp and a 6-bp deletion). Both kinds then support different alleles of
one event, and the hybrid pileup shows two half-supported candidates instead of one. Realigned to the same
haplotypes, both kinds carry the same representation.

The rules are the short-read realigner's (aligner.py): ties go to the reference, then to the haplotype the
window's long reads favour; a piece whose best alignment needs more than `max_read_gaps` gaps, or whose
projection is not left-normalised or does not span the cut exactly, keeps its original alignment.
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import numpy as np
import parasail
import pysam

from ..cigar import DEL, INS, MATCH, AlignedBases
from .aligner import WindowAligner, compose, is_left_aligned, haplotype_weights, merge_ops, parse_parasail_cigar
from .debruijn import Haplotype
from .options import RealignerOptions

_ANCHOR_SEARCH = 12  # how far outward a cut may move to land on an aligned base


def aligned_offsets(cigar: Sequence[tuple[int, int]], start: int, positions) -> np.ndarray:
    """AlignedBases(cigar, start).offsets(positions), for one question about an alignment."""
    return AlignedBases(cigar, start).offsets(positions)


def query_offset(cigar: Sequence[tuple[int, int]], start: int, ref_pos: int) -> int | None:
    """aligned_offsets of one position, None for -1."""
    q = int(aligned_offsets(cigar, start, [ref_pos])[0])
    return q if q >= 0 else None


def cut_cigar(cigar: Sequence[tuple[int, int]], where: AlignedBases, q_lo: int,
              q_hi: int) -> tuple[list, list, list]:
    """The operations before the aligned read base at offset `q_lo`, from it up to (not including) the aligned
    base at `q_hi`, and from there on (`where`: this CIGAR's AlignedBases): the aligned operations that hold
    them are split there, and operations that take no read base stay on the left of a cut. Found by bisection,
    not by walking a long read's thousands of operations."""
    q_end = where.query_start + where.query_len
    k_lo, k_hi = np.searchsorted(q_end, (q_lo, q_hi), side="right").tolist()  # the operations holding the bases
    (op_lo, n_lo), (op_hi, n_hi) = cigar[k_lo], cigar[k_hi]
    a0, b0 = int(where.query_start[k_lo]), int(where.query_start[k_hi])
    before = list(cigar[:k_lo]) + ([[op_lo, q_lo - a0]] if q_lo > a0 else [])
    if k_lo == k_hi:
        middle = [[op_lo, q_hi - q_lo]]
    else:
        middle = [[op_lo, a0 + n_lo - q_lo]] + list(cigar[k_lo + 1:k_hi]) + ([[op_hi, q_hi - b0]] if q_hi > b0 else [])
    return before, middle, [[op_hi, b0 + n_hi - q_hi]] + list(cigar[k_hi + 1:])


def observed_haplotypes(reads: list[pysam.AlignedSegment], window_start: int, window_end: int, window_ref: str,
                        min_reads: int, spans: Sequence[tuple[int, int]] | None = None) -> list[Haplotype]:
    """The window's sequences as long reads spell them, end to end between aligned bases at `window_start` and
    `window_end`, that at least `min_reads` reads spell identically (a HiFi read crosses a few hundred bases
    without an error about as often as not, so two identical copies are a haplotype, not an error): the
    haplotypes of repeats longer than a short read, which assembly from short reads cannot give. `spans`: each
    read's offsets of the bases aligned at `window_start` and `window_end` (-1: none), when the caller has them."""
    counts: dict[str, int] = {}
    for j, read in enumerate(reads):
        seq = read.query_sequence
        if not read.cigartuples or seq is None:
            continue
        q_lo, q_hi = spans[j] if spans is not None else AlignedBases.of(read).offsets((window_start, window_end)).tolist()
        if q_lo >= 0 and q_hi >= 0:
            piece = seq[q_lo:q_hi].upper()
            counts[piece] = counts.get(piece, 0) + 1
    return [Haplotype(piece, n, False) for piece, n in sorted(counts.items())
            if n >= min_reads and piece != window_ref and set(piece) <= set("ACGT")]


def window_spans(bases: Sequence[AlignedBases], crossing: np.ndarray, window_starts: np.ndarray,
                 window_ends: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    """(read, window) -> the read's offsets of the bases aligned at the window's start and end (-1: none), for
    every pair `crossing` (reads x windows) marks: one lookup per read for all its windows."""
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for j in np.flatnonzero(crossing.any(axis=1)).tolist():
        ws = np.flatnonzero(crossing[j])
        offsets = bases[j].offsets(np.concatenate((window_starts[ws], window_ends[ws]))).tolist()
        spans.update(zip(((j, w) for w in ws.tolist()), zip(offsets[:len(ws)], offsets[len(ws):])))
    return spans


def realign_long_reads(reads: list[pysam.AlignedSegment], windows: list[tuple[int, int, str, list[Haplotype]]],
                       ref_fetch: Callable[[int, int], str], contig_length: int,
                       opts: RealignerOptions = RealignerOptions(),
                       bases: Sequence[AlignedBases] | None = None) -> list[pysam.AlignedSegment | None]:
    """Per long read, a copy with the pieces over `windows` realigned, or None when nothing moved. `windows`:
    (start, end, window reference, haplotypes) as the short-read realigner assembled them, sorted and apart.
    `bases`: each read's AlignedBases when the caller keeps them."""
    current: list[pysam.AlignedSegment | None] = [None] * len(reads)
    where = list(bases) if bases is not None else [None] * len(reads)  # of each read as it stands now
    if not reads or not windows:
        return current
    starts = np.array([r.reference_start for r in reads], np.int64)
    ends = np.array([r.reference_end or r.reference_start for r in reads], np.int64)
    flank = opts.long_read_flank
    los = np.array([w[0] for w in windows], np.int64) - flank
    his = np.array([w[1] for w in windows], np.int64) + flank
    inside_all = (starts[:, None] <= los[None, :] - _ANCHOR_SEARCH) & (ends[:, None] >= his[None, :] + _ANCHOR_SEARCH)
    inside_all &= ((los >= 0) & (his <= contig_length))[None, :]
    usable = np.array([bool(r.cigartuples) and r.query_sequence is not None for r in reads], bool)
    # Every read's cut candidates for all its windows in one lookup (offsets outside a piece realigned in an
    # earlier window do not move, but a read that moved is looked up again, from its new CIGAR).
    first_cuts: dict[tuple[int, int], tuple[int, int, int, int] | None] = {}
    for i in np.flatnonzero(inside_all.any(axis=1) & usable).tolist():
        ws = np.flatnonzero(inside_all[i])
        tried = _cut_positions(los[ws], his[ws])
        if where[i] is None:
            where[i] = AlignedBases.of(reads[i])
        first_cuts.update(zip(((i, w) for w in ws.tolist()), _pieces(tried, where[i].offsets(tried))))
    for w, (w_start, w_end, window_ref, haps) in enumerate(windows):
        inside = np.flatnonzero(inside_all[:, w] & usable)
        if not len(inside):
            continue
        pieces = []
        for i in inside.tolist():
            if current[i] is None:
                read, piece = reads[i], first_cuts[(i, w)]
            else:
                read = current[i]
                if where[i] is None:
                    where[i] = AlignedBases.of(read)
                tried = _cut_positions(los[w:w + 1], his[w:w + 1])
                piece = _pieces(tried, where[i].offsets(tried))[0]
            if piece is not None:
                pieces.append((i, read, piece))
        if not pieces:
            continue
        cut_lo = min(p[2][0] for p in pieces)
        cut_hi = max(p[2][1] for p in pieces)
        aligner = WindowAligner(window_ref, haps, cut_lo, ref_fetch(cut_lo, w_start), ref_fetch(w_end, cut_hi), opts)
        if not any(not h.is_ref for h in aligner.haps):
            continue
        seen: dict = {}  # at 30x most pieces of a window are identical copies: align each distinct one once
        hits = [_piece_hits(aligner, read, piece, seen) for _, read, piece in pieces]
        weights = haplotype_weights([[h[0] for h in hs] for hs in hits], len(aligner.haps))
        for (i, read, piece), hs in zip(pieces, hits):
            new = _splice(aligner, read, where[i], piece, hs, weights, opts)
            if new is not None:
                current[i], where[i] = new, None
    return current


def _cut_positions(los: np.ndarray, his: np.ndarray) -> np.ndarray:
    """Per window (rows), the positions a cut may land on: `lo`, `lo - 1`, ... then `hi`, `hi + 1`, ...
    (_ANCHOR_SEARCH each)."""
    steps = np.arange(_ANCHOR_SEARCH)
    return np.concatenate((los[:, None] - steps, his[:, None] + steps), axis=1)


def _pieces(tried: np.ndarray, offsets: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """Per row (a window; `tried` as _cut_positions gives them, `offsets` one read's there): (reference start,
    reference end, query start, query end) of the read's piece from the first aligned base at or before `lo` to
    (not including) the first at or after `hi`, within _ANCHOR_SEARCH positions outward, or None."""
    aligned = offsets >= 0
    left = np.argmax(aligned[:, :_ANCHOR_SEARCH], axis=1)
    right = _ANCHOR_SEARCH + np.argmax(aligned[:, _ANCHOR_SEARCH:], axis=1)
    rows = np.arange(len(tried))
    found = (aligned[rows, left] & aligned[rows, right]).tolist()
    out = zip(tried[rows, left].tolist(), tried[rows, right].tolist(), offsets[rows, left].tolist(),
              offsets[rows, right].tolist())
    return [piece if ok else None for piece, ok in zip(out, found)]


def _piece_hits(aligner: WindowAligner, read: pysam.AlignedSegment, piece,
                seen: dict) -> list[tuple[int, list[list[int]]]]:
    """(haplotype, piece -> haplotype ops) of the haplotypes on which the piece scores best, aligned end to end
    from the haplotype's first base (the padded haplotypes start at the leftmost cut: a piece cut further right
    starts that many bases in). `seen`: the answers for pieces already aligned to this aligner, by (bases, cut),
    shared by the window's reads (the answer depends on nothing else; callers must not change the lists)."""
    r_lo, r_hi, q_lo, q_hi = piece
    seq = read.query_sequence[q_lo:q_hi].upper()
    key = (seq, r_lo, r_hi)
    if key not in seen:
        seen[key] = _align_piece(aligner, seq, r_lo, r_hi)
    return seen[key]


def _align_piece(aligner: WindowAligner, seq: str, r_lo: int, r_hi: int) -> list[tuple[int, list[list[int]]]]:
    """The best-scoring haplotypes' alignments: every haplotype scored first without a traceback (several times
    cheaper, the same score), then only the best traced."""
    skip = r_lo - aligner.span_start
    tail = aligner.span_start + len(aligner.ref) - r_hi
    opts = aligner.opts
    bodies = [hap.seq[skip:len(hap.seq) - tail] for hap in aligner.haps]
    scored = []
    for index, body in enumerate(bodies):
        res = parasail.nw_scan_16(seq, body, opts.gap_open, opts.gap_extend, aligner.matrix)
        if not res.saturated:
            scored.append((res.score, index))
    if not scored:
        return []
    best = max(s for s, _ in scored)
    out = []
    for s, index in scored:
        if s == best:
            res = parasail.nw_trace_scan_16(seq, bodies[index], opts.gap_open, opts.gap_extend, aligner.matrix)
            out.append((index, parse_parasail_cigar(res.cigar.decode)))
    return out


def _splice(aligner: WindowAligner, read: pysam.AlignedSegment, where: AlignedBases, piece, hits, weights: np.ndarray,
            opts: RealignerOptions) -> pysam.AlignedSegment | None:
    if not hits:
        return None
    ref_hits = [h for h in hits if aligner.haps[h[0]].is_ref]
    index, ops = ref_hits[0] if ref_hits else max(hits, key=lambda h: (weights[h[0]], -h[0]))
    if ops[0][0] != MATCH or ops[-1][0] != MATCH or sum(1 for op, _ in ops if op != MATCH) > opts.max_read_gaps:
        return None
    r_lo, r_hi, q_lo, q_hi = piece
    composed = compose(ops, r_lo - aligner.span_start, aligner.haps[index])
    if composed is None:
        return None
    ref_off, new_ops = composed
    if (ref_off != r_lo - aligner.span_start or new_ops[0][0] != MATCH or new_ops[-1][0] != MATCH
            or sum(n for op, n in new_ops if op != INS) != r_hi - r_lo
            or sum(n for op, n in new_ops if op != DEL) != q_hi - q_lo):
        return None
    seq = read.query_sequence
    if not is_left_aligned(new_ops, seq[q_lo:q_hi].upper(), aligner.ref, ref_off):
        return None
    before, old, after = cut_cigar(read.cigartuples, where, q_lo, q_hi)
    if merge_ops(old) == merge_ops(new_ops):
        return None
    out = copy.copy(read)
    out.cigartuples = [tuple(o) for o in merge_ops(before + new_ops + after)]
    return out

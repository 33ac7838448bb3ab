"""Align reads to a window's haplotypes and project the alignments back to the reference (docs/design.md §3.3).

Per window, every haplotype is padded with the same reference prefix and suffix so that it covers all of the
window's reads plus `margin` bases, and aligned once to the padded reference (global alignment with the
haplotype scores `hap_*` of RealignerOptions, which prefer fewer, longer gaps; indels then shifted left).
Each read is aligned to every padded haplotype, scored match 4 / mismatch 6 / gap 8 + 2 per
extra base; the best score wins, ties going to the reference (a read that fits the reference as well as an
alternative haplotype is no evidence for it), and ties among other haplotypes to the one the window's reads
favour (`haplotype_weights`; DeepVariant takes the first). The read -> haplotype and
haplotype -> reference alignments are then composed into a read -> reference CIGAR. Alignments come from
parasail (SIMD C); Python only composes CIGARs operation by operation.

Soft clips: the whole read sequence, soft-clipped bases included, is aligned, so bases that the mapper
clipped because they carry an indel near the read end can become aligned. Reads without soft clips are
aligned glocally (read end to end, haplotype ends free); reads with soft clips locally (as DeepVariant's
Smith-Waterman does for every read), so a clip that fits no haplotype (adapter, chimera) stays clipped
instead of dragging gaps into the rest of the alignment. An end the mapper had aligned is never clipped
by the local alignment: its unaligned bases are put back as an ungapped extension. Hard clips are kept.

A read keeps its original alignment when its best haplotype alignment needs gaps (more than
`max_read_gaps`, default 1: no haplotype explains the read), when the composed CIGAR is not left-normalised
(an indel whose last base equals the base before it; DeepVariant's rule), when its best score is not
positive, or when anything does not add up. DeepVariant's ungapped k-mer "fast pass" is replaced by an
exact-substring check: a read found verbatim in a haplotype has the best possible score there, so the
aligner is not called for it (among several occurrences, the one nearest the mapper's position is used).
"""
from __future__ import annotations

import copy
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import parasail
import pysam

from ..cigar import DEL, HARD_CLIP, INS, MATCH, PAD, REF_SKIP, SOFT_CLIP
from .debruijn import Haplotype
from .options import RealignerOptions

M, I, D, N_SKIP, S, H = MATCH, INS, DEL, REF_SKIP, SOFT_CLIP, HARD_CLIP  # short names for the ops it writes
_CIGAR_RE = re.compile(rb"(\d+)([=XMID])")
_PARASAIL_OP = {ord("="): M, ord("X"): M, ord("M"): M, ord("I"): I, ord("D"): D}


@lru_cache(maxsize=8)
def scoring_matrix(match: int, mismatch: int):
    """ACGT match/mismatch matrix; N (and anything else) scores -1 against every base."""
    m = parasail.matrix_create("ACGTN", match, -mismatch)
    for i in range(6):
        for j in (4, 5):
            m.set_value(i, j, -1)
            m.set_value(j, i, -1)
    return m


def parse_parasail_cigar(text: bytes) -> list[list[int]]:
    """parasail's CIGAR ('=', 'X', 'I', 'D') as merged [op, length] pairs with '='/'X' as M."""
    ops: list[list[int]] = []
    for n, op in _CIGAR_RE.findall(text):
        code = _PARASAIL_OP[op[0]]
        if ops and ops[-1][0] == code:
            ops[-1][1] += int(n)
        else:
            ops.append([code, int(n)])
    return ops


def merge_ops(ops) -> list[list[int]]:
    out: list[list[int]] = []
    for op, n in ops:
        if n <= 0:
            continue
        if out and out[-1][0] == op:
            out[-1][1] += n
        else:
            out.append([op, n])
    return out


def left_align(ops, query: str, ref: str, max_rounds: int = 10) -> list[list[int]]:
    """Shift every I/D of an M/I/D alignment of `query` to `ref` (both from offset 0) as far left as it goes."""
    ops = merge_ops(ops)
    for _ in range(max_rounds):
        changed = False
        q = r = 0
        i = 0
        while i < len(ops):
            op, n = ops[i]
            if op in (I, D) and i > 0 and ops[i - 1][0] == M:
                room = ops[i - 1][1]
                shift = 0
                if op == D:
                    while shift < room and ref[r - 1 - shift] == ref[r + n - 1 - shift]:
                        shift += 1
                else:
                    while shift < room and query[q - 1 - shift] == query[q + n - 1 - shift]:
                        shift += 1
                if shift:
                    ops[i - 1][1] -= shift
                    if i + 1 < len(ops) and ops[i + 1][0] == M:
                        ops[i + 1][1] += shift
                    else:
                        ops.insert(i + 1, [M, shift])
                    q -= shift
                    r -= shift
                    changed = True
            if op in (M, I):
                q += n
            if op in (M, D):
                r += n
            i += 1
        ops = merge_ops(ops)
        if not changed:
            break
    return ops


def is_left_aligned(cigar, query: str, ref: str, ref_pos: int) -> bool:
    """False when some indel preceded by an aligned base could move one base left (docs/design.md §3.3's rule)."""
    q, r = 0, ref_pos
    prev = -1
    for op, n in cigar:
        if op == D:
            if prev == M and ref[r - 1] == ref[r + n - 1]:
                return False
            r += n
        elif op == I:
            if prev == M and query[q - 1] == query[q + n - 1]:
                return False
            q += n
        elif op in (M, 7, 8):
            q += n
            r += n
        elif op == S:
            q += n
        prev = M if op in (M, 7, 8) else op
    return True


@dataclass
class PaddedHaplotype:
    """A haplotype with the reference prefix/suffix, and its alignment to the padded reference as segments.

    `segs[j] = (op, hap_start, hap_end, ref_start, dels_before)`: op is M (hap bases aligned from ref_start on)
    or I (hap bases absent from the reference); `dels_before` reference bases are deleted just before hap_start.
    """

    seq: str
    is_ref: bool
    segs: list[tuple[int, int, int, int, int]]
    starts: list[int]

    def hap_pos(self, ref_pos: int) -> int:
        """Haplotype offset aligned to reference offset `ref_pos` (the next aligned one inside a deletion)."""
        for op, h0, h1, r0, _ in self.segs:
            if op == M and ref_pos < r0 + (h1 - h0):
                return h0 + max(0, ref_pos - r0)
        return len(self.seq)


def pad_haplotype(hap: str, is_ref: bool, hap_to_ref: list[list[int]], prefix: str, suffix: str) -> PaddedHaplotype:
    ops = merge_ops([[M, len(prefix)]] + [list(o) for o in hap_to_ref] + [[M, len(suffix)]])
    segs = []
    h = r = 0
    pending_del = 0
    for op, n in ops:
        if op == D:
            pending_del += n
            r += n
            continue
        segs.append((op, h, h + n, r, pending_del))
        pending_del = 0
        h += n
        if op == M:
            r += n
    return PaddedHaplotype(prefix + hap + suffix, is_ref, segs, [s[1] for s in segs])


def haplotype_to_reference(hap: str, ref: str, opts: RealignerOptions) -> list[list[int]] | None:
    """Global alignment of a haplotype to its window's reference, indels left-aligned; None if it fails."""
    if hap == ref:
        return [[M, len(ref)]]
    res = parasail.nw_trace_scan_32(hap, ref, opts.hap_gap_open, opts.hap_gap_extend,
                                    scoring_matrix(opts.hap_match, opts.hap_mismatch))
    ops = parse_parasail_cigar(res.cigar.decode)
    if sum(n for op, n in ops if op != D) != len(hap) or sum(n for op, n in ops if op != I) != len(ref):
        return None
    return left_align(ops, hap, ref)


def compose(r2h: list[list[int]], hap_start: int, hap: PaddedHaplotype) -> tuple[int, list[list[int]]] | None:
    """Read -> reference alignment from read -> haplotype ops starting at `hap_start`: (reference offset, ops).

    Read bases aligned to haplotype-only bases become insertions, haplotype deletions inside the read's span
    become deletions; leading/trailing insertions become soft clips and leading/trailing deletions are dropped.
    """
    segs = hap.segs
    j = bisect_right(hap.starts, hap_start) - 1
    if j < 0:
        return None
    out: list[list[int]] = []

    def emit(op: int, n: int) -> None:
        if out and out[-1][0] == op:
            out[-1][1] += n
        else:
            out.append([op, n])

    h = hap_start
    first_ref = None
    for rop, n in r2h:
        if rop == I:
            emit(I, n)
            continue
        end = h + n
        while h < end:
            if j >= len(segs):
                return None
            op, h0, h1, r0, dels = segs[j]
            if h == h0 and h > hap_start and dels:
                emit(D, dels)
            take = min(end, h1) - h
            if op == M:
                if rop == M:
                    if first_ref is None:
                        first_ref = r0 + h - h0
                    emit(M, take)
                else:
                    emit(D, take)
            elif rop == M:
                emit(I, take)
            h += take
            if h == h1:
                j += 1
    if first_ref is None:
        return None
    lead = trail = 0
    while out and out[0][0] != M:
        op, n = out.pop(0)
        lead += n if op == I else 0
    while out and out[-1][0] != M:
        op, n = out.pop()
        trail += n if op == I else 0
    if lead:
        out.insert(0, [S, lead])
    if trail:
        out.append([S, trail])
    return first_ref, out


@dataclass
class Hit:
    """A read's alignment to one haplotype (an index into `WindowAligner.haps`): read -> haplotype ops from
    haplotype offset `hap_start`, unaligned read ends as leading/trailing I ops."""

    hap: int
    ops: list[list[int]]
    hap_start: int


def _hit_from_cigar(index: int, cig, read_len: int) -> Hit | None:
    ops = parse_parasail_cigar(cig.decode)
    hap_start = cig.beg_ref
    if cig.beg_query:
        ops.insert(0, [I, cig.beg_query])
    if ops and ops[0][0] == D:
        hap_start += ops.pop(0)[1]
    while ops and ops[-1][0] == D:
        ops.pop()
    consumed = sum(n for op, n in ops if op != D)
    if consumed < read_len:
        ops.append([I, read_len - consumed])
    elif consumed > read_len:
        return None
    return Hit(index, ops, hap_start)


def haplotype_weights(best: list[list[int]], n_haps: int, iterations: int = 20) -> np.ndarray:
    """Haplotype frequencies that best explain the reads, by EM: `best[r]` lists the haplotypes on which read
    r scores best; a read tied between several is shared among them in proportion to their frequencies.

    Why: in a repeat the assembler offers several haplotypes that differ only where few reads reach (one
    more repeat unit here, a longer run there). Reads that end inside the repeat fit all of them equally;
    sending those to whichever comes first in sequence order turns one true allele into two (a spurious
    insertion next to the true one). Reads that do reach the difference give the true haplotype weight and
    the tied reads then follow them; a haplotype that no read prefers alone fades to zero."""
    rows = [r for r in best if r]
    if not rows or n_haps == 0:
        return np.zeros(n_haps)
    member = np.zeros((len(rows), n_haps))
    for i, haps in enumerate(rows):
        member[i, haps] = 1.0
    freq = np.full(n_haps, 1.0 / n_haps)
    for _ in range(iterations):
        share = member * freq
        share /= share.sum(axis=1, keepdims=True)
        freq = share.sum(axis=0) / len(rows)
    return freq


class WindowAligner:
    """Realigns reads of one window: haplotypes padded to cover [span_start, span_end) of the reference."""

    def __init__(self, window_ref: str, haplotypes: list[Haplotype], span_start: int,
                 prefix: str, suffix: str, opts: RealignerOptions):
        self.opts = opts
        self.span_start = span_start
        self.ref = prefix + window_ref + suffix
        self.matrix = scoring_matrix(opts.match, opts.mismatch)
        self.haps: list[PaddedHaplotype] = []
        for hap in haplotypes:
            ops = haplotype_to_reference(hap.sequence, window_ref, opts)
            if ops is not None:
                self.haps.append(pad_haplotype(hap.sequence, hap.is_ref, ops, prefix, suffix))

    def best_hits(self, seq: str, local: bool, ref_pos: int = 0) -> list[Hit]:
        """The haplotypes on which the read scores best (several on a tie), each with its alignment.

        Glocal (the read consumed end to end) unless `local`; a local alignment's unaligned read ends come
        back as leading/trailing I ops. `ref_pos` (offset in the padded reference where the read's first base
        was) picks, among several exact occurrences in a haplotype, the nearest one."""
        if "N" not in seq:  # a read contained in a haplotype has the best possible score there
            exact = []
            for index, hap in enumerate(self.haps):
                pos = hap.seq.find(seq)
                if pos < 0:
                    continue
                nxt = hap.seq.find(seq, pos + 1)
                if nxt >= 0:  # a repeat: stay closest to where the mapper put the read
                    want = hap.hap_pos(ref_pos)
                    while nxt >= 0:
                        if abs(nxt - want) < abs(pos - want):
                            pos = nxt
                        nxt = hap.seq.find(seq, nxt + 1)
                exact.append(Hit(index, [[M, len(seq)]], pos))
            if exact:
                return exact
        opts = self.opts
        align = parasail.sw_trace_scan_16 if local else parasail.sg_dx_trace_scan_16
        results = []
        for index, hap in enumerate(self.haps):
            res = align(seq, hap.seq, opts.gap_open, opts.gap_extend, self.matrix)
            if not res.saturated and res.score > 0:
                results.append((res.score, index, res))
        if not results:
            return []
        best = max(score for score, _, _ in results)
        hits = []
        for score, index, res in results:
            if score == best:
                hit = _hit_from_cigar(index, res.cigar, len(seq))
                if hit is not None:
                    hits.append(hit)
        return hits

    def read_hits(self, read: pysam.AlignedSegment) -> list[Hit]:
        """`best_hits` of a read, or [] for a read the realigner leaves alone (spliced, no sequence)."""
        cigar = _unpadded(read.cigartuples)
        seq = read.query_sequence
        if not cigar or seq is None or any(op == N_SKIP for op, _ in cigar):
            return []
        lead_clip, trail_clip = _clip_len(cigar, 0), _clip_len(cigar, -1)
        return self.best_hits(seq, bool(lead_clip or trail_clip), read.reference_start - lead_clip - self.span_start)

    def choose(self, hits: list[Hit], weights: np.ndarray | None = None) -> Hit:
        """The reference when it is among the best (a read that fits it is no evidence for anything else),
        else the best haplotype with the largest weight (the first one on ties)."""
        for hit in hits:
            if self.haps[hit.hap].is_ref:
                return hit
        if weights is None:
            return hits[0]
        return max(hits, key=lambda h: (weights[h.hap], -h.hap))

    def realign(self, read: pysam.AlignedSegment, hits: list[Hit] | None = None,
                weights: np.ndarray | None = None) -> pysam.AlignedSegment | None:
        """A realigned copy of `read` (on the best haplotype, see `choose`), or None when it keeps its alignment."""
        if hits is None:
            hits = self.read_hits(read)
        if not hits:
            return None
        hit = self.choose(hits, weights)
        hap, r2h, hap_start = self.haps[hit.hap], hit.ops, hit.hap_start
        cigar = _unpadded(read.cigartuples)
        if (hap.is_ref and len(r2h) == 1 and len(cigar) == 1 and cigar[0] == (M, r2h[0][1]) and r2h[0][0] == M
                and r2h[0][1] == read.query_length and self.span_start + hap_start == read.reference_start):
            return None  # ungapped on the reference, where the read already is (most reads of a window): it stays
        seq = read.query_sequence
        lead_h = [list(cigar[0])] if cigar[0][0] == H else []
        trail_h = [list(cigar[-1])] if cigar[-1][0] == H and len(cigar) > 1 else []
        lead_clip, trail_clip = _clip_len(cigar, 0), _clip_len(cigar, -1)
        if sum(1 for op, _ in r2h[1:-1] if op != M) > self.opts.max_read_gaps:
            return None
        r2h, hap_start, lead, trail = _settle_ends(r2h, hap_start, len(hap.seq), lead_clip, trail_clip)
        composed = compose(r2h, hap_start, hap)
        if composed is None:
            return None
        ref_off, ops = composed
        if lead:
            ops = merge_ops([[S, lead]] + ops)
        if trail:
            ops = merge_ops(ops + [[S, trail]])
        if sum(n for op, n in ops if op != D) != len(seq) or not is_left_aligned(ops, seq, self.ref, ref_off):
            return None
        new_cigar = [tuple(o) for o in lead_h + ops + trail_h]
        new_start = self.span_start + ref_off
        if new_start == read.reference_start and new_cigar == list(cigar):
            return None
        out = copy.copy(read)
        out.reference_start = new_start
        out.cigartuples = new_cigar
        return out


def _settle_ends(r2h: list[list[int]], hap_start: int, hap_len: int, lead_clip: int, trail_clip: int
                 ) -> tuple[list[list[int]], int, int, int]:
    """Unaligned read ends (leading/trailing I) become soft clips, but never eat into bases the original
    alignment had aligned: those are put back as an ungapped extension. Returns (ops, hap_start, lead, trail)."""
    ops = [list(o) for o in r2h]
    lead = ops.pop(0)[1] if ops and ops[0][0] == I else 0
    trail = ops.pop()[1] if ops and ops[-1][0] == I else 0
    if lead > lead_clip:
        extra = min(lead - lead_clip, hap_start)
        ops.insert(0, [M, extra])
        hap_start -= extra
        lead -= extra
    if trail > trail_clip:
        hap_end = hap_start + sum(n for op, n in ops if op != I)
        extra = min(trail - trail_clip, hap_len - hap_end)
        ops.append([M, extra])
        trail -= extra
    return merge_ops(ops), hap_start, lead, trail


def realign_window(reads: list[pysam.AlignedSegment], window: tuple[int, int], window_ref: str,
                   haplotypes: list[Haplotype], ref_fetch: Callable[[int, int], str], contig_length: int,
                   opts: RealignerOptions = RealignerOptions()) -> list[pysam.AlignedSegment | None]:
    """Per read, its realigned copy or None (keeps its alignment). The reference span covers every read
    (soft clips included) and the window, plus `margin` bases, clipped to the contig."""
    if not reads:
        return []
    # A read spliced or padded, or whose alignment spans far more reference than bases (a huge deletion), keeps
    # its alignment and does not stretch the haplotypes: one 500 kb deletion made every read of its window align
    # to a 1 Mb haplotype (minutes a window).
    movable = [i for i, r in enumerate(reads) if _realignable_span(r, opts.max_read_length)]
    if len(movable) < len(reads):
        out: list[pysam.AlignedSegment | None] = [None] * len(reads)
        for i, new in zip(movable, realign_window([reads[i] for i in movable], window, window_ref, haplotypes,
                                                  ref_fetch, contig_length, opts)):
            out[i] = new
        return out
    w_start, w_end = window
    lo = min(w_start, min(r.reference_start - _clip_len(r.cigartuples, 0) for r in reads))
    hi = max(w_end, max(r.reference_end + _clip_len(r.cigartuples, -1) for r in reads))
    span_start = max(0, lo - opts.margin)
    span_end = min(contig_length, hi + opts.margin)
    prefix = ref_fetch(span_start, w_start)
    suffix = ref_fetch(w_end, span_end)
    if len(prefix) != w_start - span_start or len(suffix) != max(0, span_end - w_end):
        return [None] * len(reads)
    aligner = WindowAligner(window_ref, haplotypes, span_start, prefix, suffix, opts)
    if not any(not h.is_ref for h in aligner.haps):
        return [None] * len(reads)
    hits = [aligner.read_hits(r) for r in reads]
    weights = haplotype_weights([[h.hap for h in hs] for hs in hits], len(aligner.haps))
    return [aligner.realign(r, hs, weights) for r, hs in zip(reads, hits)]


def _unpadded(cigar):
    """A CIGAR without its padding (P) operations, which consume neither read nor reference (50M3P51M is 101M):
    a padded read is realigned like any other and comes back unpadded."""
    if not cigar or all(op != PAD for op, _ in cigar):
        return cigar
    out: list[tuple[int, int]] = []
    for op, n in cigar:
        if op == PAD:
            continue
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + n)
        else:
            out.append((op, n))
    return out


def _realignable_span(read: pysam.AlignedSegment, max_read_length: int) -> bool:
    """No reference skip (N), and at most 2 x max_read_length of reference under the read."""
    cigar = read.cigartuples
    return (bool(cigar) and read.reference_end is not None and not any(op == N_SKIP for op, _ in cigar)
            and read.reference_end - read.reference_start <= 2 * max_read_length)


def _clip_len(cigar, end: int) -> int:
    """Soft-clipped bases at the start (end=0) or the end (end=-1), past any hard clip."""
    ops = cigar if end == 0 else cigar[::-1]
    for op, n in ops:
        if op != H:
            return n if op == S else 0
    return 0

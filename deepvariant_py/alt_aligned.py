"""ALT-aligned pileups (docs/design.md §5): the reads of an indel's pileup realigned to each alt haplotype.

For an indel candidate and an alt allele `a`, the haplotype is `prefix + a + suffix` over the window
[start - half_width, end + half_width) (clipped to the contig). The reads shown in the reference image
(`select_rows`), each trimmed to the window like DeepVariant's `trim_read` and dropped when shorter than
15 bp, are aligned to that one sequence and drawn exactly like the reference image with the haplotype as
reference: image column c is haplotype position `len(prefix) - half_width + c`, so the image starts at the
same genomic column as the reference image and the alt allele starts at the centre column.

Alignment is forced (every read gets its best alignment to the single haplotype, as DeepVariant's
FastPassAligner in force_alignment mode): a read found verbatim in the haplotype is placed there (the
occurrence nearest its mapped position; no alignment scores higher), otherwise parasail's Smith-Waterman
(SIMD, the realigner's scores: match 4, mismatch 6, gap 8 + 2 per extra base) aligns it. Unaligned read ends
become soft clips and are not drawn; indels are shifted left; a read without a positive score is dropped.

Rows stay paired: row i of an alt image is the read of row i of the reference image, and a dropped read
leaves its row empty. (DeepVariant re-selects and re-sorts the realigned reads instead; pairing makes the
diff channels compare the same read pixel by pixel.)

Images per alt subset, as DeepVariant's `_represent_alt_aligned_pileups`: subset {a} uses a's image twice,
{a, b} a's then b's. Non-indel candidates get all-zero alt images.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import parasail

from .cigar import READ_ADVANCING, REF_ADVANCING, SOFT_CLIP
from .candidates import Candidate
from .errors import DvcallError, InputError
from .pileup import ALT_ALIGNED_MODES, DIFF_CHANNEL_ENUMS, UNDRAWN, Canvas, PileupOptions, channel_enums, paint_reads, with_support
from .read_events import MISSING_BASE_QUALITY, N, STAR, encode_bases, n_capped
from .realigner.aligner import D, I, M, left_align, parse_parasail_cigar, scoring_matrix
from .realigner.options import RealignerOptions

MIN_TRIMMED_LENGTH = 15
"""Reads shorter than this after trimming to the window are not realigned (DeepVariant's value)."""

_ACGTN = str.maketrans({c: "N" for c in map(chr, range(128)) if c not in "ACGTN"})


_REF_ADV = np.zeros(16, bool)
_REF_ADV[list(REF_ADVANCING)] = True
_READ_ADV = np.zeros(16, bool)
_READ_ADV[list(READ_ADVANCING)] = True


class ReadLayout:
    """One read's bases, qualities and CIGAR, decoded once per partition and shared by every candidate whose
    window the read crosses. A long read's CIGAR (thousands of operations on noisy reads) also gets cumulative
    reference and query offsets, so trimming it is two bisections instead of a walk (the walk per shown read
    per candidate was most of ONT make_examples); a short read's few operations are walked."""

    __slots__ = ("seq", "qual", "start", "cigar", "_arrays")
    WALK_UP_TO = 16  # operations: below this a Python walk is faster than building arrays

    def __init__(self, read):
        seq = read.query_sequence or ""
        qual = read.query_qualities
        self.seq = seq.upper().translate(_ACGTN)
        self.qual = np.frombuffer(qual, np.uint8) if qual is not None and len(qual) == len(seq) \
            else np.full(len(seq), MISSING_BASE_QUALITY, np.uint8)
        if "N" in self.seq:  # as read_events draws them
            self.qual = n_capped(encode_bases(self.seq), self.qual)
        self.start = read.reference_start
        self.cigar = read.cigartuples or []
        self._arrays = None

    def trim(self, window_start: int, window_end: int) -> tuple[int, int, int]:
        """trim_to_window of the read."""
        if len(self.cigar) <= self.WALK_UP_TO:
            return _walk_trim(self.cigar, self.start, window_start, window_end)
        if self._arrays is None:
            cig = np.array(self.cigar, np.int64)
            ops, lens = cig[:, 0], cig[:, 1]
            adv = _READ_ADV[ops]
            self._arrays = (np.concatenate([[0], np.cumsum(np.where(_REF_ADV[ops], lens, 0))]),
                            np.concatenate([[0], np.cumsum(np.where(adv, lens, 0))]), adv, ops == SOFT_CLIP)
        return _bisect_trim(*self._arrays, self.start, window_start, window_end)


def _bisect_trim(rb: np.ndarray, qb: np.ndarray, adv: np.ndarray, soft_clip: np.ndarray, start: int,
                 window_start: int, window_end: int) -> tuple[int, int, int]:
    """_walk_trim on cumulative arrays (rb, qb: reference and query bases before each op, and after the last):
    the ops the trim consumes whole form a prefix, then the ops kept whole while the reference they consume
    fits in the window form a run, each found by bisection."""
    n = len(rb) - 1
    trim = max(window_start - start, 0)
    budget = window_end - max(window_start, start)
    if trim > 0:  # ops before the window: those with trim left before them that end by `trim`
        k = min(int(np.searchsorted(rb[:n], trim, side="left")), int(np.searchsorted(rb[1:], trim, side="right")))
        if k >= n:
            return int(qb[n]), int(qb[n]), window_start
        first = int(qb[k]) + (trim - int(rb[k]) if rb[k] < trim and adv[k] else 0)
        lead_clip = 0
    else:
        k, first = 0, 0
        adv_ops = np.flatnonzero(adv)
        lead_clip = int(qb[adv_ops[0] + 1] - qb[adv_ops[0]]) if len(adv_ops) and soft_clip[adv_ops[0]] else 0
    j = k + int(np.searchsorted(rb[k + 1:], trim + budget, side="right"))  # ops k..j-1 kept whole
    end = max(int(qb[j]), first) if j > k else first
    if j < n and adv[j]:
        end += trim + budget - max(int(rb[j]), trim)
    return first, end, max(window_start, start) - lead_clip


def trim_to_window(read, window_start: int, window_end: int) -> tuple[int, int, int]:
    """(first, end, start): query bases [first, end) of the part of `read` aligned inside [window_start,
    window_end), and the reference position of the first kept base (soft clips included).

    DeepVariant's `trim_cigar`: bases (clips and insertions included) before the window's first reference
    base are cut, a leading soft clip survives when the read starts inside the window, a trailing one when
    the read ends at or before the window's end."""
    return ReadLayout(read).trim(window_start, window_end)


def _walk_trim(cigar, start: int, window_start: int, window_end: int) -> tuple[int, int, int]:
    """trim_to_window by walking the CIGAR op by op."""
    trim = max(window_start - start, 0)
    to_cover = window_end - max(window_start, start)
    first = length = lead_clip = 0
    for op, n in cigar:
        ref_step = n if op in REF_ADVANCING else 0
        advances_read = op in READ_ADVANCING
        if trim > 0:
            if ref_step <= trim:
                trim -= ref_step
                first += n if advances_read else 0
                continue
            ref_step -= trim
            first += trim if advances_read else 0
            n = ref_step
            trim = 0
        elif op == SOFT_CLIP and length == 0 and start >= window_start:
            lead_clip = n
        if ref_step <= to_cover:
            to_cover -= ref_step
            length += n if advances_read else 0
        else:
            length += to_cover if advances_read else 0
            break
    return first, first + length, max(window_start, start) - lead_clip


def _window_reference(canvas: Canvas, ref_fetch: Callable[[int, int], str] | None, lo: int, hi: int) -> tuple[int, str]:
    """(start, bases) of the reference over [lo, hi): from the canvas when it holds all of it, else from
    `ref_fetch` (clipped to the contig), else the part the canvas holds (which covers every read)."""
    r0, r1 = canvas.ref_offset, canvas.ref_offset + len(canvas.ref_seq)
    lo = max(lo, 0)
    if r0 <= lo and hi <= r1:
        return lo, canvas.ref_seq[lo - r0:hi - r0]
    if ref_fetch is not None:
        return lo, ref_fetch(lo, hi).upper()
    lo, hi = max(lo, r0), min(hi, r1)
    return lo, canvas.ref_seq[lo - r0:max(lo, hi) - r0]


def align_to_haplotype(seq: str, hap: str, expected: int,
                       scores: RealignerOptions = RealignerOptions()) -> tuple[int, int, list[list[int]]] | None:
    """(haplotype start, read start, M/I/D ops) of the best local alignment of `seq` (ACGTN) to `hap`, or
    None without a positive score. Read bases before the read start and after the ops are unaligned.
    `expected` (haplotype position of the read's first base by its mapping) picks among exact repeats."""
    if "N" not in seq:
        pos = hap.find(seq)
        if pos >= 0:
            nxt = hap.find(seq, pos + 1)
            while nxt >= 0:
                if abs(nxt - expected) < abs(pos - expected):
                    pos = nxt
                nxt = hap.find(seq, nxt + 1)
            return pos, 0, [[M, len(seq)]]
    matrix = scoring_matrix(scores.match, scores.mismatch)
    res = parasail.sw_trace_scan_16(seq, hap, scores.gap_open, scores.gap_extend, matrix)
    if res.saturated:
        res = parasail.sw_trace_scan_32(seq, hap, scores.gap_open, scores.gap_extend, matrix)
    if res.score <= 0:
        return None
    cig = res.cigar
    ops = parse_parasail_cigar(cig.decode)
    q, h = cig.beg_query, cig.beg_ref
    while ops and ops[0][0] != M:  # parasail may spell the unaligned start as leading gaps
        op, n = ops.pop(0)
        if op == D:
            h += n
        else:
            q += n
    while ops and ops[-1][0] != M:
        ops.pop()
    if not ops:
        return None
    if len(ops) > 1:
        ops = left_align(ops, seq[q:], hap[h:])
    return h, q, ops


class _ShownReads:
    """The trimmed sequences of a candidate's shown reads, shared by its alt haplotypes."""

    def __init__(self, canvas: Canvas, rows: np.ndarray, window_start: int, window_end: int):
        self.row: list[int] = []  # image row (index into rows)
        self.seq: list[str] = []
        self.offset: list[int] = []  # offset of the read's first kept base in codes/quals
        self.ref_pos: list[int] = []  # reference position of the first kept base
        codes, quals = [], []
        total = 0
        layouts = canvas.read_layouts
        for i, r in enumerate(rows.tolist()):
            layout = layouts.get(r)
            if layout is None:
                layout = layouts[r] = ReadLayout(canvas.reads[r])
            if not layout.seq or not layout.cigar:
                continue
            first, end, pos = layout.trim(window_start, window_end)
            if end - first < MIN_TRIMMED_LENGTH:
                continue
            s = layout.seq[first:end]
            self.row.append(i)
            self.seq.append(s)
            self.offset.append(total)
            self.ref_pos.append(pos)
            codes.append(s)
            quals.append(layout.qual[first:end])
            total += len(s)
        self.codes = encode_bases("".join(codes)) if codes else np.zeros(0, np.uint8)
        self.quals = np.concatenate(quals) if quals else np.zeros(0, np.uint8)


def _draw_alt_rows(shown: _ShownReads, n_rows: int, hap: str, column0: int, width: int,
                   ref_end: int, window_start: int, delta: int, scores: RealignerOptions) -> tuple[np.ndarray, np.ndarray]:
    """(codes, qualities) of the shown reads aligned to `hap`, over columns hap[column0:column0 + width]."""
    b_row, b_hap, b_q, b_len = [], [], [], []  # aligned blocks
    e_row, e_hap, e_q = [], [], []  # '*' pixels: anchor haplotype position, quality index
    for row, seq, off, pos in zip(shown.row, shown.seq, shown.offset, shown.ref_pos):
        expected = pos - window_start + (delta if pos >= ref_end else 0)
        found = align_to_haplotype(seq, hap, expected, scores)
        if found is None:
            continue
        h, q, ops = found
        q += off
        prev_op = None
        for op, n in ops:
            if op == M:
                b_row.append(row)
                b_hap.append(h)
                b_q.append(q)
                b_len.append(n)
                h += n
                q += n
            elif op == I:  # one pixel at the anchor, quality of the first inserted base
                if prev_op is not None:
                    e_row.append(row)
                    e_hap.append(h - 1)
                    e_q.append(q)
                q += n
            else:  # deletion: one pixel at the anchor, quality of the base before; deleted columns empty
                if prev_op is not None:
                    e_row.append(row)
                    e_hap.append(h - 1)
                    e_q.append(q - 1)
                h += n
            prev_op = op
    code = np.full((n_rows, width), UNDRAWN, np.uint8)
    qual = np.zeros((n_rows, width), np.uint8)
    if b_len:
        lens = np.asarray(b_len, np.int64)
        within = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        cols = np.repeat(np.asarray(b_hap, np.int64) - column0, lens) + within
        qidx = np.repeat(np.asarray(b_q, np.int64), lens) + within
        rows = np.repeat(np.asarray(b_row, np.int64), lens)
        keep = (cols >= 0) & (cols < width)
        code[rows[keep], cols[keep]] = shown.codes[qidx[keep]]
        qual[rows[keep], cols[keep]] = shown.quals[qidx[keep]]
    if e_row:
        cols = np.asarray(e_hap, np.int64) - column0
        keep = (cols >= 0) & (cols < width)
        rows = np.asarray(e_row, np.int64)[keep]
        code[rows, cols[keep]] = STAR
        qual[rows, cols[keep]] = shown.quals[np.asarray(e_q, np.int64)[keep]]
    return code, qual


def alt_base_images(canvas: Canvas, candidate: Candidate, rows: np.ndarray, opts: PileupOptions,
                    ref_fetch: Callable[[int, int], str] | None = None,
                    scores: RealignerOptions = RealignerOptions()) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per alt index: (image without the support channel, drawn mask) of the shown reads realigned to that
    alt's haplotype; `rows` are the canvas rows of the reference image (select_rows), in image order."""
    if canvas.reads is None:
        raise DvcallError("ALT-aligned pileups need the reads: build the Canvas with reads=")
    hw, width = opts.half_width, opts.width
    w_lo, bases = _window_reference(canvas, ref_fetch, candidate.start - hw, candidate.end + hw)
    w_hi = w_lo + len(bases)
    prefix = bases[:candidate.start - w_lo]
    suffix = bases[min(candidate.end, w_hi) - w_lo:]
    shown = _ShownReads(canvas, rows, w_lo, w_hi)
    ev = canvas.events
    mapq, reverse, hp, is_long = ev.mapq[rows], ev.reverse[rows], ev.hp_of(rows), ev.is_long[rows]
    column0 = len(prefix) - hw
    out = {}
    for a, alt in enumerate(candidate.alts):
        hap = (prefix + alt + suffix).upper().translate(_ACGTN)
        ref_row = np.full(width, N, np.uint8)
        lo, hi = max(column0, 0), min(column0 + width, len(hap))
        if hi > lo:
            ref_row[lo - column0:hi - column0] = encode_bases(hap[lo:hi])
        code, qual = _draw_alt_rows(shown, len(rows), hap, column0, width, candidate.end, w_lo,
                                    len(alt) - len(candidate.ref), scores)
        out[a] = paint_reads(ref_row, code, qual, mapq, reverse, hp, is_long, opts)
    return out


def add_alt_aligned(images: list[tuple[tuple[int, ...], np.ndarray]], canvas: Canvas, candidate: Candidate,
                    rows: np.ndarray, opts: PileupOptions, ref_fetch: Callable[[int, int], str] | None = None,
                    scores: RealignerOptions = RealignerOptions()) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The reference images of `images.build_images` combined with their alt-aligned images (opts.alt_aligned_pileup).

    In "diff_channels" mode the reference images must already have the two extra channels (zero): they are
    filled in place."""
    mode = opts.alt_aligned_pileup
    if mode == "none":
        return images
    alt = alt_base_images(canvas, candidate, rows, opts, ref_fetch, scores) if candidate.is_indel else None
    if mode == "diff_channels":
        if alt is not None:
            enums = channel_enums(opts)
            slots = [enums.index(e) for e in DIFF_CHANNEL_ENUMS]
            for subset, img in images:
                for slot, a in zip(slots, (subset[0], subset[-1])):
                    img[..., slot] = alt[a][0][..., 5]
        return images
    if mode == "rows":
        support = candidate.support[rows]
        out = []
        for subset, img in images:
            parts = [img]
            for a in (subset[0], subset[-1]):
                parts.append(with_support(*alt[a], support, subset, opts) if alt is not None else np.zeros_like(img))
            out.append((subset, np.concatenate(parts, axis=0)))
        return out
    raise InputError(f"unknown alt_aligned_pileup mode {mode!r}: use one of {', '.join(ALT_ALIGNED_MODES)}")

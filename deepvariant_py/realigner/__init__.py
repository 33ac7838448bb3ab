"""Local realignment of a partition's reads (docs/design.md §3): windows -> haplotypes -> reads realigned to them.

1. `window_selector.select_windows`: windows where reads disagree with the reference.
2. `debruijn.assemble_segments`: candidate haplotypes of each window; windows with only the reference are dropped.
   Long reads alone (no short reads): a window where two or more reads spell a non-reference sequence
   identically takes those sequences as its haplotypes and is not assembled (long_reads.observed_haplotypes).
3. `aligner.realign_window`: each read goes to the assembled window it overlaps most, is aligned to the
   window's haplotypes and projected back to reference coordinates.

Differences from DeepVariant, on purpose: reads keep their input order (DeepVariant returns long reads
first), and a read whose realignment equals its original alignment is returned as the original object.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import pysam

from ..cigar import AlignedBases
from ..read_events import ReadEvents, extract_events
from .aligner import realign_window
from .debruijn import REF_SUPPORT, Haplotype, assemble_haplotypes, assemble_segments, read_segments
from .long_reads import observed_haplotypes, realign_long_reads, window_spans
from .options import RealignerOptions
from .window_selector import select_windows

__all__ = ["RealignerOptions", "realign_reads", "select_windows", "assemble_haplotypes"]


def _realignable(read: pysam.AlignedSegment, opts: RealignerOptions) -> bool:
    # query_length is 0 for a read stored without bases; cigarstring is cheaper to test than cigartuples
    return not read.is_unmapped and 0 < read.query_length <= opts.max_read_length and bool(read.cigarstring)


def _pick_haplotypes(haps: list[Haplotype], limit: int, observed: list[Haplotype] = ()) -> list[Haplotype]:
    """The reference, the haplotypes long reads spell (`observed`), and the best-supported other assembled
    ones, at most `limit` in all unless the first two are more, in sequence order."""
    kept = {h.sequence for h in observed}
    others = sorted((h for h in haps if not h.is_ref and h.sequence not in kept), key=lambda h: (-h.support, h.sequence))
    keep = kept | {h.sequence for h in others[:max(0, limit - 1 - len(kept))]}
    assembled = {h.sequence for h in haps}
    return [h for h in haps if h.is_ref or h.sequence in keep] + [h for h in observed if h.sequence not in assembled]


def _substitutions_only(haps: list[Haplotype], window_ref: str, most: int = 5) -> bool:
    """Whether every haplotype is the reference with at most `most` substituted bases: reads need no new gaps
    there, so realigning them is skipped (59% of windows, a quarter of the alignment time on 30x Illumina)."""
    return all(len(h.sequence) == len(window_ref) and sum(a != b for a, b in zip(h.sequence, window_ref)) <= most
               for h in haps)


def _gapped(gap_anchors: np.ndarray, w_start: int, w_end: int, least: int) -> bool:
    """Whether reads carry at least `least` indels or soft clips anchored in the window (an anchor is the base
    before the event)."""
    n = np.searchsorted(gap_anchors, w_end) - np.searchsorted(gap_anchors, w_start - 1)
    return bool(n >= least)


def realign_reads(reads: list[pysam.AlignedSegment], ref_fetch: Callable[[int, int], str], contig_length: int,
                  region_start: int, region_end: int, opts: RealignerOptions = RealignerOptions(),
                  events: ReadEvents | None = None) -> list[pysam.AlignedSegment]:
    """Reads of one partition after local realignment, same order; realigned reads are copies with new
    reference_start and cigartuples (sequence/qualities/tags unchanged, soft clips preserved at the ends);
    reads not realigned are returned as-is.

    `ref_fetch(start, end)` returns the uppercase reference bases of [start, end) on the partition's contig,
    clipped to the contig. Reads longer than `max_read_length` are never realigned. `events`: the reads'
    events (read_events.extract_events, row i is reads[i]; reads with events are mapped, with bases and a
    CIGAR) when the caller has them; without, the realignable reads' are extracted here.
    """
    out = list(reads)
    if events is None:  # the caller has none: extract those of the reads realignment may move, and go on with them
        idx = [i for i, r in enumerate(reads) if _realignable(r, opts)]
        if not idx:
            return out
        movable = [reads[i] for i in idx]
        lo = max(0, min(r.reference_start for r in movable) - 1)
        events = extract_events(movable, ref_fetch(lo, max(r.reference_end for r in movable) + 1), lo)
        for i, read in zip(idx, realign_reads(movable, ref_fetch, contig_length, region_start, region_end, opts, events)):
            out[i] = read
        return out
    short_idx = np.flatnonzero((events.length > 0) & (events.length <= opts.max_read_length))
    long_idx = np.flatnonzero(events.length > opts.max_read_length)
    long_only = not len(short_idx) and opts.long_reads and len(long_idx) > 0  # long reads realigned on their own
    if not len(short_idx) and not long_only:
        return out
    short = [reads[i] for i in short_idx.tolist()]
    # The reads that may move (long reads alone: theirs) pick the windows, and their indels and soft clips
    # (anchors, sorted) decide which are gapped (_gapped below).
    movable_row = np.zeros(len(reads), bool)
    movable_row[long_idx if long_only else short_idx] = True
    windows = select_windows(events, ref_fetch, region_start, region_end, opts, contig_length, movable_row)
    if not windows:
        return out
    gap_anchors = np.sort(events.e_pos[movable_row[events.e_read]])
    starts, ends = events.start[short_idx], events.end[short_idx]
    long_starts, long_ends = events.start[long_idx], events.end[long_idx]
    if opts.long_reads:  # which long reads cross each window, and where each window starts and ends in them
        win_lo, win_hi = (np.array(col, np.int64) for col in zip(*windows))
        crossing = (long_starts[:, None] < win_hi[None, :]) & (long_ends[:, None] > win_lo[None, :])
        long_bases = [AlignedBases.of(reads[i]) for i in long_idx.tolist()]
        spans = window_spans(long_bases, crossing, win_lo, win_hi)
    assembled = []
    for w, (w_start, w_end) in enumerate(windows):
        window_ref = ref_fetch(w_start, w_end)
        if len(window_ref) != w_end - w_start:
            continue
        if not _gapped(gap_anchors, w_start, w_end, opts.min_gap_events):  # a window without is not assembled
            continue
        inside = np.flatnonzero((starts < w_end) & (ends > w_start))
        window_reads = [short[j] for j in inside]
        window_bases = None  # each window read's AlignedBases, where kept (long reads)
        observed = []
        if opts.long_reads:
            rows = np.flatnonzero(crossing[:, w]).tolist()
            crossing_reads = [reads[long_idx[j]] for j in rows]
            window_reads += crossing_reads
            observed = observed_haplotypes(crossing_reads, w_start, w_end, window_ref, opts.dbg_min_edge_weight,
                                           [spans[(j, w)] for j in rows])
            window_bases = [None] * len(inside) + [long_bases[j] for j in rows]
        if long_only and observed:  # the sequences reads spell are the window's haplotypes: no graph needed
            if not _substitutions_only(observed, window_ref):
                assembled.append((w_start, w_end, window_ref, [Haplotype(window_ref, REF_SUPPORT, True)] + observed))
            continue
        segments = read_segments(window_reads, opts, w_start, w_end, window_bases)
        haps = assemble_segments(window_ref, segments, opts)
        gapped = bool(haps) and not _substitutions_only(haps + observed, window_ref)
        if not gapped and opts.dbg_retry_base_quality < opts.dbg_min_base_quality and _gapped(gap_anchors, w_start, w_end, 1):
            retry_opts = replace(opts, dbg_min_base_quality=opts.dbg_retry_base_quality)
            retry_segments = read_segments(window_reads, retry_opts, w_start, w_end, window_bases)
            # no base between the two qualities: the same segments, the same (ungapped) haplotypes
            retry = assemble_segments(window_ref, retry_segments, retry_opts) if retry_segments != segments else []
            if retry and not _substitutions_only(retry + observed, window_ref):
                haps, gapped = retry, True
        if observed and not haps:  # assembly gave up (a repeat longer than k can grow past): the reads' own
            haps = [Haplotype(window_ref, REF_SUPPORT, True)]
            gapped = not _substitutions_only(haps + observed, window_ref)
        if gapped:
            assembled.append((w_start, w_end, window_ref, _pick_haplotypes(haps, opts.max_haplotypes, observed)))
    if not assembled:
        return out
    if opts.long_reads:
        longs = long_idx.tolist()
        for i, read in zip(longs, realign_long_reads([reads[i] for i in longs], assembled, ref_fetch, contig_length,
                                                     opts, long_bases)):
            if read is not None:
                out[i] = read
    w_starts = np.array([a[0] for a in assembled], np.int64)
    w_ends = np.array([a[1] for a in assembled], np.int64)
    overlap = np.minimum(ends[:, None], w_ends[None, :]) - np.maximum(starts[:, None], w_starts[None, :])
    best = overlap.argmax(axis=1)  # first window on ties
    has = overlap[np.arange(len(short)), best] > 0
    for w, (w_start, w_end, window_ref, haps) in enumerate(assembled):
        members = np.flatnonzero(has & (best == w))
        if len(members) == 0:
            continue
        new = realign_window([short[j] for j in members], (w_start, w_end), window_ref, haps, ref_fetch,
                             contig_length, opts)
        for j, read in zip(members.tolist(), new):
            if read is not None:
                out[int(short_idx[j])] = read
    return out

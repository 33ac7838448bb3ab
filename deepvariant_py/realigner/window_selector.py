"""Where to realign (docs/design.md §3.1): windows around positions where enough reads disagree with the reference.

VARIANT_READS model: allele counting with the stricter filters (MAPQ >= 20, BQ >= 20), one allele per read
per position, and each non-reference, non-low-quality allele spread over the bases it touches:
substitution at i -> [i, i+1); insertion or soft clip of length L anchored at i -> [i+1-L, i+1+L);
deletion of length L anchored at i -> the deleted bases [i+1, i+1+L). Positions whose sum lies in
[ws_min_supporting, ws_max_supporting] are grouped into windows.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..read_events import DELETION, ReadEvents, anchor_overridden, encode_bases, valid_event_mask
from .options import RealignerOptions


def supporting_counts(events: ReadEvents, ref_fetch: Callable[[int, int], str], start: int, end: int,
                      opts: RealignerOptions = RealignerOptions(), movable: np.ndarray | None = None) -> np.ndarray:
    """Spread non-reference allele counts over [start, end) (already expanded by the caller), from the reads
    realignment may move (`movable`, one flag per read; default the mapped ones of at most max_read_length bases)
    at MAPQ >= ws_min_mapq. `events`: the partition's reads (read_events.extract_events, at any base-quality
    threshold: this one applies its own)."""
    length = max(0, end - start)
    if movable is None:
        movable = (events.length > 0) & (events.length <= opts.max_read_length)
    use = (events.mapq >= opts.ws_min_mapq) & movable
    if not use.any() or length == 0:
        return np.zeros(length, np.int64)
    ref_lo = max(0, int(events.start[use].min()) - 1)
    ref_seq = ref_fetch(ref_lo, int(events.end[use].max()) + 1)
    ev = events
    valid = valid_event_mask(ev)
    kept_m = ~anchor_overridden(ev, valid) & use[ev.m_read]
    valid &= use[ev.e_read]

    # Substitutions: aligned, ACGT, BQ >= ws_min_base_quality, different from an ACGT reference base.
    ref_codes = encode_bases(ref_seq)
    pos = ev.m_pos
    rel = pos - ref_lo
    in_ref = (rel >= 0) & (rel < len(ref_codes))
    ref_at = np.full(len(pos), 4, np.uint8)
    ref_at[in_ref] = ref_codes[rel[in_ref]]
    sub = kept_m & (pos >= start) & (pos < end) & (ev.m_qual >= opts.ws_min_base_quality) & (ev.m_base < 4) \
        & (ref_at < 4) & (ev.m_base != ref_at)
    lo_parts = [pos[sub]]
    hi_parts = [pos[sub] + 1]

    # Indels and soft clips anchored inside the interval.
    sel = valid & ~ev.low_quality(opts.ws_min_base_quality) & (ev.e_pos >= start) & (ev.e_pos < end)
    if sel.any():
        idx = np.flatnonzero(sel)
        p = ev.e_pos[idx]
        ln = np.fromiter((len(ev.e_bases[j]) - 1 for j in idx), np.int64, len(idx))
        is_del = ev.e_kind[idx] == DELETION
        lo_parts.append(np.where(is_del, p + 1, p + 1 - ln))
        hi_parts.append(p + 1 + ln)
    lo = np.clip(np.concatenate(lo_parts), start, end) - start
    hi = np.clip(np.concatenate(hi_parts), start, end) - start
    diff = np.bincount(lo, minlength=length + 1) - np.bincount(hi, minlength=length + 1)
    return np.cumsum(diff[:length])


def select_windows(events: ReadEvents, ref_fetch: Callable[[int, int], str], start: int, end: int,
                   opts: RealignerOptions = RealignerOptions(), contig_length: int | None = None,
                   movable: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Windows [start, end) to realign for the partition [start, end), in position order.

    The partition is expanded by ws_region_expansion on both sides before counting. Selected positions
    more than 2 x window_padding apart start a new window; each window is [first - padding, last + padding),
    clipped to the contig. Windows longer than max_window_size are skipped (their reads keep their alignments).
    `events`, `movable`: as in supporting_counts.
    """
    lo = max(0, start - opts.ws_region_expansion)
    hi = end + opts.ws_region_expansion
    if contig_length is not None:
        hi = min(hi, contig_length)
    counts = supporting_counts(events, ref_fetch, lo, hi, opts, movable)
    selected = np.flatnonzero((counts >= opts.ws_min_supporting) & (counts <= opts.ws_max_supporting)) + lo
    if len(selected) == 0:
        return []
    breaks = np.flatnonzero(np.diff(selected) > 2 * opts.window_padding)
    firsts = selected[np.concatenate(([0], breaks + 1))]
    lasts = selected[np.concatenate((breaks, [len(selected) - 1]))]
    windows = []
    for first, last in zip(firsts.tolist(), lasts.tolist()):
        w_start = max(0, first - opts.window_padding)
        w_end = last + opts.window_padding
        if contig_length is not None:
            w_end = min(w_end, contig_length)
        if w_end - w_start > opts.max_window_size or w_end <= w_start:
            continue
        windows.append((w_start, w_end))
    return windows

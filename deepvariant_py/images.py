"""The example images of one candidate: its reference pileup (pileup.py) and, in the ALT-aligned modes, the
reads realigned to each alt haplotype (alt_aligned.py). The one place both meet, so neither imports the other."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .alt_aligned import add_alt_aligned
from .candidates import Candidate
from .pileup import Canvas, PileupOptions, alt_subsets, paint_reads, select_rows, with_support
from .realigner.options import RealignerOptions


def build_images(canvas: Canvas, candidate: Candidate, opts: PileupOptions,
                 ref_fetch: Callable[[int, int], str] | None = None,
                 scores: RealignerOptions = RealignerOptions()) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """One uint8 image of shape `opts.shape` per alt subset; only the 'supports variant' channel (and the
    alt-aligned part) differ between them.

    `ref_fetch(start, end)` (reference bases of the candidate's contig, clipped to it) is only used by
    ALT-aligned modes, for windows that reach past the canvas's reference (long deletions); `scores` are the
    alignment scores of reads to the alt haplotypes (the realigner's, so --realigner options reach them)."""
    c0 = candidate.start - opts.half_width - canvas.col_start
    c1 = c0 + opts.width
    rows = select_rows(canvas, candidate, opts)
    ev = canvas.events
    base, drawn = paint_reads(canvas.ref_codes[c0:c1], canvas.code[rows, c0:c1], canvas.qual[rows, c0:c1],
                              ev.mapq[rows], ev.reverse[rows], ev.hp_of(rows), ev.is_long[rows], opts)
    support = candidate.support[rows]
    images = [(subset, with_support(base, drawn, support, subset, opts)) for subset in alt_subsets(len(candidate.alts))]
    return add_alt_aligned(images, canvas, candidate, rows, opts, ref_fetch, scores)

#!/usr/bin/env python3
"""Rewrite a BAM's base qualities as another instrument or pipeline would report them (robustness rows).

Usage: scripts/transform_qualities.py IN.bam OUT.bam --novaseq-bins | --shift -8

--novaseq-bins: NovaSeq's four levels (RTA3: below Q3 -> 2, below Q15 -> 12, below Q31 -> 23, else 37).
--shift N: every quality moved by N (clipped to 2..--max-quality, default 41: Illumina's ceiling; long reads go
higher, e.g. --max-quality 93), as a recalibrated or older run, or another basecaller, differs.
Everything else (bases, alignments, tags) is kept; OUT.bam is indexed.
"""
from __future__ import annotations

import argparse
import os
import sys
from array import array

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.htslib import rewrite_reads  # noqa: E402
from deepvariant_py.train import NOVASEQ_BINS  # noqa: E402  the bins the training augmentation draws too


def novaseq_bins(q: np.ndarray) -> np.ndarray:
    out = np.empty_like(q)
    lower = 0
    for below, value in NOVASEQ_BINS:
        out[(q >= lower) & (q < below)] = value
        lower = below
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the BAM whose qualities to rewrite (left as it is)")
    ap.add_argument("output", help="the BAM to write (indexed; written whole or not at all, never over the input)")
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--novaseq-bins", action="store_true", help="bin to NovaSeq's four quality levels")
    how.add_argument("--shift", type=int, help="add this to every quality (clipped to 2..--max-quality)")
    ap.add_argument("--max-quality", type=int, default=41, choices=range(2, 94), metavar="[2-93]",
                    help="--shift's ceiling (default 41, Illumina's; 93 for long reads)")
    args = ap.parse_args()
    try:
        transform(args.input, args.output, args.novaseq_bins, args.shift, args.max_quality)
    except DvcallError as exc:  # a bad input or output path: one line, exit 2, nothing written
        print(f"transform_qualities.py: error: {exc}", file=sys.stderr)
        sys.exit(2)


def transform(path: str, output: str, bins: bool, shift: int | None, max_quality: int = 41) -> None:
    """Write `output` (+ .bai) with every read's qualities binned or shifted; atomically, never over the input.
    A missing or unreadable input raises InputError, an output that cannot be written (or is the input) OutputError."""
    def edit(read) -> None:
        quals = read.query_qualities
        if quals is not None and len(quals):
            q = np.asarray(quals, dtype=np.int16)
            q = novaseq_bins(q) if bins else np.clip(q + shift, 2, max_quality)
            read.query_qualities = array("B", q.astype(np.uint8).tobytes())

    rewrite_reads(path, output, edit)


if __name__ == "__main__":
    main()

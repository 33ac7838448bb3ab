#!/usr/bin/env python3
"""Rewrite a BAM's base qualities as another instrument or pipeline would report them (robustness rows).

Usage: scripts/transform_qualities.py IN.bam OUT.bam --novaseq-bins | --shift -8

--novaseq-bins: NovaSeq's four levels (RTA3: below Q3 -> 2, below Q15 -> 12, below Q31 -> 23, else 37).
--shift N: every quality moved by N (clipped to 2..41), as a recalibrated or older run differs.
Everything else (bases, alignments, tags) is kept; OUT.bam is indexed.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pysam

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    ap.add_argument("input")
    ap.add_argument("output")
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--novaseq-bins", action="store_true", help="bin to NovaSeq's four quality levels")
    how.add_argument("--shift", type=int, help="add this to every quality (clipped to 2..41)")
    args = ap.parse_args()
    tmp = args.output + ".partial.bam"
    with pysam.AlignmentFile(args.input) as src, pysam.AlignmentFile(tmp, "wb", template=src) as out:
        for read in src:
            quals = read.query_qualities
            if quals is not None and len(quals):
                q = np.asarray(quals, dtype=np.int16)
                q = novaseq_bins(q) if args.novaseq_bins else np.clip(q + args.shift, 2, 41)
                read.query_qualities = pysam.qualitystring_to_array("".join(chr(33 + int(v)) for v in q))
            out.write(read)
    pysam.index(tmp)
    os.replace(tmp + ".bai", args.output + ".bai")
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()

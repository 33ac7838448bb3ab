#!/usr/bin/env python3
"""Damage a BAM's bases as real libraries and runs are damaged, keeping their (good) base qualities: the
robustness rows for errors a caller cannot tell from a base's quality.

Usage: scripts/inject_read_errors.py IN.bam OUT.bam (--ffpe RATE | --substitutions RATE | --bad-cycles A-B:RATE) [--seed N]

--ffpe RATE: FFPE-like deamination: each C of the original molecule's strand read as T with probability RATE
  (in the BAM's forward coordinates, C>T on the fragment's first-strand reads, G>A on the others: read 1
  forward or read 2 reverse shows C>T).
--substitutions RATE: each base replaced by one of the other three with probability RATE.
--bad-cycles A-B:RATE: the bases sequenced in cycles A..B (1-based, in sequencing order: from the read's 3'
  end in the BAM for a reverse read) replaced with probability RATE (a bubble or a bad tile).
Every draw is seeded by the read's name, flags and --seed, so OUT.bam is reproducible. Qualities, alignments and
tags are kept, but MD and NM (which the new bases make wrong) are dropped; OUT.bam is indexed.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import zlib

import numpy as np
import pysam

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.htslib import rewrite_reads  # noqa: E402

BASES = np.frombuffer(b"ACGT", np.uint8)
_CODE = np.full(256, 255, np.uint8)
_CODE[BASES] = np.arange(4)


def first_strand(read: pysam.AlignedSegment) -> bool:
    """Whether the read shows the original molecule's strand as the BAM stores it (C>T there, else G>A)."""
    return (read.is_read2 and read.is_reverse) or (not read.is_read2 and not read.is_reverse)


def damage(seq: bytes, rng: np.random.Generator, *, ffpe: float = 0.0, first: bool = True, substitutions: float = 0.0,
           cycles: tuple[int, int, float] | None = None, reverse: bool = False) -> bytes:
    """`seq` (the BAM's bases) with errors drawn as the module says; N and other symbols are left alone."""
    b = np.frombuffer(seq, np.uint8).copy()
    code = _CODE[b]
    if ffpe:
        source, target = (ord("C"), ord("T")) if first else (ord("G"), ord("A"))
        hit = (b == source) & (rng.random(len(b)) < ffpe)
        b[hit] = target
    rate, where = substitutions, np.ones(len(b), bool)
    if cycles is not None:
        start, end, rate = cycles
        cycle = (len(b) - np.arange(len(b))) if reverse else np.arange(1, len(b) + 1)
        where = (cycle >= start) & (cycle <= end)
    if rate:
        hit = where & (code < 4) & (rng.random(len(b)) < rate)
        b[hit] = BASES[(code[hit] + rng.integers(1, 4, int(hit.sum()))) % 4]
    return b.tobytes()


def _cycles(text: str) -> tuple[int, int, float]:
    m = re.fullmatch(r"(\d+)-(\d+):([0-9.eE-]+)", text)
    if not m or not (1 <= int(m[1]) <= int(m[2])) or not (0 < float(m[3]) <= 1):
        raise argparse.ArgumentTypeError(f"'{text}' is not A-B:RATE with 1 <= A <= B and 0 < RATE <= 1 (e.g. 60-70:0.1)")
    return int(m[1]), int(m[2]), float(m[3])


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a rate in (0, 1]")
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the BAM to damage (left as it is)")
    ap.add_argument("output", help="the BAM to write (indexed; written whole or not at all, never over the input)")
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--ffpe", type=_rate, help="C>T deamination rate on the original strand (e.g. 0.02)")
    how.add_argument("--substitutions", type=_rate, help="random substitution rate per base (e.g. 0.01)")
    how.add_argument("--bad-cycles", type=_cycles, help="A-B:RATE, substitutions in sequencing cycles A..B (e.g. 60-70:0.1)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the draws (default 1)")
    args = ap.parse_args()
    try:
        inject(args.input, args.output, ffpe=args.ffpe or 0.0, substitutions=args.substitutions or 0.0,
               cycles=args.bad_cycles, seed=args.seed)
    except DvcallError as exc:  # a bad input or output path: one line, exit 2, nothing written
        print(f"inject_read_errors.py: error: {exc}", file=sys.stderr)
        sys.exit(2)


def inject(path: str, output: str, *, ffpe: float = 0.0, substitutions: float = 0.0,
           cycles: tuple[int, int, float] | None = None, seed: int = 1) -> None:
    """Write `output` (+ .bai) with every primary read's bases damaged; atomically, never over the input."""
    def edit(read: pysam.AlignedSegment) -> None:
        seq = read.query_sequence
        if not seq or read.is_secondary or read.is_supplementary:
            return
        rng = np.random.default_rng([seed, zlib.crc32(read.query_name.encode()), read.flag & 0xC0])
        quals = read.query_qualities
        read.query_sequence = damage(seq.encode(), rng, ffpe=ffpe, first=first_strand(read), substitutions=substitutions,
                                     cycles=cycles, reverse=read.is_reverse).decode()
        read.query_qualities = quals  # setting the bases clears them
        for tag in ("MD", "NM"):
            if read.has_tag(tag):
                read.set_tag(tag, None)

    rewrite_reads(path, output, edit)


if __name__ == "__main__":
    main()

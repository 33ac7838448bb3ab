#!/usr/bin/env python3
"""Exome- or panel-like reads from a simulated whole-genome sample: keep the read pairs whose fragment overlaps a
target, as hybrid capture pulls the fragments that overlap its baits.

Each target gets its own capture efficiency (log-normal around --efficiency, so coverage varies from target to
target as it does in a real exome), a fragment overlapping several targets is kept with the best of theirs, and a
small share of the other fragments (--off-target) is kept too. A proper pair whose leftmost mate is missing from
the BAM is never kept (simulated samples hold both mates). Coverage then peaks over each target and falls to
nothing a fragment's length beyond it, with reads piling up at the targets' edges as in captured libraries.

Input: a sample folder of `scripts/simulate_sample.py` (reads.bam, truth.vcf.gz, confident.bed, sample.json),
simulated deep (e.g. --coverage 160). Output: a sample folder of the same layout that `benchmarks/accuracy.py
--sim-sample` reads: reads.bam (+ .bai), the same truth, confident.bed = the source's confident regions inside
the targets (variants count only there), targets.bed, and sample.json with a "capture" section.

Usage: python scripts/capture_reads.py --sample SIM_DIR --out OUT_DIR [--targets BED | --target-length 120-350
       --target-gap 600-2500] [--efficiency 0.6] [--efficiency-sd 0.5] [--off-target 0.01] [--seed 1]
Needs only pysam and numpy (installed with dvcall).
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import sys
import zlib

import numpy as np
import pysam

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.regions import Region, RegionSet, read_bed  # noqa: E402


def make_targets(contig: str, start: int, end: int, lengths: tuple[int, int], gaps: tuple[int, int],
                 rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Targets of random length and spacing across [start, end) (0-based, half-open)."""
    out, pos = [], start + int(rng.integers(*gaps))
    while True:
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        if pos + length > end:
            return out
        out.append((contig, pos, pos + length))
        pos += length + int(rng.integers(gaps[0], gaps[1] + 1))


def efficiencies(n: int, mean: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Per-target keep probability: log-normal around `mean` (its median), at most 1."""
    return np.clip(mean * np.exp(rng.normal(0.0, sd, n)), 0.0, 1.0)


def fragment_spans(bam_path: str) -> dict[str, tuple[str, int, int]]:
    """Each template's span on the reference: the leftmost mate's start to its start + TLEN for proper pairs,
    else the union of the mates' alignments."""
    spans: dict[str, tuple[str, int, int]] = {}
    with pysam.AlignmentFile(bam_path) as bam:
        for read in bam.fetch(until_eof=True):
            if read.is_unmapped or read.is_secondary or read.is_supplementary:
                continue
            name, contig = read.query_name, read.reference_name
            if read.is_proper_pair and read.template_length > 0:
                spans[name] = (contig, read.reference_start, read.reference_start + read.template_length)
            elif read.is_proper_pair and read.template_length < 0:
                continue
            else:
                old = spans.get(name)
                if old is None or old[0] != contig:
                    spans[name] = (contig, read.reference_start, read.reference_end)
                else:
                    spans[name] = (contig, min(old[1], read.reference_start), max(old[2], read.reference_end))
    return spans


def kept_templates(spans: dict[str, tuple[str, int, int]], targets: list[tuple[str, int, int]], keep_p: np.ndarray,
                   off_target: float, seed: int) -> set[str]:
    """Templates captured: a draw per template (from its name and the seed: the same inputs keep the same reads)
    against the best efficiency of the targets its fragment overlaps, or against `off_target`. Targets may come in
    any order and overlap."""
    by_contig: dict[str, list[tuple[int, int, float]]] = {}
    for (contig, s, e), p in zip(targets, keep_p):
        by_contig.setdefault(contig, []).append((s, e, float(p)))
    index = {}
    for contig, items in by_contig.items():
        items.sort()
        starts = [s for s, _, _ in items]
        reach = np.maximum.accumulate([e for _, e, _ in items]).tolist()  # the furthest end of targets 0..j
        index[contig] = (starts, reach, items)
    kept = set()
    for name, (contig, s, e) in spans.items():
        best = off_target
        if contig in index:
            starts, reach, items = index[contig]
            j = bisect.bisect_left(starts, e) - 1  # the last target starting before the fragment ends
            while j >= 0 and reach[j] > s:  # no target at or before j ends past the fragment's start: done
                if items[j][1] > s:
                    best = max(best, items[j][2])
                j -= 1
        u = (zlib.crc32(f"{seed}:{name}".encode()) & 0xFFFFFFFF) / 2**32
        if u < best:
            kept.add(name)
    return kept


def _range(text: str) -> tuple[int, int]:
    """'120-350' -> (120, 350), for argparse."""
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range LOW-HIGH (e.g. 120-350)") from None
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < LOW <= HIGH")
    return lo, hi


def _share(text: str) -> float:
    """A number in [0, 1], for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a share between 0 and 1")
    return value


def _write(args, meta: dict, targets: list[tuple[str, int, int]], kept: set[str], lengths: dict[str, int],
           out: str) -> None:
    """The captured sample's files in `out`; meta["capture"] says what was kept."""
    with pysam.AlignmentFile(os.path.join(args.sample, "reads.bam")) as src, \
            pysam.AlignmentFile(os.path.join(out, "reads.bam"), "wb", template=src) as dst:
        n_in = n_out = 0
        for read in src.fetch(until_eof=True):
            n_in += 1
            if read.query_name in kept:
                dst.write(read)
                n_out += 1
    pysam.index(os.path.join(out, "reads.bam"))
    with open(os.path.join(out, "targets.bed"), "w") as fh:
        fh.writelines(f"{c}\t{s}\t{e}\n" for c, s, e in targets)
    confident = RegionSet(read_bed(os.path.join(args.sample, "confident.bed"), lengths))
    merged = RegionSet(Region(*t) for t in targets).triples()  # overlapping targets count once
    inside = [(c, a, b) for c, s, e in merged for a, b in confident.clip(c, s, e)]
    with open(os.path.join(out, "confident.bed"), "w") as fh:
        fh.writelines(f"{c}\t{a}\t{b}\n" for c, a, b in inside)
    for name in ("truth.vcf.gz", "truth.vcf.gz.tbi"):
        shutil.copy(os.path.join(args.sample, name), os.path.join(out, name))
    meta["capture"] = {"source": os.path.abspath(args.sample), "targets": len(targets),
                       "target_bp": sum(e - s for _, s, e in merged),
                       "confident_bp_in_targets": sum(b - a for _, a, b in inside), "efficiency": args.efficiency,
                       "efficiency_sd": args.efficiency_sd, "off_target": args.off_target, "seed": args.seed,
                       "reads_in": n_in, "reads_kept": n_out}
    with open(os.path.join(out, "sample.json"), "w") as fh:
        json.dump(meta, fh, indent=2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", required=True, help="a folder made by scripts/simulate_sample.py (simulate it deep)")
    ap.add_argument("--out", required=True, help="output sample folder (must not exist)")
    ap.add_argument("--targets", help="BED of targets; default: random targets across the sample's region")
    ap.add_argument("--target-length", type=_range, default=(120, 350), help="random targets' length range, bp (default 120-350)")
    ap.add_argument("--target-gap", type=_range, default=(600, 2500), help="random targets' spacing range, bp (default 600-2500)")
    ap.add_argument("--efficiency", type=_share, default=0.6, help="median share of a target's fragments kept (default 0.6)")
    ap.add_argument("--efficiency-sd", type=float, default=0.5,
                    help="SD of log efficiency across targets (default 0.5: a few targets at a third of the median depth)")
    ap.add_argument("--off-target", type=_share, default=0.01, help="share of other fragments kept (default 0.01)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if os.path.exists(args.out):
        sys.exit(f"capture_reads.py: {args.out} exists: give a new folder")
    for name in ("sample.json", "reads.bam", "truth.vcf.gz", "confident.bed"):
        if not os.path.exists(os.path.join(args.sample, name)):
            sys.exit(f"capture_reads.py: {args.sample} holds no {name}: make the sample with scripts/simulate_sample.py")
    with open(os.path.join(args.sample, "sample.json")) as fh:
        meta = json.load(fh)
    params = meta.get("parameters", {})
    if not all(key in params for key in ("contig", "region_start0", "region_end0", "region")):
        sys.exit(f"capture_reads.py: {args.sample}/sample.json does not say the sample's region: remake the sample "
                 "with scripts/simulate_sample.py")
    contig, start, end = params["contig"], params["region_start0"], params["region_end0"]
    lengths = {contig: end}  # only the region's contig is read from BEDs here
    rng = np.random.default_rng(args.seed)
    if args.targets:
        other: list[str] = []
        try:
            targets = [(r.contig, r.start, r.end) for r in read_bed(args.targets, {contig: 1 << 40}, other)]
        except DvcallError:  # no line on the sample's contig
            sys.exit(f"capture_reads.py: {args.targets} has no target on {contig}, the sample's contig "
                     f"(reads of {params['region']} only)")
        if other:
            print(f"capture_reads.py: {len(other):,} target line(s) on other contigs skipped", file=sys.stderr)
    else:
        targets = make_targets(contig, start, end, args.target_length, args.target_gap, rng)
    if not any(s < end and e > start for _, s, e in targets):
        sys.exit(f"capture_reads.py: no target overlaps the sample's region {params['region']}: nothing to capture")
    keep_p = efficiencies(len(targets), args.efficiency, args.efficiency_sd, rng)
    spans = fragment_spans(os.path.join(args.sample, "reads.bam"))
    kept = kept_templates(spans, targets, keep_p, args.off_target, args.seed)
    partial = f"{args.out}.partial"  # renamed into place at the end: a failed run leaves no --out to block a rerun
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        _write(args, meta, targets, kept, lengths, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.rename(partial, args.out)
    done = meta["capture"]
    print(f"capture_reads.py: {len(targets)} targets ({done['target_bp']:,} bp), {done['reads_kept']:,} of "
          f"{done['reads_in']:,} reads kept -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

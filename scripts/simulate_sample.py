#!/usr/bin/env python3
"""Simulate one diploid sample (Illumina, PacBio HiFi-like or ONT-like reads) with an exactly known truth set.

Why: dvcall needs labelled training data and held-out test data whose truth is
certain. We plant variants (real phased HG001 calls and/or random ones, weighted
towards homopolymers and short tandem repeats where real indels live) into the two
haplotypes of a reference region, simulate Illumina reads from each haplotype with
ART (or InSilicoSeq or NEAT, --read-simulator), and align them with bwa mem back to the *original* reference, so the caller can
be run with the same ``--ref`` and the truth VCF uses the original coordinates.
With ``--stutter`` some reads also carry polymerase slippage (+-1/+-2 repeat units
in homopolymers and STRs, at realistic length-dependent rates), which ART lacks;
that is noise, so the truth VCF does not change (see "stutter" below).

Outputs in --out DIR:
  reads.bam(.bai)        reads aligned to --ref (pairs where both mates are
                         unmapped are dropped; they are mostly decoy reads)
  truth.vcf.gz(.tbi)     phased GT (0|1, 1|0, 1|1, 1|2, 2|1), sorted, normalised
  confident.bed          the region minus --confident-margin at each end, minus
                         decoy-read piles (0-based BED); decoy_piles.bed lists those
  sample.json            parameters, planted-variant counts, read counts, stutter
                         model and counts (null without --stutter), timings
  simulate.log           the external commands run and their stderr
sample.json is written last, so its presence marks a finished sample.
"""
from __future__ import annotations

import argparse
import fcntl
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam
import yaml

import long_read_errors  # beside this script (python puts the script's folder on sys.path)

REQUIRED_TOOLS = {"illumina": ("bcftools", "samtools", "bwa", "art_illumina"),
                  "hifi": ("bcftools", "samtools", "minimap2"),
                  "ont": ("bcftools", "samtools", "minimap2"),
                  "ont-r9": ("bcftools", "samtools", "pbsim", "minimap2")}
INSTALL_HINT = "apt-get install samtools bcftools bwa art-nextgen-simulation-tools pbsim minimap2"
# InSilicoSeq (PyPI: pip install insilicoseq): Illumina reads from error models fitted on real runs
# (kernel density estimates of each instrument's per-position qualities and substitution/indel rates); its
# read length is the model's.
ISS_MODELS = {"NovaSeq": 151, "HiSeq": 126, "MiSeq": 301, "NextSeq": 301}
ISS_INSTALL_HINT = "pip install insilicoseq"
# NEAT (PyPI: neat-genreads, v4): its own default error and quality models (per-base qualities drawn
# independently, ~Q20-42, no run-length structure), any read length. It pins pysam < 0.24 and biopython 1.85, so
# keep it in a venv of its own with its `neat` on PATH.
NEAT_INSTALL_HINT = ("python -m venv ~/neat && ~/neat/bin/pip install neat-genreads && "
                     "ln -s ~/neat/bin/neat ~/.local/bin/neat (any folder on PATH)")
SIMULATOR_TOOLS = {"art": "art_illumina", "insilicoseq": "iss", "neat": "neat"}
# Long reads. hifi and ont (R10.4.1-like) come from long_read_errors.py: errors concentrated in
# homopolymers, ~99.95% (hifi) and ~99.3% (ont) accurate at --error-scale 1. ont-r9 comes from pbsim v1
# (CLR model with per-read accuracy): 93-95% accurate, deletion-heavy, errors spread uniformly (5.9 edits
# per 100 aligned bases measured), as R9.4.1 reads were. pbsim v1 cannot make HiFi: its CLR model caps the
# accuracy mean at 0.99, ten times real HiFi's error rate, with no homopolymer errors.
LONG_READS = {
    "hifi": dict(simulator="long_read_errors", profile="hifi", preset="map-hifi", platform="PACBIO"),
    "ont": dict(simulator="long_read_errors", profile="ont-r10", preset="map-ont", platform="ONT"),
    "ont-r9": dict(simulator="pbsim", length=(20000, 8000, 5000, 50000), accuracy=(0.94, 0.01, 0.93, 0.95),
                   ratio="25:25:50", preset="map-ont", platform="ONT"),
}
PBSIM_QC_MODEL = "/usr/share/pbsim/models/model_qc_clr"
MIN_GAP = 5  # bp kept free between a random variant and any other variant
REPEAT_INDEL_FRACTION = 0.8  # share of random indels placed in repeats (brief: >= 0.7)
HOM_ALT_FRACTION = 1.0 / 3.0
MAX_INDEL = 15
MAX_TRIES = 200  # placement attempts per random variant before giving up on it
BASES = "ACGT"


@dataclass(frozen=True)
class Variant:
    """One planted site. pos0 is the 0-based start of REF on the contig."""

    pos0: int
    ref: str
    alts: tuple[str, ...]
    gt: tuple[int, int]  # phased: (haplotype 1 allele, haplotype 2 allele)
    source: str  # "giab" (from --truth-source) or "random"
    note: str = ""  # random indels: repeat context (hp, str2..4, none)

    @property
    def end0(self) -> int:
        return self.pos0 + len(self.ref)

    @property
    def kind(self) -> str:
        """Mutually exclusive class used for the counts in sample.json."""
        if len(self.alts) > 1:
            return "multiallelic"
        alt = self.alts[0]
        if len(self.ref) == 1 and len(alt) == 1:
            return "snp"
        if len(self.ref) != len(alt):
            return "indel"
        return "mnp"


# --------------------------------------------------------------------------- utils


# ART's built-in profiles and the longest read each has (art_illumina's help)
ART_PROFILES = {"HS20": 100, "HS25": 150, "HSXn": 150, "HSXt": 150, "MSv3": 250}


# The project's evaluation windows (held-out real and simulated data live there): never simulate reads from them,
# as the region or as decoy, so no model is trained or tuned on their sequence. 0-based half-open.
EVALUATION_WINDOWS = {"b37": [("20", 10_000_000, 10_100_000)],
                      "grch38": [("20", 4_000_000, 5_150_000), ("20", 7_000_000, 8_000_000), ("20", 8_950_000, 9_150_000)]}


def build_of(ref_path: str) -> str:
    """'grch38' for a GRCh38/hg38 reference (by its name), else 'b37' (b37 and hg19 share coordinates)."""
    name = os.path.basename(ref_path).lower()
    return "grch38" if "grch38" in name or "hg38" in name else "b37"


def check_not_evaluation(build: str, contig: str, start0: int, end0: int, what: str) -> None:
    bare = contig[3:] if contig.startswith("chr") else contig
    for c, lo, hi in EVALUATION_WINDOWS[build]:
        if bare == c and start0 < hi and lo < end0:
            sys.exit(f"{what} {contig}:{start0 + 1}-{end0} overlaps the evaluation window {build} {contig}:{lo + 1:,}-{hi:,}: "
                     "pick another region (no model may be trained or tuned there)")


def check_decoy(decoy: str) -> None:
    """A decoy FASTA made by `samtools faidx REF chrN:A-B` names its source in each header: check those too."""
    with open(decoy) as fh:
        for line in fh:
            m = re.match(r">(\S+):(\d+)-(\d+)", line)
            if m:
                src = "grch38" if "grch38" in os.path.basename(decoy).lower() else "b37"
                check_not_evaluation(src, m.group(1), int(m.group(2)) - 1, int(m.group(3)), "--decoy-fa")


def check_tools(platform: str, read_simulator: str = "art") -> None:
    """Fail fast with an actionable line when an external tool is missing."""
    tools = REQUIRED_TOOLS[platform]
    if platform == "illumina" and read_simulator != "art":
        tools = tuple(t for t in tools if t != "art_illumina") + (SIMULATOR_TOOLS[read_simulator],)
    hints = {"iss": ISS_INSTALL_HINT, "neat": NEAT_INSTALL_HINT}
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"missing {tool}: {hints.get(tool, INSTALL_HINT)}")
            sys.exit(2)


def run(cmd: str | list[str], log: Path, **kw) -> subprocess.CompletedProcess:
    """Run a command (shell string for pipelines), appending its stderr to a log."""
    shell = isinstance(cmd, str)
    with log.open("a") as fh:
        fh.write(f"$ {cmd if shell else ' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, shell=shell, stderr=fh, check=False,
                              executable="/bin/bash" if shell else None, **kw)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}), see {log}: {cmd}")
    return proc


def parse_region(text: str, fasta: pysam.FastaFile) -> tuple[str, int, int]:
    """CONTIG:START-END (1-based inclusive) -> (contig, start0, end0) half-open."""
    contig, _, span = text.rpartition(":")
    start_s, _, end_s = span.replace(",", "").partition("-")
    if not contig or not start_s or not end_s:
        sys.exit(f"bad --region {text!r}: expected CONTIG:START-END")
    start0, end0 = int(start_s) - 1, int(end_s)
    if contig not in fasta.references:
        sys.exit(f"contig {contig!r} not in --ref")
    if not 0 <= start0 < end0 <= fasta.get_reference_length(contig):
        sys.exit(f"--region {text} outside contig {contig}")
    return contig, start0, end0


MAX_N_FRACTION = 0.5  # a region more N than this is an assembly gap or masked: reads cannot be simulated there


def check_real_sequence(seq: str, region: str) -> None:
    """Exit with one line when `seq` (a region's upper-cased bases) is mostly N: the simulation would plant no
    variant and map no read, and say nothing (a whole-chromosome FASTA masked outside a few Mb did that)."""
    n = seq.count("N")
    if n > MAX_N_FRACTION * len(seq):
        sys.exit(f"--region {region} is N for {100 * n / len(seq):.0f}% of its bases (an assembly gap or masked "
                 "sequence): no variant or read can be simulated there; pick a region of real sequence")


class RefWindow:
    """Upper-cased reference slice with contig coordinates (avoids loading a contig)."""

    def __init__(self, fasta: pysam.FastaFile, contig: str, start0: int, end0: int):
        self.offset = start0
        self.seq = fasta.fetch(contig, start0, end0).upper()

    def __getitem__(self, key: slice) -> str:
        return self.seq[key.start - self.offset:key.stop - self.offset]

    def base(self, pos0: int) -> str:
        if not 0 <= pos0 - self.offset < len(self.seq):
            raise IndexError(f"position {pos0} outside the loaded reference window")
        return self.seq[pos0 - self.offset]


def normalize(pos0: int, alleles: list[str], ref: RefWindow) -> tuple[int, list[str]]:
    """Left-align and trim alleles (Tan et al. 2015, as bcftools norm does)."""
    alleles = list(alleles)
    while True:
        if all(alleles) and len({a[-1] for a in alleles}) == 1:
            alleles = [a[:-1] for a in alleles]
        elif not all(alleles):
            pos0 -= 1
            alleles = [ref.base(pos0) + a for a in alleles]
        else:
            break
    while min(len(a) for a in alleles) >= 2 and len({a[0] for a in alleles}) == 1:
        alleles = [a[1:] for a in alleles]
        pos0 += 1
    return pos0, alleles


# ------------------------------------------------------------------ real variants


def load_truth_source(path: str, contig: str, start0: int, end0: int, ref: RefWindow,
                      rng: np.random.Generator) -> tuple[list[Variant], dict[str, int]]:
    """Keep PASS, non-reference, non-overlapping records inside the region.

    Unused ALT alleles are dropped (then re-trimmed); unphased hets get a random phase.
    """
    kept: list[Variant] = []
    skipped = {"not_pass": 0, "no_alt_gt": 0, "outside_region": 0, "overlap": 0,
               "ref_mismatch": 0, "symbolic": 0}
    pysam.set_verbosity(0)  # GIAB headers trigger harmless htslib warnings (PS type)
    with pysam.VariantFile(path) as vcf:
        if contig not in vcf.header.contigs:
            return kept, skipped
        for rec in vcf.fetch(contig, start0, end0):
            if rec.start < start0 or rec.stop > end0:
                skipped["outside_region"] += 1
                continue
            if list(rec.filter.keys()) != ["PASS"]:
                skipped["not_pass"] += 1
                continue
            sample = rec.samples[0]
            gt = sample["GT"]
            if gt is None or len(gt) != 2 or None in gt or max(gt) == 0:
                skipped["no_alt_gt"] += 1
                continue
            alleles = rec.alleles
            if any(not set(a) <= set(BASES) for a in (a.upper() for a in alleles)):
                skipped["symbolic"] += 1
                continue
            if alleles[0].upper() != ref[rec.start:rec.stop]:
                skipped["ref_mismatch"] += 1
                continue
            used = sorted({i for i in gt if i > 0})
            remap = {0: 0, **{old: new for new, old in enumerate(used, start=1)}}
            pos0, norm = normalize(rec.start, [alleles[0].upper()]
                                   + [alleles[i].upper() for i in used], ref)
            hap = (remap[gt[0]], remap[gt[1]])
            if not sample.phased and hap[0] != hap[1] and rng.random() < 0.5:
                hap = (hap[1], hap[0])
            var = Variant(pos0, norm[0], tuple(norm[1:]), hap, "giab")
            if var.pos0 < start0:
                skipped["outside_region"] += 1
                continue
            if kept and var.pos0 < kept[-1].end0:
                skipped["overlap"] += 1
                continue
            kept.append(var)
    return kept, skipped


# ---------------------------------------------------------------- random variants


def find_repeat_tracts(seq: str, offset: int,
                       min_copies_by_period: tuple[tuple[int, int], ...] =
                       ((1, 4), (2, 3), (3, 3), (4, 3))) -> dict[int, np.ndarray]:
    """Maximal homopolymers (>=4 bp) and STRs (unit 2-4, >=3 copies) per period.

    Returns {period: array of (start0, end0)} in contig coordinates. A tract starts
    where periodicity begins, so an indel placed at its start (anchored on the base
    before it) is already left-aligned. A tract may end in a partial unit.
    """
    arr = np.frombuffer(seq.encode(), dtype=np.uint8)
    not_n = arr != ord("N")
    tracts: dict[int, np.ndarray] = {}
    for period, min_copies in min_copies_by_period:
        same = (arr[:-period] == arr[period:]) & not_n[:-period] & not_n[period:]
        padded = np.concatenate(([False], same, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        starts, stops = edges[0::2], edges[1::2]  # runs of `same`
        keep = (stops - starts) >= (min_copies - 1) * period
        starts, stops = starts[keep], stops[keep] + period  # tract = run + one period
        good = [i for i, s in enumerate(starts) if _is_primitive(seq[s:s + period])]
        tracts[period] = np.stack([starts[good] + offset, stops[good] + offset], axis=1) \
            if good else np.zeros((0, 2), dtype=np.int64)
    return tracts


def _is_primitive(unit: str) -> bool:
    """A unit like AT or ATT, not AA or ATAT (those belong to a shorter period)."""
    n = len(unit)
    return not any(n % p == 0 and unit == unit[:p] * (n // p) for p in range(1, n))


class Planter:
    """Places random variants without overlapping each other or the real ones."""

    def __init__(self, ref: RefWindow, lo: int, hi: int, fixed: list[Variant],
                 rng: np.random.Generator):
        self.ref, self.lo, self.hi, self.rng = ref, lo, hi, rng
        self.busy = np.zeros(len(ref.seq), dtype=bool)  # indexed by pos0 - offset
        for v in fixed:
            self._reserve(v.pos0, v.end0)
        self.tracts = find_repeat_tracts(ref[lo:hi], lo)

    def _free(self, start0: int, end0: int) -> bool:
        a, b = start0 - MIN_GAP - self.ref.offset, end0 + MIN_GAP - self.ref.offset
        return a >= 0 and b <= len(self.busy) and not self.busy[a:b].any()

    def _reserve(self, start0: int, end0: int) -> None:
        a = max(0, start0 - MIN_GAP - self.ref.offset)
        self.busy[a:end0 + MIN_GAP - self.ref.offset] = True

    def _genotype(self, multi: bool) -> tuple[int, int]:
        if multi:
            return (1, 2) if self.rng.random() < 0.5 else (2, 1)
        if self.rng.random() < HOM_ALT_FRACTION:
            return (1, 1)
        return (0, 1) if self.rng.random() < 0.5 else (1, 0)

    def _accept(self, pos0: int, alleles: list[str], multi: bool, note: str,
                guard: tuple[int, int]) -> Variant | None:
        """Keep a candidate only if clean, free and already normalised."""
        if "N" in "".join(alleles) or not self._free(*guard):
            return None
        if normalize(pos0, alleles, self.ref) != (pos0, alleles):
            return None
        self._reserve(*guard)
        return Variant(pos0, alleles[0], tuple(alleles[1:]), self._genotype(multi),
                       "random", note)

    def snp(self, multi: bool) -> Variant | None:
        for _ in range(MAX_TRIES):
            pos0 = int(self.rng.integers(self.lo, self.hi))
            ref_base = self.ref.base(pos0)
            if ref_base == "N":
                continue
            alts = [b for b in BASES if b != ref_base]
            picks = self.rng.choice(alts, size=2 if multi else 1, replace=False)
            var = self._accept(pos0, [ref_base, *map(str, picks)], multi, "",
                               (pos0, pos0 + 1))
            if var:
                return var
        return None

    def indel(self, multi: bool) -> Variant | None:
        """Multi-allelic indels always go into repeats (two different lengths)."""
        in_repeat = multi or self.rng.random() < REPEAT_INDEL_FRACTION
        for _ in range(MAX_TRIES):
            var = self._repeat_indel(multi) if in_repeat else self._plain_indel()
            if var:
                return var
        return None

    def _steps(self, max_steps: int, hp: bool) -> int:
        """Size change in repeat units: mostly 1, with a flat tail up to max_steps."""
        head = [0.6, 0.2, 0.08] if hp else [0.7, 0.2]
        tail = (1.0 - sum(head)) / max(1, max_steps - len(head))
        weights = np.array([head[i] if i < len(head) else tail for i in range(max_steps)])
        return int(self.rng.choice(np.arange(1, max_steps + 1), p=weights / weights.sum()))

    def _repeat_indel(self, multi: bool) -> Variant | None:
        period = 1 if self.rng.random() < 0.5 else int(self.rng.choice([2, 3, 4]))
        tracts = self.tracts[period]
        if len(tracts) == 0:
            return None
        lengths = np.minimum(tracts[:, 1] - tracts[:, 0], 20).astype(float)
        start0, end0 = tracts[self.rng.choice(len(tracts), p=lengths / lengths.sum())]
        start0, end0 = int(start0), int(end0)
        if start0 - 1 < self.lo:
            return None
        unit = self.ref[start0:start0 + period]
        copies = (end0 - start0) // period
        max_ins = MAX_INDEL // period
        max_del = min(max_ins, copies - 1)
        deltas: list[int] = []
        while len(deltas) < (2 if multi else 1):
            delete = self.rng.random() < 0.5 and max_del >= 1
            step = self._steps(max_del if delete else max_ins, period == 1)
            delta = -step if delete else step
            if delta not in deltas:
                deltas.append(delta)
        span = max(0, *(-d for d in deltas)) * period
        anchor = self.ref.base(start0 - 1)
        ref_allele = anchor + self.ref[start0:start0 + span]
        alts = [anchor + unit * d + self.ref[start0:start0 + span] if d > 0
                else anchor + self.ref[start0 - d * period:start0 + span] for d in deltas]
        note = "hp" if period == 1 else f"str{period}"
        return self._accept(start0 - 1, [ref_allele, *alts], multi, note,
                            (start0 - 1, end0))

    def _plain_indel(self) -> Variant | None:
        """An indel at a random spot (rarely a repeat): random insertion or deletion."""
        size = int(self.rng.choice(np.arange(1, MAX_INDEL + 1),
                                   p=_geometric(MAX_INDEL, 0.5)))
        pos0 = int(self.rng.integers(self.lo + 1, self.hi - size))
        anchor = self.ref.base(pos0 - 1)
        if self.rng.random() < 0.5:
            inserted = "".join(self.rng.choice(list(BASES), size=size))
            alleles = [anchor, anchor + inserted]
        else:
            alleles = [anchor + self.ref[pos0:pos0 + size], anchor]
        return self._accept(pos0 - 1, alleles, False, "none",
                            (pos0 - 1, pos0 - 1 + len(alleles[0])))


def _geometric(n: int, p: float) -> np.ndarray:
    w = (1 - p) ** np.arange(n)
    return w / w.sum()


def plant_random(planter: Planter, n_snps: int, n_indels: int, multi_fraction: float,
                 rng: np.random.Generator) -> list[Variant]:
    """Indels first (they need repeat tracts, the scarcer resource), then SNPs."""
    kinds = ["indel"] * n_indels + ["snp"] * n_snps
    multi = np.zeros(len(kinds), dtype=bool)
    multi[rng.choice(len(kinds), size=round(multi_fraction * len(kinds)),
                     replace=False)] = True
    out = []
    for kind, is_multi in zip(kinds, multi):
        var = planter.indel(bool(is_multi)) if kind == "indel" else planter.snp(bool(is_multi))
        if var is not None:
            out.append(var)
    return out


# ------------------------------------------------------------------ outputs


def haplotype_seqs(ref: RefWindow, start0: int, end0: int,
                   variants: list[Variant]) -> list[str]:
    """The region with each haplotype's alleles applied (haplotype 1, haplotype 2)."""
    seqs = []
    for hap in (0, 1):
        pieces, cursor = [], start0
        for v in variants:
            allele = v.gt[hap]
            if allele == 0:
                continue
            pieces += [ref[cursor:v.pos0], v.alts[allele - 1]]
            cursor = v.end0
        pieces.append(ref[cursor:end0])
        seqs.append("".join(pieces))
    return seqs


def write_fasta(path: Path, name: str, seq: str) -> Path:
    with path.open("w") as fh:
        fh.write(f">{name}\n")
        fh.writelines(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    return path


# ------------------------------------------------------------------ stutter
#
# ART models substitutions and rare indels but no polymerase slippage, so simulated
# homopolymers/STRs are unrealistically clean: real Illumina data carry reads that are
# +-1 (rarely +-2) repeat units off, more the longer the repeat, and a caller trained
# only on ART reads calls those as variants. We add it as K extra "stutter copies" of
# each haplotype in which each repeat tract independently gets a +-1/+-2 unit change
# with probability q = p(tract) / f, and simulate the clean haplotypes at (1 - f) of
# the depth and the K copies at f / K each. The expected share of a haplotype's reads
# that carry a change at a tract is then f * q = p(tract). f is the largest p in the
# region (so q <= 1); more copies make the per-site share less lumpy (steps of f/K).

STUTTER_MIN_BP = {1: 6, 2: 10, 3: 10, 4: 10}  # shortest tract that can stutter
# p(copies) at --stutter 1: top / (1 + exp(-(copies - mid) / width)); copies = bp /
# period. Homopolymer: 6 bp ~1%, 8 ~3%, 10 ~6%, 12 ~13%, 15 ~23%, 20 ~29% of reads.
# Dinucleotide: 5 copies ~1.4%, 8 ~5.5%, 10 ~11%, 12 ~19%, 15 ~26%; tri/tetra lower.
STUTTER_CURVE = {1: (0.30, 12.5, 2.0), 2: (0.30, 11.0, 2.0),
                 3: (0.20, 12.0, 2.0), 4: (0.15, 12.0, 2.0)}
# unit change given a change: deletions 2:1 over insertions, +-2 at 1/5 of +-1
STUTTER_STEPS = np.array([-1, 1, -2, 2])
STUTTER_STEP_P = np.array([2 / 3 * 5 / 6, 1 / 3 * 5 / 6, 2 / 3 * 1 / 6, 1 / 3 * 1 / 6])
STUTTER_MAX_P = 0.9  # cap on p(tract) * --stutter


def stutter_p(period: np.ndarray, length: np.ndarray, scale: float) -> np.ndarray:
    """Share of reads with a slippage error at tracts of this period and length (bp)."""
    p = np.zeros(len(length))
    for per, (top, mid, width) in STUTTER_CURVE.items():
        sel = period == per
        copies = length[sel] / per
        p[sel] = top / (1.0 + np.exp(-(copies - mid) / width))
    return np.minimum(p * scale, STUTTER_MAX_P)


def stutter_tracts(seq: str, scale: float) -> np.ndarray:
    """Non-overlapping repeat tracts of one haplotype that may stutter.

    Returns an int64 array of rows (start0, end0, period) in haplotype coordinates,
    sorted by start, and their p as a second array. Homopolymers >= 6 bp, STRs with
    unit 2-4, >= 3 whole copies and >= 10 bp; where tracts of different periods
    overlap (shared edge bases), the one with the higher p is kept.
    """
    found = find_repeat_tracts(seq, 0, ((1, STUTTER_MIN_BP[1]), (2, 3), (3, 3), (4, 3)))
    rows = []
    for period, tr in found.items():
        length = tr[:, 1] - tr[:, 0]
        keep = (length >= STUTTER_MIN_BP[period]) & (length // period >= 3)
        tr = tr[keep]
        rows.append(np.column_stack([tr, np.full(len(tr), period)]).astype(np.int64))
    rows_a = np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)
    rows_a = rows_a[np.lexsort((rows_a[:, 1], rows_a[:, 0]))]
    p = stutter_p(rows_a[:, 2], (rows_a[:, 1] - rows_a[:, 0]).astype(float), scale)
    kept: list[int] = []
    for i in range(len(rows_a)):  # a few thousand per Mb: a plain loop is fine
        if kept and rows_a[i, 0] < rows_a[kept[-1], 1]:
            if p[i] > p[kept[-1]]:
                kept[-1] = i
            continue
        kept.append(i)
    return rows_a[kept], p[kept]


def stutter_copy(seq: str, tracts: np.ndarray, steps: np.ndarray) -> str:
    """seq with tract i lengthened/shortened by steps[i] whole units (0 = unchanged).

    Units are added or removed at the start of the tract, which keeps it periodic.
    """
    pieces, cursor = [], 0
    for i in np.flatnonzero(steps):
        start, period, step = int(tracts[i, 0]), int(tracts[i, 2]), int(steps[i])
        pieces.append(seq[cursor:start])
        if step > 0:
            pieces.append(seq[start:start + period] * step)
            cursor = start
        else:
            cursor = start - step * period
    pieces.append(seq[cursor:])
    return "".join(pieces)


def make_stutter_copies(hap_seqs: list[str], scale: float, copies: int,
                        rng: np.random.Generator, tmp: Path
                        ) -> tuple[list[Path], float, dict]:
    """Write K stutter copies per haplotype (contigs h1s1..h1sK, h2s1..h2sK).

    Returns their FASTAs, the read fraction f they get, and a summary for sample.json.
    """
    per_hap = [stutter_tracts(seq, scale) for seq in hap_seqs]
    f = min(1.0, max((float(p.max()) for _, p in per_hap if len(p)), default=0.0))
    paths: list[Path] = []
    n_changes = {"total": 0, "by_period": {str(k): 0 for k in STUTTER_CURVE},
                 "by_step": {f"{s:+d}": 0 for s in STUTTER_STEPS}}
    distinct = 0
    eligible: dict[str, dict[str, int]] = {}
    for h, (seq, (tracts, p)) in enumerate(zip(hap_seqs, per_hap)):
        eligible[f"h{h + 1}"] = {str(k): int((tracts[:, 2] == k).sum())
                                 for k in STUTTER_CURVE}
        q = p / f if f > 0 else p
        ever = np.zeros(len(tracts), dtype=bool)
        for c in range(copies):
            changed = rng.random(len(tracts)) < q
            # no tract loses all its units (all have >= 3 whole units, so +-2 is safe)
            steps = np.zeros(len(tracts), dtype=np.int64)
            steps[changed] = rng.choice(STUTTER_STEPS, size=int(changed.sum()),
                                        p=STUTTER_STEP_P)
            ever |= changed
            n_changes["total"] += int(changed.sum())
            for k in STUTTER_CURVE:
                n_changes["by_period"][str(k)] += int((changed & (tracts[:, 2] == k)).sum())
            for s in STUTTER_STEPS:
                n_changes["by_step"][f"{s:+d}"] += int((steps == s).sum())
            name = f"h{h + 1}s{c + 1}"
            paths.append(write_fasta(tmp / f"{name}.fa", name,
                                     stutter_copy(seq, tracts, steps)))
        distinct += int(ever.sum())
    hp_lengths = np.arange(6, 26)
    summary = {
        "scale": scale,
        "copies_per_haplotype": copies,
        "copy_read_fraction": round(f, 4),
        "model": {"p(copies) at scale 1": "top / (1 + exp(-(copies - mid) / width))",
                  "curve_top_mid_width_by_period": {str(k): v
                                                    for k, v in STUTTER_CURVE.items()},
                  "min_tract_bp_by_period": {str(k): v for k, v in STUTTER_MIN_BP.items()},
                  "min_whole_units": 3,
                  "step_probabilities": {f"{s:+d}": round(float(w), 4) for s, w in
                                         zip(STUTTER_STEPS, STUTTER_STEP_P)},
                  "max_p": STUTTER_MAX_P},
        "expected_read_fraction_homopolymer_bp": {
            str(n): round(float(x), 4) for n, x in
            zip(hp_lengths, stutter_p(np.ones(len(hp_lengths)), hp_lengths.astype(float),
                                      scale))},
        "eligible_tracts": eligible,
        "modified_repeats": distinct,  # tract instances changed in >= 1 copy
        "modifications": n_changes,    # summed over all copies of both haplotypes
    }
    return paths, f, summary


def write_truth(variants: list[Variant], contig: str, fasta: pysam.FastaFile,
                ref_path: str, sample: str, out: Path) -> Path:
    """Sorted, phased, bgzipped and tabix-indexed truth VCF with all contig lengths."""
    lines = ["##fileformat=VCFv4.2", "##source=dvcall scripts/simulate_sample.py",
             f"##reference=file://{Path(ref_path).resolve()}"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in zip(fasta.references, fasta.lengths)]
    lines += ['##INFO=<ID=SRC,Number=1,Type=String,Description="giab: planted from '
              '--truth-source; random: planted at random">',
              '##INFO=<ID=REPEAT,Number=1,Type=String,Description="Repeat context of a '
              'random indel: hp (homopolymer), strN (unit N bp) or none">',
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Phased genotype">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                         "FORMAT", sample])]
    for v in variants:
        info = f"SRC={v.source}" + (f";REPEAT={v.note}" if v.note else "")
        lines.append("\t".join([contig, str(v.pos0 + 1), ".", v.ref, ",".join(v.alts),
                                "60", "PASS", info, "GT", f"{v.gt[0]}|{v.gt[1]}"]))
    plain = out / "truth.vcf"
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # -> truth.vcf.gz(.tbi)
    return out / "truth.vcf.gz"


def check_truth_normalised(truth: Path, ref_path: str, log: Path) -> str:
    """bcftools norm must change nothing: that is our definition of a usable truth."""
    proc = subprocess.run(["bcftools", "norm", "-f", ref_path, "--check-ref", "e",
                           "-Ov", "-o", "/dev/null", str(truth)],
                          capture_output=True, text=True, check=False)
    with log.open("a") as fh:
        fh.write(proc.stderr)
    line = next((l for l in proc.stderr.splitlines() if "total/split" in l), "")
    counts = line.split("\t")[-1].split("/") if line else []
    if proc.returncode != 0 or len(counts) != 4 or counts[1:] != ["0", "0", "0"]:
        sys.exit(f"truth VCF is not normalised ({line.strip() or proc.stderr.strip()})")
    return line.strip()


def bwa_index(ref_path: str, cache_dir: Path, log: Path) -> Path:
    """Build (once, under a lock) a bwa index of an uncompressed copy of --ref."""
    name = Path(ref_path).name
    for suffix in (".gz", ".bgz", ".fa", ".fasta", ".fna"):
        name = name.removesuffix(suffix)
    cache_dir.mkdir(parents=True, exist_ok=True)
    prefix = cache_dir / name
    done = Path(f"{prefix}.done")
    with open(f"{prefix}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            plain = Path(f"{prefix}.fa")
            opener = gzip.open if ref_path.endswith((".gz", ".bgz")) else open
            with opener(ref_path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 22)
            # "is" is ~2.5x faster than the default bwtsw here; bwa caps it at 2 Gbp
            with pysam.FastaFile(ref_path) as fa:
                algo = "is" if sum(fa.lengths) < 2_000_000_000 else "bwtsw"
            run(["bwa", "index", "-a", algo, "-p", str(prefix), str(plain)], log)
            done.write_text(str(Path(ref_path).resolve()) + "\n")
    return prefix


def copy_decoy(decoy: str, tmp: Path) -> Path:
    """Rename decoy contigs to decoyN so their read names cannot clash with h1/h2."""
    out = tmp / "decoy.fa"
    with pysam.FastxFile(decoy) as src, out.open("w") as dst:
        for i, rec in enumerate(src):
            seq = rec.sequence.upper()
            dst.write(f">decoy{i}\n")
            dst.writelines(seq[j:j + 60] + "\n" for j in range(0, len(seq), 60))
    return out


def decoy_piles(bam: Path, contig: str, lo: int, hi: int, max_depth: float,
                join: int = 500) -> list[tuple[int, int]]:
    """Intervals in [lo, hi) where mapped decoy reads exceed max_depth.

    Why: a decoy stretch that is a near-copy of the region (a segmental duplication)
    stacks tens of x of reads there with high MAPQ. Real truth sets (GIAB) leave such
    places out of their confident regions, and labelling those clean-looking
    mismatches hom-ref would teach the model to ignore real variants.
    """
    diff = np.zeros(hi - lo + 1, dtype=np.int32)
    with pysam.AlignmentFile(str(bam)) as reads:
        for read in reads.fetch(contig, lo, hi):
            if read.is_unmapped or read.is_secondary or read.is_supplementary or \
                    not read.query_name.startswith("decoy"):
                continue
            a, b = max(lo, read.reference_start), min(hi, read.reference_end)
            if a < b:
                diff[a - lo] += 1
                diff[b - lo] -= 1
    piles: list[tuple[int, int]] = []
    for pos in np.flatnonzero(np.cumsum(diff[:-1]) > max_depth) + lo:
        a, b = max(lo, int(pos) - join), min(hi, int(pos) + 1 + join)
        if piles and a <= piles[-1][1]:
            piles[-1] = (piles[-1][0], b)
        else:
            piles.append((a, b))
    return piles


def subtract(lo: int, hi: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[lo, hi) minus sorted, non-overlapping holes."""
    out, cursor = [], lo
    for a, b in holes:
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < hi:
        out.append((cursor, hi))
    return out


def add_duplicates(fq1: Path, fq2: Path, fraction: float, rng: np.random.Generator) -> int:
    """Append unmarked PCR duplicates to a pair of FASTQs: a share of the fragments gets a geometric number of extra
    copies (1, 2, ..., mean 1.5) so that duplicates are `fraction` of all pairs afterwards. The copies
    keep the original's bases and qualities (its sequencing errors too, as PCR errors and optical duplicates do)
    and are named NAME_dupK. Returns the number of pairs added."""
    if fraction <= 0:
        return 0
    mates = [fq.read_text().splitlines() for fq in (fq1, fq2)]
    n = len(mates[0]) // 4
    want = round(n * fraction / (1 - fraction))
    copies = rng.geometric(2 / 3, size=n)
    chosen = rng.permutation(n)
    total = np.cumsum(copies[chosen])
    picked = chosen[: int(np.searchsorted(total, want)) + 1] if want else chosen[:0]
    for fq, lines in zip((fq1, fq2), mates):
        out = []
        for i in picked.tolist():
            name, seq, plus, qual = lines[4 * i: 4 * i + 4]
            head, _, rest = name.partition("/")  # ART names pairs NAME/1, NAME/2
            for k in range(int(copies[i])):
                out += [f"{head}_dup{k + 1}" + (f"/{rest}" if rest else ""), seq, plus, qual]
        with fq.open("a") as fh:
            fh.write("\n".join(out) + ("\n" if out else ""))
    return int(copies[picked].sum())


def count_fastq(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) // 4


def tally(variants: list[Variant]) -> dict[str, int]:
    counts = {"total": len(variants), "snp": 0, "indel": 0, "multiallelic": 0, "mnp": 0,
              "multiallelic_with_indel": 0, "het": 0, "hom_alt": 0}
    for v in variants:
        counts[v.kind] += 1
        if v.kind == "multiallelic" and len({len(a) for a in (v.ref, *v.alts)}) > 1:
            counts["multiallelic_with_indel"] += 1
        counts["hom_alt" if v.gt[0] == v.gt[1] else "het"] += 1
    return counts


def tool_versions() -> dict[str, str]:
    def first(cmd: list[str], pick: str = "") -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
        except FileNotFoundError:
            return "not installed"
        lines = (proc.stdout + proc.stderr).splitlines()
        return next((l.strip() for l in lines if pick in l and l.strip()), "")
    return {"samtools": first(["samtools", "--version"]),
            "bcftools": first(["bcftools", "--version"]),
            "bwa": first(["bwa"], "Version"),
            "art_illumina": first(["art_illumina"], "Version"),
            "iss": first(["iss", "--version"]),
            "neat": first(["neat", "--version"]),
            "minimap2": first(["minimap2", "--version"]),
            "pysam": pysam.__version__, "numpy": np.__version__}


# --------------------------------------------------------------------------- main


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, but not the uninformative None/False ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Simulate one diploid Illumina sample (reads.bam aligned to --ref, "
                    "truth.vcf.gz, confident.bed, sample.json) in --out.",
        formatter_class=_HelpFormatter)
    p.add_argument("--ref", required=True,
                   help="reference FASTA (bgzipped + faidx); the BAM is aligned to it "
                        "with its original contig names and coordinates")
    p.add_argument("--region", required=True,
                   help="CONTIG:START-END, 1-based inclusive; reads come only from here")
    p.add_argument("--truth-source", default=None,
                   help="VCF of real (phased) variants to plant: PASS, non-0/0 records "
                        "inside the region; unphased hets get a random phase")
    p.add_argument("--random-snps-per-kb", type=float, default=0.0,
                   help="extra random SNPs per kb of the confident region")
    p.add_argument("--random-indels-per-kb", type=float, default=0.0,
                   help=f"extra random indels (1-{MAX_INDEL} bp) per kb; "
                        f"{REPEAT_INDEL_FRACTION * 100:.0f}%% go into homopolymers/STRs")
    p.add_argument("--multiallelic-fraction", type=float, default=0.05,
                   help="share of random sites made multi-allelic (GT 1|2, two "
                        "different ALT alleles)")
    p.add_argument("--coverage", type=float, default=30.0,
                   help="total read depth over both haplotypes")
    p.add_argument("--read-length", type=int, choices=(100, 125, 150, 250), default=None,
                   help="read length (paired-end) for ART, at most the --profile's, and NEAT (default: 150)")
    p.add_argument("--profile", choices=tuple(ART_PROFILES), default=None,
                   help="ART built-in error profile (HS20: HiSeq 2000, HS25: HiSeq 2500, HSXn / HSXt: HiSeq X "
                        "PCR-free / TruSeq, MSv3: MiSeq v3; default: HS25)")
    p.add_argument("--read-simulator", choices=tuple(SIMULATOR_TOOLS), default="art",
                   help="Illumina reads from ART (--profile, --read-length), from InSilicoSeq (--iss-model; "
                        "`pip install insilicoseq`): error models fitted on real runs, NovaSeq's with its four "
                        "binned qualities, or from NEAT v4 (--read-length; PyPI neat-genreads, in a venv of its "
                        "own): its default error model, qualities drawn per base")
    p.add_argument("--iss-model", choices=tuple(ISS_MODELS), default="NovaSeq",
                   help="InSilicoSeq error model (reads of " + ", ".join(f"{m} {n}" for m, n in ISS_MODELS.items())
                        + " bp); with --read-simulator insilicoseq")
    p.add_argument("--duplicate-fraction", type=float, default=0.0,
                   help="Illumina: share of the read pairs that are unmarked PCR duplicates of others (copies of "
                        "the same fragment with the same bases, as when a pipeline skips MarkDuplicates; 0.1-0.2 "
                        "is typical of PCR libraries; they come on top of --coverage). 0 = none")
    p.add_argument("--haplotype-fraction", type=float, default=0.5,
                   help="share of the reads drawn from haplotype 1 (0.35: every het at ~35%% or ~65%% allele balance, "
                        "as allele-specific bias or a mosaic sample gives)")
    p.add_argument("--fragment-mean", type=int, default=350, help="mean fragment length")
    p.add_argument("--fragment-sd", type=int, default=50, help="fragment length SD")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for variant placement, phasing and ART")
    p.add_argument("--decoy-fa", default=None,
                   help="extra sequence (not in --ref) whose reads are mixed in at "
                        "--decoy-coverage so some mis-map into repeats")
    p.add_argument("--decoy-coverage", type=float, default=None,
                   help="depth of the decoy reads (default: same as --coverage)")
    p.add_argument("--decoy-pile-fraction", type=float, default=0.25,
                   help="leave out of confident.bed (+-500 bp) where mapped decoy reads "
                        "exceed this fraction of --coverage (paralog piles; GIAB "
                        "excludes such places too); 0 disables")
    p.add_argument("--confident-margin", type=int, default=1000,
                   help="bp trimmed from each end of the region for confident.bed "
                        "(read depth tapers there); random variants stay inside it")
    p.add_argument("--stutter", type=float, default=0.0,
                   help="polymerase-slippage (stutter) rate scale: 1.0 gives realistic "
                        "Illumina rates (+-1 unit in ~3%% of reads at an 8 bp "
                        "homopolymer, ~13%% at 12 bp, ~23%% at 15 bp; STRs alike); 0 = "
                        "off. Reads come from extra stutter copies of the haplotypes; "
                        "the truth VCF is unchanged")
    p.add_argument("--stutter-copies", type=int, default=8,
                   help="stutter copies per haplotype (more = smoother per-site rates)")
    p.add_argument("--platform", choices=tuple(REQUIRED_TOOLS), default="illumina",
                   help="reads to simulate: ART Illumina pairs; hifi (10-20 kb, ~99.95%%) or ont (R10.4.1-like, "
                        "5-50 kb, ~99.3%%) long reads with errors concentrated in homopolymers "
                        "(long_read_errors.py); ont-r9: pbsim reads, 93-95%%, deletion-heavy. Long reads are aligned "
                        "with minimap2 map-hifi / map-ont")
    p.add_argument("--error-scale", type=float, default=1.0,
                   help="hifi / ont: multiply every error rate (3: an older HiFi chemistry, ~99.8%%)")
    p.add_argument("--hp-tags", choices=("truth", "none"), default="truth",
                   help="long reads: tag each read HP:i:1/2 with its haplotype of origin (truth phasing, for "
                        "training), or leave them untagged (for whatshap haplotag, as a user would)")
    p.add_argument("--sample-name", default="SIMSAMPLE",
                   help="SM of the read group and sample column of the truth VCF")
    p.add_argument("--bwa-index-dir", default=None,
                   help="cache for bwa indexes (default: OUT/../bwa_index)")
    p.add_argument("--threads", type=int, default=2, help="threads for bwa / samtools")
    p.add_argument("--keep-tmp", action="store_true",
                   help="keep OUT/tmp (haplotype FASTAs and FASTQs)")
    p.add_argument("--out", required=True, help="output directory")
    return p.parse_args(argv)


def simulate_long_reads(args: argparse.Namespace, haplotypes: list[Path], hap_seqs: list[str], tmp: Path,
                        log: Path) -> tuple[dict, dict | None]:
    """Reads per haplotype at its share of the coverage (--haplotype-fraction), named h1-PLATFORM-N / h2-PLATFORM-N
    into tmp/all.fq: ({haplotype: reads}, the injected errors (long_read_errors only)). The platform in the name keeps
    a hybrid pair's long reads from sharing names with its Illumina reads (ART's h1-N): whatshap, which groups reads
    by name, would take two such reads for one read's alignments."""
    cfg = LONG_READS[args.platform]
    if cfg["simulator"] == "long_read_errors":
        return simulate_homopolymer_errors(args, haplotypes, hap_seqs, tmp)
    (l_mean, l_sd, l_min, l_max), (a_mean, a_sd, a_min, a_max) = cfg["length"], cfg["accuracy"]
    counts = {}
    with open(tmp / "all.fq", "w") as out:
        for i, fa in enumerate(haplotypes):
            prefix = tmp / f"{fa.stem}_pbsim"
            share = args.haplotype_fraction if i == 0 else 1 - args.haplotype_fraction
            run(["pbsim", "--data-type", "CLR", "--depth", f"{args.coverage * share:g}", "--length-mean", str(l_mean),
                 "--length-sd", str(l_sd), "--length-min", str(l_min), "--length-max", str(l_max),
                 "--accuracy-mean", str(a_mean), "--accuracy-sd", str(a_sd), "--accuracy-min", str(a_min),
                 "--accuracy-max", str(a_max), "--difference-ratio", cfg["ratio"], "--model_qc", PBSIM_QC_MODEL,
                 "--seed", str(args.seed * 10 + i + 1), "--prefix", str(prefix), str(fa)], log, stdout=subprocess.DEVNULL)
            n = 0
            with open(f"{prefix}_0001.fastq") as fq:
                for k, line in enumerate(fq):
                    if k % 4 == 0:
                        n += 1
                        line = f"@{fa.stem}-{args.platform}-{n}\n"
                    elif k % 4 == 2:
                        line = "+\n"
                    out.write(line)
            counts[fa.stem] = n
    return counts, None


def simulate_homopolymer_errors(args: argparse.Namespace, haplotypes: list[Path], hap_seqs: list[str],
                                tmp: Path) -> tuple[dict, dict]:
    """long_read_errors per haplotype at its share of the coverage; reads h1-PLATFORM-N / h2-PLATFORM-N into tmp/all.fq."""
    profile = long_read_errors.scaled(long_read_errors.PROFILES[LONG_READS[args.platform]["profile"]], args.error_scale)
    rng = np.random.default_rng([args.seed, 0x10A6])
    contexts = long_read_errors.Contexts.draw(profile, rng) if profile.systematic else None  # shared by both haplotypes
    tallies = {}
    with open(tmp / "all.fq", "w") as out:
        for i, (fa, seq) in enumerate(zip(haplotypes, hap_seqs)):
            share = args.haplotype_fraction if i == 0 else 1 - args.haplotype_fraction
            tallies[fa.stem] = long_read_errors.simulate(seq, args.coverage * share, profile, rng,
                                                      f"{fa.stem}-{args.platform}", out, contexts)
    total = {k: sum(t[k] for t in tallies.values()) for k in next(iter(tallies.values()))}
    return {stem: t["reads"] for stem, t in tallies.items()}, {**total, "accuracy": round(long_read_errors.accuracy(total), 5)}


def simulate_iss(args: argparse.Namespace, fa: Path, depth: float, seed: int, prefix: Path, log: Path) -> None:
    """InSilicoSeq pairs from one sequence at `depth`, written as ART's PREFIX1.fq / PREFIX2.fq with names made
    unique per source (iss names reads after the FASTA record, which every haplotype file shares). iss seeds its
    worker i with seed + i, so sources' seeds are spread 1000 apart: neighbouring seeds would share read streams."""
    with pysam.FastxFile(str(fa)) as records:
        length = sum(len(rec.sequence) for rec in records)
    pairs = max(1, round(depth * length / (2 * args.read_length)))
    out = prefix.parent / f"{prefix.name}iss"
    run(["iss", "generate", "--genomes", str(fa), "--model", args.iss_model, "--n_reads", str(2 * pairs),
         "--cpus", str(args.threads), "--seed", str(seed * 1000), "--fragment-length", str(args.fragment_mean),
         "--fragment-length-sd", str(args.fragment_sd), "--abundance", "uniform", "--output", str(out), "--quiet"], log)
    for mate in ("1", "2"):
        with open(f"{out}_R{mate}.fastq") as src, open(f"{prefix}{mate}.fq", "w") as dst:
            for i, line in enumerate(src):
                if i % 4 == 0:  # @name_i_j/1 -> @STEM-name_i_j/1 (mates keep matching names)
                    line = f"@{fa.stem}-{line[1:]}"
                dst.write(line)


def simulate_neat(args: argparse.Namespace, fa: Path, depth: float, seed: int, prefix: Path, log: Path) -> None:
    """NEAT v4 pairs from one sequence at `depth` (ploidy 1, no variants of its own: the haplotype already holds
    them), written as ART's PREFIX1.fq / PREFIX2.fq with names made unique per source."""
    out = prefix.parent / f"{prefix.name}neat"
    config = prefix.parent / f"{prefix.name}neat.yml"
    config.write_text(yaml.safe_dump({  # quoted as YAML needs (an --out path with ': ' or '#' in it)
        "reference": str(fa.resolve()), "read_len": args.read_length, "coverage": float(depth), "ploidy": 1,
        "mutation_rate": 0, "paired_ended": True, "fragment_mean": args.fragment_mean,
        "fragment_st_dev": args.fragment_sd, "produce_fastq": True, "produce_bam": False,
        "produce_vcf": False, "rng_seed": seed, "threads": 1, "overwrite_output": True}))
    run(["neat", "--no-log", "read-simulator", "-c", str(config), "-o", str(out), "-p", fa.stem], log,
        stdout=subprocess.DEVNULL)
    for mate in ("1", "2"):
        with gzip.open(out / f"{fa.stem}_r{mate}.fastq.gz", "rt") as src, open(f"{prefix}{mate}.fq", "w") as dst:
            for i, line in enumerate(src):
                if i % 4 == 0:  # @NEAT_generated_... -> @STEM-NEAT_generated_... (mates keep matching names)
                    line = f"@{fa.stem}-{line[1:]}"
                dst.write(line)


def tag_haplotypes(src: Path, dst: Path) -> None:
    """HP:i:1 / HP:i:2 from each read's haplotype of origin (its name prefix h1- / h2-): the truth phasing."""
    with pysam.AlignmentFile(str(src)) as inp, pysam.AlignmentFile(str(dst), "wb", template=inp) as out:
        for read in inp:
            if read.query_name.startswith(("h1-", "h2-")):
                read.set_tag("HP", int(read.query_name[1]), "i")
            out.write(read)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not 0 <= args.duplicate_fraction < 1:
        sys.exit("--duplicate-fraction must be at least 0 and below 1")
    check_tools(args.platform, args.read_simulator)
    if args.read_simulator == "insilicoseq":
        if args.profile is not None or args.read_length is not None:
            sys.exit("--profile and --read-length are ART's: with --read-simulator insilicoseq the --iss-model sets "
                     "the reads (drop them)")
        args.read_length = ISS_MODELS[args.iss_model]
    elif args.read_simulator == "neat":
        if args.profile is not None:
            sys.exit("--profile is ART's: with --read-simulator neat, NEAT's default error model makes the reads "
                     "(drop it)")
        args.read_length = args.read_length or 150
    else:
        args.profile = args.profile or "HS25"
        args.read_length = args.read_length or 150
    if args.read_simulator == "art" and args.read_length > ART_PROFILES[args.profile]:
        sys.exit(f"--profile {args.profile} has reads of at most {ART_PROFILES[args.profile]} bp")
    if not 0 < args.haplotype_fraction < 1:
        sys.exit("--haplotype-fraction must be between 0 and 1")
    if args.platform != "illumina" and (args.decoy_fa or args.stutter > 0 or args.duplicate_fraction > 0):
        sys.exit("--decoy-fa, --stutter and --duplicate-fraction are Illumina-only")

    t_start = time.time()
    timings: dict[str, float] = {}
    fasta = pysam.FastaFile(args.ref)
    contig, start0, end0 = parse_region(args.region, fasta)
    check_not_evaluation(build_of(args.ref), contig, start0, end0, "--region")
    if args.decoy_fa:
        check_decoy(args.decoy_fa)
    margin = args.confident_margin
    if end0 - start0 <= 2 * margin + 100:
        sys.exit("--region too small for --confident-margin")
    pad = 1000  # left-alignment may look a little before the region start
    ref = RefWindow(fasta, contig, max(0, start0 - pad),
                    min(fasta.get_reference_length(contig), end0 + pad))
    check_real_sequence(ref[start0:end0], args.region)

    out = Path(args.out)  # made only once the inputs are checked
    tmp = out / "tmp"
    if tmp.exists():
        shutil.rmtree(tmp)  # leftovers of an interrupted run
    tmp.mkdir(parents=True)
    (out / "sample.json").unlink(missing_ok=True)
    log = out / "simulate.log"
    log.write_text("")
    rng = np.random.default_rng(args.seed)

    # 1. variants: real ones first, then random ones in the free space between them
    real, skipped = ([], {}) if not args.truth_source else load_truth_source(
        args.truth_source, contig, start0, end0, ref, rng)
    conf_lo, conf_hi = start0 + margin, end0 - margin
    planter = Planter(ref, conf_lo, conf_hi, real, rng)
    kb = (conf_hi - conf_lo) / 1000
    n_snps, n_indels = round(args.random_snps_per_kb * kb), round(args.random_indels_per_kb * kb)
    random_vars = plant_random(planter, n_snps, n_indels, args.multiallelic_fraction, rng)
    variants = sorted(real + random_vars, key=lambda v: v.pos0)
    truth = write_truth(variants, contig, fasta, args.ref, args.sample_name, out)
    norm_line = check_truth_normalised(truth, args.ref, log)
    timings["variants_s"] = round(time.time() - t_start, 1)

    # 2. reads: ART per haplotype (+ decoy) (+ stutter copies), names h1-*, h2-*,
    #    decoyN-*, h1sK-*, h2sK-*
    t = time.time()
    hap_seqs = haplotype_seqs(ref, start0, end0, variants)
    sources = [write_fasta(tmp / f"h{i + 1}.fa", f"h{i + 1}", seq)
               for i, seq in enumerate(hap_seqs)]
    stutter_fas: list[Path] = []
    stutter_f, stutter_summary = 0.0, None
    index = None  # bwa index (Illumina only)
    injected = None  # long_read_errors' tally (hifi / ont only)
    if args.platform != "illumina":
        read_pairs, injected = simulate_long_reads(args, sources, hap_seqs, tmp, log)
        timings["long_reads_s"] = round(time.time() - t, 1)
        t = time.time()
        cfg = LONG_READS[args.platform]
        rg = rf"@RG\tID:sim\tSM:{args.sample_name}\tPL:{cfg['platform']}"
        q = shlex.quote  # --out and --ref may hold spaces or shell characters
        run(f"minimap2 -t {args.threads} -ax {cfg['preset']} -R {q(rg)} {q(args.ref)} {q(str(tmp / 'all.fq'))} "
            f"| samtools view -u -F 0x904 - "
            f"| samtools sort -@ {max(1, args.threads - 1)} -m 512M -T {q(str(tmp / 'sort'))} "
            f"-o {q(str(tmp / 'sorted.bam'))} -", log)
        if args.hp_tags == "truth":
            tag_haplotypes(tmp / "sorted.bam", out / "reads.bam")
        else:
            shutil.move(str(tmp / "sorted.bam"), str(out / "reads.bam"))
        run(["samtools", "index", str(out / "reads.bam")], log)
        timings["align_s"] = round(time.time() - t, 1)
    elif args.stutter > 0:
        if args.stutter_copies < 1:
            sys.exit("--stutter-copies must be >= 1")
        stutter_fas, stutter_f, stutter_summary = make_stutter_copies(
            hap_seqs, args.stutter, args.stutter_copies,
            np.random.default_rng([args.seed, 0x5707]), tmp)
        timings["stutter_copies_s"] = round(time.time() - t, 1)
    if args.platform == "illumina":
        shares = (args.haplotype_fraction, 1 - args.haplotype_fraction)
        depths = [args.coverage * share * (1 - stutter_f) for share in shares]
        if args.decoy_fa:
            sources.append(copy_decoy(args.decoy_fa, tmp))
            depths.append(args.decoy_coverage if args.decoy_coverage is not None
                          else args.coverage)
        seeds = [args.seed * 10 + i + 1 for i in range(len(sources))]
        sources += stutter_fas
        per_copy = len(stutter_fas) // 2  # h1s1..h1sK, then h2s1..h2sK
        depths += [args.coverage * shares[j // per_copy] * stutter_f / args.stutter_copies for j in range(len(stutter_fas))]
        seeds += [args.seed * 1000 + 500 + j for j in range(len(stutter_fas))]
        read_pairs: dict[str, int] = {}
        for fa, depth, seed in zip(sources, depths, seeds):
            if depth <= 0:
                continue
            prefix = tmp / f"{fa.stem}_"
            if args.read_simulator == "insilicoseq":
                simulate_iss(args, fa, depth, seed, prefix, log)
            elif args.read_simulator == "neat":
                simulate_neat(args, fa, depth, seed, prefix, log)
            else:
                run(["art_illumina", "-ss", args.profile, "-p", "-l", str(args.read_length),
                     "-f", f"{depth:g}", "-m", str(args.fragment_mean), "-s", str(args.fragment_sd),
                     "-rs", str(seed), "-na", "-i", str(fa), "-o", str(prefix)],
                    log, stdout=subprocess.DEVNULL)
            read_pairs[fa.stem] = count_fastq(Path(f"{prefix}1.fq"))
        for mate in ("1", "2"):
            run(f"cat {' '.join(shlex.quote(str(tmp / f'{stem}_{mate}.fq')) for stem in read_pairs)} "
                f"> {shlex.quote(str(tmp / f'all_{mate}.fq'))}", log)
        read_pairs["pcr_duplicates"] = add_duplicates(
            tmp / "all_1.fq", tmp / "all_2.fq", args.duplicate_fraction,
            np.random.default_rng([args.seed, 0xD0B]))
        timings["art_s"] = round(time.time() - t, 1)

        # 3. alignment to the original reference
        t = time.time()
        cache = Path(args.bwa_index_dir) if args.bwa_index_dir else out.resolve().parent / "bwa_index"
        index = bwa_index(args.ref, cache, log)
        timings["bwa_index_s"] = round(time.time() - t, 1)
        t = time.time()
        rg = rf"@RG\tID:sim\tSM:{args.sample_name}\tPL:ILLUMINA"
        q = shlex.quote  # --out and the index folder may hold spaces or shell characters
        run(f"bwa mem -t {args.threads} -R {q(rg)} {q(str(index))} {q(str(tmp / 'all_1.fq'))} {q(str(tmp / 'all_2.fq'))} "
            f"| samtools view -u -G 12 - "
            f"| samtools sort -@ {max(1, args.threads - 1)} -m 512M -T {q(str(tmp / 'sort'))} "
            f"-o {q(str(out / 'reads.bam'))} -", log)
        run(["samtools", "index", str(out / "reads.bam")], log)
        timings["align_s"] = round(time.time() - t, 1)
    piles = []
    if args.decoy_fa and args.decoy_pile_fraction > 0:
        piles = decoy_piles(out / "reads.bam", contig, conf_lo, conf_hi,
                            args.decoy_pile_fraction * args.coverage)
    confident = subtract(conf_lo, conf_hi, piles)
    (out / "confident.bed").write_text(
        "".join(f"{contig}\t{a}\t{b}\n" for a, b in confident))
    (out / "decoy_piles.bed").write_text("".join(f"{contig}\t{a}\t{b}\n" for a, b in piles))
    flagstat = json.loads(subprocess.run(
        ["samtools", "flagstat", "-O", "json", str(out / "reads.bam")],
        capture_output=True, text=True, check=True).stdout)["QC-passed reads"]

    if not args.keep_tmp:
        shutil.rmtree(tmp)
    timings["total_s"] = round(time.time() - t_start, 1)
    random_indels = [v for v in random_vars if v.note]
    summary = {
        "parameters": {**vars(args), "ref": str(Path(args.ref).resolve()),
                       "contig": contig, "region_start0": start0, "region_end0": end0},
        "confident_bed": {"intervals": len(confident),
                          "bp": sum(b - a for a, b in confident),
                          "span": [contig, conf_lo, conf_hi],
                          "decoy_pile_bp_removed": sum(b - a for a, b in piles),
                          "truth_variants_inside": sum(
                              any(a <= v.pos0 and v.end0 <= b for a, b in confident)
                              for v in variants)},
        "variants": {"total": tally(variants), "giab": tally(real),
                     "random": tally(random_vars)},
        "random_requested": {"snps": n_snps, "indels": n_indels},
        "random_indel_repeat_context": {
            ctx: sum(v.note == ctx for v in random_indels)
            for ctx in ("hp", "str2", "str3", "str4", "none")},
        "truth_source_skipped": skipped,
        "bcftools_norm_check": norm_line,
        "read_pairs_simulated": read_pairs,
        "injected_errors": injected,
        "stutter": stutter_summary,
        "bam_flagstat": {k: flagstat[k] for k in ("total", "mapped", "properly paired",
                                                  "secondary", "supplementary")},
        "bwa_index": str(index) if index else None,
        "timings": timings,
        "tools": tool_versions(),
    }
    (out / "sample.json").write_text(json.dumps(summary, indent=2) + "\n")
    c = summary["variants"]["total"]
    print(f"{out}: {c['total']} truth variants ({c['snp']} SNP, {c['indel']} indel, "
          f"{c['multiallelic']} multi-allelic), {sum(read_pairs.values())} read pairs, "
          f"{timings['total_s']} s")


if __name__ == "__main__":
    main()

"""Read phasing for `run --phase-reads --phaser whatshap`: HP tags from the sample's own first-pass calls, via
whatshap (the default phaser, direct, tags reads inside make_examples: direct_phasing.py).

Long-read models pool reads per haplotype (model.py), so they call best on reads carrying HP tags. A user
would run `whatshap phase` on a first-pass VCF and `whatshap haplotag` on the BAM; `--phaser whatshap` does
exactly that between two passes of the caller (and `dvcall haplotag` on its own), so its tags are
whatshap's by construction. whatshap is on PyPI (`pip install 'dvcall[phasing]'`)
and is run as `python -m whatshap` so its command line, not its internal API, is what dvcall relies on.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from typing import Sequence

import pysam

from .alignment_files import reads_inputs
from .errors import DependencyError, InputError
from .htslib import BAM_INDEXES, index_bam, needs_csi, quiet_htslib
from .model_info import ModelInfo
from .outputs import atomic_output, check_outputs
from .pileup import TECHNOLOGY_CHANNEL_ENUM
from .reads import hp_tagged_fraction, open_reads, reads_paths
from .reference import Reference
from .regions import Region

log = logging.getLogger("dvcall")

PHASERS = ("direct", "whatshap")
"""direct: each partition's reads from its own heterozygous-looking sites, inside make_examples, in one pass
(direct_phasing); whatshap: call once, `whatshap phase` + `haplotag` from those calls, call the tagged reads."""

INSTALL_HINT = "pip install 'dvcall[phasing]' (or pip install whatshap)"


def whatshap_installed() -> bool:
    return importlib.util.find_spec("whatshap") is not None


def default_phaser(info: ModelInfo) -> str:
    """The phaser when the user names none: direct, except for a model that mixes technologies (the hybrid one,
    trained on short reads tagged by whatshap at every heterozygous site) when whatshap is installed. On the
    eight hybrid calibration pairs whatshap's tags gave 5 SNP / 27 INDEL errors against direct's 5 / 34; on
    the sixteen long-read calibration samples the two are equal (docs/design.md §6)."""
    return "whatshap" if TECHNOLOGY_CHANNEL_ENUM in info.channels and whatshap_installed() else "direct"


def require_hp_channel(hp_channel: bool) -> None:
    """--phase-reads (run or make-examples) only helps a model that reads HP tags: a one-line error otherwise."""
    if not hp_channel:
        raise InputError("--phase-reads tags reads for models that read HP tags; this model has no HP channel: use "
                         "--model-type pacbio or ont (or a hybrid model with an HP channel), or drop --phase-reads")


def require_whatshap(what: str = "--phaser whatshap", instead: str = " (or use --phaser direct)") -> None:
    """Fail before any long work starts when whatshap is missing."""
    if not whatshap_installed():
        raise DependencyError(f"{what} needs whatshap, which is not installed: {INSTALL_HINT}{instead}")


class WhatshapFailed(InputError):
    """whatshap stopped with an error: `failure` says which step and its last line, `log_path` where the rest is."""

    def __init__(self, failure: str, log_path: str):
        super().__init__(f"{failure}; its log is {log_path}")
        self.failure, self.log_path = failure, log_path


def _whatshap(args: list[str], log_path: str) -> None:
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable, "-m", "whatshap", *args], stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as fh:
            last = [line.strip() for line in fh if line.strip()][-1:] or ["no output"]
        raise WhatshapFailed(f"whatshap {args[0]} failed ({last[0]})", log_path)


def contig_spans(regions: list[Region]) -> list[str]:
    """One whatshap region per contig, from the first region's start to the last one's end (a BED of
    thousands of intervals would otherwise become thousands of arguments)."""
    return [str(span) for span in _spans(regions)]


def region_args(regions: list[Region]) -> list[str]:
    """whatshap haplotag's region flags: `--regions SPAN` once per contig_spans span (whatshap 2 takes one value a
    flag: `--regions A B` read B as the VCF, and every run over two contigs failed after its first pass)."""
    return [arg for span in contig_spans(regions) for arg in ("--regions", span)]


def _spans(regions: list[Region]) -> list[Region]:
    spans: dict[str, list[int]] = {}
    for r in regions:
        span = spans.setdefault(r.contig, [r.start, r.end])
        span[0], span[1] = min(span[0], r.start), max(span[1], r.end)
    return [Region(contig, start, end) for contig, (start, end) in spans.items()]


def auto_phase(info: ModelInfo, reads: str | Sequence[str], reference: Reference, regions: list[Region],
               needs_whatshap: bool = False) -> bool:
    """Whether to phase when the user did not say: the model pools reads by haplotype and the reads (of one file
    or several) are mostly untagged. With `needs_whatshap` (--phaser whatshap named) and whatshap missing, a
    one-line error (DependencyError) rather than calls left unphased."""
    if not info.pools_by_haplotype:
        return False
    with open_reads(reads, reference) as handle:
        if hp_tagged_fraction(handle, regions) >= 0.5:
            return False
    if needs_whatshap:  # named by the user (the default phaser is whatshap only where it is installed)
        require_whatshap()
    return True


def stage_phasing_note(info: ModelInfo, reads: str | Sequence[str], reference: Reference, regions: list[Region]) -> str | None:
    """For make-examples on mostly untagged reads: a line when it phases them itself (direct) where `dvcall run`
    with this model would use whatshap (default_phaser), so its examples are not run's (hostile19: one INDEL
    apart on a hybrid pair, and nothing said so)."""
    if default_phaser(info) != "whatshap" or not auto_phase(info, reads, reference, regions):
        return None
    return ("the reads are mostly untagged: make-examples phases them itself (as `dvcall run --phaser direct`), where "
            "`dvcall run` with this model phases with whatshap; to make the examples run makes, tag the reads first "
            "(`dvcall run --no-phase-reads`, then `dvcall haplotag`)")


GVCF_ALTS = {"<*>", "<NON_REF>"}


def has_het_call(calls_vcf: str) -> bool:
    """Whether a VCF holds a PASS call with two different alleles (what whatshap can phase); True when it cannot
    be read (whatshap then says why)."""
    try:
        with pysam.VariantFile(calls_vcf) as vcf:
            return any(len(set(gt := (rec.samples[0].get("GT") or ()))) > 1 and None not in gt
                       for rec in vcf if "PASS" in rec.filter.keys() or not rec.filter.keys())
    except (OSError, ValueError, IndexError):
        return True


def _check_not_gvcf(calls_vcf: str, n: int = 1000) -> None:
    """whatshap phases no site of a gVCF (every record carries <*>): it would tag nothing, without a word."""
    try:
        with pysam.VariantFile(calls_vcf) as vcf:
            for i, rec in enumerate(vcf):
                if i >= n:
                    break
                if GVCF_ALTS & set(rec.alts or ()):
                    raise InputError(f"--calls {calls_vcf} is a gVCF: pass the run's VCF (--output-vcf), not its gVCF")
    except (OSError, ValueError):
        return  # not readable here: whatshap says why


def equals_warning(paths: Sequence[str]) -> str | None:
    """One line when reads files given to whatshap store reference-matching bases as '=' (ReadSources.equals_paths):
    dvcall reads them with the reference's bases, whatshap as they are, so it tags fewer reads (verify45: HiFi
    147 -> 117 tagged, INDEL 11/1/0 -> 9/3/2)."""
    if not paths:
        return None
    return (f"{', '.join(paths)} store(s) bases that match the reference as '=' (samtools calmd -e), which whatshap reads "
            "as they are and phases poorly: use --phaser direct (run's default for the long-read models), which reads "
            "them with the reference's bases, or give whatshap a BAM with its bases written out")


def haplotag(ref: str, reads: str | Sequence[str], calls_vcf: str, out_bam: str, regions: list[Region]) -> tuple[int, int]:
    """Phase the heterozygous calls of `calls_vcf` and write `reads` with HP/PS tags to `out_bam` (indexed);
    returns (tagged reads, reads written). With `regions`, only reads overlapping their spans are written.
    Several reads files (one sample's lanes) are merged first (whatshap haplotag reads one file), into a
    temporary BAM beside `out_bam`: the tags are those of tagging their `samtools merge`."""
    paths = reads_paths(reads)
    if not os.path.exists(calls_vcf):
        raise InputError(f"{calls_vcf} does not exist: pass a VCF of this sample, e.g. from `dvcall run --no-phase-reads`")
    _check_not_gvcf(calls_vcf)
    stem = out_bam[:-len(".bam")] if out_bam.endswith(".bam") else out_bam
    merged = stem + ".merged.bam" if len(paths) > 1 else None
    outputs = {"the tagged BAM": out_bam, **{f"its {ext} index": out_bam + ext for ext in BAM_INDEXES}}
    if merged:
        outputs.update({"the merged reads": merged, **{f"their {ext} index": merged + ext for ext in BAM_INDEXES}})
    check_outputs(outputs, {**reads_inputs(paths), "--calls": calls_vcf})
    try:
        source = _merge_reads(ref, paths, merged, regions, stem) if merged else paths[0]
        if merged and int(pysam.view("-c", merged)) == 0:  # no read in the regions (chrY of an XX sample): whatshap
            with atomic_output(out_bam, ".bam", companions=BAM_INDEXES) as partial:  # refuses it; nothing to tag
                shutil.copyfile(merged, partial)
                index_bam(partial)
        else:
            _tag(ref, source, calls_vcf, out_bam, regions, stem)
    finally:
        if merged:
            for path in (merged, *(merged + ext for ext in BAM_INDEXES), stem + ".merge_regions.bed"):
                if os.path.exists(path):
                    os.remove(path)
    primary = ["-c", "-F", "0x900"]  # counted by htslib: a whole-genome BAM is too many reads for a Python loop
    return int(pysam.view(*primary, "-d", "HP", out_bam)), int(pysam.view(*primary, out_bam))


def _merge_reads(ref: str, paths: Sequence[str], merged: str, regions: list[Region], stem: str) -> str:
    """`samtools merge` of the reads files into `merged` (indexed): with `regions`, only reads overlapping the
    spans that haplotag writes (contig_spans)."""
    bed = []
    if regions:
        bed = ["-L", stem + ".merge_regions.bed"]
        with open(bed[1], "w") as fh:
            fh.writelines(f"{r.contig}\t{r.start}\t{r.end}\n" for r in _spans(regions))
    try:
        if _same_contig_order(paths):
            pysam.merge("-f", "-c", "-p", "-1", "--no-PG", "--reference", ref, *bed, "-o", merged, *paths)
        else:  # samtools merge keeps the first file's @SQ order but not the coordinate sort then (SO:unsorted)
            unsorted = stem + ".merge_unsorted.bam"
            try:
                pysam.merge("-f", "-c", "-p", "-u", "--no-PG", "--reference", ref, *bed, "-o", unsorted, *paths)
                pysam.sort("-l", "1", "--no-PG", "-o", merged, unsorted)
            finally:
                if os.path.exists(unsorted):
                    os.remove(unsorted)
        index_bam(merged)
    except pysam.SamtoolsError as exc:
        raise InputError(f"cannot merge the --reads files for whatshap ({' '.join(str(exc).split())[:300]})") from None
    return merged


def _same_contig_order(paths: Sequence[str]) -> bool:
    """Whether every reads file lists its contigs in one order (the same contigs are checked when they are opened)."""
    orders = set()
    for path in paths:
        with quiet_htslib(), pysam.AlignmentFile(path, require_index=False) as fh:
            orders.add(tuple(fh.references))
    return len(orders) == 1


def _tag(ref: str, reads: str, calls_vcf: str, out_bam: str, regions: list[Region], stem: str) -> None:
    """whatshap phase, then whatshap haplotag of one reads file into `out_bam` (indexed)."""
    phased = stem + ".phased.vcf.gz"
    common = ["--reference", ref, "--ignore-read-groups"]
    _whatshap(["phase", *common, "-o", phased, calls_vcf, reads], stem + ".whatshap_phase.log")
    with quiet_htslib(), pysam.VariantFile(phased) as vcf:  # not indexed yet: htslib's "Could not retrieve index" line
        csi = needs_csi(c.length or 0 for c in vcf.header.contigs.values())
    pysam.tabix_index(phased, preset="vcf", force=True, csi=csi)
    with atomic_output(out_bam, ".bam", companions=BAM_INDEXES) as partial:
        _whatshap(["haplotag", *common, *region_args(regions), "-o", partial, phased, reads], stem + ".whatshap_haplotag.log")
        index_bam(partial)

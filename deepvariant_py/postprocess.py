"""postprocess: group per-subset calls by site, merge multi-allelics, genotype, filter, and write the VCF."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .calibration import Calibration, apply_temperature
from .examples_io import VariantInfo, expand_paths, read_calls
from .errors import InputError
from .genotypes import GenotypeCall, call_genotype, simplify_alleles, site_distribution
from .gvcf import gvcf_records, read_blocks
from .haplotypes import resolve_overlaps
from .pileup import alt_subsets
from .reference import Reference
from .vcf import VcfRecord, make_header, write_vcf

log = logging.getLogger("dvcall")

QUAL_FILTER = 1.0
HOMREF_MIN_GQ = 20


@dataclass
class PostprocessStats:
    sites: int = 0
    pass_snps: int = 0
    pass_indels: int = 0
    seconds: float = 0.0


@dataclass
class Site:
    """One candidate's genotype distribution over its kept alleles, before it becomes a record."""

    variant: VariantInfo
    ref: str
    alts: list[str]
    ad: list[int]
    probs: np.ndarray

    @property
    def span(self) -> tuple[str, int, int]:
        return self.variant.contig, self.variant.start, self.variant.start + len(self.ref)


def _locus(variant: VariantInfo) -> str:
    return f"{variant.contig}:{variant.start + 1} {variant.ref}>{','.join(variant.alts)}"


def _check_complete(variant: VariantInfo, images: dict) -> None:
    """Every alt subset make_examples draws for a site (pileup.alt_subsets) must have its call: a site with a
    missing image would be genotyped from part of the evidence."""
    missing = [list(s) for s in alt_subsets(len(variant.alts)) if s not in images]
    if missing:
        raise InputError(f"the calls of {_locus(variant)} lack the images {missing}: a calls file is missing or "
                         "truncated; pass every shard's calls (rerun `dvcall call-variants` on all examples)")


def site_genotypes(variant: VariantInfo, images: dict[tuple[int, ...], tuple[float, float, float]], merger=None) -> Site:
    """Merge all images of a candidate into one distribution over its alleles (pruned, simplified)."""
    kept, probs = site_distribution(images, len(variant.alts), merger)
    ad = [variant.allele_depths[0]] + [variant.allele_depths[i + 1] for i in kept]
    ref, alts = simplify_alleles(variant.ref, [variant.alts[i] for i in kept])
    return Site(variant, ref, alts, ad, probs)


def site_record(site: Site, resolved: np.ndarray | None = None, calibration: Calibration = Calibration()) -> VcfRecord:
    """The VCF record of a site. `resolved`: its probabilities after overlapping calls were made consistent,
    which set GT and PL; GQ and QUAL stay the site's own (as DeepVariant does), GQ through the model's map."""
    call = call_genotype(site.probs)
    call = GenotypeCall(call.genotype, calibration.gq(call.gq), call.qual, call.pl)
    if resolved is not None:
        joint = call_genotype(resolved)
        call = GenotypeCall(joint.genotype, call.gq, call.qual, joint.pl)
    gt: tuple[int, int] | None = call.genotype
    if sum(site.ad) == 0:
        flt, gt = "NoCall", None
        call = GenotypeCall((0, 0), 0, call.qual, tuple(0 for _ in call.pl))
    elif call.genotype == (0, 0):
        flt = "RefCall"
        if call.gq < HOMREF_MIN_GQ:
            gt = None
    elif call.qual < QUAL_FILTER:
        flt = "LowQual"
    else:
        flt = "PASS"
    v = site.variant
    vafs = [a / v.depth if v.depth else 0.0 for a in site.ad[1:]]
    return VcfRecord(contig=v.contig, start=v.start, ref=site.ref, alts=site.alts, qual=call.qual, filter=flt, genotype=gt,
                     gq=call.gq, depth=v.depth, allele_depths=site.ad, vafs=vafs, pl=list(call.pl))


def site_records(sites: list[Site], resolve: bool = True, calibration: Calibration = Calibration()) -> list[VcfRecord]:
    """Records of sites in reference order; with `resolve`, overlapping calls that put more than two alleles
    on a base are resolved jointly (haplotypes.resolve_overlaps)."""
    if not resolve:
        return [site_record(s, calibration=calibration) for s in sites]
    resolved = resolve_overlaps([s.span for s in sites], [s.probs for s in sites])
    return [site_record(s, resolved.get(i), calibration) for i, s in enumerate(sites)]


def postprocess(calls: str, ref: str | Reference, output_vcf: str, sample: str, command: str | None = None, merger=None,
                gvcf_blocks: str | None = None, output_gvcf: str | None = None, resolve_haplotypes: bool = True,
                calibration: Calibration = Calibration()) -> PostprocessStats:
    """Read every call file, build one record per site in reference order, write VCF + index (and, given the
    reference blocks from make_examples, the gVCF). `ref`: the reference's path, or the Reference a run has open."""
    t0 = time.time()
    reference = ref if isinstance(ref, Reference) else Reference(ref)
    order = {c.name: i for i, c in enumerate(reference.contigs)}
    sites: dict[tuple[str, int], tuple[VariantInfo, dict]] = {}
    for rec in read_calls(expand_paths(calls)):
        key = (rec.variant.contig, rec.variant.start)
        images = sites.setdefault(key, (rec.variant, {}))[1]
        if rec.alt_indices in images:
            raise InputError(f"the calls hold the image {list(rec.alt_indices)} of {_locus(rec.variant)} twice: was a calls file "
                             "given twice, or two runs' calls mixed? pass each shard's calls once")
        images[rec.alt_indices] = rec.probabilities
    for variant, images in sites.values():
        _check_complete(variant, images)
    ordered = sorted(sites.items(), key=lambda kv: (order.get(kv[0][0], 1 << 30), kv[0][1]))
    sites = [site_genotypes(v, imgs, merger) for _, (v, imgs) in ordered]
    for site in sites:  # the model's calibration (calibration.py): GQ/QUAL/PL move, genotypes do not
        site.probs = apply_temperature(site.probs, calibration.temperature)
    records = site_records(sites, resolve_haplotypes, calibration)
    if output_gvcf:
        if not gvcf_blocks:
            raise InputError("--output-gvcf needs the reference blocks that make-examples wrote with --gvcf")
        blocks = read_blocks(expand_paths(gvcf_blocks, "gVCF reference blocks"))
        fetch = lambda contig, s, e: reference.fetch(contig, s, e)  # noqa: E731
        write_vcf(output_gvcf, make_header(reference.contigs, sample, command, gvcf=True),
                  gvcf_records(records, blocks, order, fetch))
    write_vcf(output_vcf, make_header(reference.contigs, sample, command), records)
    stats = PostprocessStats(sites=len(records))
    for r in records:
        if r.filter == "PASS":
            if len(r.ref) == 1 and all(len(a) == 1 for a in r.alts):
                stats.pass_snps += 1
            else:
                stats.pass_indels += 1
    stats.seconds = time.time() - t0
    return stats

"""postprocess: group per-subset calls by site, merge multi-allelics, genotype, filter, and write the VCF."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .examples_io import VariantInfo, expand_paths, read_calls
from .errors import InputError
from .genotypes import call_genotype, merge_min_rule, prune_alts, simplify_alleles
from .gvcf import gvcf_records, read_blocks
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


def site_record(variant: VariantInfo, images: dict[tuple[int, ...], tuple[float, float, float]], merger=None) -> VcfRecord:
    """One VCF record from all images of a candidate."""
    n_alts = len(variant.alts)
    if n_alts == 1:
        kept = [0]
        probs = np.asarray(images[(0,)], float)
    else:
        kept = prune_alts({s[0]: p for s, p in images.items() if len(s) == 1}, n_alts)
        probs = merger(images, kept, n_alts) if merger else merge_min_rule(images, kept)
    alts = [variant.alts[i] for i in kept]
    ad = [variant.allele_depths[0]] + [variant.allele_depths[i + 1] for i in kept]
    ref, alts = simplify_alleles(variant.ref, alts)
    call = call_genotype(probs)
    gt: tuple[int, int] | None = call.genotype
    if sum(ad) == 0:
        flt, gt = "NoCall", None
        call = type(call)((0, 0), 0, call.qual, tuple(0 for _ in call.pl))
    elif call.genotype == (0, 0):
        flt = "RefCall"
        if call.gq < HOMREF_MIN_GQ:
            gt = None
    elif call.qual < QUAL_FILTER:
        flt = "LowQual"
    else:
        flt = "PASS"
    depth = variant.depth
    vafs = [a / depth if depth else 0.0 for a in ad[1:]]
    return VcfRecord(variant.contig, variant.start, ref, alts, call.qual, flt, gt, call.gq, depth, ad, vafs, list(call.pl))


def postprocess(calls: str, ref_path: str, output_vcf: str, sample: str, command: str | None = None, merger=None,
                gvcf_blocks: str | None = None, output_gvcf: str | None = None) -> PostprocessStats:
    """Read every call file, build one record per site in reference order, write VCF + index (and, given the
    reference blocks from make_examples, the gVCF)."""
    t0 = time.time()
    reference = Reference(ref_path)
    order = {c.name: i for i, c in enumerate(reference.contigs)}
    sites: dict[tuple[str, int], tuple[VariantInfo, dict]] = {}
    for rec in read_calls(expand_paths(calls)):
        key = (rec.variant.contig, rec.variant.start)
        sites.setdefault(key, (rec.variant, {}))[1][rec.alt_indices] = rec.probabilities
    records = [site_record(v, imgs, merger) for _, (v, imgs) in sorted(sites.items(), key=lambda kv: (order.get(kv[0][0], 1 << 30), kv[0][1]))]
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

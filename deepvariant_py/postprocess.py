"""postprocess: group per-subset calls by site, merge multi-allelics, genotype, filter, and write the VCF."""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from .calibration import Calibration, apply_temperature, clustered_calls
from .examples_io import CallRecord, VariantInfo, calls_model, calls_sample, calls_shards, expand_paths, read_calls
from .errors import InputError
from .genotypes import GenotypeCall, call_genotype, simplify_alleles, site_distribution
from .gvcf import RefBlock, UnsortedBlocks, blocks_called, blocks_headers, blocks_shards, check_tiling, gvcf_records, read_blocks
from .haplotypes import resolve_overlaps
from .pileup import alt_subsets
from .ploidy import HaploidRegions, haploid_blocks, haploid_probabilities
from .reference import Reference, as_acgtn
from .regions import RegionSet, require_every_shard
from .vcf import VcfRecord, check_sample_name, make_header, vcf_writers, write_vcf

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


def calls_model_dir(paths: list[str], model_dir: str | None) -> str:
    """The model whose merger and calibration go with these calls: the one call_variants recorded (its folder and
    weights), which a given --model must be; calls from before the record take --model or the default model."""
    from .model import default_model_dir
    from .model_info import weights_stamp

    made_by = calls_model(paths)
    if made_by is None:
        return model_dir or default_model_dir()
    where = made_by.get("dir", "?")
    if model_dir is not None:
        if weights_stamp(model_dir)["weights"] != made_by.get("weights"):
            raise InputError(f"the calls were made by the model in {where}, not by --model {model_dir} (other weights): "
                             "pass the model call-variants used, or leave --model out")
        return model_dir
    if os.path.isdir(where) and weights_stamp(where)["weights"] == made_by.get("weights"):
        return where
    shipped = os.path.dirname(default_model_dir())  # a shipped model, installed elsewhere since (another venv)
    for name in sorted(os.listdir(shipped)) if os.path.isdir(shipped) else []:
        candidate = os.path.join(shipped, name)
        if os.path.isdir(candidate) and weights_stamp(candidate)["weights"] == made_by.get("weights"):
            return candidate
    raise InputError(f"the calls were made by the model in {where}, which is no longer there (or holds other weights): "
                     "pass that model with --model")


def _on_reference(variant: VariantInfo, reference: Reference) -> VariantInfo:
    """The site, once checked against --ref: calls made on another reference (another build, or a FASTA cut
    to a region) would otherwise give records past a contig's end or on contigs the VCF header lacks."""
    fix = f"give postprocess the --ref that make-examples used (not {reference.path})"
    if variant.contig not in reference:
        raise InputError(f"the calls hold {_locus(variant)}, on a contig that --ref does not have: {fix}")
    if as_acgtn(reference.fetch(variant.contig, variant.start, variant.end)) != as_acgtn(variant.ref.upper()):
        where = ("past the end of the contig" if variant.end > reference.length(variant.contig)
                 else "whose REF is not the reference's bases there")
        raise InputError(f"the calls hold {_locus(variant)}, {where}: {fix}")
    return variant


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


def site_record(site: Site, resolved: np.ndarray | None = None) -> VcfRecord:
    """The VCF record of a site. `resolved`: its probabilities after overlapping calls were made consistent,
    which set GT and PL; GQ and QUAL stay the site's own (as DeepVariant does; the model's GQ map is applied
    afterwards, by mapped_gq)."""
    call = call_genotype(site.probs)
    if resolved is not None:
        joint = call_genotype(resolved)
        call = GenotypeCall(joint.genotype, call.gq, call.qual, joint.pl)
    gt: tuple[int, int] | None = call.genotype
    if sum(site.ad) == 0:
        flt, gt = "NoCall", None
        call = GenotypeCall((0, 0), 0, call.qual, tuple(0 for _ in call.pl))
    elif call.genotype == (0, 0):
        flt = "RefCall"
        gt = _refcall_genotype(call.gq)
    elif call.qual < QUAL_FILTER:
        flt = "LowQual"
    else:
        flt = "PASS"
    v = site.variant
    vafs = [a / v.depth if v.depth else 0.0 for a in site.ad[1:]]
    return VcfRecord(contig=v.contig, start=v.start, ref=site.ref, alts=site.alts, qual=call.qual, filter=flt, genotype=gt,
                     gq=call.gq, depth=v.depth, allele_depths=site.ad, vafs=vafs, pl=list(call.pl))


def _refcall_genotype(gq: int) -> tuple[int, int] | None:
    """A reference call below HOMREF_MIN_GQ is written ./. (no call), as DeepVariant does."""
    return None if gq < HOMREF_MIN_GQ else (0, 0)


def site_records(sites: list[Site], resolve: bool = True) -> list[VcfRecord]:
    """Records of sites in reference order; with `resolve`, overlapping calls that put more than two alleles
    on a base are resolved jointly (haplotypes.resolve_overlaps)."""
    if not resolve:
        return [site_record(s) for s in sites]
    resolved = resolve_overlaps([(s.variant.contig, s.variant.start, s.ref, s.alts) for s in sites], [s.probs for s in sites])
    return [site_record(s, resolved.get(i)) for i, s in enumerate(sites)]


MAP_BATCH = 4096  # records mapped at a time (postprocess.mapped_gq)


def mapped_gq(records: Iterable[VcfRecord], calibration: Calibration) -> Iterator[VcfRecord]:
    """Records (in reference order, raw GQ) with GQ through the model's map: a record with another
    non-reference call within `calibration.cluster_distance` bp takes the clustered calls' map
    (calibration.clustered_calls). A reference call's no-call (./.) follows the mapped GQ. Streams in batches
    of about MAP_BATCH records, each ended where the next record is farther than the distance from all of it.
    The records are updated in place (postprocess made them)."""
    if not calibration.maps_gq:
        yield from records
        return
    distance = calibration.cluster_distance
    pending: list[VcfRecord] = []
    end = -1

    def finished() -> list[VcfRecord]:
        starts = np.fromiter((r.start for r in pending), dtype=np.int64, count=len(pending))
        ends = starts + np.fromiter((len(r.ref) for r in pending), dtype=np.int64, count=len(pending))
        non_ref = np.fromiter((bool(r.genotype) and (r.genotype[0] > 0 or r.genotype[1] > 0) for r in pending),
                              dtype=bool, count=len(pending))
        gqs = calibration.gqs(np.fromiter((r.gq for r in pending), dtype=np.int64, count=len(pending)),
                              clustered_calls(starts, ends, non_ref, distance))
        for rec, gq in zip(pending, gqs.tolist()):
            rec.gq = gq
            if rec.filter == "RefCall":
                rec.genotype = _refcall_genotype(gq)
        return pending

    for rec in records:
        if pending and (rec.contig != pending[0].contig or (len(pending) >= MAP_BATCH and rec.start - end > distance)):
            yield from finished()
            pending = []
        end = max(end, rec.start + len(rec.ref)) if pending else rec.start + len(rec.ref)
        pending.append(rec)
    if pending:
        yield from finished()


def vcf_sample(calls_paths: list[str], given: str | None) -> str:
    """The VCF's sample name: `given` (--sample-name), else the sample of the reads the calls were made from (their
    @RG SM, which make-examples records and call-variants passes on), else SAMPLE."""
    if given is not None:
        return check_sample_name(given)
    recorded = calls_sample(calls_paths)
    return check_sample_name(recorded, "the reads' @RG SM (recorded in the calls)") if recorded else "SAMPLE"


def postprocess(calls: str, ref: str | Reference, output_vcf: str, sample: str, command: str | None = None, merger=None,
                gvcf_blocks: str | None = None, output_gvcf: str | None = None, resolve_haplotypes: bool = True,
                calibration: Calibration = Calibration(), progress: Callable[..., None] | None = None,
                model: str | None = None, haploid: HaploidRegions | None = None, called: RegionSet | None = None
                ) -> PostprocessStats:
    """Read every call file, build one record per site in reference order, write VCF + index (and, given the
    reference blocks from make_examples, the gVCF). `ref`: the reference's path, or the Reference a run has open.

    Call files that are each in reference order (make_examples' shards are) are merged as they are read, so
    only a stretch of overlapping sites is held at a time; otherwise (e.g. one calls file made from several
    shards' examples) every site is gathered and sorted first. Either way the VCF is the same. `progress` (e.g.
    progress.Progress) is told the megabases of the reference passed, of its total, every PROGRESS_SITES sites.
    `model` (model_info.model_description) is written in the headers. `haploid` (ploidy.haploid_regions): sites
    there get no heterozygous genotype, and the gVCF's reference blocks a haploid confidence (ploidy.haploid_blocks).
    `called`: the regions the run called (`dvcall run` knows them; otherwise the blocks files' headers say, when
    they are few enough to carry): the gVCF must leave none of their A/C/G/T bases without a record
    (gvcf.check_tiling), or nothing is written."""
    t0 = time.time()
    reference = ref if isinstance(ref, Reference) else Reference(ref)
    order = {c.name: i for i, c in enumerate(reference.contigs)}
    paths = expand_paths(calls, "calls")
    calls_count = require_every_shard(calls_shards(paths), "calls",
                                      "pass every shard's calls (make and call the missing shards' examples first)")
    stats = PostprocessStats()
    offsets, total = _contig_offsets(reference)

    def records(grouped: Iterable[tuple[VariantInfo, dict]]) -> Iterator[VcfRecord]:
        sites = (_with_ploidy(_calibrated(site_genotypes(_on_reference(v, reference), imgs, merger), calibration), haploid)
                 for v, imgs in grouped)
        raw = (record for chunk in _closed_chunks(sites) for record in site_records(chunk, resolve_haplotypes))
        for record in mapped_gq(raw, calibration):
            stats.sites += 1
            if progress is not None and stats.sites % PROGRESS_SITES == 0:
                progress((offsets.get(record.contig, 0) + record.start) // 1_000_000, total, sites=stats.sites)
            if record.filter == "PASS":
                if len(record.ref) == 1 and all(len(a) == 1 for a in record.alts):
                    stats.pass_snps += 1
                else:
                    stats.pass_indels += 1
            yield record

    if output_gvcf:
        if not gvcf_blocks:
            raise InputError("--output-gvcf needs the reference blocks that make-examples wrote with --gvcf")
        block_paths = expand_paths(gvcf_blocks, "gVCF reference blocks")
        # a missing shard's blocks would leave holes in the gVCF (its variant records alone), read as no data
        headers = blocks_headers(block_paths)
        blocks_count = require_every_shard(blocks_shards(headers), "gVCF reference blocks",
                                           "pass every shard's --gvcf-blocks file (make-examples --gvcf of each shard)")
        called = called if called is not None else blocks_called(headers)
        if None not in (calls_count, blocks_count) and calls_count != blocks_count:
            raise InputError(f"the calls come from {calls_count} make-examples shards and the gVCF reference blocks from "
                             f"{blocks_count}: give one make-examples run's calls and blocks")

        def write_both(sites: Iterable[tuple[VariantInfo, dict]], blocks: Iterable[RefBlock]) -> None:
            """The VCF and the gVCF in one pass over the sites and the blocks (a genome's gVCF has tens of millions
            of records: none is held)."""
            with vcf_writers([(output_vcf, make_header(reference.contigs, sample, command, model=model)),
                              (output_gvcf, make_header(reference.contigs, sample, command, gvcf=True, model=model))]) as (vcf, gvcf):
                pairs = gvcf_records(records(sites), haploid_blocks(blocks, haploid), order, reference.fetch)
                if called is not None:
                    pairs = check_tiling(pairs, called, list(order), reference.fetch)
                for variant, record in pairs:
                    gvcf(record)
                    if variant is not None:
                        vcf(variant)

        try:
            write_both(_sites_streamed(paths, order), read_blocks(block_paths, order))
        except (_Unsorted, UnsortedBlocks):  # nothing was left behind (vcf_writers is atomic): gather and sort instead
            stats = PostprocessStats()
            write_both(_sites_in_memory(paths, order), read_blocks(block_paths, order, in_memory=True))
    else:
        try:
            write_vcf(output_vcf, make_header(reference.contigs, sample, command, model=model), records(_sites_streamed(paths, order)))
        except _Unsorted:  # nothing was left behind (write_vcf is atomic): gather and sort instead
            stats = PostprocessStats()
            write_vcf(output_vcf, make_header(reference.contigs, sample, command, model=model), records(_sites_in_memory(paths, order)))
    stats.seconds = time.time() - t0
    return stats


PROGRESS_SITES = 10_000


def _contig_offsets(reference: Reference) -> tuple[dict[str, int], int]:
    """Each contig's start in the reference laid end to end (bp), and the whole length in Mb (for progress)."""
    offsets, at = {}, 0
    for contig in reference.contigs:
        offsets[contig.name] = at
        at += contig.length
    return offsets, max(1, -(-at // 1_000_000))


class _Unsorted(Exception):
    """A calls file is not in reference order."""


def _site_key(variant: VariantInfo, order: dict[str, int]) -> tuple[int, str, int]:
    return order.get(variant.contig, 1 << 30), variant.contig, variant.start


def _add_image(images: dict, rec: CallRecord) -> None:
    if rec.alt_indices in images:
        raise InputError(f"the calls hold the image {list(rec.alt_indices)} of {_locus(rec.variant)} twice: was a calls file "
                         "given twice, or two runs' calls mixed? pass each shard's calls once")
    images[rec.alt_indices] = rec.probabilities


def _sites_in_memory(paths: list[str], order: dict[str, int]) -> list[tuple[VariantInfo, dict]]:
    """Every site's variant and images {alt subset: probabilities}, gathered from all files, in reference order."""
    sites: dict[tuple[str, int], tuple[VariantInfo, dict]] = {}
    for rec in read_calls(paths):
        _add_image(sites.setdefault((rec.variant.contig, rec.variant.start), (rec.variant, {}))[1], rec)
    for variant, images in sites.values():
        _check_complete(variant, images)
    return sorted(sites.values(), key=lambda site: _site_key(site[0], order))


def _sites_streamed(paths: list[str], order: dict[str, int]) -> Iterator[tuple[VariantInfo, dict]]:
    """The same sites from files that are each in reference order, merged as they are read; _Unsorted as soon
    as a file steps back."""
    def keyed(path: str):
        last = None
        for rec in read_calls([path]):
            key = _site_key(rec.variant, order)
            if last is not None and key < last:
                raise _Unsorted(path)
            last = key
            yield key, rec

    merged = heapq.merge(*(keyed(p) for p in paths), key=lambda item: item[0])
    for _, group in itertools.groupby(merged, key=lambda item: item[0]):
        variant, images = None, {}
        for _, rec in group:
            variant = variant or rec.variant
            _add_image(images, rec)
        _check_complete(variant, images)
        yield variant, images


def _calibrated(site: Site, calibration: Calibration) -> Site:
    site.probs = apply_temperature(site.probs, calibration.temperature)  # GQ/QUAL/PL move, genotypes do not
    return site


def _with_ploidy(site: Site, haploid: HaploidRegions | None) -> Site:
    if haploid is not None and haploid.covers(*site.span):
        site.probs = haploid_probabilities(site.probs)  # no heterozygous genotype where the sample has one copy
    return site


def _closed_chunks(sites: Iterable[Site], size: int = 10_000) -> Iterator[list[Site]]:
    """Sites in chunks of about `size` that end where a group of overlapping sites ends (as
    haplotypes.overlapping_groups draws them), so resolving each chunk alone equals resolving them all."""
    chunk: list[Site] = []
    contig, end = None, -1
    for site in sites:
        c, s, e = site.span
        if c == contig and s < end:
            end = max(end, e)
        else:
            if len(chunk) >= size:
                yield chunk
                chunk = []
            contig, end = c, e
        chunk.append(site)
    if chunk:
        yield chunk

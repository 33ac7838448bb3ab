"""make_examples: partitions -> reads -> candidates -> pileup tensors -> TFRecord (+ labels in training)."""
from __future__ import annotations

import itertools
import logging
import os
import time
from functools import partial
from typing import Callable, Protocol, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .candidate_filter import CandidateFilter
from .checkpoint import ShardCheckpoint, ShardCheckpoints, save_checkpoint
from .damage import DamageFilter
from .error_model import ErrorTable, RecurrentErrorGate, tally
from .candidates import Candidate, CandidateThresholds, count_alleles, find_candidates
from .direct_phasing import phase_reads, tag_concordance
from .errors import InputError
from .examples_io import ExampleWriter, examples_spans, write_sidecar
from .outputs import AtomicFile, disk_error, is_disk_error
from .gvcf import BlockWriter, RefBlock, clip_blocks, reference_blocks, uncovered_blocks
from .images import build_images
from .pileup import Canvas, PileupOptions, channel_enums, hp_groups
from .ploidy import HaploidRegions, mostly_haploid
from .read_events import MIN_BASE_QUALITY, MISSING_BASE_QUALITY, encode_bases, extract_events, replace_reads
from .reads import ReadAhead, ReadCounts, ReadFilter, ReadSources, fetch_reads, hp_dropped, open_reads
from .realigner import RealignerOptions, realign_reads
from .reference import Reference, ambiguous_bases
from .regions import (Region, RegionSet, Shard, calling_windows, merge_regions, partition, read_bed, spread_partitions, stretches,
                      subtract_regions)
from .vcf import check_sample_name

log = logging.getLogger("dvcall")


@dataclass
class MakeExamplesOptions:
    read_filter: ReadFilter = field(default_factory=ReadFilter)
    thresholds: CandidateThresholds = field(default_factory=CandidateThresholds)
    pileup: PileupOptions = field(default_factory=PileupOptions)
    partition_size: int = 1000
    realign: bool = True
    realigner: RealignerOptions = field(default_factory=RealignerOptions)
    candidate_filter: CandidateFilter | None = None
    """The model's candidate pre-filter (candidate_filter.py): candidates it scores as errors get no example."""
    damage_filter: DamageFilter | None = None
    """--ffpe-filter (damage.py): SNP candidates that look like one-orientation deamination damage get no example."""
    recurrent_error_gate: float | None = None
    """--recurrent-error-gate (error_model.py): the odds below which a short-read SNP candidate is taken as coincident
    sequencing errors, by the sample's measured error rate per base quality, and gets no example; None: off.
    Examples made for training never use it (they cover every candidate)."""
    phase_reads: bool = False
    """Tag each partition's reads HP=1/2 from its own heterozygous-looking sites (direct_phasing), replacing any
    HP tags: for a model that pools reads by haplotype given untagged reads."""
    phase_untagged: bool = False
    """Phase (as phase_reads) only a partition where most of the reads that could carry an HP tag carry none, and
    keep the BAM's tags elsewhere: `dvcall run`'s default for a model that pools reads by haplotype when most
    sampled reads are tagged, for a BAM haplotagged over part of the genome (its untagged rest was called
    unphased: ONT INDEL F1 0.94 -> 0.85 there)."""
    drop_hp_fraction: float = 0.0
    """Training augmentation: this fraction of reads is drawn as untagged (no HP), so a long-read model
    also learns from reads whatshap could not phase, or a BAM that was never phased."""


@dataclass
class TrainingInputs:
    truth_vcf: str
    confident_bed: str


@dataclass
class MakeExamplesStats:
    partitions: int = 0
    reads: int = 0
    hp_tagged_reads: int = 0  # of the hp_taggable_reads (PartitionResult.n_taggable)
    hp_taggable_reads: int = 0
    filtered_candidates: int = 0  # dropped by the candidate pre-filter (no example)
    damaged_candidates: int = 0  # dropped by --ffpe-filter (no example)
    damage_like_candidates: int = 0  # without --ffpe-filter: candidates it would drop (damage.DamageFilter.signal) ...
    damage_control_candidates: int = 0  # ... and those that look so with the pair orientations swapped
    recurrent_error_candidates: int = 0  # dropped by --recurrent-error-gate (no example)
    error_table_bases: int = 0  # bases the gate's error table was measured on ...
    error_table_q30: float = 0.0  # ... and the quality reported Q30-40 bases have in truth by it (0: not measured)
    bases: int = 0  # aligned read bases in the partitions, and those below the base-quality threshold (or Q10 if higher)
    low_quality_bases: int = 0
    covered_positions: int = 0  # positions of the partitions with at least one aligned read base (depth: bases / these)
    ambiguous_reference: int = 0  # reference positions under reads holding an IUPAC code (R, Y, ...): never candidates
    reads_without_qualities: int = 0  # of `reads`, stored without base qualities ('*')
    odd_hp_reads: int = 0  # of `reads`, HP tags other than 1 and 2 (read as untagged)
    partitions_retagged: int = 0  # partitions whose HP tags contradicted their reads' alleles (phased from the reads)
    candidates: int = 0
    empty_pileups: int = 0  # candidates whose pileup shows no read (written as no-calls)
    examples: int = 0
    labels: dict = field(default_factory=dict)  # training mode: label (0, 1, 2) -> examples
    outside_confident: int = 0  # training mode: candidates outside the confident regions (no example)
    symbolic_truth: int = 0  # training mode: truth records with a symbolic alt (candidates under them: no example)
    seconds: float = 0.0
    read_counts: dict = field(default_factory=lambda: asdict(ReadCounts()))  # reads seen, kept, dropped by reason
    called_regions: int = 0  # intervals of the whole run's calling regions (calling_regions: --regions less exclusions)
    mostly_haploid: bool = False  # half or more of those bases on the `haploid` contigs given (ploidy.mostly_haploid)


def example_settings(opts: MakeExamplesOptions) -> dict:
    """The options that change what examples look like beyond their shape; models record them."""
    return {"realign": opts.realign, "realign_long_reads": opts.realign and opts.realigner.long_reads,
            "alt_aligned_pileup": opts.pileup.alt_aligned_pileup, "indel_reads": opts.pileup.indel_reads,
            "support_channel": opts.pileup.support_channel, "min_base_quality": opts.thresholds.min_base_quality,
            "sort_by_haplotypes": opts.pileup.sort_by_haplotypes}


def calling_regions(reference: Reference, reads_contigs: set[str], regions: Sequence[Region] | None,
                    exclude: Sequence[Region] = ()) -> list[Region]:
    """The regions asked for (parsed once, by the caller: regions.parse_regions), or with None every contig
    shared by the reads and the reference, less `exclude` (--exclude-regions); sorted and merged."""
    if regions is None:
        regions = [Region(c.name, 0, c.length) for c in reference.contigs if c.name in reads_contigs]
    merged = merge_regions(list(regions), list(reference.lengths))
    return subtract_regions(merged, exclude) if exclude else merged


def window_gap(partition_size: int) -> int:
    """Regions closer than this are one window (regions.calling_windows): a fifth of a partition (200 bp for short
    reads, 5 kb for long ones, whose partitions cost more to set up and phase better with more reads)."""
    return max(1, partition_size // 5)


def calling_shard(called: Sequence[Region], index: int, count: int, partition_size: int) -> Shard:
    """Shard `index` of `count` of the partitions of the calling regions' windows (calling_windows): what a
    make_examples shard processes, and what progress counts."""
    return Shard(tuple(calling_windows(list(called), window_gap(partition_size))), index, count, partition_size)


def calling_partitions(reference: Reference, reads_contigs: set[str], regions: Sequence[Region] | None,
                       partition_size: int) -> list[Region]:
    """calling_regions, joined into windows, cut into fixed partitions."""
    return partition(calling_windows(calling_regions(reference, reads_contigs, regions), window_gap(partition_size)),
                     partition_size)


@dataclass
class PartitionResult:
    candidates: list[Candidate]
    canvas: Canvas | None
    n_reads: int
    n_taggable: int  # reads expected to carry an HP tag once phased: with a technology channel the long ones only
                     # (whatshap can tag a short read only where it crosses a heterozygous site)
    n_tagged: int  # of those, reads with an HP tag of 1 or 2 (as drawn)
    ref_blocks: list[RefBlock]
    n_filtered: int = 0  # candidates the pre-filter dropped
    n_damaged: int = 0  # candidates --ffpe-filter dropped
    n_bases: int = 0  # aligned read bases inside the partition
    n_low_quality: int = 0  # of those, below the base-quality threshold or DeepVariant's Q10, the higher (base_quality_warning)
    n_no_qualities: int = 0  # reads stored without base qualities
    n_odd_hp: int = 0  # reads whose HP tag is neither 1 nor 2 (nor absent): read as untagged
    retagged: bool = False  # its reads' HP tags contradicted their alleles: phased from the reads instead
    n_covered: int = 0  # positions of the partition with at least one aligned base
    n_ambiguous: int = 0  # reference positions of the partition under reads holding an IUPAC code (never called)
    n_damage_like: int = 0  # without --ffpe-filter: DamageFilter.signal's two counts (short reads only)
    n_damage_control: int = 0
    n_recurrent_errors: int = 0  # candidates --recurrent-error-gate dropped


def base_quality_warning(stats: list[MakeExamplesStats], min_base_quality: int) -> str | None:
    """One line when most aligned bases are below the base-quality threshold, or below DeepVariant's Q10 where the
    threshold is lower (low_quality_bases counts against the higher of the two): a BAM whose qualities were lost or
    recoded (all '!' or '#'), which no model was trained on even where a floor of 0 still counts its bases."""
    bases, low = sum(s.bases for s in stats), sum(s.low_quality_bases for s in stats)
    if bases < 1000 or low < 0.5 * bases:  # a few bases (a 1-bp region) say nothing about the BAM
        return None
    if min_base_quality > MIN_BASE_QUALITY:  # the user's own floor, not the BAM, is what leaves them out
        return (f"{low / bases:.0%} of the reads' aligned bases are below --min-base-quality {min_base_quality} and count "
                f"for no allele, so few or no variants can be called: lower it to the model's (`dvcall presets`: "
                f"{MIN_BASE_QUALITY}, 0 for ont)")
    counted = ("and count for no allele, so few or no variants can be called" if min_base_quality >= MIN_BASE_QUALITY
               else f"(the --min-base-quality {min_base_quality} floor still counts them, but no model saw such reads)")
    return (f"{low / bases:.0%} of the reads' aligned bases are below base quality {MIN_BASE_QUALITY} (or are N, worth "
            f"Q2) {counted}: the BAM's bases or qualities look lost, masked or recoded; check them (`samtools view`) "
            "and call the reads as the sequencer wrote them")


def error_table_note(stats: list[MakeExamplesStats], opts: MakeExamplesOptions) -> str | None:
    """What --recurrent-error-gate measured (every shard measures the same partitions): the quality that the
    reads' Q30-40 bases have in truth; or that it found no short reads to measure (it gates none of the others)."""
    if opts.recurrent_error_gate is None or not stats or not any(s.partitions for s in stats):
        return None
    measured = next((s for s in stats if s.error_table_bases), None)
    if measured is None:
        return ("the recurrent-error gate measured no short-read bases (its partitions held none, or only long reads, "
                "which it never gates): it dropped nothing")
    return (f"base errors measured on {measured.error_table_bases:,} bases: those reported Q30-40 err as Q"
            f"{measured.error_table_q30:.0f} bases would (the recurrent-error gate weighs alt reads by it)")


OVERSTATED_QUALITY = 29.0  # reported Q30-40 bases that err as bases of a lower quality than this: overstated_quality_warning
OVERSTATED_MIN_BASES = 100_000  # ... measured on at least this many bases


def overstated_quality_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when the recurrent-error gate measured the reads' Q30-40 bases erring as bases under Q29 would: their
    qualities overstate them (simulated calibration samples: honest reads Q33.6-36.4 and real dev BAMs Q35-37;
    FFPE-damaged copies Q23.7-23.9, NEAT's reads Q23.4-25.2), which the models, trained on honest qualities, read
    as evidence."""
    measured = next((s for s in stats if s.error_table_bases), None)
    if measured is None or measured.error_table_bases < OVERSTATED_MIN_BASES or measured.error_table_q30 >= OVERSTATED_QUALITY:
        return None
    return (f"the reads' bases reported Q30-40 err as Q{measured.error_table_q30:.0f} bases would (measured on "
            f"{measured.error_table_bases:,} bases): their qualities overstate them (a damaged library, or a basecaller or "
            "simulator whose qualities are not calibrated?), which the models were not trained on; the recurrent-error gate "
            "allows for it at SNP candidates, but expect more false low-quality calls than on honest reads: keep "
            "QUAL >= 20 where that matters, and check the library (a formalin-fixed sample: --ffpe-filter)")


def read_warnings(stats: list[MakeExamplesStats], opts: MakeExamplesOptions, training: bool = False) -> list[str]:
    """The warnings about the reads that `run` and `make-examples` both give after make_examples, in one order (low
    depth not for training examples, whose samples are made at every depth on purpose)."""
    lines = (base_quality_warning(stats, opts.thresholds.min_base_quality), missing_quality_warning(stats),
             odd_hp_warning(stats, opts.pileup), None if training else low_depth_warning(stats),
             ambiguous_reference_warning(stats), overstated_quality_warning(stats), damage_warning(stats))
    return [line for line in lines if line]


DAMAGE_WARNING_MIN = 50  # candidates that look like deamination damage, and at least ...
DAMAGE_WARNING_RATIO = 4  # ... this many times those that look so in the other orientation: damage_warning


def damage_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when, without --ffpe-filter, many C>T / G>A candidates look like deamination damage (all their alt
    reads in the one pair orientation that shows it) and far fewer look so in the other orientation, where
    sequencing errors alone put about as many: a damaged (formalin-fixed?) library, whose artifacts the models
    call as low-quality hets."""
    like, control = sum(s.damage_like_candidates for s in stats), sum(s.damage_control_candidates for s in stats)
    if like < DAMAGE_WARNING_MIN or like < DAMAGE_WARNING_RATIO * control:
        return None
    return (f"{like:,} C>T/G>A candidates have every alt read in the one read-pair orientation that shows deamination "
            f"damage, against {control:,} in the other orientation (sequencing errors alone give about as many of each): "
            "the library looks damaged (a formalin-fixed sample?), and such artifacts are called as low-quality hets; "
            "--ffpe-filter drops them")


def ambiguous_reference_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when reference positions under reads hold IUPAC codes (R, Y, ...): no candidate is made there (as in
    DeepVariant: VCF's REF has no such base), so a variant at one is missed without it."""
    n = sum(s.ambiguous_reference for s in stats)
    if not n:
        return None
    return (f"{n:,} reference position(s) under the reads hold IUPAC ambiguity codes (R, Y, ...) and are not called (as "
            "in DeepVariant: a VCF's REF cannot hold them), so a variant at one is missed")


LOW_DEPTH = 8.0  # mean read depth over covered positions below which calls are far from what models were trained on
LOW_DEPTH_MIN_POSITIONS = 10_000  # fewer covered positions (a tiny region) say nothing about the BAM


def low_depth_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when the reads cover the positions they reach at under LOW_DEPTH x on average: the models were
    trained at 10x and more, and at ~4x HiFi a simulated sample's SNPs came out at precision 0.885 and recall 0.42
    (hets called homozygous or missed), without a word. Only positions with a read count, so an exome or a
    panel's targets are judged by their own depth."""
    bases, covered = sum(s.bases for s in stats), sum(s.covered_positions for s in stats)
    if covered < LOW_DEPTH_MIN_POSITIONS or bases >= LOW_DEPTH * covered:
        return None
    return (f"the reads cover the positions they reach at {bases / covered:.1f}x on average, below the 10x and more "
            "dvcall's models were trained at: expect many heterozygous variants missed or called homozygous")


def odd_hp_warning(stats: list[MakeExamplesStats], pileup) -> str | None:
    """One line when reads carry HP tags other than 1 and 2 (a tool that numbers haplotypes otherwise, or a
    polyploid phasing): dvcall reads HP 1 and 2 as the two haplotypes and any other value as no tag, so such
    tags are lost, or half of them (HP 1 and 3 made 18 indel errors on a HiFi sample that had none)."""
    odd, reads = sum(s.odd_hp_reads for s in stats), sum(s.reads for s in stats)  # per partition: a share, not counts
    if not pileup.hp_channel or not odd:
        return None
    return (f"{max(1, round(100 * odd / reads))}% of the reads carry HP tags other than 1 and 2, which dvcall reads as "
            "untagged (it takes HP 1 and 2 as the two haplotypes): retag them as 1 and 2 (e.g. `whatshap haplotag`), or "
            "pass --phase-reads to phase the reads itself")


def hp_tag_warning(stats: list[MakeExamplesStats], pileup, phased: bool) -> str | None:
    """One line when the examples draw each read's HP tag but most reads that could carry one do not: `dvcall run`
    phases such reads, so examples made from them untagged (a training set above all) are not what it calls."""
    taggable, tagged = sum(s.hp_taggable_reads for s in stats), sum(s.hp_tagged_reads for s in stats)
    if not pileup.hp_channel or not taggable or tagged >= 0.5 * taggable:
        return None
    kind = "long reads" if pileup.technology_channel else "reads"
    if phased:  # the phasing pass ran and left most reads untagged
        return (f"phasing tagged only {tagged:,} of {taggable:,} {kind} with a haplotype; this model reads each read's HP "
                "tag and is most accurate when most reads carry one (reads must be long enough to span heterozygous sites)")
    return (f"only {tagged:,} of {taggable:,} {kind} carry an HP tag, but this model reads each read's HP tag (`dvcall run` "
            "phases untagged reads for it): add --phase-reads, or haplotag the BAM")


MIN_TAG_CONCORDANCE = 0.8  # direct_phasing.tag_concordance below this: the tags are not the reads' haplotypes
MIN_TAG_OBSERVATIONS = 20  # tagged reads' alleles at heterozygous-looking sites needed to judge a partition's tags


def retag_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when some partitions' HP tags contradicted their reads' alleles (and were replaced)."""
    retagged, partitions = sum(s.partitions_retagged for s in stats), sum(s.partitions for s in stats)
    if not retagged:
        return None
    return (f"in {retagged:,} of {partitions:,} partitions the reads' HP tags contradicted their own alleles (BAMs "
            "haplotagged apart and then merged, tags from another sample's VCF?): those reads were phased from their "
            "alleles instead; haplotag the BAM again, or pass --phase-reads to phase every partition")


def missing_quality_warning(stats: list[MakeExamplesStats]) -> str | None:
    """One line when some reads carry no base qualities ('*'): each of their bases is then taken as Q30, so their
    errors weigh as much as a trusted base's."""
    reads, missing = sum(s.reads for s in stats), sum(s.reads_without_qualities for s in stats)
    if not missing or missing < 0.01 * reads:
        return None
    return (f"{missing / reads:.0%} of the reads carry no base qualities ('*'): each of their bases is taken as Q"
            f"{MISSING_BASE_QUALITY}; keep the qualities the basecaller wrote if you can (realigning or converting "
            "the reads may have dropped them)")


def _reference_span(reference: Reference, region: Region, reads: list, half_width: int) -> tuple[int, str]:
    """(offset, bases) of the reference under every read and the partition's drawn windows, one base more each side."""
    lo = min(min(r.reference_start for r in reads), region.start - half_width) - 1
    hi = max(max(r.reference_end for r in reads), region.end + half_width) + 1
    return max(0, lo), reference.fetch(region.contig, max(0, lo), hi)


ERROR_TABLE_PARTITIONS = 60  # partitions the sample's base errors are measured on (measure_error_table)


def measure_error_table(sources: ReadSources, reference: Reference, called: Sequence[Region],
                        opts: MakeExamplesOptions) -> ErrorTable:
    """The sample's error rate per base quality (error_model.py), measured on ERROR_TABLE_PARTITIONS partitions
    spread over the called regions (the same for every shard of a run) with the run's read filter and base-quality
    floor; short reads only (a partition holding long reads is skipped). Reads are not realigned for it."""
    mbq = opts.thresholds.min_base_quality
    totals = None
    for region in spread_partitions(called, opts.partition_size, ERROR_TABLE_PARTITIONS):
        reads = fetch_reads(sources, region, opts.read_filter)
        if not reads:
            continue
        ref_offset, ref_seq = _reference_span(reference, region, reads, opts.pileup.half_width)
        events = extract_events(reads, ref_seq, ref_offset, mbq)
        if np.any(events.is_long):
            continue
        counts = tally(events, ref_seq, ref_offset, region.start, region.end, mbq)
        totals = counts if totals is None else tuple(a + b for a, b in zip(totals, counts))
    if totals is None:
        return ErrorTable.unmeasured()
    return ErrorTable.from_counts(*totals)


def process_partition(handle, reference: Reference, region: Region, opts: MakeExamplesOptions, gvcf: bool = False,
                      counts: ReadCounts | None = None, counts_from: int | None = None,
                      error_gate: RecurrentErrorGate | None = None) -> PartitionResult:
    """Reads, candidates, the drawn canvas and (with `gvcf`) the reference blocks of one partition; reads are
    tallied in `counts` from `counts_from` on (fetch_reads). `error_gate`: drops short-read SNP candidates that the
    sample's errors explain (measure_error_table)."""
    reads = fetch_reads(handle, region, opts.read_filter, counts, counts_from)
    if not reads:
        blocks = []
        if gvcf:
            blocks = uncovered_blocks(region.contig, region.start,
                                      encode_bases(reference.fetch(region.contig, region.start, region.end)))
        return PartitionResult([], None, 0, 0, 0, blocks)
    contig_len = reference.length(region.contig)
    hw = opts.pileup.half_width
    mbq = opts.thresholds.min_base_quality
    # bases the gVCF's reference model (gvcf.P_ERROR) and the lost-qualities diagnosis trust: DeepVariant's Q10 or
    # more even where a lower floor (ont: 0) lets candidates take every base
    trusted_q = max(mbq, MIN_BASE_QUALITY)
    ref_offset, ref_seq = _reference_span(reference, region, reads, hw)
    events = extract_events(reads, ref_seq, ref_offset, mbq)
    if opts.realign:
        # The CIGARs are walked once for window selection and drawing; only the reads realignment moved again.
        realigned = realign_reads(reads, lambda s, e: reference.fetch(region.contig, s, e), contig_len, region.start,
                                  region.end, opts.realigner, events)
        moved = [i for i, (a, b) in enumerate(zip(reads, realigned)) if a is not b]
        reads = realigned
        if moved:
            ref_offset, ref_seq = _reference_span(reference, region, reads, hw)
            events = replace_reads(events, np.asarray(moved), extract_events([reads[i] for i in moved], ref_seq, ref_offset, mbq))
    n_odd_hp = int(np.count_nonzero(events.hp > 2))  # as the BAM has them, before any phasing or dropping
    if opts.drop_hp_fraction > 0:
        events.hp[hp_dropped(reads, opts.drop_hp_fraction)] = 0
    counts, blocks = None, []
    if gvcf:
        codes = encode_bases(ref_seq[region.start - ref_offset:region.end - ref_offset])
        counts = count_alleles(events, codes, region.start, region.end, mbq)
    candidates = find_candidates(events, region.contig, ref_seq, ref_offset, region.start, region.end, opts.thresholds, counts)
    if gvcf:  # blocks break where each candidate starts and ends: postprocess cuts them around its record there
        cuts = np.array([p for c in candidates for p in (c.start, c.start + len(c.ref))], np.int64) - region.start
        block_counts = counts if trusted_q == mbq else count_alleles(events, codes, region.start, region.end, trusted_q)
        blocks = reference_blocks(region.contig, region.start, codes, block_counts.ref_count, block_counts.depth, cuts=cuts)
    taggable = events.is_long if opts.pileup.technology_channel else np.ones(len(reads), dtype=bool)
    # tagged as the pileups mostly read the tags: in the phase set most of the partition's tagged reads share (each
    # pileup takes its own site's, ReadEvents.hp_of); a BAM phased in blocks much shorter than the partition (a new PS
    # every 5 kb: INDEL F1 0.9866 -> 0.9614 on HiFi) is phased from its reads instead, as an untagged one is (a
    # partition across one block boundary may be too: direct phasing is as good as whatshap's, design §6)
    groups = hp_groups(events.hp_of(np.arange(events.n_reads)))
    in_main_block = groups < 2
    mostly_untagged = np.count_nonzero(taggable & in_main_block) < 0.5 * np.count_nonzero(taggable) or \
        _one_haplotype_tagged(groups[taggable])
    retag = False
    if opts.phase_untagged and not opts.phase_reads and not mostly_untagged and opts.pileup.hp_channel:
        # tags the reads' own alleles contradict (two runs haplotagged apart and merged, another sample's VCF)
        # made clear hets 1/1 or 0/0 (ONT SNP F1 0.22): such a partition is phased from its reads instead
        share, seen = tag_concordance(events, ref_seq, ref_offset, min_base_quality=mbq)
        retag = seen >= MIN_TAG_OBSERVATIONS and share < MIN_TAG_CONCORDANCE
    if opts.phase_reads or (opts.phase_untagged and mostly_untagged) or retag:
        events.hp[:] = phase_reads(events, ref_seq, ref_offset, min_base_quality=mbq, candidates=candidates)
        events.ps[:] = 0  # one phasing of the partition's reads: the BAM's phase sets no longer apply
    candidates = [c for c in candidates if c.start - hw >= 0 and c.start + hw + 1 <= contig_len]
    n_found = len(candidates)
    if opts.candidate_filter is not None:
        candidates = opts.candidate_filter.select(events, candidates, ref_seq, ref_offset)
    n_kept = len(candidates)
    damage_signal = (0, 0)
    if opts.damage_filter is not None:
        candidates = opts.damage_filter.select(events, candidates)
    elif not np.any(events.is_long):  # pair orientation is a short-read library's property
        damage_signal = DamageFilter().signal(events, candidates)
    n_damaged = n_kept - len(candidates)
    n_gated = len(candidates)
    if error_gate is not None and not np.any(events.is_long):
        candidates = error_gate.select(events, candidates, mbq)
    n_gated -= len(candidates)
    canvas = Canvas(events, ref_seq, ref_offset, region.start - hw, region.end + hw + 1, reads=reads) if candidates else None
    tagged = taggable & (hp_groups(events.hp) < 2)
    inside = (events.m_pos >= region.start) & (events.m_pos < region.end)
    depth = np.bincount(events.m_pos[inside] - region.start, minlength=region.length)
    ambiguous = ambiguous_bases(ref_seq[region.start - ref_offset:region.end - ref_offset])
    return PartitionResult(candidates, canvas, len(reads), int(np.count_nonzero(taggable)), int(np.count_nonzero(tagged)),
                           blocks, n_found - n_kept, n_damaged, int(np.count_nonzero(inside)),
                           int(np.count_nonzero(inside & (events.m_qual < trusted_q))), events.no_qualities, n_odd_hp, retag,
                           int(np.count_nonzero(depth)), int(np.count_nonzero(ambiguous & (depth[:len(ambiguous)] > 0))),
                           n_damage_like=damage_signal[0], n_damage_control=damage_signal[1], n_recurrent_errors=n_gated)


def dropped_note(filtered: int, damaged: int, opts: MakeExamplesOptions, recurrent: int = 0) -> str:
    """The parenthesis after a run's candidate count: what the candidate pre-filter, --ffpe-filter and
    --recurrent-error-gate dropped."""
    parts = ([f"the candidate pre-filter dropped {filtered:,} more"] if opts.candidate_filter is not None else []) + \
        ([f"--ffpe-filter dropped {damaged:,} as damage"] if opts.damage_filter is not None else []) + \
        ([f"the recurrent-error gate dropped {recurrent:,}"] if opts.recurrent_error_gate is not None and recurrent else [])
    return f" ({'; '.join(parts)})" if parts else ""


ONE_SIDED_TAGS = 0.9  # of the tagged reads on one HP value, with ...
ONE_SIDED_UNTAGGED = 0.2  # ... this share of the reads untagged: one haplotype tagged, the other left bare


def _one_haplotype_tagged(groups: np.ndarray) -> bool:
    """Whether a partition's tags (hp_groups: 0 HP 1, 1 HP 2, 2 none) mark one haplotype only while a good share of
    the reads carry none: what a BAM tagged HP 1 / HP 0 (or 1 / nothing) looks like. whatshap tags both
    haplotypes' reads wherever it phases, so this is not a phasing to trust: trusted, it made 17 indel FPs and 17
    FNs on a HiFi sample; the partition is phased from its reads instead."""
    tagged = groups[groups < 2]
    if len(tagged) < 10 or np.count_nonzero(groups == 2) < ONE_SIDED_UNTAGGED * len(groups):
        return False
    return max(np.count_nonzero(tagged == 0), np.count_nonzero(tagged == 1)) >= ONE_SIDED_TAGS * len(tagged)


class ExampleSink(Protocol):
    """Where examples go: examples_io.ExampleWriter (a TFRecord file), or in `dvcall run` the model itself
    (call_variants.ExampleCaller, which make_examples never imports). With make_examples' `checkpoints` it also
    needs `checkpoint() -> (int, str)`: everything written so far made durable, the file's length and the SHA-256
    of its bytes returned."""

    path: str  # the file it writes, for error messages

    def write(self, variant: Candidate, alt_indices: tuple[int, ...], image: np.ndarray, label: int | None = None) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def _reads_sample(sources: ReadSources, sample_name: str | None = None) -> str | None:
    """The sample the examples' sidecar records, postprocess's default VCF sample name: `sample_name` when given,
    else the reads' (the first @RG SM of each file; None when none names one). Files that name different samples,
    or a name a VCF cannot hold, are refused (InputError), as `dvcall run` refuses them."""
    if sample_name is not None:
        return sample_name
    return check_sample_name(*sources.sample()) if sources.file_samples() else None


def make_examples(ref_path: str, reads: str | Sequence[str], output: str | ExampleSink, regions: Sequence[Region] | None,
                  opts: MakeExamplesOptions, shard_index: int = 0, num_shards: int = 1, training: TrainingInputs | None = None,
                  progress: Callable[..., None] | None = None, gvcf_output: str | None = None,
                  checkpoints: ShardCheckpoints | None = None, sample_name: str | None = None,
                  model_dir: str | None = None, exclude_regions: Sequence[Region] = (),
                  model_type: str | None = None, haploid: HaploidRegions | None = None) -> MakeExamplesStats:
    """Write the examples of shard `shard_index`/`num_shards` of `regions` (None: every contig the reads and the
    reference share) less `exclude_regions` to `output` (and, with `gvcf_output`, its reference blocks there); returns counts for the
    run summary. `output`: a TFRecord path (its sidecar is written beside it) or an ExampleSink, closed here on
    success and aborted on failure. `reads`: one BAM/CRAM, or several of one sample, read merged by position
    (reads.open_reads). `checkpoints`: record progress every so often and, when it holds one, go on from an
    earlier run's checkpoint (checkpoint.py; `output` is then an ExampleSink made to go on from it too).
    `sample_name`: the sample the sidecar records (default: the reads'; _reads_sample); `model_dir`: the model the
    examples are made for, which the sidecar records (call-variants takes it when given no --model), as it records
    `model_type`, the preset they were made under (a model trained on them records it)."""
    t0 = time.time()
    reference = Reference(ref_path)
    sources = open_reads(reads, reference)
    try:  # before any work: reads of two samples are refused now, not after the shard's hours
        sample = _reads_sample(sources, sample_name) if isinstance(output, str) else None
    except BaseException:
        sources.close()
        raise
    handle = ReadAhead(sources)
    called = calling_regions(reference, set(handle.references), regions, exclude_regions)
    parts = calling_shard(called, shard_index, num_shards, opts.partition_size)
    inside = RegionSet(called) if len(parts.regions) < len(called) else None  # what a window keeps; None: all of it
    starts, n_parts = parts.run_starts(), len(parts)
    start = checkpoints.start if checkpoints else None
    counts = ReadCounts(**start.read_counts) if start else ReadCounts()
    labeler = _Labeler(training, reference) if training else None
    stats = _restored_stats(start.stats) if start else MakeExamplesStats()
    error_gate = None
    stats.called_regions = len(called)
    stats.mostly_haploid = mostly_haploid(called, haploid)
    blocks = None  # gvcf_output's BlockWriter
    to_file = isinstance(output, str)
    if to_file and checkpoints:
        raise ValueError("make_examples checkpoints need an ExampleSink that can go on from them, not a TFRecord path")
    writer = None if to_file else output
    last_checkpoint = time.time()
    try:
        if opts.recurrent_error_gate is not None and not training:  # every shard measures the same partitions
            table = measure_error_table(sources, reference, called, opts)
            error_gate = RecurrentErrorGate(table, opts.recurrent_error_gate)
            stats.error_table_bases, stats.error_table_q30 = table.bases, round(table.phred_of_range(30, 41), 1)
        if to_file:
            writer = ExampleWriter(output)
        if gvcf_output:
            blocks = BlockWriter(gvcf_output, shard=(shard_index, num_shards) if num_shards > 1 else None,
                                 called=[(r.contig, r.start, r.end) for r in called],
                                 resume_at=start.lengths[os.path.basename(gvcf_output)] if start else None,
                                 keep=checkpoints is not None)
        everything = ((p, Region(run[0].contig, run[0].start, run[-1].end)) for run in stretches(parts) for p in run)
        for region, stretch in itertools.islice(everything, start.partitions if start else 0, None):
            handle.plan(stretch)
            part = process_partition(handle, reference, region, opts, gvcf=gvcf_output is not None, counts=counts,
                                     counts_from=starts.get((region.contig, region.start), region.start),
                                     error_gate=error_gate)
            if inside is not None:  # a window of several regions: only what lies in them
                part = replace(part, candidates=[c for c in part.candidates if inside.contains(region.contig, c.start)],
                               ref_blocks=clip_blocks(part.ref_blocks, inside.clip(region.contig, region.start, region.end)))
            candidates, canvas, n_reads = part.candidates, part.canvas, part.n_reads
            if blocks is not None:
                blocks.write(part.ref_blocks)
            stats.partitions += 1
            stats.reads += n_reads
            stats.hp_tagged_reads += part.n_tagged
            stats.hp_taggable_reads += part.n_taggable
            stats.filtered_candidates += part.n_filtered
            stats.damaged_candidates += part.n_damaged
            stats.damage_like_candidates += part.n_damage_like
            stats.damage_control_candidates += part.n_damage_control
            stats.recurrent_error_candidates += part.n_recurrent_errors
            stats.bases += part.n_bases
            stats.low_quality_bases += part.n_low_quality
            stats.covered_positions += part.n_covered
            stats.ambiguous_reference += part.n_ambiguous
            stats.reads_without_qualities += part.n_no_qualities
            stats.odd_hp_reads += part.n_odd_hp
            stats.partitions_retagged += int(part.retagged)
            if candidates:
                genotypes = labeler.genotypes(region, candidates) if labeler else [None] * len(candidates)
                for cand, gt in zip(candidates, genotypes):
                    if labeler and gt is None:
                        stats.outside_confident += 1
                        continue  # outside the confident regions: no example
                    stats.candidates += 1
                    images = list(build_images(canvas, cand, opts.pileup, partial(reference.fetch, region.contig),
                                              opts.realigner))
                    if not images[0][1][opts.pileup.ref_rows:].any():
                        # no read can be shown (each below the base-quality threshold at the site): nothing to learn
                        # from; called, the site is a no-call (postprocess: NoCall, "depth 0") instead of the
                        # network's guess at an empty pileup
                        stats.empty_pileups += 1
                        if labeler:
                            continue
                        cand = replace(cand, depth=0, allele_depths=(0,) * len(cand.allele_depths))
                    for subset, image in images:
                        label = labeler.label(gt, subset) if labeler else None
                        if label is not None:
                            stats.labels[label] = stats.labels.get(label, 0) + 1
                        writer.write(cand, subset, image, label)
                        stats.examples += 1
            if progress:
                progress(stats.partitions, n_parts, candidates=stats.candidates, examples=stats.examples)
            if checkpoints and time.time() - last_checkpoint >= checkpoints.every:
                ends = {os.path.basename(writer.path): writer.checkpoint(),
                        **({os.path.basename(gvcf_output): blocks.checkpoint()} if blocks is not None else {})}
                save_checkpoint(checkpoints.output, ShardCheckpoint(
                    checkpoints.inputs, stats.partitions, {k: n for k, (n, _) in ends.items()},
                    {k: d for k, (_, d) in ends.items()}, asdict(stats), asdict(counts)))
                last_checkpoint = time.time()
        writer.close()
        if to_file:
            write_sidecar(output, opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts),
                          shard=(shard_index, num_shards) if num_shards > 1 else None, sample=sample,
                          model=os.path.abspath(model_dir) if model_dir else None, model_type=model_type,
                          spans=examples_spans(called))
        if blocks is not None:
            blocks.close()
    except BaseException as exc:
        if blocks is not None:
            blocks.abort()
        if writer is not None:
            writer.abort()
        else:  # stopped (a signal) while the writer was being made: its file may exist already
            AtomicFile(output).discard()
        if is_disk_error(exc):
            raise disk_error(output if to_file else output.path, exc) from None
        raise
    finally:
        handle.close()
    stats.read_counts = asdict(counts)
    stats.seconds = time.time() - t0
    if labeler:
        stats.symbolic_truth = len(labeler.symbolic)
    return stats


def restorable(checkpoint: ShardCheckpoint) -> bool:
    """Whether make_examples can go on from `checkpoint` (its counts are of these fields: a checkpoint is written by
    one dvcall and read by the next, maybe another version)."""
    try:
        stats = _restored_stats(checkpoint.stats)
        ReadCounts(**checkpoint.read_counts)
    except (TypeError, ValueError, AttributeError):
        return False
    return stats.partitions == checkpoint.partitions


def _restored_stats(saved: dict) -> MakeExamplesStats:
    """MakeExamplesStats as a checkpoint saved them (JSON made the label keys strings)."""
    stats = MakeExamplesStats(**saved)
    stats.labels = {int(k): v for k, v in stats.labels.items()}
    return stats


LABEL_NAMES = {0: "hom-ref", 1: "het", 2: "hom-alt"}


def training_summary(stats: MakeExamplesStats) -> tuple[str, list[str]]:
    """(the labels line, warnings) of a training-mode run: a truth VCF that matched nothing (another sample's,
    another build's, every record filtered) labels every example hom-ref, and a model trained on it calls nothing."""
    line = "labels: " + ", ".join(f"{stats.labels.get(k, 0):,} {name}" for k, name in LABEL_NAMES.items())
    warnings = []
    if stats.symbolic_truth:
        warnings.append(f"{stats.symbolic_truth:,} truth record(s) have a symbolic alt (<DEL>, <INS>, ...) that no "
                        "candidate can match: candidates under them got no example")
    if stats.examples == 0 and stats.outside_confident:
        warnings.append(f"none of the {stats.outside_confident:,} candidates lies inside --confident-bed, so no example was "
                        "written: check that the BED covers --regions and names contigs as the reference does")
    elif stats.examples >= 20 and not (stats.labels.get(1, 0) or stats.labels.get(2, 0)):
        warnings.append(f"all {stats.examples:,} examples are labelled hom-ref: the truth VCF matched no candidate; check "
                        "that it holds this sample's variants (PASS records with a GT) for these regions")
    return line, warnings


def _check_truth_contigs(truth, path: str, confident: set[str], reference: Reference) -> None:
    """A truth VCF must name contigs as the reference does: one of another build's names (20 for chr20) finds no
    truth anywhere, and every example would be labelled hom-ref without a word."""
    from .regions import toggle_chr_prefix

    indexed = set(truth.index)
    renamed = sorted(c for c in confident if c not in indexed and toggle_chr_prefix(c) in indexed)
    if renamed or (indexed and not indexed & set(reference.lengths)):
        example = renamed[0] if renamed else next(iter(sorted(indexed)))
        other = toggle_chr_prefix(example) if renamed else example
        raise InputError(f"truth VCF {path} names its contigs unlike the reference (it has {other!r}"
                         f"{f', the reference {example!r}' if renamed else ', which the reference lacks'}): rename them "
                         "to the reference's (`bcftools annotate --rename-chrs`) or use the truth set of this build")


class _Labeler:
    """Truth genotypes for candidates inside the confident regions (haplotype-aware matching)."""

    PAD = 200

    def __init__(self, training: TrainingInputs, reference: Reference):
        from . import labeler

        self._lib = labeler
        self.truth_vcf = training.truth_vcf
        self._truth = labeler.open_truth(training.truth_vcf)  # one handle for every partition
        self.symbolic: set[tuple[str, int]] = set()  # truth records with a symbolic alt, by (contig, start)
        self.reference = reference
        confident = read_bed(training.confident_bed, reference.lengths)
        self.confident = RegionSet(confident)
        _check_truth_contigs(self._truth, training.truth_vcf, {r.contig for r in confident}, reference)

    def _is_confident(self, c: Candidate) -> bool:
        return self.confident.overlaps(c.contig, c.start, c.end)

    def genotypes(self, region: Region, candidates: list[Candidate]) -> list[tuple[int, int] | None]:
        lib = self._lib
        symbolic: list[tuple[int, int]] = []
        try:
            truths = lib.truth_in(self._truth, region.contig, max(0, region.start - self.PAD), region.end + self.PAD,
                                  symbolic)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read truth VCF {self.truth_vcf} ({exc}): it must be bgzipped and tabix-indexed") from None
        self.symbolic.update((region.contig, s) for s, e in symbolic if region.start <= s < region.end)
        records = [lib.Variant(c.start, c.ref, c.alts) for c in candidates]
        contig = region.contig
        gts = lib.label_genotypes(records, truths, lambda s, e: self.reference.fetch(contig, s, e))
        # a candidate under a truth record no candidate can match (<DEL>) has an unknown label: no example
        unknown = RegionSet(Region(contig, s, e) for s, e in symbolic)
        return [gt if self._is_confident(c) and not unknown.overlaps(contig, c.start, c.end) else None
                for c, gt in zip(candidates, gts)]

    def label(self, genotype: tuple[int, int], subset: tuple[int, ...]) -> int:
        return self._lib.label_for_alt_subset(genotype, subset)

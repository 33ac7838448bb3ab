"""`dvcall make-examples`: candidates and pileup tensors for one shard."""
import functools
import logging

import click

from deepvariant_py.alignment_files import reads_inputs
from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import is_examples_file, sidecar_path
from deepvariant_py.make_examples import (MakeExamplesOptions, TrainingInputs, dropped_note, error_table_note, hp_tag_warning,
                                         make_examples, read_warnings, retag_warning, training_summary)
from deepvariant_py.gvcf import is_blocks_file
from deepvariant_py.outputs import check_outputs, refuse_replacing
from deepvariant_py.phasing import require_hp_channel, stage_phasing_note
from deepvariant_py.ploidy import haploid_regions
from deepvariant_py.presets import (make_examples_options, model_type_defaulted, resolve_model, resolve_settings,
                                    warn_about_reads_of_files, warn_about_settings_unlike_model)
from deepvariant_py.progress import Progress
from deepvariant_py.reads import ReadFilter, haplotagged_by_whatshap, log_read_counts
from deepvariant_py.reference import Reference
from deepvariant_py.regions import absent_contigs_note, nothing_to_call_warning, parse_regions, region_file_inputs
from deepvariant_py.vcf import check_sample_name

from .common import (FRACTION, PAR_FORMS, exclude_regions_option, haploid_options, keep_supplementary_option, setting_flags,
                     setting_options, user_errors)

HAPLOID_HERE = ("Here they only tell what to expect: reads there carry no HP tag (no heterozygous site to phase by), so a run "
                "mostly over them is not warned of untagged reads; pass the same flags to postprocess, which sets the "
                "genotypes.")

log = logging.getLogger("dvcall")


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r} must look like I/N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise InputError(f"--shard {text!r}: I must be in 0..N-1")
    return i, n


@click.command("make-examples")
@click.option("--ref", required=True, type=click.Path(), help="Reference FASTA with .fai index.")
@click.option("--reads", required=True, multiple=True, type=click.Path(),
              help="Indexed BAM or CRAM. Repeatable for one sample's reads in several files (lanes, runs): read merged by "
                   "position, as their `samtools merge`; they must have the same contigs.")
@click.option("--examples", "output", required=True, type=click.Path(), help="Output TFRecord (gzipped); a .example_info.json sidecar is written beside it.")
@click.option("--regions", multiple=True, help="Region string or BED; repeatable. Default: all shared contigs.")
@exclude_regions_option
@click.option("--shard", default="0/1", show_default=True, help="Process shard I of N: the shards take blocks of 10 consecutive partitions in turn (fewer when there are too few partitions), so each reads its stretches of the BAM once.")
@click.option("--truth-vcf", type=click.Path(), default=None, help="Training mode: tabix-indexed truth VCF used to label examples 0/1/2.")
@click.option("--confident-bed", type=click.Path(), default=None, help="Training mode: only candidates overlapping these regions get examples.")
@click.option("--downsample-fraction", type=FRACTION, default=0.0, show_default=True, help="Keep this fraction of read pairs (0 = all): trains across coverages.")
@click.option("--drop-hp-fraction", type=FRACTION, default=0.0, show_default=True,
              help="Training: draw this fraction of reads (picked by a hash of the name) as untagged, so a long-read model also "
                   "learns reads that whatshap could not phase; 1 ignores every HP tag.")
@click.option("--phase-reads/--no-phase-reads", default=None,
              help="For a model that pools reads by haplotype. --phase-reads: tag each partition's reads HP=1/2 from the "
                   "heterozygous-looking SNPs under them, replacing any HP tags (what `dvcall run` does for mostly untagged "
                   "reads). --no-phase-reads: use the BAM's HP tags as they are. Default: as `dvcall run` on mostly tagged "
                   "reads: a partition whose reads are mostly untagged, or whose tags contradict the reads' own alleles, "
                   "is phased; the others keep their tags (training examples: the tags as they are).")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="Make the examples this model expects: its pileup width, channels, realignment and sorting are the defaults. "
                   "Default: the --model-type's shipped model; when making training examples (--truth-vcf) for a model type "
                   "that has no shipped model yet, the --model-type preset's settings alone.")
@setting_options
@click.option("--gvcf", "gvcf_output", type=click.Path(), default=None,
              help="Also write this shard's gVCF reference blocks here (.tsv.gz), for `postprocess --gvcf-blocks`.")
@click.option("--sample-name", default=None,
              help="The sample the examples record, which postprocess names the VCF's sample (no tabs or newlines). Default: "
                   "SM of the first @RG in the reads. Also makes examples of several --reads files that name different "
                   "samples, as this one sample (without it they are refused).")
@functools.partial(haploid_options, effect=HAPLOID_HERE, par_effect="here they count as diploid in judging whether "
                   "the run is mostly over haploid contigs. " + PAR_FORMS)
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@keep_supplementary_option
@user_errors
def make_examples_cmd(ref, reads, output, regions, exclude_regions, shard, truth_vcf, confident_bed, downsample_fraction, drop_hp_fraction, phase_reads,
                      model_dir, gvcf_output, sample_name, haploid_contigs, par_regions, keep_supplementary, quiet, **settings_kwargs):
    """Find candidate variants and write one pileup example per alt-allele subset."""
    index, count = _parse_shard(shard)
    if sample_name is not None:
        check_sample_name(sample_name)  # before any work
    check_outputs({"--examples": output, "its sidecar": sidecar_path(output), "--gvcf": gvcf_output},
                  {"--ref": ref, **reads_inputs(reads), "--truth-vcf": truth_vcf, "--confident-bed": confident_bed,
                   **region_file_inputs({"--regions": regions, "--exclude-regions": exclude_regions,
                                         "--par-regions": [par_regions]})})
    refuse_replacing("--examples", output, "examples that make-examples wrote (with their sidecar)", is_examples_file)
    refuse_replacing("--gvcf", gvcf_output, "a gVCF blocks file that make-examples wrote", is_blocks_file)
    if bool(truth_vcf) != bool(confident_bed):
        raise InputError("training mode needs both --truth-vcf and --confident-bed")
    defaulted = model_type_defaulted(settings_kwargs["model_type"], model_dir)
    model_type, flags = setting_flags(settings_kwargs, model_dir)
    given_model = model_dir
    model_dir, info = resolve_model(model_type, model_dir, required=not truth_vcf)
    check_untagged = phase_reads is None and not truth_vcf and info is not None and info.pools_by_haplotype
    base = MakeExamplesOptions(read_filter=ReadFilter(downsample_fraction=downsample_fraction, keep_supplementary=keep_supplementary),
                               drop_hp_fraction=drop_hp_fraction, phase_reads=bool(phase_reads), phase_untagged=check_untagged)
    settings = resolve_settings(model_type, info, **flags)
    if not truth_vcf:  # labelled examples are for a new model: their settings are the maker's choice
        warn_about_settings_unlike_model(info, flags)
    opts = make_examples_options(settings, base, None if truth_vcf else model_dir)  # training: every candidate
    if phase_reads:
        require_hp_channel(opts.pileup.hp_channel)
    training = TrainingInputs(truth_vcf, confident_bed) if truth_vcf else None
    reference = Reference(ref)
    lengths = reference.lengths
    parsed = parse_regions(list(regions), lengths) if regions else None
    haploid = haploid_regions(list(haploid_contigs), par_regions, lengths, notes := [])
    for note in notes:
        log.info("%s", note)
    excluded = parse_regions(list(exclude_regions), lengths, absent := [])
    if (note := absent_contigs_note("--exclude-regions", absent)):
        log.info("%s", note)
    warn_about_reads_of_files(model_type, ref, list(reads), parsed or [], given_model, defaulted and not truth_vcf,
                              individuals=index == 0, exclude=excluded)
    if check_untagged and (note := stage_phasing_note(info, list(reads), reference, parsed or [])):
        log.info("%s", note)
    stats = make_examples(ref, list(reads), output, parsed, opts, index, count, training, progress=None if quiet else Progress('make_examples'),
                          gvcf_output=gvcf_output, sample_name=sample_name, model_dir=model_dir, exclude_regions=excluded,
                          model_type=model_type, haploid=haploid)
    if (nothing := nothing_to_call_warning(list(regions), list(exclude_regions), stats.called_regions,
                                           len(parsed) if parsed is not None else None)):
        log.warning("%s and the examples file is empty", nothing)
    elif stats.partitions:
        log_read_counts([stats.read_counts], opts.read_filter)
    else:
        log.info("shard %s got no partition of the regions (they hold fewer partitions than there are shards): its "
                 "examples file is empty", shard)
    retag = retag_warning([stats])
    few_tags = retag or (None if stats.mostly_haploid else
                         hp_tag_warning([stats], opts.pileup, bool(phase_reads) or check_untagged))
    if few_tags and not retag and haplotagged_by_whatshap(list(reads)):
        # the workflow's tagged pass: whatshap tagged what it could (a haploid contig has no het to tag by)
        log.info("%s (whatshap haplotag wrote these reads: it tags only reads over heterozygous calls it phased)", few_tags)
        few_tags = None
    for warning in ([few_tags] if few_tags else []) + read_warnings([stats], opts, training=bool(training)):
        log.warning("%s", warning)  # warnings: the workflow's --quiet jobs show them too (hostile21)
    if training:
        labels, warnings = training_summary(stats)
        for warning in warnings:
            log.warning("%s", warning)
        if not quiet:
            click.echo(f"dvcall: {labels}", err=True)
    if not quiet:
        dropped = dropped_note(stats.filtered_candidates, stats.damaged_candidates, opts, stats.recurrent_error_candidates)
        if (measured := error_table_note([stats], opts)):
            click.echo(f"dvcall: {measured}", err=True)
        click.echo(f"dvcall: {stats.partitions} partitions, {stats.candidates} candidates{dropped}, {stats.examples} examples in {stats.seconds:.1f} s "
                   f"({stats.examples / max(stats.seconds, 1e-9):.0f} examples/s) -> {output}", err=True)

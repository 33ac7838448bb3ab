"""`dvcall run`: the whole caller in one command."""
import click

from deepvariant_py.make_examples import MakeExamplesOptions
from deepvariant_py.merger import MERGE_MODES
from deepvariant_py.phasing import PHASERS
from deepvariant_py.presets import model_type_defaulted
from deepvariant_py.pipeline import RunOptions, run_pipeline
from deepvariant_py.reads import ReadFilter

from .common import (command_line, exclude_regions_option, haploid_options, haplotype_resolution_option, keep_supplementary_option,
                     setting_flags, setting_options, user_errors)


@click.command("run")
@click.option("--ref", required=True, type=click.Path(), help="Reference FASTA (plain or bgzipped) with its .fai (and .gzi) index.")
@click.option("--reads", required=True, multiple=True, type=click.Path(),
              help="Aligned reads: indexed BAM or CRAM (CRAM is decoded with --ref). Repeatable for one sample's reads in several "
                   "files (lanes, runs): they are read merged by position, giving the VCF of their `samtools merge`; they must "
                   "have the same contigs and name the same sample (@RG SM; else give --sample-name).")
@click.option("--output-vcf", required=True, type=click.Path(), help="Output VCF; must end in .vcf.gz. A tabix index is written beside it.")
@click.option("--report", type=click.Path(), default=None,
              help="Also write a self-contained HTML report of the VCF here (variant types, Ti/Tv, QUAL, GQ, VAF, indel lengths, depth).")
@click.option("--output-gvcf", type=click.Path(), default=None,
              help="Also write a gVCF (.g.vcf.gz): every variant record plus reference blocks binned by GQ (bins of 5) with MIN_DP, ready for `bcftools merge --gvcf`.")
@click.option("--regions", multiple=True, help="Region(s) to call: 'chr20:10,000,000-10,050,000' (1-based, inclusive; 'chr20:100' is one base, 'chr20' the whole contig; a contig whose name holds ':' as itself or '{HLA-A*01:01:01:01}:1-500') or a BED file. Repeatable. Default: every contig shared by reads and reference.")
@exclude_regions_option
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model directory (from `dvcall train`). Default: the --model-type's shipped model (illumina-wgs, pacbio-hifi, ont or hybrid-hifi-illumina).")
@click.option("--intermediate-dir", type=click.Path(), default=None, help="Keep each shard's calls here (default: a temporary folder, removed at the end), so that re-running the same command after a kill, a failure, a wall-time limit or preemption redoes only what is missing: a finished shard leaves a .done.json marker with checksums, and a shard still running records how far it got every 2 minutes (a .checkpoint.json), from where the rerun goes on. Give the rerun the same --num-shards (the default follows the CPUs: on another node, pass the first run's count).")
@click.option("--sample-name", default=None, help="Sample name in the VCF (no tabs or newlines). Default: SM of the first @RG in the reads, else SAMPLE. Also calls several --reads files that name different samples as this one sample.")
@setting_options
@click.option("--multiallelic-merge", type=click.Choice(MERGE_MODES), default="auto", show_default=True,
              help="How per-subset probabilities of multi-allelic sites become one genotype: the trained merger network, DeepVariant's min rule, or auto (the network when the model ships one).")
@haplotype_resolution_option
@haploid_options
@click.option("--phase-reads/--no-phase-reads", default=None,
              help="Long-read models pool reads per haplotype: tag untagged reads HP=1/2 first (--phaser says how). Default: on "
                   "when the model pools by haplotype (the shipped pacbio, ont and hybrid models) and the reads are mostly "
                   "untagged; reads that carry HP tags keep theirs unless --phase-reads is given.")
@click.option("--phaser", type=click.Choice(PHASERS), default=None,
              help="How --phase-reads tags reads. direct: inside make_examples, each partition's reads from the heterozygous-looking "
                   "SNPs under them (one pass; no extra tool). whatshap: call once, `whatshap phase` and `haplotag` the reads from "
                   "those calls (pip install 'dvcall[phasing]'), call the tagged reads (about three times the run time; the tagged "
                   "BAM and first-pass VCF stay in --intermediate-dir). Default: direct, but whatshap for a model that mixes "
                   "technologies (hybrid) when whatshap is installed: its short reads were tagged that way in training and "
                   "call better so.")
@click.option("--num-shards", "--threads", "num_shards", type=click.IntRange(min=1), default=None,
              help="Parallel make_examples processes (shards). Default: the CPUs this process may use (its CPU affinity and "
                   "cgroup quota, so a SLURM or container allocation is respected). Never more shards than the regions have "
                   "partitions, nor more processes than usable CPUs; the VCF does not depend on it.")
@keep_supplementary_option
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def run_cmd(ref, reads, output_vcf, report, output_gvcf, regions, exclude_regions, model_dir, intermediate_dir, sample_name, multiallelic_merge,
            haplotype_resolution, haploid_contigs, par_regions, phase_reads, phaser, num_shards, keep_supplementary, quiet,
            **settings_kwargs):
    """Call variants: make examples, run the CNN, and write a bgzipped, indexed VCF."""
    defaulted = model_type_defaulted(settings_kwargs["model_type"], model_dir)
    model_type, flags = setting_flags(settings_kwargs, model_dir)
    summary = run_pipeline(RunOptions(
        ref=ref, reads=list(reads), output_vcf=output_vcf, output_gvcf=output_gvcf, report=report, regions=list(regions),
        exclude_regions=list(exclude_regions), model_dir=model_dir,
        model_type=model_type, model_type_defaulted=defaulted, settings=flags, intermediate_dir=intermediate_dir, sample_name=sample_name,
        num_shards=num_shards, multiallelic_merge=multiallelic_merge,
        haplotype_resolution=haplotype_resolution, haploid_contigs=list(haploid_contigs), par_regions=par_regions,
        phase_reads=phase_reads, phaser=phaser, command=command_line(),
        make_examples=MakeExamplesOptions(read_filter=ReadFilter(keep_supplementary=keep_supplementary))))
    if not quiet:
        stages = ("make_examples", "call_variants", "postprocess") + (("phase_reads",) if "phase_reads_seconds" in summary else ())
        total = sum(summary[f"{s}_seconds"] for s in stages)
        click.echo(f"dvcall: done in {total:.1f} s (" + ", ".join(f"{s} {summary[f'{s}_seconds']:.1f} s" for s in stages)
                   + f"); {summary['candidates']:,} candidates, {summary['examples']:,} examples; {summary['sites']:,} sites, "
                   f"{summary['pass_snps']:,} PASS SNPs, {summary['pass_indels']:,} PASS indels -> {output_vcf}", err=True)

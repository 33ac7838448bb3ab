"""`dvcall make-examples`: candidates and pileup tensors for one shard."""
import click

from deepvariant_py.candidates import CandidateThresholds
from deepvariant_py.errors import InputError
from deepvariant_py.make_examples import MakeExamplesOptions, TrainingInputs, make_examples
from deepvariant_py.model import default_model_dir, load_model_info, model_settings
from deepvariant_py.pileup import ALT_ALIGNED_MODES, PileupOptions
from deepvariant_py.progress import Progress
from deepvariant_py.reads import ReadFilter

from .common import user_errors


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
@click.option("--reads", required=True, type=click.Path(), help="Indexed BAM or CRAM.")
@click.option("--examples", "output", required=True, type=click.Path(), help="Output TFRecord (gzipped); a .example_info.json sidecar is written beside it.")
@click.option("--regions", multiple=True, help="Region string or BED; repeatable. Default: all shared contigs.")
@click.option("--shard", default="0/1", show_default=True, help="Process shard I of N: partitions whose index modulo N is I.")
@click.option("--truth-vcf", type=click.Path(), default=None, help="Training mode: tabix-indexed truth VCF used to label examples 0/1/2.")
@click.option("--confident-bed", type=click.Path(), default=None, help="Training mode: only candidates overlapping these regions get examples.")
@click.option("--downsample-fraction", type=float, default=0.0, show_default=True, help="Keep this fraction of read pairs (0 = all): trains across coverages.")
@click.option("--min-mapping-quality", type=int, default=5, show_default=True, help="Reads below this MAPQ are ignored.")
@click.option("--vsc-min-fraction-snps", type=float, default=0.12, show_default=True, help="Minimum allele fraction for a SNP candidate.")
@click.option("--vsc-min-fraction-indels", type=float, default=0.06, show_default=True, help="Minimum allele fraction for an indel candidate.")
@click.option("--max-reads-per-partition", type=int, default=1500, show_default=True, help="Reservoir-sample at most this many reads per 1 kb partition (0 = no cap).")
@click.option("--realign/--no-realign", default=None, help="Locally realign reads in windows where they disagree with the reference. Default: as --model was trained.")
@click.option("--alt-aligned-pileup", type=click.Choice(ALT_ALIGNED_MODES), default=None,
              help="Also draw indel candidates' reads realigned to each alt haplotype: as two extra 'differs from ref' channels (diff_channels) or as extra rows (rows). Default: as --model was trained.")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="Make the examples this model expects: --realign and --alt-aligned-pileup default to the settings it was trained with. Default: the shipped Illumina WGS model.")
@click.option("--gvcf", "gvcf_output", type=click.Path(), default=None,
              help="Also write this shard's gVCF reference blocks here (.tsv.gz), for `postprocess --gvcf-blocks`.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def make_examples_cmd(ref, reads, output, regions, shard, truth_vcf, confident_bed, downsample_fraction, min_mapping_quality,
                      vsc_min_fraction_snps, vsc_min_fraction_indels, max_reads_per_partition, realign, alt_aligned_pileup, model_dir, gvcf_output, quiet):
    """Find candidate variants and write one pileup example per alt-allele subset."""
    index, count = _parse_shard(shard)
    if realign is None or alt_aligned_pileup is None:
        settings = model_settings(load_model_info(model_dir or default_model_dir()), realign=realign,
                                  alt_aligned_pileup=alt_aligned_pileup)
        realign, alt_aligned_pileup = settings["realign"], settings["alt_aligned_pileup"]
    if bool(truth_vcf) != bool(confident_bed):
        raise InputError("training mode needs both --truth-vcf and --confident-bed")
    opts = MakeExamplesOptions(
        read_filter=ReadFilter(min_mapping_quality=min_mapping_quality, max_reads_per_partition=max_reads_per_partition,
                               downsample_fraction=downsample_fraction),
        thresholds=CandidateThresholds(min_fraction_snps=vsc_min_fraction_snps, min_fraction_indels=vsc_min_fraction_indels),
        realign=realign, pileup=PileupOptions(alt_aligned_pileup=alt_aligned_pileup))
    training = TrainingInputs(truth_vcf, confident_bed) if truth_vcf else None
    stats = make_examples(ref, reads, output, list(regions), opts, index, count, training, progress=None if quiet else Progress('make_examples'),
                          gvcf_output=gvcf_output)
    if not quiet:
        click.echo(f"dvcall: {stats.partitions} partitions, {stats.candidates} candidates, {stats.examples} examples in {stats.seconds:.1f} s "
                   f"({stats.examples / max(stats.seconds, 1e-9):.0f} examples/s) -> {output}", err=True)

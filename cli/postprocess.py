"""`dvcall postprocess`: calls -> VCF."""
import click

from deepvariant_py.merger import MERGE_MODES, load_merger
from deepvariant_py.model_info import load_model_info, model_description
from deepvariant_py.examples_io import expand_paths
from deepvariant_py.outputs import check_outputs, require_vcf_gz
from deepvariant_py.ploidy import haploid_regions, missing_par_warning
from deepvariant_py.postprocess import calls_model_dir, postprocess, vcf_sample
from deepvariant_py.reference import Reference
from deepvariant_py.progress import Progress
from deepvariant_py.regions import region_file_inputs
from deepvariant_py.vcf import check_sample_name, vcf_index_outputs

from .common import command_line, files_option, haploid_options, haplotype_resolution_option, user_errors


@click.command("postprocess")
@click.option("--ref", required=True, type=click.Path(), help="Reference FASTA (its contigs go into the VCF header).")
@files_option("--calls", required=True, help="Calls file(s) from call-variants: a path, glob or comma-separated list.")
@click.option("--output-vcf", required=True, type=click.Path(), help="Output VCF (.vcf.gz), tabix-indexed.")
@click.option("--sample-name", default=None,
              help="Sample name for the VCF. Default: the sample the reads name (their @RG SM, which make-examples records "
                   "and call-variants passes on), else SAMPLE.")
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model directory whose multi-allelic merger and calibration (temperature, GQ map) to use: the one call-variants used. Default: the model the calls file names (calls from before dvcall recorded it: the shipped Illumina WGS model).")
@click.option("--multiallelic-merge", type=click.Choice(MERGE_MODES), default="auto", show_default=True,
              help="Merge multi-allelic sites with the model's trained network, DeepVariant's min rule, or auto (network if the model has one).")
@haplotype_resolution_option
@haploid_options
@files_option("--gvcf-blocks", help="Reference blocks from `make-examples --gvcf` (path, glob or comma-separated list); needed for --output-gvcf.")
@click.option("--output-gvcf", type=click.Path(), default=None, help="Also write a gVCF (.g.vcf.gz), tabix-indexed.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def postprocess_cmd(ref, calls, output_vcf, sample_name, model_dir, multiallelic_merge, haplotype_resolution, haploid_contigs,
                    par_regions, gvcf_blocks, output_gvcf, quiet):
    """Merge per-subset probabilities into genotypes and write the VCF."""
    if sample_name is not None:
        check_sample_name(sample_name)  # before any work
    for flag, path in (("--output-vcf", output_vcf), ("--output-gvcf", output_gvcf)):
        require_vcf_gz(flag, path)
    calls_paths = expand_paths(calls, "calls")
    inputs = {f"--calls {p}": p for p in calls_paths}
    inputs.update({f"--gvcf-blocks {p}": p for p in (expand_paths(gvcf_blocks, "gVCF reference blocks") if gvcf_blocks else [])})
    check_outputs({"--output-vcf": output_vcf, **vcf_index_outputs("--output-vcf", output_vcf), "--output-gvcf": output_gvcf,
                   **(vcf_index_outputs("--output-gvcf", output_gvcf) if output_gvcf else {})},
                  {"--ref": ref, **inputs, **region_file_inputs({"--par-regions": [par_regions]})})
    reference = Reference(ref)
    haploid = haploid_regions(list(haploid_contigs), par_regions, reference.lengths, notes := [])
    for note in [] if quiet else notes:
        click.echo(f"dvcall: {note}", err=True)
    if (no_par := missing_par_warning(haploid, par_regions, reference.lengths)):
        click.echo(f"dvcall: warning: {no_par}", err=True)
    model_dir = calls_model_dir(calls_paths, model_dir)
    merger = load_merger(multiallelic_merge, model_dir)
    calibration = load_model_info(model_dir).calibration
    stats = postprocess(calls, reference, output_vcf, vcf_sample(calls_paths, sample_name), command_line(), merger=merger,
                        gvcf_blocks=gvcf_blocks, output_gvcf=output_gvcf, resolve_haplotypes=haplotype_resolution, calibration=calibration,
                        progress=None if quiet else Progress("postprocess", unit="Mb of the reference"),
                        model=model_description(model_dir), haploid=haploid)
    if not quiet:
        click.echo(f"dvcall: {stats.sites} sites ({stats.pass_snps} PASS SNPs, {stats.pass_indels} PASS indels) -> {output_vcf}", err=True)

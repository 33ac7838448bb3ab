"""`dvcall workflow`: where the shipped Snakemake workflow is, and an example config for it."""
import click

from deepvariant_py.workflow import example_config, snakefile_path

from .common import user_errors


@click.command("workflow")
@click.option("--print-path", is_flag=True,
              help="Print the path of the Snakefile (for snakemake --snakefile); what `dvcall workflow` alone prints.")
@click.option("--print-config", is_flag=True,
              help="Print an example config.yaml with every key explained (reference, samples, shards, regions, "
                   "exclude_regions, model_type, model, gvcf, phase_reads, phaser, keep_supplementary, haploid_contigs, "
                   "par_regions, outdir).")
@user_errors
def workflow_cmd(print_path, print_config):
    """The Snakemake workflow: shards make_examples, then calls and postprocesses each sample. With no option, prints
    the Snakefile's path.

    \b
    dvcall workflow --print-config > config.yaml   # then edit it
    snakemake --snakefile "$(dvcall workflow --print-path)" --configfile config.yaml --cores 8
    """
    if print_config:
        click.echo(example_config(), nl=False)
    if print_path or not print_config:
        click.echo(snakefile_path())

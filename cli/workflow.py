"""`dvcall workflow`: where the shipped Snakemake workflow is, and an example config for it."""
import click

from deepvariant_py.workflow import example_config, snakefile_path

from .common import user_errors


@click.command("workflow")
@click.option("--print-path", is_flag=True, help="Print the path of the Snakefile (for snakemake --snakefile).")
@click.option("--print-config", is_flag=True, help="Print an example config.yaml (reference, samples, shards, regions, model).")
@user_errors
def workflow_cmd(print_path, print_config):
    """The Snakemake workflow: shards make_examples, then calls and postprocesses each sample.

    \b
    dvcall workflow --print-config > config.yaml   # then edit it
    snakemake --snakefile "$(dvcall workflow --print-path)" --configfile config.yaml --cores 8
    """
    if print_config:
        click.echo(example_config(), nl=False)
    if print_path or not print_config:
        click.echo(snakefile_path())

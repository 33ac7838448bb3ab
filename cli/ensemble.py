"""`dvcall ensemble`: combine models trained apart into one that averages their genotype probabilities."""
import click

from deepvariant_py.ensemble import combine_models

from .common import user_errors


@click.command("ensemble")
@click.option("--member", "members", multiple=True, required=True, type=click.Path(),
              help="A model directory to include (repeat: at least two, trained on the same kind of examples, e.g. "
                   "`dvcall train --seed 0` and `--seed 1`).")
@click.option("--output", required=True, type=click.Path(),
              help="New folder for the ensemble (model.keras + model_info.json); an existing model is never overwritten.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def ensemble_cmd(members, output, quiet):
    """Write a model whose genotype probabilities are the mean of the --member models'.

    Networks trained with different seeds err at different sites, so their mean errs less often (the illumina-wgs
    model is such an ensemble; its card has the numbers), at the cost of running every member in call_variants.
    The ensemble starts uncalibrated: fit its temperature with `dvcall calibrate` and its multi-allelic merger with
    `dvcall train-merger`, as after `dvcall train`.
    """
    combine_models(list(members), output)
    if not quiet:
        click.echo(f"dvcall: ensemble of {len(members)} models written to {output}; next: `dvcall train-merger` and "
                   "`dvcall calibrate` on it", err=True)

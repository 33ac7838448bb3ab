"""`dvcall ensemble`: combine models trained apart into one that averages their genotype probabilities."""
import click

from deepvariant_py.ensemble import DEFAULT_CASCADE, combine_models

from .common import FloatRange, user_errors


@click.command("ensemble")
@click.option("--member", "members", multiple=True, required=True, type=click.Path(),
              help="A model directory to include (repeat: at least two, trained on the same kind of examples, e.g. "
                   "`dvcall train --seed 0` and `--seed 1`).")
@click.option("--output", required=True, type=click.Path(),
              help="New folder for the ensemble (model.keras + model_info.json); an existing model is never overwritten.")
@click.option("--cascade", type=FloatRange(0.0, 1.0, max_open=True), default=DEFAULT_CASCADE, show_default=True,
              help="Run the members after the first only on examples the first is less sure of than this (its top "
                   "genotype probability); the others keep its probabilities. 0 runs every member on every example.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def ensemble_cmd(members, output, cascade, quiet):
    """Write a model whose genotype probabilities are the mean of the --member models'.

    Networks trained with different seeds err at different sites, so their mean errs less often (the illumina-wgs
    model is such an ensemble; its card has the numbers). Each member costs one network's time on the examples
    it runs on: with the default --cascade, the ~10% the first network is unsure of.
    The ensemble starts uncalibrated: fit its temperature with `dvcall calibrate` and its multi-allelic merger with
    `dvcall train-merger`, as after `dvcall train`. Needs TensorFlow and Keras: pip install 'dvcall[train]'.
    """
    combine_models(list(members), output, cascade)
    if not quiet:
        click.echo(f"dvcall: ensemble of {len(members)} models written to {output}; next: `dvcall train-merger` and "
                   "`dvcall calibrate` on it", err=True)

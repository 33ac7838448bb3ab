"""`dvcall train-merger`: fit the multi-allelic merger network on a model's outputs."""
import click

from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import expand_paths
from deepvariant_py.merger import train_merger
from deepvariant_py.model import shipped_model_problem
from deepvariant_py.model_info import warn_if_unfinished
from deepvariant_py.outputs import check_outputs

from .common import files_option, user_errors


@click.command("train-merger")
@files_option("--examples", required=True, help="Labelled examples (path, glob or comma-separated list); only multi-allelic sites are used.")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="The CNN model whose probabilities the merger learns to combine.")
@click.option("--output", default=None, type=click.Path(), help="Where to write merger.keras + merger_info.json (default: into --model).")
@click.option("--epochs", type=click.IntRange(min=1), default=300, show_default=True, help="Training epochs (the data is a few thousand sites).")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def train_merger_cmd(examples, model_dir, output, epochs, quiet):
    """Train the network that merges per-subset probabilities of 2-alt sites into one genotype.

    Needs TensorFlow and Keras: pip install 'dvcall[train]'."""
    if (problem := shipped_model_problem(output or model_dir, "--output" if output else "--model")):
        raise InputError(problem)
    warn_if_unfinished(model_dir)  # a resumed training replaces model.keras: this merger would then not fit it
    paths = expand_paths(examples)
    # the folder it writes to is checked first: training takes minutes, and a read-only folder would lose them
    check_outputs({}, {f"--examples {p}": p for p in paths}, {"--output" if output else "--model": output or model_dir})
    report = train_merger(paths, model_dir, output or model_dir, epochs=epochs)
    if not quiet:
        click.echo("dvcall: " + ", ".join(f"{k}={v}" for k, v in report.items() if not isinstance(v, (dict, list))), err=True)

"""`dvcall call-variants`: run the CNN over examples."""
import click

from deepvariant_py.call_variants import call_variants
from deepvariant_py.examples_io import expand_paths, is_calls_file
from deepvariant_py.model_info import warn_if_unfinished
from deepvariant_py.outputs import check_outputs, refuse_replacing
from deepvariant_py.presets import model_for_examples
from deepvariant_py.progress import Progress

from .common import files_option, user_errors


@click.command("call-variants")
@files_option("--examples", required=True, help="Examples TFRecord(s): a path, a glob or a comma-separated list.")
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model directory. Default: the model make-examples recorded making the examples for (a pip-installed shipped one from where this dvcall has it; any other folder must still be there, else this is an error), or for examples that record none the shipped model whose tensor and settings they have, else the Illumina WGS model.")
@click.option("--output", required=True, type=click.Path(), help="Output calls file (gzipped JSON lines, one per example).")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True, help="Examples read per batch (the model itself runs 16 at a time). Peak memory grows a little with it (Illumina: 140 MB at 16, 190 MB at 128, 340 MB at 512) and speed does not; probabilities move by ~1e-7 at most.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def call_variants_cmd(examples, model_dir, output, batch_size, quiet):
    """Genotype probabilities for every example."""
    check_outputs({"--output": output}, {f"--examples {p}": p for p in expand_paths(examples)})
    refuse_replacing("--output", output, "a calls file", is_calls_file)
    if model_dir:
        warn_if_unfinished(model_dir)
    else:
        model_dir, why = model_for_examples(expand_paths(examples))
        if why and not quiet:
            click.echo(f"dvcall: no --model: calling with {model_dir} ({why})", err=True)
    stats = call_variants(examples, model_dir, output, batch_size,
                          progress=None if quiet else Progress("call_variants", unit="MB of examples"))
    if not quiet:
        click.echo(f"dvcall: {stats.examples} examples in {stats.seconds:.1f} s ({stats.per_second:.0f}/s) -> {output}", err=True)

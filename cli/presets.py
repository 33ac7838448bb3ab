"""`dvcall presets`: what each --model-type sets."""
import os

import click

from deepvariant_py.model import default_model_dir
from deepvariant_py.model_info import load_model_info
from deepvariant_py.presets import PRESETS, SETTING_KEYS

from .common import user_errors


@click.command("presets")
@click.option("--quiet", is_flag=True, hidden=True)
@user_errors
def presets_cmd(quiet):
    """Print each --model-type's shipped model and make_examples defaults (a flag given on the command line wins)."""
    names = list(PRESETS)
    rows = [("model", *[PRESETS[n].model for n in names]),
            ("model version", *[_version(PRESETS[n].model) for n in names])]
    rows += [(key, *[str(PRESETS[n].settings[key]) for n in names]) for key in SETTING_KEYS]
    widths = [max(len(r[i]) for r in rows + [("setting", *names)]) for i in range(len(names) + 1)]
    for row in [("setting", *names)] + rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    # where the shipped models are installed (a pip install puts them inside the package, not in a checkout's
    # models/): what --model, --init-model and the benchmarks' --model take
    click.echo(f"\nmodel folders: {os.path.dirname(default_model_dir(PRESETS[names[0]].model))}/<model>")


def _version(name: str) -> str:
    folder = default_model_dir(name)
    if not os.path.isdir(folder):
        return "(not installed)"
    return load_model_info(folder).model_version or "-"

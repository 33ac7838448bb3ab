"""`dvcall presets`: what each --model-type sets."""
import click

from deepvariant_py.presets import PRESETS, SETTING_KEYS

from .common import user_errors


@click.command("presets")
@click.option("--quiet", is_flag=True, hidden=True)
@user_errors
def presets_cmd(quiet):
    """Print each --model-type's shipped model and make_examples defaults (a flag given on the command line wins)."""
    names = list(PRESETS)
    rows = [("model", *[PRESETS[n].model for n in names])]
    rows += [(key, *[str(PRESETS[n].settings[key]) for n in names]) for key in SETTING_KEYS]
    widths = [max(len(r[i]) for r in rows + [("setting", *names)]) for i in range(len(names) + 1)]
    for row in [("setting", *names)] + rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())

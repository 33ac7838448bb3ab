"""The `dvcall` command group; each subcommand lives in its own module and calls one library function."""
import sys

import click

from deepvariant_py import __version__

from .calibrate import calibrate_cmd
from .ensemble import ensemble_cmd
from .call_variants import call_variants_cmd
from .evaluate import eval_cmd
from .haplotag import haplotag_cmd
from .make_examples import make_examples_cmd
from .postprocess import postprocess_cmd
from .presets import presets_cmd
from .report import report_cmd
from .run import run_cmd
from .train import train_cmd
from .train_merger import train_merger_cmd
from .workflow import workflow_cmd


class _Group(click.Group):
    """Usage errors (a bad flag or value) as one line, like every other dvcall error, exit 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            message = " ".join(exc.format_message().split())
            if message.startswith("Got unexpected extra argument"):  # often a glob the shell expanded for dvcall
                where = (" (an unquoted glob? quote it, e.g. --examples 'examples/train-*.tfrecord.gz'; a repeatable flag "
                         f"takes one file each: --reads a.bam --reads b.bam){where}")
            click.echo(f"dvcall: error: {message}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"dvcall: error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("dvcall: interrupted", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dvcall")
def main() -> None:
    """dvcall: germline small-variant calling from aligned reads, DeepVariant-style.

    Start with `dvcall run --ref REF.fa --reads READS.bam --output-vcf OUT.vcf.gz`.
    """


for cmd in (run_cmd, make_examples_cmd, call_variants_cmd, postprocess_cmd, train_cmd, train_merger_cmd, calibrate_cmd, ensemble_cmd, eval_cmd, haplotag_cmd, workflow_cmd, report_cmd, presets_cmd):
    main.add_command(cmd)

"""The `dvcall` command group; each subcommand lives in its own module and calls one library function."""
import click

from deepvariant_py import __version__

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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dvcall")
def main() -> None:
    """dvcall: germline small-variant calling from aligned reads, DeepVariant-style.

    Start with `dvcall run --ref REF.fa --reads READS.bam --output-vcf OUT.vcf.gz`.
    """


for cmd in (run_cmd, make_examples_cmd, call_variants_cmd, postprocess_cmd, train_cmd, train_merger_cmd, eval_cmd, haplotag_cmd, workflow_cmd, report_cmd, presets_cmd):
    main.add_command(cmd)

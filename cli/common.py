"""Shared CLI plumbing: one-line errors, logging, and the options several commands take."""
from __future__ import annotations

import functools
import os
import sys

import click

from deepvariant_py.errors import DvcallError
from deepvariant_py.progress import configure_logging
from deepvariant_py.outputs import disk_error, is_disk_error
from deepvariant_py.workers import INTERRUPTED_EXIT, TERMINATED_EXIT, Terminated, handle_sigterm


def setup_logging(quiet: bool = False) -> None:
    configure_logging(quiet)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def user_errors(func):
    """One line and a non-zero exit for anything that stops a command, never a traceback unless --debug:
    DvcallError and disk errors exit 1, SIGTERM (handled like Ctrl-C) 143, Ctrl-C 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False)
        setup_logging(kwargs.get("quiet", False))
        handle_sigterm()
        try:
            return func(*args, **kwargs)
        except Terminated:
            _stop("terminated", TERMINATED_EXIT)
        except KeyboardInterrupt:
            _stop("interrupted", INTERRUPTED_EXIT)
        except Exception as exc:
            if debug:
                raise
            _stop(f"error: {_one_line(exc)}", 1)

    return click.option("--debug", is_flag=True, help="On an error, show the full traceback instead of one line.")(wrapper)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, DvcallError):
        return str(exc)
    if is_disk_error(exc):
        return str(disk_error(getattr(exc, "filename", None) or "output", exc))
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return f"unexpected {type(exc).__name__}: {exc} (a bug in dvcall: rerun with --debug and report the traceback)"


def _stop(message: str, code: int) -> None:
    click.echo(f"dvcall: {' '.join(message.split())}", err=True)  # one line, whatever the message holds
    sys.exit(code)


def command_line() -> str:
    return " ".join(["dvcall"] + sys.argv[1:])


EXTRA_CHANNELS = ("haplotype", "none")
FRACTION = click.FloatRange(0.0, 1.0)
MIN_PARTITION_SIZE = 100  # smaller partitions only multiply per-partition overhead
MIN_PILEUP_WIDTH = 21  # the model's own width is checked against it before any work


def _setting_options() -> list:
    """--model-type and the flags that override it and the model (each None when not given)."""
    from deepvariant_py.pileup import ALT_ALIGNED_MODES
    from deepvariant_py.presets import MODEL_TYPES

    return [
        click.option("--model-type", type=click.Choice(MODEL_TYPES), default="illumina", show_default=True,
                     help="Sequencer preset: picks the shipped model (illumina-wgs, pacbio-hifi, ont) and the defaults of "
                          "every flag below that is not given (docs/design.md §10; `dvcall presets` prints them)."),
        click.option("--realign/--no-realign", default=None,
                     help="Locally realign short reads in windows where they disagree with the reference. Default: as the model was trained."),
        click.option("--alt-aligned-pileup", type=click.Choice(ALT_ALIGNED_MODES), default=None,
                     help="Also draw indel candidates' reads realigned to each alt haplotype: as two extra 'differs from ref' channels "
                          "(diff_channels) or as extra rows (rows). Default: as the model was trained."),
        click.option("--sort-by-haplotypes/--no-sort-by-haplotypes", default=None,
                     help="Group pileup rows by the reads' HP tag (HP=1, HP=2, then untagged), by start within a group. "
                          "Default: off: dvcall's network pools over reads, so row order changes no call (the HP tag reaches it through "
                          "--channels haplotype)."),
        click.option("--channels", type=click.Choice(EXTRA_CHANNELS), default=None,
                     help="Extra pileup channel after the six: 'haplotype' (the read's HP tag: 0 none, 127 HP=1, 254 HP=2) or "
                          "'none'. Default: the model's channels."),
        click.option("--pileup-width", type=click.IntRange(min=MIN_PILEUP_WIDTH), default=None, help="Pileup columns around the candidate. Default: the model's (221 illumina, 199 long reads)."),
        click.option("--partition-size", type=click.IntRange(min=MIN_PARTITION_SIZE), default=None, help="Bases per partition (unit of work and of the read cap). Default: from --model-type (1000 illumina, 25000 long reads)."),
        click.option("--max-reads-per-partition", type=click.IntRange(min=0), default=None, help="Reservoir-sample at most this many reads per partition (0 = no cap). Default: from --model-type (1500 illumina, 600 long reads)."),
        click.option("--min-mapping-quality", type=click.IntRange(0, 255), default=None, help="Reads below this MAPQ are ignored. Default: from --model-type (5; 1 for pacbio)."),
        click.option("--vsc-min-fraction-snps", type=FRACTION, default=None, help="Minimum allele fraction for a SNP candidate. Default: from --model-type (0.12; 0.08 for ont)."),
        click.option("--vsc-min-fraction-indels", type=FRACTION, default=None, help="Minimum allele fraction for an indel candidate. Default: from --model-type (0.06 illumina, 0.12 long reads)."),
    ]


def setting_options(func):
    """Add the --model-type preset and every flag that overrides it."""
    for option in reversed(_setting_options()):
        func = option(func)
    return func


def haplotype_resolution_option(func):
    """--haplotype-resolution/--no-haplotype-resolution, shared by run and postprocess."""
    return click.option(
        "--haplotype-resolution/--no-haplotype-resolution", default=True, show_default=True,
        help="Where overlapping calls put more than two alleles on a base (e.g. a SNP inside a homozygous deletion), "
             "genotype them jointly and keep the best combination two haplotypes can carry (docs/design.md §9.4).")(func)


def setting_flags(kwargs: dict) -> tuple[str, dict]:
    """Pop the preset flags out of a command's kwargs: (model type, {settings key: value or None})."""
    from deepvariant_py.presets import SETTING_KEYS

    model_type = kwargs.pop("model_type")
    channels = kwargs.pop("channels")  # the one setting whose flag is not named after its key
    flags = {key: kwargs.pop(key) for key in SETTING_KEYS if key != "hp_channel"}
    flags["hp_channel"] = None if channels is None else channels == "haplotype"
    return model_type, flags

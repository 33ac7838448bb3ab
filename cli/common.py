"""Shared CLI plumbing: one-line errors, logging, and the options several commands take."""
from __future__ import annotations

import functools
import math
import os
import shlex
import sys
import traceback

import click

from deepvariant_py.errors import DvcallError
from deepvariant_py.progress import configure_logging
from deepvariant_py.outputs import disk_error, is_disk_error
from deepvariant_py.workers import INTERRUPTED_EXIT, TERMINATED_EXIT, Terminated, handle_sigterm, reap_children


def setup_logging(quiet: bool = False) -> None:
    configure_logging(quiet)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, the status of a Unix tool whose reader closed the pipe


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
            reap_children()
            stop("terminated", TERMINATED_EXIT)
        except KeyboardInterrupt:
            reap_children()
            stop("interrupted", INTERRUPTED_EXIT)
        except BrokenPipeError:  # `dvcall presets | head -1`: the reader stopped reading, as Unix tools end on SIGPIPE
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush must not fail again
            sys.exit(BROKEN_PIPE_EXIT)
        except Exception as exc:
            if debug:
                if isinstance(exc, EOFError):  # click would turn it into "interrupted" and hide it: show it here
                    traceback.print_exc()
                    sys.exit(1)
                raise
            stop(f"error: {_one_line(exc)}", 1)

    return click.option("--debug", is_flag=True, help="On an error, show the full traceback instead of one line.")(wrapper)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, DvcallError):
        return str(exc)
    if is_disk_error(exc):
        return str(disk_error(getattr(exc, "filename", None) or "output", exc))
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return f"unexpected {type(exc).__name__}: {exc} (a bug in dvcall: rerun with --debug and report the traceback)"


def stop(message: str, code: int) -> None:
    """Say `message` as dvcall's one stderr line and exit with `code` (what user_errors does with an error)."""
    click.echo(f"dvcall: {' '.join(message.split())}", err=True)  # one line, whatever the message holds
    sys.exit(code)


def command_line() -> str:
    """The command as typed, quoted so that it can be pasted into a shell again (the VCF header records it)."""
    return shlex.join(["dvcall", *sys.argv[1:]])


class FloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf: every comparison with nan is false, so click's own range
    let `--vsc-min-fraction-snps nan` through (every SNP candidate then dropped, exit 0)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FRACTION = FloatRange(0.0, 1.0)


def _click_type(kind: tuple):
    if kind[0] == "choice":
        return click.Choice(kind[1])
    if kind[0] == "int":
        return click.IntRange(min=kind[1], max=kind[2])
    if kind[0] == "fraction":
        return FRACTION
    return None  # a --x/--no-x switch


def _setting_options() -> list:
    """--model-type and the flags that override it and the model (each None when not given), made from the one
    settings table (deepvariant_py/settings.py)."""
    from deepvariant_py.settings import MODEL_TYPES, SETTINGS

    options = [click.option("--model-type", type=click.Choice(MODEL_TYPES), default=None,
                            help="Sequencer preset: picks the shipped model (illumina-wgs, pacbio-hifi, ont, hybrid-hifi-illumina; "
                                 "hybrid: a HiFi and an Illumina BAM of one sample, given as two --reads) and the defaults of "
                                 "every flag below that is not given (docs/design.md §10; `dvcall presets` prints them). "
                                 "Default: the type a --model was trained as (its model_info.json's model_type), else illumina.")]
    for s in SETTINGS:
        kind = _click_type(s.kind)
        extra = {} if kind is None else {"type": kind}
        options.append(click.option(s.flag, s.key, default=None, help=f"{s.help} {s.default_text()}", **extra))
    return options


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


def setting_flags(kwargs: dict, model_dir: str | None = None) -> tuple[str, dict]:
    """Pop the preset flags out of a command's kwargs: (model type: the one given, else the --model's recorded one,
    else illumina; {settings key: value or None})."""
    from deepvariant_py.presets import model_type_for
    from deepvariant_py.settings import SETTINGS

    model_type = model_type_for(kwargs.pop("model_type"), model_dir)
    flags = {}
    for s in SETTINGS:
        value = kwargs.pop(s.key)
        flags[s.key] = s.flag_values[value] if (s.flag_values and value is not None) else value
    return model_type, flags


def exclude_regions_option(func):
    """--exclude-regions, shared by run and make-examples."""
    return click.option(
        "--exclude-regions", multiple=True,
        help="Region(s) not to call, in the --regions forms (a region string or a BED file: a blacklist, the "
             "centromeres, a contig). Repeatable. Taken out of --regions (or of every contig): no candidate or record "
             "starts inside them and no gVCF block covers them (a deletion starting just before one may reach in). BED "
             "lines on contigs the reference lacks are skipped.")(func)


def _joined(ctx, param, values):
    return ",".join(values) if values else None


def files_option(*decls, help: str, **kwargs):
    """An option naming files (each value a path, glob or comma-separated list), repeatable: every value counts,
    joined into one comma-separated list (hostile19: a second --examples or --calls replaced the first, and its
    data was dropped without a word)."""
    return click.option(*decls, multiple=True, callback=_joined, help=f"{help} Repeatable.", **kwargs)


HAPLOID_EFFECT = ("Their sites get no heterozygous genotype: its probabilities are set to 0 and the rest renormalised (GT, GQ, "
                  "PL and QUAL follow; GT is still written diploid, 1/1 or 0/0, as DeepVariant writes it), and the gVCF's "
                  "reference blocks weigh hom-ref against hom-alt alone, except inside --par-regions.")


PAR_EFFECT = "sites overlapping them keep their diploid genotypes."
PAR_FORMS = ("GRCh38 (or hg38) and GRCh37 (or hg19, b37) name the assembly's own PARs on the reference's X and Y (found "
             "by name, or by length: RefSeq names); else a BED (lines on contigs the reference lacks are skipped, unless "
             "none names one of its contigs: an error).")


def haploid_options(func, effect: str = HAPLOID_EFFECT, par_effect: str = PAR_EFFECT + " " + PAR_FORMS +
                    " X or Y left with no PAR is warned of."):
    """--haploid-contigs and --par-regions, shared by run, postprocess and make-examples (`effect`, `par_effect`:
    what they do there)."""
    func = click.option(
        "--par-regions", type=click.Path(), default=None,
        help="The pseudo-autosomal regions of the --haploid-contigs (PAR1 and PAR2 of X and Y), diploid in every sample: "
             f"{par_effect}")(func)
    return click.option(
        "--haploid-contigs", multiple=True,
        help="Contigs the sample carries once, comma-separated or repeated: chrX,chrY for an XY sample on GRCh38 or hg19 "
             f"(X,Y on b37). {effect} Default: none (every contig diploid).")(func)


def keep_supplementary_option(func):
    """--keep-supplementary, shared by run and make-examples."""
    return click.option(
        "--keep-supplementary", is_flag=True,
        help="Also use supplementary alignments (the other pieces of chimeric or split reads; flag 0x800), which are "
             "skipped as DeepVariant skips them. At low coverage with many chimeric reads (some long-read libraries) "
             "they hold reads a site needs.")(func)

"""Shared CLI plumbing: one-line errors, logging, and the options several commands take."""
from __future__ import annotations

import functools
import logging
import os
import sys

import click

from deepvariant_py.errors import DvcallError


def setup_logging(quiet: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="dvcall: %(message)s", stream=sys.stderr)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def user_errors(func):
    """Turn DvcallError (and a few OS errors) into one line and exit 1; --debug shows the traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False)
        setup_logging(kwargs.get("quiet", False))
        try:
            return func(*args, **kwargs)
        except DvcallError as exc:
            if debug:
                raise
            click.echo(f"dvcall: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("dvcall: interrupted", err=True)
            sys.exit(130)

    return click.option("--debug", is_flag=True, help="Show the full traceback on errors.")(wrapper)


def command_line() -> str:
    return " ".join(["dvcall"] + sys.argv[1:])

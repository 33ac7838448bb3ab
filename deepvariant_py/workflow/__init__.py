"""The Snakemake workflow shipped with dvcall: where its Snakefile and example config live."""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def snakefile_path() -> str:
    return os.path.join(HERE, "Snakefile")


def example_config() -> str:
    with open(os.path.join(HERE, "config.example.yaml")) as fh:
        return fh.read()

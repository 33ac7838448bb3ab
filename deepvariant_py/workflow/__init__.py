"""The Snakemake workflow shipped with dvcall: where its Snakefile and example config live."""
from __future__ import annotations

import os
import shlex

from ..errors import InputError

HERE = os.path.dirname(os.path.abspath(__file__))


def snakefile_path() -> str:
    return os.path.join(HERE, "Snakefile")


def example_config() -> str:
    with open(os.path.join(HERE, "config.example.yaml")) as fh:
        return fh.read()


def sample_reads(samples: dict) -> dict[str, list[str]]:
    """The config's `samples` as {sample: [reads files]}: each sample's reads are one BAM/CRAM path or a list of
    them (one sample's lanes or runs, read merged by position as `dvcall run --reads A --reads B` does)."""
    if not isinstance(samples, dict) or not samples:
        raise InputError("the workflow config needs `samples:`, a mapping of sample name -> BAM/CRAM path (or a list of paths)")
    out = {}
    for name, reads in samples.items():
        paths = [reads] if isinstance(reads, str) else reads
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise InputError(f"sample {name!r} in the workflow config: give its reads as a BAM/CRAM path or a list of paths, "
                             f"not {reads!r}")
        out[str(name)] = list(paths)
    return out


def config_regions(regions) -> list[str]:
    """The config's `regions` as a list of region strings / BED paths: one string (a region or a BED path, as the
    example config shows) is one entry, not a sequence of characters."""
    if regions is None:
        return []
    if isinstance(regions, str):
        return [regions] if regions.strip() else []
    if not isinstance(regions, list) or not all(isinstance(r, (str, int)) for r in regions):
        raise InputError(f"regions: {regions!r} in the workflow config: give a region string, a BED path or a list of them")
    return [str(r) for r in regions]


def reads_args(paths: list[str]) -> str:
    """`--reads A --reads B` for a shell command."""
    return " ".join(f"--reads {shlex.quote(p)}" for p in paths)


def phaser(config: dict, info) -> str:
    """The config's `phaser` (default: phasing.default_phaser of the model `info`, as `dvcall run --phaser`)."""
    from ..phasing import PHASERS, default_phaser
    value = config.get("phaser") or default_phaser(info)
    if value not in PHASERS:
        raise InputError(f"phaser: {value!r} in the workflow config is not known: use one of {', '.join(PHASERS)}")
    return value

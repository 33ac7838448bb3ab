"""Checkpoints inside a make_examples shard of a resumable `dvcall run` (--intermediate-dir), so a run killed
hours into a genome resumes where each shard stopped, not from its start.

A shard writes its outputs (calls, gVCF blocks) as gzip files under their temporary names (outputs.GzipLines).
Every CHECKPOINT_SECONDS it ends the current gzip member of each (so the bytes so far are a complete gzip file),
and then records, atomically, in `<output>.checkpoint.json`: the run's fingerprint, how many of the shard's
partitions are done, each temporary file's length then, and the shard's counts so far. A rerun with the same
inputs truncates each file to its recorded length, skips the partitions done and goes on; a checkpoint of other
inputs, or one whose files are gone or shorter than recorded, is dropped and the shard starts over.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field

from .outputs import partial_path, write_json

CHECKPOINT_SUFFIX = ".checkpoint.json"
CHECKPOINT_FORMAT = "dvcall-shard-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_SECONDS = 120.0  # a killed shard loses at most about this much work


@dataclass(frozen=True)
class ShardCheckpoint:
    """How far one shard got: `partitions` done, the byte length of each output's temporary file then (the
    output's file name, in the checkpoint's folder -> bytes), and make_examples' counts then (MakeExamplesStats
    and ReadCounts, as dicts)."""

    inputs: str
    partitions: int
    lengths: dict[str, int]
    stats: dict = field(default_factory=dict)
    read_counts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ShardCheckpoints:
    """What make_examples needs to checkpoint a shard: where (`output`'s checkpoint), the run's fingerprint, how
    often, and the checkpoint to go on from (None: the shard starts at its first partition)."""

    output: str
    inputs: str
    start: ShardCheckpoint | None = None
    every: float = CHECKPOINT_SECONDS


def checkpoint_path(output: str) -> str:
    return output + CHECKPOINT_SUFFIX


def save_checkpoint(output: str, checkpoint: ShardCheckpoint) -> None:
    """Replace `output`'s checkpoint (atomically: a kill while writing leaves the previous one)."""
    write_json(checkpoint_path(output), {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **asdict(checkpoint)})


def load_checkpoint(output: str, inputs: str, files: list[str]) -> ShardCheckpoint | None:
    """`output`'s checkpoint when it was made from these inputs, names exactly `files` (the shard's outputs, in
    its folder) and each is still at least as long as recorded; None otherwise (the shard starts over)."""
    try:
        with open(checkpoint_path(output)) as fh:
            data = json.load(fh)
        if data.pop("format") != CHECKPOINT_FORMAT or data.pop("version") != CHECKPOINT_VERSION:
            return None
        checkpoint = ShardCheckpoint(**data)
        folder = os.path.dirname(output)
        intact = all(os.path.getsize(partial_path(os.path.join(folder, name))) >= int(length)
                     for name, length in checkpoint.lengths.items())
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if checkpoint.inputs != inputs or not intact or checkpoint.partitions < 1 or \
            sorted(checkpoint.lengths) != sorted(os.path.basename(f) for f in files):
        return None
    return checkpoint


def drop_checkpoint(output: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(checkpoint_path(output))


def checkpointed_files(folder: str) -> set[str]:
    """The temporary files (paths under `folder`) that checkpoints there name: what a rerun resumes from, not
    leftovers."""
    kept = set()
    for name in os.listdir(folder):
        if name.endswith(CHECKPOINT_SUFFIX):
            try:
                with open(os.path.join(folder, name)) as fh:
                    lengths = json.load(fh).get("lengths", {})
            except (OSError, ValueError, AttributeError):
                continue
            kept.update(partial_path(os.path.join(folder, n)) for n in lengths if isinstance(n, str) and os.sep not in n)
    return kept

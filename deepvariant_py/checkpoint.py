"""Checkpoints inside a make_examples shard of a resumable `dvcall run` (--intermediate-dir), so a run killed
hours into a genome resumes where each shard stopped, not from its start.

A shard writes its outputs (calls, gVCF blocks) as gzip files under their temporary names (outputs.GzipLines).
Every CHECKPOINT_SECONDS it ends the current gzip member of each (so the bytes so far are a complete gzip file),
and then records, atomically, in `<output>.checkpoint.json`: the run's fingerprint, how many of the shard's
partitions are done, each temporary file's length and the SHA-256 of its bytes then, the shard's counts so far,
and a checksum of all that. A rerun with the same inputs checks both, truncates each file to its recorded length,
skips the partitions done and goes on; a checkpoint of other inputs, or one that is damaged or whose files are
gone or no longer begin with the bytes recorded, is dropped (with a line saying why) and the shard starts over.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

from .outputs import file_sha256, partial_path, write_json

CHECKPOINT_SUFFIX = ".checkpoint.json"
CHECKPOINT_FORMAT = "dvcall-shard-checkpoint"
CHECKPOINT_VERSION = 2
CHECKPOINT_SECONDS = 120.0  # a killed shard loses at most about this much work


@dataclass(frozen=True)
class ShardCheckpoint:
    """How far one shard got: `partitions` done; each output's temporary file then (by the output's file name, in
    the checkpoint's folder): its length in bytes and the SHA-256 of those bytes; make_examples' counts then
    (MakeExamplesStats and ReadCounts, as dicts)."""

    inputs: str
    partitions: int
    lengths: dict[str, int]
    digests: dict[str, str]
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


def _checksum(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def save_checkpoint(output: str, checkpoint: ShardCheckpoint) -> None:
    """Replace `output`'s checkpoint (atomically: a kill while writing leaves the previous one), with a checksum
    of its own content."""
    record = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **asdict(checkpoint)}
    write_json(checkpoint_path(output), {**record, "checksum": _checksum(record)})


OTHER_INPUTS = "of other inputs (the reads, reference, regions, options, model or dvcall changed)"
DAMAGED = "damaged, or its files are"


def load_checkpoint(output: str, inputs: str, files: list[str]) -> tuple[ShardCheckpoint | None, str | None]:
    """(`output`'s checkpoint, None) when one was made from these inputs, its content matches its checksum, it names
    exactly `files` (the shard's outputs, in its folder) and each of them still begins with the bytes recorded;
    else (None, why not: None where there is none, OTHER_INPUTS or DAMAGED), and the shard starts over."""
    try:
        with open(checkpoint_path(output)) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError):
        return None, DAMAGED
    try:
        checksum = data.pop("checksum")
        if checksum != _checksum(data) or data.pop("format") != CHECKPOINT_FORMAT:
            return None, DAMAGED
        if data.pop("version") != CHECKPOINT_VERSION or data["inputs"] != inputs:
            return None, OTHER_INPUTS
        checkpoint = ShardCheckpoint(**data)
        names = sorted(os.path.basename(f) for f in files)
        if not (isinstance(checkpoint.partitions, int) and checkpoint.partitions >= 1
                and sorted(checkpoint.lengths) == names == sorted(checkpoint.digests)):
            return None, DAMAGED
        folder = os.path.dirname(output)
        if not all(prefix_digest(partial_path(os.path.join(folder, name)), checkpoint.lengths[name]) == checkpoint.digests[name]
                   for name in names):
            return None, DAMAGED
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None, DAMAGED
    return checkpoint, None


def prefix_digest(path: str, length: int) -> str | None:
    """SHA-256 of the first `length` bytes of `path`; None when it is shorter (or `length` is not a byte count)."""
    return file_sha256(path, length) if isinstance(length, int) and length >= 0 else None


def drop_checkpoint(output: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(checkpoint_path(output))


def checkpoints_in(folder: str) -> list[str]:
    """The outputs in `folder` that have a checkpoint (a shard of some run stopped before it finished)."""
    return [os.path.join(folder, name[:-len(CHECKPOINT_SUFFIX)]) for name in sorted(os.listdir(folder))
            if name.endswith(CHECKPOINT_SUFFIX)]


def checkpointed_files(folder: str) -> set[str]:
    """The temporary files (paths under `folder`) that checkpoints there name: what a rerun resumes from, not
    leftovers."""
    kept = set()
    for output in checkpoints_in(folder):
        try:
            with open(checkpoint_path(output)) as fh:
                lengths = json.load(fh).get("lengths", {})
        except (OSError, ValueError, AttributeError):
            continue
        kept.update(partial_path(os.path.join(folder, n)) for n in lengths if isinstance(n, str) and os.sep not in n)
    return kept

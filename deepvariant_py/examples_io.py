"""Examples on disk: gzipped TFRecords of tf.train.Example plus a JSON sidecar naming shape and channels.
Written without TensorFlow (`tfrecord.py`); read with tf.data, where TensorFlow is loaded anyway.

The sidecar lets call_variants refuse a model trained on other tensors before it produces garbage.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import tfrecord
from .errors import InputError
from .model_info import tensor_spec
from .outputs import AtomicFile, GzipLines, disk_error, repeated_file, write_json
from .pileup import DIFF_CHANNEL_ENUMS
from .regions import Region, RegionSet, calling_windows, first_overlap, spans_from_json
from .settings import MODEL_TYPES, UNRECORDED
from .variant import VariantInfo
from .tf_runtime import tensorflow

EXAMPLES_VERSION = "dvcall-examples-2"  # 2: named variant fields (VariantInfo.to_json)
READABLE_EXAMPLES = ("dvcall-examples-1", EXAMPLES_VERSION)


def _tf():
    return tensorflow()  # lazily: the CLI's --help must not pay for TensorFlow


SIDECAR_SUFFIX = ".example_info.json"


def sidecar_path(examples_path: str) -> str:
    return examples_path + SIDECAR_SUFFIX


@dataclass(frozen=True)
class ExamplesInfo:
    """The sidecar of an examples file: the tensor every example holds (shape, channel enums) and the
    make_examples settings that made them, which a model trained on them records."""

    shape: tuple[int, int, int]
    channels: tuple[int, ...]
    settings: Mapping[str, object] = field(default_factory=dict)
    version: str = EXAMPLES_VERSION
    shard: tuple[int, int] | None = None  # (index, count) of a sharded make-examples run: postprocess checks all came
    sample: str | None = None  # the reads' sample (@RG SM): the VCF's sample name unless postprocess is given one
    model: str | None = None  # the folder of the model they were made for (make-examples --model / --model-type)
    model_type: str | None = None  # the --model-type preset they were made under (its thresholds); a trained model records it
    spans: tuple[tuple[str, int, int], ...] | None = None  # where the run called (its regions, nearby ones joined): train
    # warns when tuning examples come from where training examples do

    def to_json(self) -> dict:
        return {"version": self.version, "shape": list(self.shape), "channels": list(self.channels),
                "settings": dict(self.settings), **({"shard": list(self.shard)} if self.shard else {}),
                **({"sample": self.sample} if self.sample is not None else {}),
                **({"model": self.model} if self.model is not None else {}),
                **({"model_type": self.model_type} if self.model_type is not None else {}),
                **({"spans": [list(s) for s in self.spans]} if self.spans is not None else {})}

    @classmethod
    def from_json(cls, data: Mapping) -> "ExamplesInfo":
        """Validated: a ValueError says what is wrong."""
        shape, channels, settings = tensor_spec(data)
        shard = data.get("shard")
        if shard is not None and not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(x, int) for x in shard)
                                      and 0 <= shard[0] < shard[1]):
            raise ValueError(f"shard {shard!r} is not [index, count]")
        sample = data.get("sample")
        if sample is not None and not isinstance(sample, str):
            raise ValueError(f"sample {sample!r} is not a name")
        model = data.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError(f"model {model!r} is not a folder name")
        model_type = data.get("model_type")
        if model_type is not None and model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
        spans = data.get("spans")
        return cls(shape, channels, settings, str(data.get("version", READABLE_EXAMPLES[0])), tuple(shard) if shard else None,
                   sample, model, model_type, spans_from_json(spans) if spans is not None else None)

    def with_channels(self, channels: Sequence[int]) -> "ExamplesInfo":
        """These examples seen through a subset of their channels (training on fewer channels)."""
        settings = dict(self.settings)
        if not set(DIFF_CHANNEL_ENUMS) & set(channels):
            settings["alt_aligned_pileup"] = "none"
        return replace(self, shape=(*self.shape[:2], len(channels)), channels=tuple(channels), settings=settings)


def write_sidecar(examples_path: str, shape: tuple[int, int, int], channels: list[int], settings: dict | None = None,
                  shard: tuple[int, int] | None = None, sample: str | None = None, model: str | None = None,
                  model_type: str | None = None, spans: Sequence[tuple[str, int, int]] | None = None) -> None:
    """Shape and channels (which a model must match) plus the make_examples settings a model should be run with,
    which shard of a sharded run the examples are, and the reads' sample."""
    write_json(sidecar_path(examples_path),
               ExamplesInfo(tuple(shape), tuple(channels), settings or {}, shard=tuple(shard) if shard else None,
                            sample=sample, model=model, model_type=model_type,
                            spans=tuple(tuple(s) for s in spans) if spans is not None else None).to_json())


def read_sidecar(examples_path: str) -> ExamplesInfo:
    path = sidecar_path(examples_path)
    if not os.path.exists(path):
        raise InputError(f"{examples_path} has no sidecar {path}: regenerate the examples with `dvcall make-examples`")
    try:
        with open(path) as fh:
            info = ExamplesInfo.from_json(json.load(fh))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"sidecar {path} is unreadable ({exc}): regenerate the examples with `dvcall make-examples`") from None
    if info.version not in READABLE_EXAMPLES:
        raise InputError(f"{examples_path} are examples of format {info.version!r}, which this dvcall cannot read (it reads "
                         f"{', '.join(READABLE_EXAMPLES)}): make them with this version of `dvcall make-examples`")
    return info


def read_sidecars(paths: list[str], purpose: str) -> ExamplesInfo:
    """The sidecar every example file of a set shares, checked on every file (each must exist, be readable and
    of a version this dvcall reads): a set mixing shapes or channels is one InputError naming the odd file and
    saying to `purpose` separately (e.g. 'call each set of examples')."""
    if not paths:
        raise InputError("no examples given: pass the files make-examples wrote (a path, glob or comma-separated list)")
    info = read_sidecar(paths[0])
    for path in paths[1:]:
        other = read_sidecar(path)
        if (other.shape, other.channels) != (info.shape, info.channels):
            raise InputError(f"examples {path} (shape {list(other.shape)}, channels {list(other.channels)}) differ from "
                             f"{paths[0]} (shape {list(info.shape)}, channels {list(info.channels)}): {purpose} separately")
    return info


SPAN_JOIN = 100_000  # calling regions closer than this are one span in a sidecar (a genome: a few thousand spans)


def examples_spans(regions: Sequence[Region], join: int = SPAN_JOIN) -> list[tuple[str, int, int]]:
    """The sidecar's record of where a run called: its calling regions (sorted, merged) joined into windows of
    regions less than `join` apart (regions.calling_windows), as (contig, start, end)."""
    return [(r.contig, r.start, r.end) for r in calling_windows(list(regions), join)]


def recorded_spans(paths: Sequence[str]) -> RegionSet:
    """Where the sidecars of `paths` say their runs called, as one RegionSet (merged: a sharded run's files each
    record the whole run's spans); files recording no spans add nothing."""
    return RegionSet(Region(*s) for p in paths for s in read_sidecar(p).spans or ())


def spans_overlap(a_paths: list[str], b_paths: list[str]) -> tuple[str, int, int, int] | None:
    """first_overlap of the spans the sidecars of `a_paths` and of `b_paths` record, or None."""
    return first_overlap(recorded_spans(a_paths), recorded_spans(b_paths))


def image_of(buffer: bytes, shape: Sequence[int], path: str) -> np.ndarray:
    """An example's image bytes as a uint8 array of its sidecar's `shape`; an InputError naming `path` when their
    sizes differ (a sidecar copied from other examples), not a reshape error deep inside a command."""
    image = np.frombuffer(buffer, np.uint8)
    if image.size != math.prod(shape):
        raise InputError(f"{path}: an example's image has {image.size:,} values, not the {list(shape)} its sidecar says "
                         "(a sidecar of other examples?): make the examples again")
    return image.reshape(shape)


def examples_model_type(paths: list[str]) -> str | None:
    """The --model-type preset every one of these examples files was made under (their sidecars), which a model
    trained on them records; None when they do not all say the same one."""
    types = {read_sidecar(p).model_type for p in paths}
    return types.pop() if len(types) == 1 else None


def _settings_difference(a: Mapping, b: Mapping) -> tuple[str, object, object] | None:
    """The first (key, value in a, value in b) where two sets of make_examples settings disagree; a key one lacks
    counts as settings.UNRECORDED says, or is not held against the other (None: not recorded then)."""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, UNRECORDED.get(key)), b.get(key, UNRECORDED.get(key))
        if x is not None and y is not None and x != y:
            return key, x, y
    return None


def check_same_settings(paths: list[str]) -> None:
    """One InputError when example files were made with different make_examples settings (_settings_difference):
    a model records one set of settings and is run with them, so training on a mix would leave some of its
    examples unlike what it will be shown."""
    first = read_sidecar(paths[0]).settings
    for path in paths[1:]:
        if (diff := _settings_difference(read_sidecar(path).settings, first)) is not None:
            key, b, a = diff
            raise InputError(f"examples {path} were made with {key}={b}, {paths[0]} with {key}={a}: a model records "
                             "one set of make_examples settings; make them again with the same flags")


def settings_unlike_model(paths: list[str], model_settings: Mapping, model_dir: str) -> str | None:
    """What says that examples were made with make_examples settings other than the model's (_settings_difference),
    or None when they were not."""
    for path in paths:
        if (diff := _settings_difference(read_sidecar(path).settings, model_settings)) is not None:
            key, a, b = diff
            return f"examples {path} were made with {key}={a}, but the model in {model_dir} with {key}={b}"
    return None


def check_settings_fit_model(paths: list[str], model_settings: Mapping, model_dir: str) -> None:
    """One InputError when examples were made with make_examples settings other than the model's: a temperature
    fitted on such examples fits pileups the model never sees in a run."""
    if (unlike := settings_unlike_model(paths, model_settings, model_dir)) is not None:
        raise InputError(f"{unlike}: make them again with the model's settings (`dvcall make-examples --model` it)")


MADE_BY = {"examples": "dvcall make-examples", "calls": "dvcall call-variants",
           "gVCF reference blocks": "dvcall make-examples --gvcf BLOCKS.tsv.gz"}  # the command that writes each kind of file


def expand_paths(spec: str, what: str = "examples") -> list[str]:
    """A path, a glob, or a comma-separated list of either; `what` (a MADE_BY key) names them in the error."""
    paths: list[str] = []
    for part in spec.split(","):
        # a glob (examples/*) also matches each file's sidecar, which is not an examples file
        matched = sorted(p for p in glob.glob(part) if not p.endswith(SIDECAR_SUFFIX)) if any(ch in part for ch in "*?[") else [part]
        paths.extend(matched)
    missing = [p for p in paths if not os.path.exists(p)]
    if not paths or missing:
        raise InputError(f"no {what} found at {missing[0] if missing else spec}: run `{MADE_BY[what]}` first")
    twice = repeated_file(paths)
    if twice is not None:
        raise InputError(f"the {what} file {twice} is given twice: give each file once")
    empty = next((p for p in paths if os.path.isfile(p) and os.path.getsize(p) == 0), None)
    if empty is not None:  # dvcall writes these gzipped: even an empty one has a header, so 0 bytes is a failed copy
        raise InputError(f"the {what} file {empty} is empty (0 bytes): copy it again or rerun `{MADE_BY[what]}`")
    return paths


class ExampleWriter:
    """Writes examples; the file appears under its final name only on close (no half-written outputs)."""

    def __init__(self, path: str):
        self.path = path
        self._out = AtomicFile(path)
        self._writer = None
        self._writer = tfrecord.TFRecordWriter(self._out.tmp)
        self.count = 0

    def write(self, variant: VariantInfo, alt_indices: tuple[int, ...], image: np.ndarray, label: int | None = None) -> None:
        feats = {
            "locus": tfrecord.bytes_feature(f"{variant.contig}:{variant.start + 1}-{variant.end}".encode()),
            "variant/encoded": tfrecord.bytes_feature(variant.to_bytes()),
            "variant_type": tfrecord.int64_feature([2 if any(len(a) != len(variant.ref) for a in variant.alts) else 1]),
            "alt_allele_indices/encoded": tfrecord.bytes_feature(",".join(map(str, alt_indices)).encode()),
            "image/encoded": tfrecord.bytes_feature(np.ascontiguousarray(image).tobytes()),
            "image/shape": tfrecord.int64_feature(list(image.shape)),
        }
        if label is not None:
            feats["label"] = tfrecord.int64_feature([label])
        self._writer.write(tfrecord.example(feats))
        self.count += 1

    def close(self) -> None:
        self._writer.close()
        self._out.commit()

    def abort(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        except OSError:  # e.g. the disk that failed the write fails the flush too
            pass
        self._out.discard()


def example_digests(path: str) -> list[str]:
    """One line per example, in file order: locus, alt indices, label, and SHA-256 prefixes of the image and of
    the whole serialized record (which covers the variant info too). Read without TensorFlow; golden tests
    compare these, so a change of one pixel names the example it moved."""
    lines = []
    for record in tfrecord.read_records(path):
        ex = tfrecord.parse_example(record)
        label = ex["label"][0] if "label" in ex else "-"
        lines.append(f"{ex['locus'].decode()}\t{ex['alt_allele_indices/encoded'].decode()}\t{label}\t"
                     f"{hashlib.sha256(ex['image/encoded']).hexdigest()[:16]}\t{hashlib.sha256(record).hexdigest()[:16]}")
    return lines



def example_batches(paths: list[str], shape: tuple[int, int, int], batch_size: int, channels: list[int] | None = None,
                    on_read: Callable[[int], None] | None = None):
    """Batches of examples read without TensorFlow: (uint8 images [B, H, W, C'], variant bytes, alt indices bytes,
    labels or None), in file order; `channels`: positions of the channels to keep (default all). `on_read` is told
    the bytes of the files read so far, all files before the current one counted whole (for progress)."""
    images, variants, indices, labels = [], [], [], []

    def batch():
        stacked = np.stack(images)
        return (stacked if channels is None else np.ascontiguousarray(stacked[..., channels]), variants, indices,
                np.array(labels) if len(labels) == len(images) else None)

    before = 0
    for path in paths:
        for record in tfrecord.read_records(path, None if on_read is None else (lambda pos, b=before: on_read(b + pos))):
            ex = tfrecord.parse_example(record)
            images.append(image_of(ex["image/encoded"], shape, path))
            variants.append(ex["variant/encoded"])
            indices.append(ex["alt_allele_indices/encoded"])
            if "label" in ex:
                labels.append(ex["label"][0])
            if len(images) == batch_size:
                yield batch()
                images, variants, indices, labels = [], [], [], []
        if on_read is not None:
            before += os.path.getsize(path)
    if images:
        yield batch()


def example_dataset(paths: list[str], shape: tuple[int, int, int], with_label: bool):
    """tf.data pipeline of (image uint8 HWC, label) or (image, variant bytes, alt indices bytes)."""
    tf = _tf()
    spec = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "variant/encoded": tf.io.FixedLenFeature([], tf.string),
        "alt_allele_indices/encoded": tf.io.FixedLenFeature([], tf.string),
    }
    if with_label:
        spec["label"] = tf.io.FixedLenFeature([], tf.int64)

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        image = tf.reshape(tf.io.decode_raw(ex["image/encoded"], tf.uint8), shape)
        if with_label:
            return image, ex["label"]
        return image, ex["variant/encoded"], ex["alt_allele_indices/encoded"]

    ds = tf.data.TFRecordDataset(paths, compression_type="GZIP", num_parallel_reads=min(4, len(paths)))
    # No autograph: parse has no Python control flow, and autograph writes a temporary .py file per function.
    return ds.map(tf.autograph.experimental.do_not_convert(parse), num_parallel_calls=tf.data.AUTOTUNE)


# --- call_variants output: one record per example, probabilities over (0, 1, 2 copies of the alt set) ---

@dataclass
class CallRecord:
    variant: VariantInfo
    alt_indices: tuple[int, ...]
    probabilities: tuple[float, float, float]


CALLS_FORMAT, CALLS_VERSION = "dvcall-calls", 2  # 2: named variant fields
"""The calls file's first line, {"format": "dvcall-calls", "version": 2}; version 1 wrote the variant as a
positional list, and files without the header (version 0) are those records too: both are still read."""


class CallsWriter:
    """Calls as JSON lines (gzip): small, greppable, and no TensorFlow needed to read them back. Written record
    by record; the file appears under its final name only on close (abort removes it)."""

    def __init__(self, path: str, model: dict | None = None, shards: list[tuple[int, int]] | None = None,
                 sample: str | None = None, resume_at: int | None = None, keep: bool = False):
        """`resume_at`, `keep`: a checkpointed shard's (outputs.GzipLines); resumed, the file has its header."""
        self.path = path
        self._out = GzipLines(path, resume_at=resume_at, keep=keep)
        if resume_at is None:
            header = {"format": CALLS_FORMAT, "version": CALLS_VERSION, **({"model": model} if model else {}),
                      **({"shards": [list(s) for s in shards]} if shards else {}), **({"sample": sample} if sample else {})}
            self._out.write(json.dumps(header) + "\n")
        self.count = 0

    def checkpoint(self) -> tuple[int, str]:
        return self._out.checkpoint()

    def write(self, record: CallRecord) -> None:
        self._out.write(json.dumps({"v": record.variant.to_json(), "i": list(record.alt_indices),
                                    "p": [round(float(x), 10) for x in record.probabilities]}) + "\n")
        self.count += 1

    def close(self) -> None:
        self._out.close()

    def abort(self) -> None:
        self._out.abort()

    def __enter__(self) -> "CallsWriter":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """Closed when the block ends normally; aborted (no file left) otherwise, an OSError turned into one
        OutputError line."""
        if exc is None:
            return self.close()
        self.abort()
        if isinstance(exc, OSError):
            raise disk_error(self.path, exc) from None


def write_calls(path: str, records: Iterable[CallRecord], model: dict | None = None,
                shards: list[tuple[int, int]] | None = None, sample: str | None = None) -> int:
    """Every record to `path` (CallsWriter; `model`: model_info.weights_stamp of the network that made them;
    `shards`: the make-examples shards, (index, count), whose examples they are; `sample`: the reads' sample)."""
    with CallsWriter(path, model, shards, sample) as writer:
        for r in records:
            writer.write(r)
    return writer.count


def read_calls(paths: list[str]) -> Iterator[CallRecord]:
    import gzip

    for path in paths:
        try:
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    d = json.loads(line)
                    if "format" in d:
                        _check_calls_header(path, d)
                        continue
                    yield CallRecord(VariantInfo.from_json(d["v"]), tuple(d["i"]), tuple(d["p"]))
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read calls from {path} ({exc}): rerun `dvcall call-variants`") from None


def _calls_headers(paths: list[str]) -> dict[str, dict]:
    """Each calls file's first line (its header; {} for a file from before headers)."""
    import gzip

    out = {}
    for path in paths:
        try:
            with gzip.open(path, "rt") as fh:
                first = json.loads(fh.readline() or "{}")
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"cannot read calls from {path} ({exc}): rerun `dvcall call-variants`") from None
        out[path] = first if isinstance(first, dict) and "format" in first else {}
    return out


def calls_shards(paths: list[str]) -> set[tuple[int, int]]:
    """The make-examples shards (index, count) whose examples the calls files say they hold (regions.require_every_shard
    checks the set)."""
    return {(int(i), int(n)) for header in _calls_headers(paths).values() for i, n in header.get("shards") or []}


def calls_sample(paths: list[str]) -> str | None:
    """The sample the calls files name (their reads' @RG SM, recorded by make-examples; None when none does):
    calls of two samples are refused, since they would be written as one."""
    return one_sample([(path, header.get("sample")) for path, header in _calls_headers(paths).items()], "calls",
                      "postprocess one sample's calls, or pass --sample-name NAME if they are one sample")


def one_sample(named: Sequence[tuple[str, object]], what: str, fix: str) -> str | None:
    """The one sample that files (path, the sample they record, or None) name, else None; files naming two
    samples are an InputError saying `fix`."""
    named = [(path, sample) for path, sample in named if isinstance(sample, str)]
    if not named:
        return None
    (first_path, first), other = named[0], next(((p, s) for p, s in named[1:] if s != named[0][1]), None)
    if other is not None:
        raise InputError(f"the {what} hold different samples: {first_path} is {first!r} and {other[0]} is {other[1]!r} "
                         f"(their reads' @RG SM): {fix}")
    return first


def calls_model(paths: list[str]) -> dict | None:
    """The model_info.weights_stamp the calls files record (None for files from before stamps, or without one);
    files of two different networks are refused."""
    stamps = {path: header["model"] for path, header in _calls_headers(paths).items() if isinstance(header.get("model"), dict)}
    items = list(stamps.items())
    for path, stamp in items[1:]:
        if stamp.get("weights") != items[0][1].get("weights"):
            raise InputError(f"calls {items[0][0]} and {path} were made by different models ({items[0][1].get('dir')}, "
                             f"{stamp.get('dir')}): postprocess one model's calls at a time")
    return items[0][1] if items else None


def is_calls_file(path: str) -> bool:
    """Whether `path` is a calls file dvcall wrote (its first line is a calls header), e.g. one a rerun replaces."""
    try:
        return _calls_headers([path])[path].get("format") == CALLS_FORMAT
    except InputError:  # not gzip, not JSON lines
        return False


def is_examples_file(path: str) -> bool:
    """Whether `path` is examples make-examples wrote (it has its sidecar), e.g. ones a rerun replaces."""
    return not path.endswith(SIDECAR_SUFFIX) and os.path.isfile(sidecar_path(path))


def _check_calls_header(path: str, header: dict) -> None:
    if header.get("format") != CALLS_FORMAT:
        raise InputError(f"{path} is not a dvcall calls file (format {header.get('format')!r}): pass the output of `dvcall call-variants`")
    if int(header.get("version", 0)) > CALLS_VERSION:
        raise InputError(f"{path} was written by a newer dvcall (calls format version {header['version']}, this one reads "
                         f"up to {CALLS_VERSION}): upgrade dvcall or rerun `dvcall call-variants` with this version")

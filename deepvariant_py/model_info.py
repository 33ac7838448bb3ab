"""model_info.json: the record a model travels with, typed and validated where it is read.

It says what tensor the weights take (shape, channel enums), the make_examples settings of the examples it was
trained on (a run makes examples that look the same), its architecture (version), its calibration (the
temperature and GQ map postprocess applies) and notes on how it was made (tuning accuracy, epoch, what the
calibration was fitted on), which dvcall carries along but never reads. Reading it needs no TensorFlow.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field, replace
from typing import Mapping

from .calibration import Calibration
from .errors import ModelError
from .outputs import write_json
from .regions import Region, RegionSet, first_overlap, spans_from_json
from .settings import MODEL_TYPES

MODEL_FILE = "model.keras"
INFO_FILE = "model_info.json"
READSET_VERSION = "dvcall-readset-1"
HAPLOTYPE_POOLING_VERSION = "dvcall-readset-2"  # the read-set network plus pooling of reads per haplotype
KNOWN_VERSIONS = (READSET_VERSION, HAPLOTYPE_POOLING_VERSION)
_FIELDS = ("shape", "channels", "settings", "version", "temperature", "gq_calibration", "ensemble_cascade", "model_version",
           "model_type", "training_spans")
REPLACED_CALIBRATION = "replaced_calibration"  # the calibration a refit wrote over (ModelInfo.refitted)
_CALIBRATION_KEYS = ("temperature", "gq_calibration", "temperature_fit", "gq_calibration_fit")
_GQ_MAP_KEYS = ("raw", "calibrated", "cluster_distance", "clustered_raw", "clustered_calibrated")


@dataclass(frozen=True)
class ModelInfo:
    shape: tuple[int, int, int]  # rows, width, channels of the input tensor
    channels: tuple[int, ...]  # the channel enum of each input channel, in order
    settings: Mapping[str, object] = field(default_factory=dict)  # make_examples settings of the training examples
    version: str = READSET_VERSION  # architecture
    calibration: Calibration = Calibration()
    notes: Mapping[str, object] = field(default_factory=dict)  # how it was trained and calibrated; carried, not read
    directory: str = field(default="", compare=False)  # where it was read from, for messages; not written
    cascade: float = 0.0
    """An ensemble's (ensemble.py): the members after the first run only on examples whose top probability by the
    first is below this; 0 runs every member on every example."""
    model_version: str | None = None
    """The release of a shipped model as its card numbers it (e.g. "6"); the VCF header names it. None: unnumbered
    (a model `dvcall train` just made)."""
    model_type: str | None = None
    """The --model-type preset its training examples were made under (their sidecars'): `run --model` without
    --model-type takes that preset's thresholds. None: not recorded (models trained before it was)."""
    training_spans: tuple[tuple[str, int, int], ...] | None = None
    """Where its training examples were made (their sidecars' spans, merged; an init model's and ensemble members'
    added): calibrate and the GQ-map fit warn when their data come from there (train-merger does not: the recipes
    train the merger on the training examples). None: not recorded (or no training file recorded its spans)."""

    @property
    def pools_by_haplotype(self) -> bool:
        """Whether the network averages reads per haplotype, so HP tags change its calls most."""
        return self.version == HAPLOTYPE_POOLING_VERSION

    @property
    def name(self) -> str:
        return f"model {self.directory}" if self.directory else "the model"

    def to_json(self) -> dict:
        data = {"shape": list(self.shape), "channels": list(self.channels), "settings": dict(self.settings),
                "version": self.version, **self.notes}
        if self.cascade:
            data["ensemble_cascade"] = self.cascade
        if self.model_version is not None:
            data["model_version"] = self.model_version
        if self.model_type is not None:
            data["model_type"] = self.model_type
        if self.training_spans is not None:
            data["training_spans"] = [list(s) for s in self.training_spans]
        if self.calibration.temperature != 1.0:
            data["temperature"] = self.calibration.temperature
        if self.calibration.gq_raw:
            cal = self.calibration
            data["gq_calibration"] = {"raw": list(cal.gq_raw), "calibrated": list(cal.gq_calibrated)}
            if cal.cluster_distance:
                data["gq_calibration"].update(cluster_distance=cal.cluster_distance, clustered_raw=list(cal.clustered_raw),
                                              clustered_calibrated=list(cal.clustered_calibrated))
        return data

    @classmethod
    def from_json(cls, data: Mapping, directory: str = "") -> "ModelInfo":
        """Validated: a ValueError says what is wrong. Keys it does not know are notes."""
        shape, channels, settings = tensor_spec(data)
        version = data.get("version", READSET_VERSION)
        if version not in KNOWN_VERSIONS:
            raise ValueError(f"architecture {version!r} is unknown to this dvcall (it knows {', '.join(KNOWN_VERSIONS)})")
        notes = {k: v for k, v in data.items() if k not in _FIELDS}
        fit = {k: v for k, v in (data.get("gq_calibration") or {}).items() if k not in _GQ_MAP_KEYS}
        if fit:  # written inside gq_calibration before this record existed
            notes.setdefault("gq_calibration_fit", fit)
        cascade = data.get("ensemble_cascade", 0.0)
        if not (isinstance(cascade, (int, float)) and not isinstance(cascade, bool) and 0.0 <= cascade < 1.0):
            raise ValueError(f"ensemble_cascade {cascade!r} is not a probability in [0, 1)")
        model_version = data.get("model_version")
        if model_version is not None and not (isinstance(model_version, str) and model_version.strip()
                                              and model_version.isprintable() and "," not in model_version):
            raise ValueError(f"model_version {model_version!r} is not a short name (printable, no comma)")
        model_type = data.get("model_type")
        if model_type is not None and model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
        spans = data.get("training_spans")
        return cls(shape, channels, settings, version, _calibration(data), notes, directory, float(cascade), model_version,
                   model_type, spans_from_json(spans, "training_spans") if spans is not None else None)

    def trained_where(self, spans: RegionSet) -> str | None:
        """A warning when `spans` meet where this model's training examples were made (training_spans), else None:
        fits (temperature, GQ map, merger) on data a network learned from see it surer than on new data."""
        overlap = first_overlap(RegionSet(Region(*s) for s in self.training_spans or ()), spans)
        if overlap is None:
            return None
        contig, start, end, bases = overlap
        return (f"come from where {self.name} was trained ({contig}:{start + 1:,}-{end:,}, {bases:,} bp in all, as its "
                f"{INFO_FILE} records): a fit on them makes the model look surer than it is on new data; use other "
                "regions (a contig name of another reference build is another place: then ignore this)")

    def with_calibration(self, calibration: Calibration, **notes) -> "ModelInfo":
        """A copy with another calibration and these notes added (e.g. what it was fitted on)."""
        return replace(self, calibration=calibration, notes={**self.notes, **notes})

    def refitted(self, calibration: Calibration, **notes) -> "ModelInfo":
        """with_calibration for a refit written over this record: the calibration it replaces (temperature, GQ
        map and their fit notes) is kept under REPLACED_CALIBRATION, so a fit on the wrong data can be undone by
        copying those entries back (one level: the one before)."""
        old = {k: v for k, v in self.to_json().items() if k in _CALIBRATION_KEYS}
        kept = {k: v for k, v in self.notes.items() if k != REPLACED_CALIBRATION}
        return replace(self, calibration=calibration,
                       notes={**kept, **({REPLACED_CALIBRATION: old} if old else {}), **notes})

    def input_channels(self, shape, channels) -> list[int]:
        """Indices of the model's channels within examples of `shape` and `channels` (a model may take a subset,
        e.g. without the ALT-aligned channels); a ModelError says how the examples and the model differ."""
        ex_ch, m_ch = list(channels), list(self.channels)
        if list(shape[:2]) == list(self.shape[:2]) and set(m_ch) <= set(ex_ch):
            return [ex_ch.index(c) for c in m_ch]
        raise ModelError(f"{self.name} expects examples of shape {list(self.shape)} channels {m_ch}, but the examples have "
                         f"shape {list(shape)} channels {ex_ch}: use the model trained for these examples or remake the "
                         "examples with matching options")

    def check_weights(self, built: list[int]) -> None:
        """The weights (their input shape, model.model_input_shape) take the tensor this record names."""
        if list(built) != list(self.shape[:len(built)]):
            raise ModelError(f"{self.directory}: the weights take inputs of shape {list(built)} but {INFO_FILE} says "
                             f"{list(self.shape)}: the two files belong to different models; restore or retrain the model")


def tensor_spec(data: Mapping) -> tuple[tuple[int, int, int], tuple[int, ...], dict]:
    """(shape, channels, make_examples settings) of a model record or an examples sidecar, checked: a JSON
    object, three positive sizes, one positive channel enum per channel, settings an object; a ValueError says
    what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("not a JSON object")
    shape, channels, settings = data.get("shape"), data.get("channels"), data.get("settings", {})
    if not (isinstance(shape, list) and len(shape) == 3 and all(_positive_int(x) for x in shape)):
        raise ValueError(f"shape {shape!r} is not three positive integers")
    if not (isinstance(channels, list) and all(_positive_int(x) for x in channels) and len(channels) == shape[2]):
        raise ValueError(f"channels {channels!r} are not {shape[2]} channel numbers (shape {shape})")
    if not isinstance(settings, Mapping):
        raise ValueError(f"settings {settings!r} is not an object")
    return tuple(shape), tuple(channels), dict(settings)


def _positive_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _calibration(data: Mapping) -> Calibration:
    temperature = data.get("temperature", 1.0)
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature {temperature!r} is not a positive number")
    gq_map = data.get("gq_calibration") or {}
    raw, calibrated = _knots(gq_map, "raw", "calibrated")
    distance = gq_map.get("cluster_distance", 0)
    if not (isinstance(distance, int) and not isinstance(distance, bool) and distance >= 0):
        raise ValueError(f"gq_calibration cluster_distance {distance!r} is not a whole number of bases >= 0")
    c_raw, c_calibrated = _knots(gq_map, "clustered_raw", "clustered_calibrated")
    if distance and not (raw and c_raw):
        raise ValueError("gq_calibration with a cluster_distance needs both maps (raw/calibrated, clustered_raw/clustered_calibrated)")
    return Calibration(float(temperature), raw, calibrated, distance, c_raw, c_calibrated)


def _knots(gq_map: Mapping, raw_key: str, calibrated_key: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    raw, calibrated = gq_map.get(raw_key, []), gq_map.get(calibrated_key, [])
    if not (isinstance(raw, list) and isinstance(calibrated, list)) or len(raw) != len(calibrated) \
            or any(not isinstance(x, (int, float)) or isinstance(x, bool) for x in [*raw, *calibrated]) \
            or any(b <= a for a, b in zip(raw, raw[1:])):
        raise ValueError(f"gq_calibration needs as many {calibrated_key} as {raw_key} GQ values, {raw_key} ones increasing")
    return tuple(float(x) for x in raw), tuple(float(x) for x in calibrated)


def load_model_info(model_dir: str) -> ModelInfo:
    """The ModelInfo of a model directory; a ModelError (one line, with the fix) if it is not a usable model."""
    path = os.path.join(model_dir, INFO_FILE)
    if os.path.isfile(model_dir):
        raise ModelError(f"--model {model_dir} is a file; pass the model folder that holds {MODEL_FILE} and {INFO_FILE} "
                         f"(e.g. {os.path.dirname(model_dir) or '.'})")
    if not os.path.isdir(model_dir):
        raise ModelError(f"model directory {model_dir} does not exist: pass a directory written by `dvcall train` with --model")
    if not os.path.exists(path) or not os.path.exists(os.path.join(model_dir, MODEL_FILE)):
        raise ModelError(f"{model_dir} is not a dvcall model (needs {MODEL_FILE} and {INFO_FILE}): pass a directory written by `dvcall train`")
    try:
        with open(path) as fh:
            return ModelInfo.from_json(json.load(fh), model_dir)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{path} is unreadable ({exc}): retrain or restore the model") from None


def warn_if_unfinished(model_dir: str) -> None:
    """A warning where `model_dir` holds a training run that has not finished (stopped, or still running): its
    model is the best epoch so far, which a user may take for the finished one."""
    if os.path.isdir(os.path.join(model_dir, "resume")):  # train's BackupAndRestore folder: removed when it finishes
        logging.getLogger("dvcall").warning("%s holds a training run that has not finished: its model is the best epoch "
                                            "so far; rerun the `dvcall train` command to finish it", model_dir)


def save_model_info(model_dir: str, info: ModelInfo) -> None:
    """Write (or replace, atomically) a model directory's model_info.json."""
    write_json(os.path.join(model_dir, INFO_FILE), info.to_json(), indent=2)


def weights_stamp(model_dir: str) -> dict:
    """What a calls file records of the network that made it: its folder and a digest of its weights (*.keras;
    model_info.json may be re-calibrated in between without changing a probability)."""
    from .outputs import file_sha256
    from .resume import fingerprint

    weights = {name: file_sha256(os.path.join(model_dir, name)) for name in sorted(os.listdir(model_dir))
               if name.endswith(".keras") and os.path.isfile(os.path.join(model_dir, name))}
    return {"dir": os.path.abspath(model_dir), "weights": fingerprint(**weights)[:16]}


def model_description(model_dir: str) -> str:
    """How the VCF header names the model that made its calls: its folder's name, its model_version when it has
    one, and the digest of its weights (weights_stamp), e.g. `illumina-wgs,version=6,weights=0123456789abcdef`."""
    info = load_model_info(model_dir)
    version = f",version={info.model_version}" if info.model_version else ""
    return f"{os.path.basename(os.path.abspath(model_dir))}{version},weights={weights_stamp(model_dir)['weights']}"

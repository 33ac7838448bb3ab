"""Ensembles of genotype networks: the mean of the genotype probabilities of networks trained apart.

Networks that differ only in their training seed make different mistakes, and their average makes fewer than
either: on the eight simulated Illumina calibration samples (12,610 genotyped sites), two illumina-wgs networks
trained with seeds 400620758 and 1 made 86 and 101 genotype errors alone and 81 as an ensemble (the model card;
for HiFi a second seed gained nothing, see its card).

An ensemble is one Keras model (`model.keras`) whose layers are the member networks, named member0, member1,
..., and one Average layer; every tool that loads a model (call_variants, calibrate, train-merger) takes it
as it is, and call_variants runs each member with its numpy forward pass (inference.py). To keep the cost of
the extra networks small, they run only on the examples the first network is unsure of (the cascade,
`cascade_mean`; its threshold is in model_info.json), and on every example of a multi-allelic candidate: on the
rest, ~90% of Illumina candidates, the mean would not change the call. (The Keras graph itself is the plain
mean; train-merger reads it so.) Its model_info.json is the members' (the same tensor, channels, settings and
architecture) with no temperature or GQ map: an ensemble is calibrated like any new model (`dvcall calibrate`,
scripts/fit_gq_calibration.py) and needs its own multi-allelic merger (`dvcall train-merger`), which reads the
ensemble's probabilities.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from .calibration import Calibration
from .errors import InputError
from .model import load_model
from .model_info import INFO_FILE, MODEL_FILE, ModelInfo, load_model_info, save_model_info, warn_if_unfinished
from .outputs import atomic_output
from .presets import model_look
from .regions import merge_spans

MEMBER_PREFIX = "member"
MEAN_LAYER = "genotype_mean"
ENSEMBLE_NAME = "dvcall_ensemble"
DEFAULT_CASCADE = 0.99
"""The members after the first run only on examples the first gives a top probability below this. Chosen on the
Illumina tuning set (5,171 examples of simulated samples never trained on, illumina-wgs version 3's two networks):
the first network is that sure of 91% of them (0.97: 96%, 0.999: 66%), and on none of those does the mean of both
pick another genotype, so the ensemble's calls stay while its extra cost falls ~10-fold."""
# Notes of a member that describe its own calibration or merger: not true of the ensemble.
_MEMBER_ONLY_NOTES = ("temperature_fit", "gq_calibration_fit", "members")


def build_ensemble(members: Sequence):
    """Keras model: the mean of `members`' outputs (Keras models with one and the same input shape)."""
    from .tf_runtime import keras

    k = keras()
    inp = k.Input(shape=members[0].input_shape[1:], dtype="uint8", name="pileup")
    outputs = []
    for i, member in enumerate(members):
        member.name = f"{MEMBER_PREFIX}{i}"
        outputs.append(member(inp))
    return k.Model(inp, k.layers.Average(name=MEAN_LAYER)(outputs), name=ENSEMBLE_NAME)


def is_ensemble(model) -> bool:
    return any(layer.name == MEAN_LAYER for layer in model.layers)


def is_ensemble_dir(model_dir: str) -> bool:
    """Whether model_dir holds an ensemble, read off its archive's config.json without TensorFlow (False when the
    archive cannot be read: loading it says what is wrong)."""
    try:
        with zipfile.ZipFile(os.path.join(model_dir, MODEL_FILE)) as archive:
            layers = json.loads(archive.read("config.json")).get("config", {}).get("layers", [])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    return any(layer.get("config", {}).get("name") == MEAN_LAYER for layer in layers)


def cascade_mean(members: Sequence[Callable[[np.ndarray], np.ndarray]], images: np.ndarray,
                 cascade: float = 0.0, every_member: np.ndarray | None = None) -> np.ndarray:
    """The ensemble's probabilities [B, 3] of uint8 `images`: the mean of the `members`' (functions images ->
    probabilities), where every member after the first runs only on the examples whose top probability by the
    first is below `cascade` (0: on all) or that `every_member` (bool [B]) marks; the others keep the first's
    probabilities."""
    first = np.asarray(members[0](images), dtype=np.float32)
    run = first.max(axis=1) < cascade if cascade else np.ones(len(first), bool)
    if every_member is not None:
        run |= np.asarray(every_member, bool)
    unsure = np.flatnonzero(run)
    if len(unsure) and len(members) > 1:
        subset = images[unsure]
        total = first[unsure].copy()
        for member in members[1:]:
            total += np.asarray(member(subset), dtype=np.float32)
        first = first.copy()
        first[unsure] = total / len(members)
    return first


@dataclass(frozen=True)
class Ensemble:
    """A predictor (images -> probabilities) made of member predictors, combined by cascade_mean: call_variants'
    numpy networks (inference.py) or, for networks it does not know, their Keras layers."""

    members: tuple[Callable[[np.ndarray], np.ndarray], ...]
    cascade: float = 0.0

    def __call__(self, images: np.ndarray, every_member: np.ndarray | None = None) -> np.ndarray:
        """`every_member`: bool [B], examples that go through every member whatever the cascade."""
        return cascade_mean(self.members, np.asarray(images), self.cascade, every_member)


def multiallelic(variants: Sequence) -> np.ndarray:
    """Which examples are of candidates with two or more alt alleles (VariantInfo.alts): an ensemble runs every
    member on them, because the multi-allelic merger combines their subsets' probabilities and was trained on the
    members' mean."""
    return np.array([len(v.alts) > 1 for v in variants], bool)


def combine_models(member_dirs: Sequence[str], output_dir: str, cascade: float = DEFAULT_CASCADE) -> ModelInfo:
    """Write the ensemble of the models in `member_dirs` to `output_dir` (model.keras, model_info.json) and
    return its ModelInfo. The members must read the same examples (tensor shape, channels, settings) with the
    same architecture; none may be an ensemble itself. `output_dir` must not hold a model already. `cascade`:
    DEFAULT_CASCADE, stored in model_info.json (0: every member on every example)."""
    if not 0.0 <= cascade < 1.0:
        raise InputError(f"--cascade {cascade} is not a probability in [0, 1): 0 runs every member on every example")
    if len(member_dirs) < 2:
        raise InputError("an ensemble needs at least two --member models")
    if len({os.path.realpath(d) for d in member_dirs}) != len(member_dirs):
        raise InputError("the same --member model is given twice: an ensemble of one network's copies is that network")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InputError(f"--output {output_dir} is a file: give a folder for the ensemble")
    for name in (MODEL_FILE, INFO_FILE):
        if os.path.exists(os.path.join(output_dir, name)):
            raise InputError(f"{os.path.join(output_dir, name)} exists: give --output a new folder (an ensemble never "
                             "overwrites a model)")
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise InputError(f"--output {output_dir} is a folder that holds other files: give a new (or empty) folder for "
                         "the ensemble")
    infos = [load_model_info(d) for d in member_dirs]
    for d in member_dirs:
        warn_if_unfinished(d)
    first = infos[0]
    for d, info in zip(member_dirs[1:], infos[1:]):
        look, first_look = model_look(info), model_look(first)
        common = sorted(set(look) & set(first_look))  # settings recorded by both (older models record fewer)
        for what, a, b in (("tensor shape", first.shape, info.shape), ("channels", first.channels, info.channels),
                           ("make_examples settings", {k: first_look[k] for k in common}, {k: look[k] for k in common}),
                           ("architecture", first.version, info.version)):
            if a != b:
                raise InputError(f"--member {d} has another {what} ({b}) than --member {member_dirs[0]} ({a}): "
                                 "an ensemble's members must read the same examples with the same network")
    models = [load_model(d) for d in member_dirs]
    for d, model in zip(member_dirs, models):
        if is_ensemble(model):
            raise InputError(f"--member {d} is an ensemble already: give its members instead")
    ensemble = build_ensemble(models)
    types = {i.model_type for i in infos}  # the preset they were trained under, when all members say the same
    info = replace(first, calibration=Calibration(), directory=output_dir, cascade=float(cascade),
                   model_type=types.pop() if len(types) == 1 else None,
                   training_spans=merge_spans(t for i in infos for t in i.training_spans or ()) or None,
                   notes={"members": [_member_note(d, i) for d, i in zip(member_dirs, infos)]})
    os.makedirs(output_dir, exist_ok=True)
    # model_info.json (atomic itself) is written last inside the archive's atomic write: a run stopped in either
    # leaves neither file, so it can simply be rerun
    with atomic_output(os.path.join(output_dir, MODEL_FILE), ".keras") as model_tmp:
        ensemble.save(model_tmp)
        save_model_info(output_dir, info)
    return info


def _member_note(member_dir: str, info: ModelInfo) -> dict:
    """What the ensemble keeps of a member: where it came from and its training notes."""
    return {"model": os.path.basename(os.path.normpath(member_dir)),
            **{k: v for k, v in info.notes.items() if k not in _MEMBER_ONLY_NOTES}}

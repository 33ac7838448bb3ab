"""call_variants: examples -> genotype probabilities per example, batched through the CNN (numpy, inference.py)."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import tf_runtime
from .errors import DependencyError, InputError, ModelError
from .pileup import TECHNOLOGY_CHANNEL_ENUM
from .ensemble import MEMBER_PREFIX, Ensemble, is_ensemble, multiallelic
from .examples_io import (CallRecord, CallsWriter, VariantInfo, check_settings_fit_model, example_batches, expand_paths,
                          one_sample, read_sidecar, read_sidecars, settings_unlike_model, write_calls)
from .inference import NumpyGenotypeModel, UnknownNetwork
from .model import load_model, load_model_info
from .model_info import weights_stamp

log = logging.getLogger("dvcall")


@dataclass
class CallStats:
    examples: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


def load_predictor(model_dir: str):
    """The model of model_dir as a function uint8 images [B, H, W, C] -> probabilities [B, 3]: dvcall's numpy
    forward pass (inference.py: no TensorFlow import, ~0.1 s to load) for every network build_model makes,
    Keras for any other (one line when Keras is not installed, or the network does not give 3 probabilities)."""
    try:
        return NumpyGenotypeModel.from_keras_file(model_dir)
    except UnknownNetwork as exc:
        require_keras_for(model_dir, exc)
    keras_model = load_model(model_dir)
    if is_ensemble(keras_model):  # its members in Keras, with the ensemble's cascade
        return Ensemble(tuple(_keras_predictor(layer) for layer in keras_model.layers if layer.name.startswith(MEMBER_PREFIX)),
                        load_model_info(model_dir).cascade)
    outputs = getattr(keras_model, "outputs", None) or []
    if len(outputs) != 1 or tuple(outputs[0].shape)[-1:] != (3,):
        raise ModelError(f"the network in {model_dir} gives {len(outputs)} output(s) of shape "
                         f"{', '.join(str(tuple(o.shape)) for o in outputs) or '?'}; dvcall needs one: 3 genotype "
                         "probabilities per example (hom-ref, het, hom-alt)")
    return _keras_predictor(keras_model)


def require_keras_for(model_dir: str, unknown: UnknownNetwork) -> None:
    """A network the NumPy forward pass does not know runs in Keras, an optional install: one line when it is
    missing."""
    if not tf_runtime.available():
        raise DependencyError(f"the network in {model_dir} is not one dvcall's NumPy forward pass knows "
                              f"({unknown.reason}); running it needs TensorFlow and Keras: {tf_runtime.INSTALL_HINT}")


def check_runnable(model_dir: str) -> None:
    """Before any work: the model's network runs in this install, in NumPy or else in Keras (loaded here, said
    once); a model that cannot (no Keras, a network Keras cannot load or that does not give 3 probabilities) is one
    line now, not a failure after the examples are made."""
    try:
        NumpyGenotypeModel.from_keras_file(model_dir)
    except UnknownNetwork as exc:
        load_predictor(model_dir)
        log.info("the network in %s is not one dvcall's NumPy forward pass knows (%s): Keras runs it", model_dir,
                 exc.reason)


def _keras_predictor(keras_model):
    return lambda images: keras_model(images, training=False).numpy()


def _predict(model, images: np.ndarray, variants) -> np.ndarray:
    """The model's probabilities; an ensemble with a cascade runs every member on multi-allelic candidates."""
    if getattr(model, "cascade", 0.0):
        return model(images, every_member=multiallelic(variants))
    return model(images)


def _check_technologies(channels, model_info) -> None:
    """Examples that mix technologies (the technology channel, --model-type hybrid) are for a model that tells
    them apart: a short-read model takes their long reads for short ones and miscalls indels (hostile19: 44 INDEL
    false positives in 200 kb with illumina-wgs, only a settings warning)."""
    if TECHNOLOGY_CHANNEL_ENUM in channels and TECHNOLOGY_CHANNEL_ENUM not in model_info.channels \
            and model_info.model_type != "hybrid":
        raise InputError(f"the examples carry the technology channel (made for a model that reads one sample's HiFi and "
                         f"Illumina reads together: --model-type hybrid), which {model_info.name} does not read: it would "
                         "take their long reads for short ones and miscall indels; call them with a hybrid model, or make "
                         "examples for this model (make-examples --model it)")


def call_variants(examples: str, model_dir: str, output: str, batch_size: int = 128,
                  progress: Callable[..., None] | None = None, model=None) -> CallStats:
    """Run the model over every example and write one call record per example. `model`: load_predictor(model_dir)
    if the caller has it already (a run with two passes loads it once). `progress` (e.g. progress.Progress) is told
    the MB of the example files read, of their total, after each batch."""
    t0 = time.time()
    paths = expand_paths(examples)
    info = read_sidecars(paths, "call each set of examples")
    sidecars = [read_sidecar(p) for p in paths]
    sample = one_sample([(p, s.sample) for p, s in zip(paths, sidecars)], "examples",  # the VCF's sample name
                        "call each sample's examples apart; if the reads are one sample's, make the examples with one "
                        "--sample-name")
    model_info = load_model_info(model_dir)
    keep = model_info.input_channels(info.shape, info.channels)
    _check_technologies(info.channels, model_info)
    if (unlike := settings_unlike_model(paths, model_info.settings, model_dir)) is not None:
        log.warning("%s: the model's accuracy was measured only on examples made with its own settings (`dvcall "
                    "make-examples --model` it)", unlike)
    model = model or load_predictor(model_dir)
    channels = None if keep == list(range(info.shape[-1])) else keep
    stats = CallStats()
    total = max(1, -(-sum(os.path.getsize(p) for p in paths) // 1_000_000))
    read = 0  # bytes of the example files read so far

    def on_read(n: int) -> None:
        nonlocal read
        read = n

    def records():
        for images, variants, indices, _ in example_batches(paths, info.shape, batch_size, channels, on_read=on_read):
            yield from _call_batch(model, images, [VariantInfo.from_bytes(v) for v in variants],
                                   [tuple(int(x) for x in i.decode().split(",")) for i in indices])
            stats.examples += len(images)
            if progress:
                progress(min(total, -(-read // 1_000_000)), total, examples=stats.examples)  # ends at total/total

    shards = sorted({s.shard for s in sidecars} - {None})  # of a sharded make-examples run: postprocess checks
    write_calls(output, records(), weights_stamp(model_dir), shards, sample)  # atomic; a full disk is an OutputError
    stats.seconds = time.time() - t0
    return stats


def _call_batch(model, images: np.ndarray, variants: list[VariantInfo], alt_indices: list[tuple[int, ...]]):
    probs = _normalise(np.asarray(_predict(model, images, variants), dtype=np.float64))
    return (CallRecord(v, i, tuple(p)) for p, v, i in zip(probs, variants, alt_indices))


class ExampleCaller:
    """Where make_examples puts its examples in `dvcall run`: each batch goes through the model as soon as it is
    made and only the call records are written (CallsWriter), so no example is serialised, compressed and read
    back, and every make_examples worker calls its own shard. The records equal call_variants' on the same
    examples. `channels`: positions of the image channels the model reads (ModelInfo.input_channels)."""

    def __init__(self, model, output: str, channels: list[int] | None = None, batch_size: int = 128,
                 stamp: dict | None = None, resume_at: int | None = None, keep: bool = False):
        """`resume_at`: the calls file's length at a checkpoint to go on from; `keep`: a checkpointed shard's
        (outputs.GzipLines). `stats` count this process's work only."""
        self.model, self.channels, self.batch_size, self.path = model, channels, batch_size, output
        self.stats = CallStats()
        self._writer = CallsWriter(output, stamp, resume_at=resume_at, keep=keep)
        self._images: list[np.ndarray] = []
        self._variants: list[VariantInfo] = []
        self._indices: list[tuple[int, ...]] = []

    def write(self, variant: VariantInfo, alt_indices: tuple[int, ...], image: np.ndarray, label: int | None = None) -> None:
        self._images.append(image if self.channels is None else image[..., self.channels])
        self._variants.append(variant)
        self._indices.append(tuple(alt_indices))
        if len(self._images) == self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self._images:
            return
        t0 = time.time()
        for record in _call_batch(self.model, np.stack(self._images), self._variants, self._indices):
            self._writer.write(record)
        self.stats.examples += len(self._images)
        self.stats.seconds += time.time() - t0
        self._images, self._variants, self._indices = [], [], []

    def checkpoint(self) -> tuple[int, str]:
        """Call the examples waiting for a batch and end the calls file's gzip member: (its length, the SHA-256 of
        its bytes)."""
        self._flush()
        return self._writer.checkpoint()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def abort(self) -> None:
        self._writer.abort()


def predict_labelled(model_dir: str, examples: str, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of a model over labelled examples (a path, glob or comma-separated list)."""
    paths = expand_paths(examples)
    info = read_sidecars(paths, "calibrate on each kind of examples")
    model_info = load_model_info(model_dir)
    check_settings_fit_model(paths, model_info.settings, model_dir)
    keep = model_info.input_channels(info.shape, info.channels)
    _check_technologies(info.channels, model_info)
    model = load_predictor(model_dir)
    probs, labels = [], []
    for images, variants, _, batch_labels in example_batches(paths, info.shape, batch_size, keep):
        if batch_labels is None:
            raise InputError(f"the examples {examples} carry no labels: make labelled tuning examples with "
                             "`dvcall make-examples --truth-vcf T --confident-bed B`")
        probs.append(np.asarray(_predict(model, images, [VariantInfo.from_bytes(v) for v in variants]), dtype=np.float64))
        labels.append(batch_labels)
    if not labels:
        raise InputError(f"no examples in {examples}: make labelled tuning examples first")
    return np.concatenate(probs), np.concatenate(labels).astype(int)


def _normalise(probs: np.ndarray) -> np.ndarray:
    """Round to 10 decimals and make each row sum to one exactly, as DeepVariant does."""
    probs = np.round(np.clip(probs, 0.0, 1.0), 10)
    smallest = probs.argmin(axis=1)
    rows = np.arange(len(probs))
    probs[rows, smallest] = 0.0
    probs[rows, smallest] = np.clip(1.0 - probs.sum(axis=1), 0.0, 1.0)
    return probs

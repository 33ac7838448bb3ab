"""call_variants: examples -> genotype probabilities per example, batched through the CNN."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .examples_io import CallRecord, VariantInfo, example_dataset, expand_paths, read_sidecars, write_calls
from .model import load_model, load_model_info
from .tf_runtime import tensorflow

log = logging.getLogger("dvcall")


@dataclass
class CallStats:
    examples: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


def call_variants(examples: str, model_dir: str, output: str, batch_size: int = 128, progress=None, model=None) -> CallStats:
    """Run the model over every example and write one call record per example. `model`: the model of
    `model_dir` if the caller has loaded it already (a run with two passes loads it once)."""
    t0 = time.time()
    paths = expand_paths(examples)
    info = read_sidecars(paths, "call each set of examples")
    keep = load_model_info(model_dir).input_channels(info.shape, info.channels)
    model = model or load_model(model_dir)
    shape = info.shape
    ds = example_dataset(paths, shape, with_label=False)
    if keep != list(range(shape[-1])):
        tf = tensorflow()
        ds = ds.map(tf.autograph.experimental.do_not_convert(lambda image, v, i: (tf.gather(image, keep, axis=-1), v, i)))
    ds = ds.batch(batch_size).prefetch(2)
    stats = CallStats()

    def records():
        for images, variants, indices in ds:
            probs = model(images, training=False).numpy().astype(np.float64)
            for p, v, i in zip(_normalise(probs), variants.numpy(), indices.numpy()):
                yield CallRecord(VariantInfo.from_bytes(v), tuple(int(x) for x in i.decode().split(",")), tuple(p))
            stats.examples += len(probs)
            if progress:
                progress(stats)

    write_calls(output, records())  # atomic; a full disk is an OutputError naming the file
    stats.seconds = time.time() - t0
    return stats


def predict_labelled(model_dir: str, examples: str, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of a model over labelled examples (a path, glob or comma-separated list)."""
    tf = tensorflow()
    paths = expand_paths(examples)
    info = read_sidecars(paths, "calibrate on each kind of examples")
    keep = load_model_info(model_dir).input_channels(info.shape, info.channels)
    model = load_model(model_dir)
    ds = example_dataset(paths, info.shape, with_label=True)
    ds = ds.map(tf.autograph.experimental.do_not_convert(lambda image, label: (tf.gather(image, keep, axis=-1), label)))
    probs, labels = [], []
    try:
        for images, batch_labels in ds.batch(batch_size):
            probs.append(model(images, training=False).numpy().astype(np.float64))
            labels.append(batch_labels.numpy())
    except tf.errors.InvalidArgumentError:
        raise InputError(f"the examples {examples} carry no labels: make labelled tuning examples with "
                         "`dvcall make-examples --truth-vcf T --confident-bed B`") from None
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

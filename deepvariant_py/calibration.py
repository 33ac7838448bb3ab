"""Temperature scaling: one number per model that makes its genotype probabilities, and so GQ, honest.

A network trained to high accuracy is usually overconfident: its GQ 30 calls are wrong more often than one in a
thousand. Dividing the log-probabilities by a temperature T > 1 (then renormalising) softens every distribution
without changing any genotype's rank, so calls stay the same and only GQ, QUAL and PL move. T is fitted on a
simulated tuning set (labelled examples the model did not train on) by minimising the negative log-likelihood,
stored in the model's model_info.json as "temperature", and applied by postprocess to each site's genotype
distribution (after the multi-allelic merger, whose inputs stay what it was trained on).
"""
from __future__ import annotations

import numpy as np

FLOOR = 1e-12
TEMPERATURE_RANGE = (0.25, 8.0)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of probabilities p -> p^(1/T) / sum(p^(1/T)); T = 1 returns them unchanged."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return probs
    logp = np.log(np.clip(probs, FLOOR, 1.0)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=-1, keepdims=True)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = apply_temperature(probs, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], FLOOR, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, steps: int = 400) -> float:
    """The T in TEMPERATURE_RANGE (log-spaced grid) that minimises the negative log-likelihood of `labels`."""
    grid = np.exp(np.linspace(np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1]), steps))
    losses = [negative_log_likelihood(probs, labels, t) for t in grid]
    return float(grid[int(np.argmin(losses))])


def predict_labelled(model_dir: str, examples: str, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of a model over labelled examples (a path, glob or comma-separated list)."""
    from .errors import InputError
    from .examples_io import channel_indices, example_dataset, expand_paths, read_sidecar
    from .model import load_model, load_model_info
    from .tf_runtime import tensorflow

    tf = tensorflow()
    paths = expand_paths(examples)
    info = read_sidecar(paths[0])
    keep = channel_indices(info, load_model_info(model_dir), model_dir)
    model = load_model(model_dir)
    ds = example_dataset(paths, tuple(info["shape"]), with_label=True)
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

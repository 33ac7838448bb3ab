"""The genotype CNN's forward pass in numpy: call_variants without TensorFlow.

`model.build_model` defines the network in Keras, which trains it. Calling needs only its forward pass, and
importing TensorFlow and loading the model costs ~4.5 s of a 2-core machine before the first example, longer
than the whole of a 1 Mb short-read call otherwise. This module reads the weights out of the `.keras` archive
(a zip of config.json and an HDF5 weights file) and runs the same arithmetic with numpy, in float32.

It also skips work the Keras graph does: pileup rows that no read covers inside the cropped window contribute
nothing (their features are masked to zero before pooling), so they are left out of the per-read
convolutions, which are ~90% of the arithmetic; at 30x about two thirds of the 95 read rows are empty.

`NumpyGenotypeModel.from_keras_file` refuses (UnknownNetwork) any archive whose layers are not exactly those
build_model makes; call_variants then falls back to Keras. tests/test_inference.py checks that both give the
same probabilities.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass

import numpy as np

from .ensemble import Ensemble
from .errors import ModelError
from .model import CROP_WIDTH, HP_PIXELS, REF_ROWS
from .model_info import MODEL_FILE, load_model_info
from .pileup import HP_CHANNEL_ENUM

LAYER_NORM_EPSILON_DEFAULT = 1e-3


class UnknownNetwork(ModelError):
    """The archive is readable but holds a network this module cannot run; `reason` says what differs from the
    networks model.build_model and ensemble.build_ensemble make (the caller decides what to do about it)."""

    def __init__(self, reason: str):
        super().__init__(f"{reason}: not a network dvcall builds (model.build_model), which the NumPy forward pass runs")
        self.reason = reason


@dataclass(frozen=True)
class ColumnConv:
    kernel: np.ndarray  # [k, in, out]
    stride: int
    gamma: np.ndarray
    beta: np.ndarray
    epsilon: float


CHUNK = 16
"""Examples per forward pass, whatever the batch: the per-read layers' temporaries grow with examples x rows x
columns (the context convolution's stacked copies are ~800 MB at 128 Illumina examples), and past the CPU's
caches the products wait on memory. On one core, 512 Illumina examples: 1.82 s in passes of 128, 1.04 s of
64, 0.68 s of 16, 0.83 s of 8 (measured)."""


@dataclass(frozen=True)
class NumpyGenotypeModel:
    shape: tuple[int, int, int]
    crop: int
    hp_index: int | None
    pixel: tuple[np.ndarray, np.ndarray]  # 1x1 conv over channels: [C, P], [P]
    context: tuple[np.ndarray, np.ndarray]  # 1x5 conv along the read: [5, P, F], [F]
    ref: tuple[np.ndarray, np.ndarray]  # 1x5 conv of the reference row: [5, C, 8], [8]
    haplotype: tuple[np.ndarray, np.ndarray] | None  # shared dense of each haplotype's summary
    columns: tuple[ColumnConv, ...]
    fc: tuple[np.ndarray, np.ndarray]
    out: tuple[np.ndarray, np.ndarray]
    max_pooling: bool = True  # read features pooled by mean and maximum (build_model's max_pooling); False: mean only

    @classmethod
    def from_keras_file(cls, model_dir: str) -> "NumpyGenotypeModel | Ensemble":
        """The network of model_dir/model.keras: one network, or an ensemble (ensemble.py) of several."""
        path = os.path.join(model_dir, MODEL_FILE)
        try:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
                weights_blob = archive.read("model.weights.h5")
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            raise ModelError(f"cannot load {path}: the file is damaged or from another version; retrain it") from None
        channels = load_model_info(model_dir).channels
        hp_index = channels.index(HP_CHANNEL_ENUM) if HP_CHANNEL_ENUM in channels else None
        weights = _read_weights(weights_blob, path)
        members = _ensemble_members(config)
        if members is None:
            return cls.from_config(config, weights, hp_index)
        return Ensemble(tuple(cls.from_config({"config": layer["config"]}, weights.get(key, {}), hp_index)
                                   for layer, key in members), load_model_info(model_dir).cascade)

    @classmethod
    def from_config(cls, config: dict, weights: dict[str, list[np.ndarray]], hp_index: int | None) -> "NumpyGenotypeModel":
        """Weights (Keras' auto-named storage keys, e.g. conv2d_1) matched to build_model's named layers."""
        layers = config.get("config", {}).get("layers", [])
        by_name = {}
        counts: dict[str, int] = {}
        for layer in layers:  # Keras 3 stores each layer's variables under its class name, numbered in model order
            key = _snake(layer["class_name"])
            n = counts.get(key, 0)
            counts[key] = n + 1
            by_name[layer["config"]["name"]] = (layer, weights.get(key if n == 0 else f"{key}_{n}", []))

        def get(name: str, n_vars: int):
            if name not in by_name or len(by_name[name][1]) != n_vars:
                raise UnknownNetwork(f"layer {name!r} missing or unexpected")
            return by_name[name]

        inputs = [layer for layer in layers if layer["class_name"] == "InputLayer"]
        if len(inputs) != 1:
            raise UnknownNetwork(f"{len(inputs)} input layers, not one")
        shape = tuple(int(x) for x in (inputs[0]["config"].get("batch_shape") or inputs[0]["config"]["batch_input_shape"])[1:])
        crop = max(0, (shape[1] - CROP_WIDTH) // 2)
        _, (pk, pb) = get("read_pixel", 2)
        _, (ck, cb) = get("read_context", 2)
        _, (rk, rb) = get("ref_context", 2)
        haplotype = None
        if "haplotype" in by_name:
            if hp_index is None:
                raise UnknownNetwork("haplotype pooling without an HP channel")
            _, (hk, hb) = get("haplotype", 2)
            haplotype = (hk.astype(np.float32), hb.astype(np.float32))
        else:
            hp_index = None  # an HP channel the network reads like any other
        columns = []
        for i in range(4):
            conv_layer, (kernel,) = get(f"col_conv{i}", 1)
            norm_layer, (gamma, beta) = get(f"col_norm{i}", 2)
            cfg = conv_layer["config"]
            if cfg.get("padding") != "same" or cfg.get("use_bias"):
                raise UnknownNetwork(f"col_conv{i} differs")
            columns.append(ColumnConv(kernel.astype(np.float32), int(_first(cfg["strides"])), gamma.astype(np.float32),
                                      beta.astype(np.float32), float(norm_layer["config"].get("epsilon", LAYER_NORM_EPSILON_DEFAULT))))
        _, (fk, fb) = get("fc", 2)
        _, (ok, ob) = get("genotype", 2)
        if (pk.shape[:3] != (1, 1, shape[2]) or ck.shape[:3] != (1, 5, pk.shape[3]) or rk.shape[:3] != (1, 5, shape[2])
                or fk.shape[1] != ok.shape[0] or ok.shape[1] != 3):
            raise UnknownNetwork("kernel shapes differ")
        # build_model's max_pooling is read off the first column layer's input: [mean, (max,) depth, ref(, haplotype)]
        rest = 1 + rk.shape[3] + (2 * haplotype[0].shape[1] if haplotype is not None else 0)
        pooled = {ck.shape[3] * 2 + rest: True, ck.shape[3] + rest: False}.get(columns[0].kernel.shape[1])
        if pooled is None:
            raise UnknownNetwork("col_conv0 input width differs")
        return cls(shape=shape, crop=crop, hp_index=hp_index,
                   pixel=(pk[0, 0].astype(np.float32), pb.astype(np.float32)),
                   context=(ck[0].astype(np.float32), cb.astype(np.float32)),
                   ref=(rk[0].astype(np.float32), rb.astype(np.float32)),
                   haplotype=haplotype, columns=tuple(columns),
                   fc=(fk.astype(np.float32), fb.astype(np.float32)), out=(ok.astype(np.float32), ob.astype(np.float32)),
                   max_pooling=pooled)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """uint8 [B, H, W, C] pileups -> float32 [B, 3] genotype probabilities."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.shape:
            raise ModelError(f"images of shape {images.shape[1:]} given to a model of input {self.shape}")
        if len(images) <= CHUNK:
            return self._forward(images)
        return np.concatenate([self._forward(images[i:i + CHUNK]) for i in range(0, len(images), CHUNK)])

    def _forward(self, images: np.ndarray) -> np.ndarray:
        raw = images[:, :, self.crop:self.crop + (self.shape[1] - 2 * self.crop)] if self.crop else images
        batch, _, width, _ = raw.shape
        reads = raw[:, REF_ROWS:]
        covered = _any_channel(reads)  # [B, R, W]
        used = covered.any(axis=-1)  # rows with a read inside the window: the only ones that can contribute
        b_idx, r_idx = np.nonzero(used)
        # The per-read layers run channel-first ([C, N * W]): their matrices are tiny (9 -> 24 -> 16 channels), so
        # one wide product per layer, with bias and ReLU in place, beats many narrow ones (~2.5x, measured).
        x = np.ascontiguousarray(reads[b_idx, r_idx].transpose(2, 0, 1)).astype(np.float32)  # [C, N, W]
        hp_raw = None
        if self.hp_index is not None:  # per read only "tagged or not", as in build_model
            hp_raw = x[self.hp_index].copy()
            x[self.hp_index] = _tagged(hp_raw)
        n = len(b_idx)
        kernel, bias = self.pixel
        # x / 127.5 - 1 folded into the layer: W (x / 127.5 - 1) + b = (W / 127.5) x + (b - W 1)
        f = (kernel.T / 127.5) @ x.reshape(len(x), -1)  # [P, N * W]
        f += (bias - kernel.sum(axis=0))[:, None]
        np.maximum(f, 0.0, out=f)
        f = _conv_same_channels_first(f.reshape(len(f), n, width), *self.context)  # [F, N, W], ReLU applied (N may be 0)
        f *= covered[b_idx, r_idx]
        total = _per_example_channels_first(np.add, f, b_idx, batch)  # [B, W, F]
        depth = covered.sum(axis=1, dtype=np.float32)[..., None]  # [B, W, 1]
        mean = total / np.maximum(depth, 1.0)
        ref_row = raw[:, 0].astype(np.float32)
        if self.hp_index is not None:
            ref_row[..., self.hp_index] = _tagged(ref_row[..., self.hp_index])
        ref_row = ref_row / 127.5 - 1.0
        ref = np.maximum(_conv_same(ref_row, self.ref[0]) + self.ref[1], 0.0)
        parts = [mean]
        if self.max_pooling:
            parts.append(_per_example_channels_first(np.maximum, f, b_idx, batch))  # masked features are >= 0: zero is max's identity
        parts += [np.log1p(depth) / 4.0, ref]
        if self.haplotype is not None:
            parts.append(self._haplotype_pooling(f, hp_raw, b_idx, batch))
        z = np.concatenate(parts, axis=-1)
        for conv in self.columns:
            z = _conv_same(z, conv.kernel, conv.stride)
            mu = z.mean(axis=-1, keepdims=True)
            var = ((z - mu) ** 2).mean(axis=-1, keepdims=True)
            z = np.maximum((z - mu) / np.sqrt(var + conv.epsilon) * conv.gamma + conv.beta, 0.0)
        centre = z.shape[1] // 2
        z = np.concatenate([z[:, centre - 2:centre + 3].reshape(batch, -1), z.max(axis=1)], axis=-1)
        z = np.maximum(z @ self.fc[0] + self.fc[1], 0.0)
        logits = z @ self.out[0] + self.out[1]
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)

    def _haplotype_pooling(self, f, hp_raw, b_idx, batch):
        """f: [F, N, W] read features; hp_raw: [N, W] HP pixels."""
        kernel, bias = self.haplotype
        summaries = []
        for pixel in HP_PIXELS:
            member = (hp_raw == pixel).astype(np.float32)  # [N, W]
            total = _per_example_channels_first(np.add, f * member, b_idx, batch)
            depth = _per_example_channels_first(np.add, member[None], b_idx, batch)
            mean = total / np.maximum(depth, 1.0)
            summaries.append(np.maximum(_dense(np.concatenate([mean, np.log1p(depth) / 4.0], axis=-1), kernel, bias), 0.0))
        return np.concatenate([summaries[0] + summaries[1], np.maximum(summaries[0], summaries[1])], axis=-1)


def _ensemble_members(config: dict) -> list[tuple[dict, str]] | None:
    """An ensemble's member layers with the keys their weights are stored under; None for a single network.
    An archive with nested networks that is not exactly ensemble.build_ensemble's is UnknownNetwork."""
    layers = config.get("config", {}).get("layers", [])
    members = [layer for layer in layers if layer.get("class_name") == "Functional"]
    if not members:
        return None
    kinds = [layer.get("class_name") for layer in layers]
    if sorted(set(kinds)) != ["Average", "Functional", "InputLayer"] or kinds.count("Average") != 1 or kinds.count("InputLayer") != 1:
        raise UnknownNetwork("nested networks other than an ensemble's")
    return [(layer, "functional" if i == 0 else f"functional_{i}") for i, layer in enumerate(members)]


def _any_channel(pixels: np.ndarray) -> np.ndarray:
    """pixels.any(axis=-1) for uint8 [..., C]: the channels OR-ed one by one (5x faster than a reduction over a
    last axis of 7-9 values, measured)."""
    out = pixels[..., 0].copy()
    for c in range(1, pixels.shape[-1]):
        out |= pixels[..., c]
    return out != 0


def _tagged(hp_pixels: np.ndarray) -> np.ndarray:
    """What build_model feeds the network of the HP channel: tagged (any HP) or not, as HP=2's pixel or 0."""
    return np.where(hp_pixels > 0, float(HP_PIXELS[1]), 0.0)


def _conv_same_channels_first(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ReLU(1-D convolution along the last axis of [Cin, N, W] + bias), kernel [k, Cin, Cout], Keras' 'same' padding
    (stride 1): the k shifted copies stacked ([k * Cin, N * W]), one product -> [Cout, N, W]."""
    k, cin, cout = kernel.shape
    _, n, width = x.shape
    left = (k - 1) // 2
    padded = np.zeros((cin, n, width + k - 1), np.float32)
    padded[:, :, left:left + width] = x
    cols = np.concatenate([padded[:, :, t:t + width] for t in range(k)], axis=0).reshape(k * cin, n * width)
    out = kernel.transpose(2, 0, 1).reshape(cout, k * cin) @ cols
    out += bias[:, None]
    np.maximum(out, 0.0, out=out)
    return out.reshape(cout, n, width)


def _per_example_channels_first(ufunc, rows: np.ndarray, owner: np.ndarray, batch: int) -> np.ndarray:
    """ufunc-reduce [F, N, W] over the rows (axis 1) of each example (owner: sorted example index of each row) ->
    [batch, W, F]; an example without rows gets zeros."""
    out = np.zeros((batch, rows.shape[2], rows.shape[0]), np.float32)
    if len(owner):
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], len(owner)]
        # a slice per example, reduced along its rows: ~5x faster than ufunc.reduceat along a middle axis (measured)
        reduced = np.stack([ufunc.reduce(rows[:, a:b], axis=1) for a, b in zip(starts, ends)], axis=1)  # [F, B', W]
        out[owner[starts]] = reduced.transpose(1, 2, 0)
    return out


def _conv_same(x: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """1-D convolution along axis 1 of [N, W, Cin] with kernel [k, Cin, Cout], padding as Keras' 'same': the k
    shifted copies side by side ([N, W', k * Cin]), one product (the column convolutions and the reference row)."""
    k, cin, cout = kernel.shape
    n, width, _ = x.shape
    out_width = -(-width // stride)
    pad_total = max((out_width - 1) * stride + k - width, 0)
    left = pad_total // 2
    padded = np.zeros((n, width + pad_total, cin), np.float32)
    padded[:, left:left + width] = x
    span = (out_width - 1) * stride + 1
    cols = np.concatenate([padded[:, t:t + span:stride] for t in range(k)], axis=-1)
    return (cols.reshape(-1, k * cin) @ kernel.reshape(k * cin, cout)).reshape(n, out_width, cout)


def _dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x [..., Cin] @ kernel [Cin, Cout] + bias as one 2-D matrix product (numpy loops over leading axes otherwise)."""
    return (x.reshape(-1, x.shape[-1]) @ kernel + bias).reshape(*x.shape[:-1], kernel.shape[-1])


def _read_weights(blob: bytes, path: str) -> dict[str, list[np.ndarray]]:
    import h5py

    try:
        with h5py.File(io.BytesIO(blob), "r") as h5:
            weights = _layer_weights(h5["layers"])
    except (OSError, KeyError, ValueError):
        raise ModelError(f"cannot load {path}: the file is damaged or from another version; retrain it") from None
    if not _all_finite(weights):  # every genotype probability would be nan
        raise ModelError(f"{path} holds weights that are not numbers (nan or inf): a training run that diverged; "
                         "retrain it (a lower --learning-rate)")
    return weights


def _all_finite(weights: dict) -> bool:
    return all(_all_finite(v) if isinstance(v, dict) else all(np.isfinite(a).all() for a in v if a.dtype.kind == "f")
               for v in weights.values())


def _layer_weights(layers) -> dict:
    """{storage key: [variables]} of an HDF5 "layers" group; a nested network's key maps to its own such dict."""
    out = {}
    for name in layers:
        group = layers[name]
        if "layers" in group:
            out[name] = _layer_weights(group["layers"])
        else:
            out[name] = [np.asarray(group["vars"][str(i)]) for i in range(len(group["vars"]))]
    return out


def _first(value):
    return value[0] if isinstance(value, (list, tuple)) else value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("2_d", "2d").replace("1_d", "1d")

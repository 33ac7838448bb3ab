"""The genotype CNN: a read-set network that looks at each read, pools over reads, then reasons along columns.

Rows of a pileup are an unordered set of reads, so instead of InceptionV3 (about 12 examples/s on two
cores) dvcall encodes every read row with small 1-D convolutions, averages and max-pools the read
features over the reads that cover each column (depth-invariant, which helps across 15-80x), appends
log depth and the reference row, and runs a 1-D CNN over the central columns. About 100x cheaper.

Row order cannot matter to such a network, so DeepVariant's haplotype sorting (docs/design.md §6) has nothing to act
on; its purpose, letting the network compare the two haplotypes, is served instead by haplotype pooling:
when the pileup has an HP channel, read features are also averaged over the HP=1 and the HP=2 reads
separately, each haplotype's summary passes through one shared layer, and the two are combined by sum and
maximum, because which haplotype is called 1 is arbitrary in every phase block.
"""
from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np

from .errors import ModelError
from .model_info import (HAPLOTYPE_POOLING_VERSION, INFO_FILE, MODEL_FILE, READSET_VERSION, ModelInfo, load_model_info,
                         save_model_info)
from .outputs import atomic_output
from .pileup import hp_values



def _keras():
    from .tf_runtime import keras  # lazy: make_examples and --help never pay for TensorFlow

    return keras()


HP_PIXELS = tuple(int(v) for v in hp_values(np.array([1, 2])))  # the HP channel's pixels of HP=1 and HP=2
REF_ROWS = 5  # the pileup's reference rows (pileup.PileupOptions.ref_rows)
CROP_WIDTH = 101  # the network reads the central columns only
HAPLOTYPE_LAYER = "haplotype"
COLUMN_FEATURES = 96  # the column convolutions' width (every shipped model's); dvcall train --column-features
COLUMN_FEATURES_RANGE = (8, 1024)  # the widths train accepts (the CLI and scripts/train_illumina_model.sh check against it)


def build_model(shape: tuple[int, int, int], ref_rows: int = REF_ROWS, crop_width: int = CROP_WIDTH, read_features: int = 16, pixel_features: int = 24,
                column_features: int = COLUMN_FEATURES, hp_index: int | None = None, haplotype_features: int = 32, max_pooling: bool = True):
    """Keras model: uint8 HWC pileup -> softmax over (0, 1, 2 copies of the alt set); `hp_index`: position
    of the HP channel among the channels, to pool reads by haplotype (None: no haplotype pooling); `max_pooling`:
    besides each read feature's mean over the reads, also its maximum (one read alone can then move a call)."""
    keras = _keras()
    layers, ops = keras.layers, keras.ops

    height, width, channels = shape
    crop = max(0, (width - crop_width) // 2)
    inp = keras.Input(shape=shape, dtype="uint8", name="pileup")
    raw = layers.Cropping2D(((0, 0), (crop, crop)))(ops.cast(inp, "float32"))
    x = raw
    if hp_index is not None:  # per read, only "tagged or not": which haplotype is 1 is left to the pooling
        tagged = ops.cast(raw[..., hp_index:hp_index + 1] > 0, "float32") * float(HP_PIXELS[1])
        x = ops.concatenate([raw[..., :hp_index], tagged, raw[..., hp_index + 1:]], axis=-1)
    covered = ops.cast(ops.any(x[:, ref_rows:] > 0, axis=-1, keepdims=True), "float32")  # [B, R, W, 1]
    x = x / 127.5 - 1.0
    reads = x[:, ref_rows:]
    f = layers.Conv2D(pixel_features, (1, 1), activation="relu", name="read_pixel")(reads)
    f = layers.Conv2D(read_features, (1, 5), padding="same", activation="relu", name="read_context")(f)
    f = f * covered
    depth = ops.sum(covered, axis=1)  # [B, W, 1]
    mean = ops.sum(f, axis=1) / ops.maximum(depth, 1.0)
    pooled = [mean, ops.max(f, axis=1)] if max_pooling else [mean]
    ref = layers.Conv2D(8, (1, 5), padding="same", activation="relu", name="ref_context")(x[:, :1])[:, 0]
    z = ops.concatenate([*pooled, ops.log1p(depth) / 4.0, ref], axis=-1)
    if hp_index is not None:
        z = ops.concatenate([z, _haplotype_pooling(f, raw[:, ref_rows:, :, hp_index:hp_index + 1], haplotype_features)], axis=-1)
    for i, (k, stride) in enumerate(((5, 1), (5, 1), (3, 2), (3, 2))):
        z = layers.Conv1D(column_features, k, strides=stride, padding="same", use_bias=False, name=f"col_conv{i}")(z)
        # LayerNorm, not BatchNorm: identical in training and inference, so short runs give usable models.
        z = layers.LayerNormalization(name=f"col_norm{i}")(z)
        z = layers.Activation("relu")(z)
    centre = z.shape[1] // 2
    z = ops.concatenate([ops.reshape(z[:, centre - 2:centre + 3], (-1, 5 * column_features)),
                         layers.GlobalMaxPooling1D()(z)], axis=-1)
    z = layers.Dense(128, activation="relu", name="fc")(z)
    z = layers.Dropout(0.2)(z)
    out = layers.Dense(3, activation="softmax", name="genotype")(z)
    return keras.Model(inp, out, name="dvcall_readset_cnn")


def _haplotype_pooling(f, hp, features: int):
    """Per-column summary of each haplotype's reads, symmetric in the two (HP labels are arbitrary)."""
    keras = _keras()
    layers, ops = keras.layers, keras.ops
    shared = layers.Dense(features, activation="relu", name=HAPLOTYPE_LAYER)
    summaries = []
    for pixel in HP_PIXELS:
        member = ops.cast(ops.equal(hp, float(pixel)), "float32")  # [B, R, W, 1]; undrawn pixels are 0
        depth = ops.sum(member, axis=1)
        mean = ops.sum(f * member, axis=1) / ops.maximum(depth, 1.0)
        summaries.append(shared(ops.concatenate([mean, ops.log1p(depth) / 4.0], axis=-1)))
    return ops.concatenate([summaries[0] + summaries[1], ops.maximum(summaries[0], summaries[1])], axis=-1)


def model_version(model) -> str:
    """Architecture tag for model_info.json, read off the built model so fine-tuning keeps its parent's."""
    return HAPLOTYPE_POOLING_VERSION if any(layer.name == HAPLOTYPE_LAYER for layer in model.layers) else READSET_VERSION


def save_model(model, model_dir: str, info: ModelInfo) -> None:
    os.makedirs(model_dir, exist_ok=True)
    with atomic_output(os.path.join(model_dir, MODEL_FILE), ".keras") as tmp:
        model.save(tmp)
    save_model_info(model_dir, info)


def model_input_shape(model_dir: str) -> list[int]:
    """The input shape (rows, width, channels) the weights of model_dir were built for, read without TensorFlow:
    a .keras file is a zip archive holding the network's config.json. The archive's checksums are verified
    too, so a damaged model fails in milliseconds, before any example is made, not after make_examples."""
    load_model_info(model_dir)
    path = os.path.join(model_dir, MODEL_FILE)
    damaged = f"cannot load {model_dir}/{MODEL_FILE}: the file is damaged or from another version; retrain it"
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise ModelError(damaged)
            config = json.loads(archive.read("config.json"))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        raise ModelError(damaged) from None
    shapes = [layer["config"].get("batch_shape") or layer["config"].get("batch_input_shape")
              for layer in config.get("config", {}).get("layers", []) if layer.get("class_name") == "InputLayer"]
    if len(shapes) != 1 or not shapes[0]:
        raise ModelError(damaged)
    return [int(x) for x in shapes[0][1:]]


def load_model(model_dir: str):
    load_model_info(model_dir)
    keras = _keras()
    try:
        return keras.models.load_model(os.path.join(model_dir, MODEL_FILE), compile=False)
    except Exception as exc:  # keras raises many types for a corrupt file
        if "safe_mode" in str(exc):  # a Lambda layer holding Python code: Keras will not run it from a file
            raise ModelError(f"cannot load {model_dir}/{MODEL_FILE}: its network has a layer holding Python code (a "
                             "Lambda), which Keras loads only with safe mode off, running whatever code the file "
                             "holds; dvcall does not: rebuild the network without Lambda layers") from None
        saved_by = keras_version_of(os.path.join(model_dir, MODEL_FILE))
        if saved_by and _version_tuple(saved_by) > _version_tuple(keras.__version__):
            raise ModelError(f"cannot load {model_dir}/{MODEL_FILE} ({type(exc).__name__}): it was saved by Keras "
                             f"{saved_by}, and Keras {keras.__version__} is installed: pip install 'keras>={saved_by}' "
                             "(Python 3.11 or newer)") from None
        raise ModelError(f"cannot load {model_dir}/{MODEL_FILE} ({type(exc).__name__}): the file is damaged or from another version; retrain it") from None


def keras_version_of(path: str) -> str | None:
    """The Keras version a .keras archive was saved by (its metadata.json), or None when it does not say."""
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    return version.strip() if isinstance(version, str) and _version_tuple(version) else None


def _version_tuple(version: str) -> tuple[int, ...]:
    """(3, 15, 1) from '3.15.1' or 'v3.15.1' (a suffix such as 'rc1' or '.dev0' ends it; () when none), padded to
    three numbers so that '3.15' and '3.15.0' compare equal."""
    out: list[int] = []
    for part in version.strip().lstrip("vV").split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        out.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(out + [0] * (3 - len(out))) if out else ()


SHIPPED_MODEL_NAMES = ("illumina-wgs", "pacbio-hifi", "ont", "hybrid-hifi-illumina", "illumina-wgs-baseline",
                       "illumina-wgs-realign")  # the folders of models/ (the presets' models, then the ablation ones)


def shipped_model_problem(model_dir: str, flag: str = "--model") -> str | None:
    """Why `model_dir` may not be written into (None: it may): it is one of the shipped models (the checkout's
    `models/` or the installed ones; a symlink to one counts), which every later `dvcall run` takes by default.
    Tools that refit a model in place (calibrate, train-merger, the GQ-map fit) work on a copy."""
    real = os.path.realpath(model_dir)
    name = os.path.basename(real)
    if name not in SHIPPED_MODEL_NAMES:
        return None
    if real != os.path.realpath(default_model_dir(name)):
        try:
            from importlib import resources
            if real != os.path.realpath(str(resources.files("dvcall_models") / name)):
                return None
        except (ModuleNotFoundError, TypeError):
            return None
    return (f"{flag} {model_dir} is the shipped model {name}, which every `dvcall run` of its type uses: work on a "
            f"copy (cp -r {real} my-{name}) and pass that; `bash scripts/model_install.sh my-{name} DEST` installs "
            "the result")


def default_model_dir(name: str = "illumina-wgs") -> str:
    """The shipped model: the checkout's own `models/` when this package runs from a checkout (a model retrained
    there is the one its code calls with, even when another tree is installed), else the installed one."""
    from importlib import resources

    beside = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", name)
    if os.path.exists(os.path.join(beside, INFO_FILE)):
        return beside
    try:
        return str(resources.files("dvcall_models") / name)
    except ModuleNotFoundError:
        return beside

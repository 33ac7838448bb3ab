"""The numpy forward pass (inference.py) computes what the Keras network computes, on every shipped model and
on freshly built ones, and call_variants falls back to Keras only for networks it does not know."""
from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest

from deepvariant_py.call_variants import check_runnable, load_predictor
from deepvariant_py.errors import DependencyError, ModelError
from deepvariant_py.ensemble import Ensemble
from deepvariant_py.inference import NumpyGenotypeModel, UnknownNetwork
from deepvariant_py.model import build_model, default_model_dir, keras_version_of, load_model, model_version, save_model
from deepvariant_py.model_info import ModelInfo, load_model_info
from deepvariant_py.pileup import HP_CHANNEL_ENUM

GQ_TOLERANCE = 0.05  # phred; float32 sums in another order move probabilities by ~1e-6


def _pileups(shape, hp_index, n=24, seed=7):
    """Pileup-like images: a reference block, reads covering random spans (some rows empty, some reads ending
    inside the window), random pixel values, HP pixels 0 / HP=1 / HP=2 / other tagged values."""
    rng = np.random.default_rng(seed)
    height, width, channels = shape
    images = np.zeros((n, height, width, channels), np.uint8)
    images[:, :5] = rng.integers(1, 255, (n, 5, width, channels))
    for b in range(n):
        depth = rng.integers(0, height - 5)  # example 0.. may have no reads at all
        for r in range(5, 5 + depth):
            lo = rng.integers(0, width)
            hi = min(width, lo + rng.integers(1, width))
            images[b, r, lo:hi] = rng.integers(1, 255, (hi - lo, channels))
            if hp_index is not None:
                images[b, r, lo:hi, hp_index] = rng.choice([0, 127, 254, 60])
    images[0, 5:] = 0
    return images


def _gq(p):
    return -10 * np.log10(np.clip(1 - p.max(axis=1), 1e-10, 1))


def _same(model_dir, images):
    keras_probs = load_model(model_dir)(images, training=False).numpy()
    model = NumpyGenotypeModel.from_keras_file(model_dir)
    # an ensemble's Keras graph is the plain mean: its cascade (test_ensemble.py) is asked to run every member
    numpy_probs = model(images, every_member=np.ones(len(images), bool)) if isinstance(model, Ensemble) else model(images)
    np.testing.assert_allclose(numpy_probs, keras_probs, atol=2e-5)
    assert (numpy_probs.argmax(axis=1) == keras_probs.argmax(axis=1)).all()
    assert np.abs(_gq(numpy_probs) - _gq(keras_probs)).max() < GQ_TOLERANCE


@pytest.mark.parametrize("name", ["illumina-wgs", "pacbio-hifi", "ont", "hybrid-hifi-illumina"])
def test_numpy_forward_pass_matches_keras_on_shipped_models(name):
    model_dir = default_model_dir(name)
    info = load_model_info(model_dir)
    hp = info.channels.index(HP_CHANNEL_ENUM) if HP_CHANNEL_ENUM in info.channels else None
    _same(model_dir, _pileups(info.shape, hp))


@pytest.mark.parametrize("name", ["illumina-wgs", "pacbio-hifi"])
def test_a_batch_of_pileups_without_reads_runs(name):
    """Every example of a batch with no read row (a candidate whose reads are all below the base-quality
    threshold there: make_examples marks such sites no-calls) still goes through, as in Keras."""
    model_dir = default_model_dir(name)
    info = load_model_info(model_dir)
    images = _pileups(info.shape, None, n=3)
    images[:, 5:] = 0
    _same(model_dir, images)


@pytest.mark.parametrize("shape,hp_index,max_pooling,columns", [((100, 221, 6), None, True, 96), ((30, 199, 7), 6, True, 96),
                                                               ((30, 101, 8), 2, True, 96), ((100, 221, 6), None, False, 96),
                                                               ((30, 199, 7), 6, False, 96), ((30, 199, 7), 6, True, 160)])
def test_numpy_forward_pass_matches_keras_on_new_networks(tmp_path, shape, hp_index, max_pooling, columns):
    """Random weights (not the shipped ones), other widths, the HP channel elsewhere, reads pooled by mean only,
    wider column convolutions: the layer mapping holds."""
    model = build_model(shape, hp_index=hp_index, max_pooling=max_pooling, column_features=columns)
    others = iter(c for c in (1, 2, 3, 4, 5, 6, 9, 10) if c != HP_CHANNEL_ENUM)
    channels = [HP_CHANNEL_ENUM if i == hp_index else next(others) for i in range(shape[2])]
    save_model(model, str(tmp_path), ModelInfo(shape=shape, channels=tuple(channels), version=model_version(model)))
    _same(str(tmp_path), _pileups(shape, hp_index, seed=3))
    assert NumpyGenotypeModel.from_keras_file(str(tmp_path)).max_pooling is max_pooling  # read off the weights


def test_an_unknown_network_is_run_by_keras_and_a_damaged_one_is_an_error(tmp_path, monkeypatch):
    import keras

    shape = (10, 21, 6)
    inp = keras.Input(shape=shape, dtype="uint8")
    flat = keras.layers.Flatten()(keras.ops.cast(inp, "float32") / 255.0)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="genotype")(flat))
    save_model(model, str(tmp_path / "other"), ModelInfo(shape=shape, channels=(1, 2, 3, 4, 5, 6), version="dvcall-readset-1"))
    with pytest.raises(UnknownNetwork):
        NumpyGenotypeModel.from_keras_file(str(tmp_path / "other"))
    images = np.random.default_rng(0).integers(0, 255, (4, *shape), dtype=np.uint8)
    np.testing.assert_allclose(load_predictor(str(tmp_path / "other"))(images), model(images).numpy(), atol=1e-6)
    check_runnable(str(tmp_path / "other"))  # Keras is here: it runs
    # hostile25: without Keras (a plain install), one line naming the extra, before any work
    monkeypatch.setattr("deepvariant_py.tf_runtime.available", lambda: False)
    for load in (check_runnable, load_predictor):
        with pytest.raises(DependencyError, match=r"not one dvcall's NumPy forward pass knows \(.*\); running it needs "
                                                  r"TensorFlow and Keras: pip install 'dvcall\[train\]'"):
            load(str(tmp_path / "other"))
    monkeypatch.undo()
    # a network of two outputs, or not of 3 probabilities, is refused when it loads, not "a bug" after calling
    two = keras.Model(inp, [keras.layers.Dense(3, name="a")(flat), keras.layers.Dense(2, name="b")(flat)])
    save_model(two, str(tmp_path / "two"), ModelInfo(shape=shape, channels=(1, 2, 3, 4, 5, 6), version="dvcall-readset-1"))
    for load in (load_predictor, check_runnable):  # review45: run and the workflow check before any work
        with pytest.raises(ModelError, match=r"gives 2 output\(s\) .*dvcall needs one: 3 genotype probabilities"):
            load(str(tmp_path / "two"))
    # hostile25: a Lambda layer, which Keras' safe mode refuses, was reported as a damaged file
    lam = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Lambda(lambda t: t * 1)(inp))))
    save_model(lam, str(tmp_path / "lambda"), ModelInfo(shape=shape, channels=(1, 2, 3, 4, 5, 6), version="dvcall-readset-1"))
    with pytest.raises(ModelError, match=r"a layer holding Python code \(a Lambda\).*without Lambda layers"):
        load_predictor(str(tmp_path / "lambda"))

    damaged = tmp_path / "damaged"
    shutil.copytree(default_model_dir("illumina-wgs"), damaged)
    with open(damaged / "model.keras", "r+b") as fh:
        fh.seek(os.path.getsize(damaged / "model.keras") // 2)
        fh.write(b"\0" * 64)
    with pytest.raises(ModelError) as err:
        load_predictor(str(damaged))
    assert not isinstance(err.value, UnknownNetwork) and "damaged" in str(err.value)
    # hostile26: Keras older than the one that saved the file fails to read it; that was "damaged ... retrain it"
    saved_by = keras_version_of(os.path.join(default_model_dir("ont"), "model.keras"))
    assert saved_by and saved_by[0] == "3"
    import zipfile
    for meta in ("[1]", "null", '{"keras_version": "x"}', "{"):  # review46: not an object crashed the error path
        with zipfile.ZipFile(tmp_path / "odd.keras", "w") as zf:
            zf.writestr("metadata.json", meta)
        assert keras_version_of(str(tmp_path / "odd.keras")) is None

    def too_old(*args, **kwargs):
        raise TypeError("GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'")
    monkeypatch.setattr(keras.models, "load_model", too_old)
    monkeypatch.setattr(keras, "__version__", "3.12.4")
    with pytest.raises(ModelError, match=rf"saved by Keras {re.escape(saved_by)}, and Keras 3.12.4 is installed: "
                                         rf"pip install 'keras>={re.escape(saved_by)}' \(Python 3.11 or newer\)"):
        load_model(default_model_dir("ont"))


def test_weights_that_are_not_numbers_are_a_model_error_before_any_example():
    """A diverged training run's model called every site with nan probabilities: 'a bug in dvcall' at GQ."""
    import io

    import h5py

    from deepvariant_py.inference import _read_weights

    def blob(values):
        buf = io.BytesIO()
        with h5py.File(buf, "w") as h5:
            h5.create_dataset("layers/dense/vars/0", data=np.asarray(values, np.float32))
            h5.create_dataset("layers/inner/layers/conv2d/vars/0", data=np.ones(3, np.float32))
        return buf.getvalue()

    assert set(_read_weights(blob([1.0, 2.0]), "m/model.keras")) == {"dense", "inner"}
    for bad in ([1.0, np.nan], [np.inf, 0.0]):
        with pytest.raises(ModelError, match="m/model.keras holds weights that are not numbers"):
            _read_weights(blob(bad), "m/model.keras")

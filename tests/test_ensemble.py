"""Ensembles (ensemble.py): the mean of the members' probabilities, in Keras and in call_variants' numpy forward
pass, written only from members that read the same examples, never over an existing model."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from deepvariant_py.call_variants import load_predictor
from deepvariant_py.cli.main import main
from deepvariant_py.ensemble import DEFAULT_CASCADE, cascade_mean, combine_models, is_ensemble
from deepvariant_py.errors import InputError
from deepvariant_py.ensemble import Ensemble
from deepvariant_py.inference import NumpyGenotypeModel
from deepvariant_py.model import build_model, load_model, model_version, save_model
from deepvariant_py.model_info import ModelInfo, load_model_info
from deepvariant_py.train import TrainOptions, train

from test_inference import _pileups

SHAPE = (30, 101, 6)
CHANNELS = (1, 2, 3, 4, 5, 6)


def _member(path, seed, shape=SHAPE, channels=CHANNELS, settings=None, training_spans=None):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(shape)
    save_model(model, str(path), ModelInfo(shape=shape, channels=channels, settings=settings or {"realign": True},
                                           version=model_version(model), notes={"seed": seed, "temperature_fit": {"x": 1}},
                                           training_spans=training_spans))
    return str(path)


def test_an_ensemble_is_the_mean_of_its_members_in_keras_and_in_numpy(tmp_path):
    a, b, c = (_member(tmp_path / f"m{s}", s) for s in (1, 2, 3))
    info = combine_models([a, b, c], str(tmp_path / "ens"), cascade=0.0)
    images = _pileups(SHAPE, None, seed=11)
    members = [load_model(d)(images, training=False).numpy() for d in (a, b, c)]
    assert not np.allclose(members[0], members[1], atol=1e-3)  # different seeds: different networks
    ensemble = load_model(str(tmp_path / "ens"))
    assert is_ensemble(ensemble) and not is_ensemble(load_model(a))
    expected = np.mean(members, axis=0)
    np.testing.assert_allclose(ensemble(images, training=False).numpy(), expected, atol=1e-6)
    predictor = load_predictor(str(tmp_path / "ens"))  # what call_variants runs: numpy, not Keras
    assert isinstance(predictor, Ensemble) and len(predictor.members) == 3
    assert all(isinstance(m, NumpyGenotypeModel) for m in predictor.members)
    np.testing.assert_allclose(predictor(images), expected, atol=2e-5)
    # model_info: the members' tensor and settings, no calibration, each member's own notes minus its calibration
    assert info == load_model_info(str(tmp_path / "ens"))
    assert info.shape == SHAPE and info.channels == CHANNELS and info.calibration.temperature == 1.0
    assert [m["seed"] for m in info.notes["members"]] == [1, 2, 3]
    assert all("temperature_fit" not in m for m in info.notes["members"])


def test_an_ensemble_records_where_any_member_learned(tmp_path):
    a = _member(tmp_path / "a", 1, training_spans=(("20", 0, 100), ("21", 5, 9)))
    b = _member(tmp_path / "b", 2, training_spans=(("20", 50, 300),))
    c = _member(tmp_path / "c", 3)  # records none
    assert combine_models([a, b, c], str(tmp_path / "ens")).training_spans == (("20", 0, 300), ("21", 5, 9))
    assert combine_models([c, _member(tmp_path / "d", 4)], str(tmp_path / "ens_cd")).training_spans is None


def test_members_must_read_the_same_examples_and_nothing_is_overwritten(tmp_path):
    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)
    other_shape = _member(tmp_path / "wide", 3, shape=(30, 121, 6))
    other_settings = _member(tmp_path / "norealign", 4, settings={"realign": False})
    out = str(tmp_path / "out")
    for members, message in (([a], "at least two"), ([a, a + "/"], "twice"), ([a, other_shape], "tensor shape"),
                             ([a, other_settings], "settings")):
        with pytest.raises(InputError, match=message):
            combine_models(members, out)
        assert not os.path.exists(out)
    combine_models([a, b], out)
    before = open(os.path.join(out, "model_info.json")).read()
    with pytest.raises(InputError, match="exists"):
        combine_models([a, b], out)
    with pytest.raises(InputError, match="ensemble already"):
        combine_models([out, a], str(tmp_path / "nested"))
    assert open(os.path.join(out, "model_info.json")).read() == before


def test_cli_writes_an_ensemble_and_refuses_bad_members_in_one_line(tmp_path):
    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)
    runner = CliRunner()
    ok = runner.invoke(main, ["ensemble", "--member", a, "--member", b, "--output", str(tmp_path / "ens")])
    assert ok.exit_code == 0, ok.output
    assert len(json.load(open(tmp_path / "ens" / "model_info.json"))["members"]) == 2
    bad = runner.invoke(main, ["ensemble", "--member", a, "--member", str(tmp_path / "missing"), "--output", str(tmp_path / "e2")])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert bad.output.strip().count("\n") == 0 and "does not exist" in bad.output
    assert not os.path.exists(tmp_path / "e2")


def test_fine_tuning_an_ensemble_is_refused(tmp_path):
    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)
    combine_models([a, b], str(tmp_path / "ens"))
    with pytest.raises(InputError, match="ensemble"):
        train("unused.tfrecord.gz", str(tmp_path / "tuned"), TrainOptions(init_model=str(tmp_path / "ens")))


def test_the_cascade_runs_later_members_only_where_the_first_is_unsure():
    calls = []

    def member(probs):
        def run(images):
            calls.append(len(images))
            return probs[images[:, 0, 0, 0]]
        return run

    sure = np.array([[0.995, 0.004, 0.001], [0.2, 0.7, 0.1], [0.001, 0.009, 0.99]], np.float32)  # example kinds 0-2
    other = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25]], np.float32)
    images = np.zeros((3, 1, 1, 1), np.uint8)
    images[:, 0, 0, 0] = [0, 1, 2]
    out = cascade_mean([member(sure), member(other)], images, 0.99)
    assert calls == [3, 1]  # the second network saw only example 1, the one the first gave 0.7
    np.testing.assert_allclose(out[[0, 2]], sure[[0, 2]])
    np.testing.assert_allclose(out[1], (sure[1] + other[1]) / 2)
    calls.clear()
    np.testing.assert_allclose(cascade_mean([member(sure), member(other)], images, 0.0), (sure + other) / 2)
    assert calls == [3, 3]
    calls.clear()  # examples of multi-allelic candidates go through every member, sure or not
    out = cascade_mean([member(sure), member(other)], images, 0.99, every_member=np.array([False, False, True]))
    assert calls == [3, 2]
    np.testing.assert_allclose(out[2], (sure[2] + other[2]) / 2)
    np.testing.assert_allclose(out[0], sure[0])


def test_a_cascaded_ensemble_gives_the_same_probabilities_in_numpy_and_keras(tmp_path, monkeypatch):
    from deepvariant_py.inference import NumpyGenotypeModel, UnknownNetwork

    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)
    images = _pileups(SHAPE, None, seed=13)
    first = load_model(a)(images, training=False).numpy()
    cascade = float(np.median(first.max(axis=1)))  # half the examples sure enough, half not
    info = combine_models([a, b], str(tmp_path / "ens"), cascade=cascade)
    assert info.cascade == cascade == load_model_info(str(tmp_path / "ens")).cascade
    numpy_probs = load_predictor(str(tmp_path / "ens"))(images)
    second = load_model(b)(images, training=False).numpy()
    unsure = first.max(axis=1) < cascade
    assert 0 < unsure.sum() < len(images)
    expected = np.where(unsure[:, None], (first + second) / 2, first)
    np.testing.assert_allclose(numpy_probs, expected, atol=2e-5)

    def unknown(model_dir):
        raise UnknownNetwork("pretend")

    monkeypatch.setattr(NumpyGenotypeModel, "from_keras_file", unknown)  # call_variants' Keras fallback
    np.testing.assert_allclose(load_predictor(str(tmp_path / "ens"))(images), expected, atol=2e-5)
    with pytest.raises(InputError, match="cascade"):
        combine_models([a, b], str(tmp_path / "bad"), cascade=1.0)
    assert DEFAULT_CASCADE == 0.99


def test_a_stopped_ensemble_write_leaves_no_model_behind(tmp_path, monkeypatch):
    """Stopped after the archive is written but before model_info.json is: neither file is left, so the rerun
    is not refused as 'exists'."""
    import deepvariant_py.ensemble as ensemble_module

    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while model_info.json is being written
    monkeypatch.setattr(ensemble_module, "save_model_info", stop)
    with pytest.raises(KeyboardInterrupt):
        combine_models([a, b], str(tmp_path / "ens"))
    assert os.listdir(tmp_path / "ens") == []
    monkeypatch.undo()
    combine_models([a, b], str(tmp_path / "ens"))
    assert sorted(os.listdir(tmp_path / "ens")) == ["model.keras", "model_info.json"]

"""model_info.json as a typed record: validated where it is read, written back without losing what it carries."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from deepvariant_py.calibration import Calibration
from deepvariant_py.errors import ModelError
from deepvariant_py.model import default_model_dir
from deepvariant_py.model_info import INFO_FILE, ModelInfo, load_model_info, save_model_info
from deepvariant_py.presets import SHIPPED_MODELS

GOOD = {"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6], "settings": {"realign": True}, "version": "dvcall-readset-1"}


SHIPPED = sorted(name for name in SHIPPED_MODELS.values() if os.path.isdir(default_model_dir(name)))


def test_every_sequencer_has_a_shipped_model():
    assert set(SHIPPED) == set(SHIPPED_MODELS.values())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_reads_and_writes_back_the_same(name):
    with open(os.path.join(default_model_dir(name), INFO_FILE)) as fh:
        data = json.load(fh)
    info = ModelInfo.from_json(data)
    # every shipped model is calibrated: a fitted temperature (below 1 for a model that under-claims on its tuning
    # examples, as the hybrid one does) and a GQ map
    assert info.calibration.temperature != 1.0 and "temperature_fit" in info.notes and len(info.calibration.gq_raw) > 3
    assert info.to_json() == data
    assert ModelInfo.from_json(info.to_json()) == info
    assert info.model_version and info.model_version.isdigit()  # the release its card numbers, named in VCF headers


@pytest.mark.parametrize("change, message", [
    ({"shape": [100, 221]}, "shape .* three positive integers"),
    ({"shape": [100, 0, 6]}, "shape .* three positive integers"),
    ({"channels": [1, 2, 3]}, r"channels .* not 6 channel numbers"),
    ({"channels": [1, 2, 3, 4, 5, "6"]}, "channels"),
    ({"settings": ["realign"]}, "settings .* not an object"),
    ({"version": "dvcall-inception-9"}, "architecture 'dvcall-inception-9' is unknown"),
    ({"temperature": 0}, "temperature 0 is not a positive number"),
    ({"temperature": "hot"}, "temperature"),
    ({"gq_calibration": {"raw": [5, 20], "calibrated": [3]}}, "as many calibrated as raw"),
    ({"gq_calibration": {"raw": [20, 5], "calibrated": [3, 12]}}, "raw ones increasing"),
    ({"ensemble_cascade": 1.0}, r"ensemble_cascade 1.0 is not a probability in \[0, 1\)"),
    ({"ensemble_cascade": "0.99"}, "ensemble_cascade"),
    ({"model_version": 6}, "model_version 6 is not a short name"),
    ({"model_version": "6,weights=x"}, "no comma"),
    ({"model_version": " "}, "model_version"),
    ({"training_spans": [["20", 10, 5]]}, "training_spans .* not \\[contig, start, end\\] triples"),
    ({"training_spans": [["20", 1, True]]}, "training_spans"),
    ({"training_spans": "20:1-5"}, "training_spans"),
])
def test_a_bad_record_is_refused_saying_what_is_wrong(change, message):
    with pytest.raises(ValueError, match=message):
        ModelInfo.from_json({**GOOD, **change})


def test_unknown_keys_are_notes_carried_through_and_calibration_is_typed():
    data = {**GOOD, "epoch": 7, "temperature": 1.3,
            "gq_calibration": {"raw": [5, 20], "calibrated": [3, 12], "calls": 40, "samples": ["calib_1"]}}
    info = ModelInfo.from_json(data)
    assert info.calibration == Calibration(1.3, (5.0, 20.0), (3.0, 12.0))
    assert info.notes == {"epoch": 7, "gq_calibration_fit": {"calls": 40, "samples": ["calib_1"]}}  # the older layout, read
    back = info.to_json()
    assert back["epoch"] == 7 and back["gq_calibration"] == {"raw": [5, 20], "calibrated": [3, 12]}
    assert ModelInfo.from_json(GOOD).calibration == Calibration() and "temperature" not in ModelInfo.from_json(GOOD).to_json()
    cascaded = ModelInfo.from_json({**GOOD, "ensemble_cascade": 0.99})
    assert cascaded.cascade == 0.99 and cascaded.to_json()["ensemble_cascade"] == 0.99 and "ensemble_cascade" not in cascaded.notes
    assert ModelInfo.from_json(GOOD).cascade == 0.0 and "ensemble_cascade" not in ModelInfo.from_json(GOOD).to_json()


def test_with_calibration_keeps_the_rest_and_adds_notes():
    info = ModelInfo.from_json({**GOOD, "epoch": 3})
    new = info.with_calibration(Calibration(1.5), temperature_fit={"examples": 10})
    assert new.calibration.temperature == 1.5 and new.notes == {"epoch": 3, "temperature_fit": {"examples": 10}}
    assert (new.shape, new.channels, new.settings) == (info.shape, info.channels, info.settings)


def test_training_spans_round_trip_and_say_when_other_data_come_from_there():
    from deepvariant_py.regions import Region, RegionSet
    info = ModelInfo.from_json({**GOOD, "training_spans": [["20", 100, 500], ["21", 0, 50]]}, "my-model")
    assert info.training_spans == (("20", 100, 500), ("21", 0, 50))
    assert ModelInfo.from_json(info.to_json()) == info and info.to_json()["training_spans"] == [["20", 100, 500], ["21", 0, 50]]
    warning = info.trained_where(RegionSet([Region("20", 400, 700), Region("21", 10, 20)]))
    assert warning.startswith("come from where model my-model was trained (20:401-500, 110 bp in all")
    assert info.trained_where(RegionSet([Region("20", 500, 700), Region("chr21", 0, 50)])) is None  # touching, other name
    assert ModelInfo.from_json(GOOD).trained_where(RegionSet([Region("20", 0, 10**6)])) is None  # not recorded


def test_input_channels_of_a_subset_model_and_a_mismatch():
    info = ModelInfo.from_json(GOOD, "m")
    assert info.input_channels((100, 221, 8), (1, 2, 3, 4, 5, 6, 9, 10)) == [0, 1, 2, 3, 4, 5]
    assert ModelInfo((100, 221, 2), (9, 1)).input_channels((100, 221, 3), (1, 2, 9)) == [2, 0]
    with pytest.raises(ModelError, match=r"model m expects examples of shape \[100, 221, 6\].*shape \[100, 199, 6\]"):
        info.input_channels((100, 199, 6), (1, 2, 3, 4, 5, 6))
    with pytest.raises(ModelError, match="channels"):
        info.input_channels((100, 221, 6), (1, 2, 3, 4, 5, 7))
    with pytest.raises(ModelError, match="belong to different models"):
        info.check_weights([100, 221, 7])
    info.check_weights([100, 221, 6])


def test_load_and_save_a_model_directory(tmp_path):
    model = tmp_path / "m"
    shutil.copytree(default_model_dir(), model)
    info = load_model_info(str(model))
    assert info.directory == str(model) and info.pools_by_haplotype is False
    save_model_info(str(model), info.with_calibration(Calibration(2.0)))
    assert load_model_info(str(model)).calibration == Calibration(2.0)
    assert load_model_info(str(model)).notes == info.notes
    (model / INFO_FILE).write_text(json.dumps({**GOOD, "shape": [1, 2]}))
    with pytest.raises(ModelError, match=f"{INFO_FILE} is unreadable .*shape.*retrain or restore"):
        load_model_info(str(model))


def test_a_refit_keeps_the_calibration_it_replaces_one_level_deep():
    """A calibrate or GQ-map fit on the wrong data replaced the model's calibration with no way back."""
    from deepvariant_py.model_info import REPLACED_CALIBRATION
    first = ModelInfo.from_json({**GOOD, "temperature": 1.3, "temperature_fit": {"examples": 900},
                                 "gq_calibration": {"raw": [5.0, 40.0], "calibrated": [4.0, 30.0]}, "epoch": 2})
    second = first.refitted(Calibration(0.9), temperature_fit={"examples": 50})
    data = second.to_json()
    assert data["temperature"] == 0.9 and data["temperature_fit"] == {"examples": 50} and data["epoch"] == 2
    assert data[REPLACED_CALIBRATION] == {"temperature": 1.3, "temperature_fit": {"examples": 900},
                                          "gq_calibration": {"raw": [5.0, 40.0], "calibrated": [4.0, 30.0]}}
    third = ModelInfo.from_json(data).refitted(Calibration(1.1), temperature_fit={"examples": 70})
    assert third.to_json()[REPLACED_CALIBRATION] == {"temperature": 0.9, "temperature_fit": {"examples": 50}}  # one level
    assert REPLACED_CALIBRATION not in ModelInfo.from_json(GOOD).refitted(Calibration(1.2)).to_json()  # nothing to keep

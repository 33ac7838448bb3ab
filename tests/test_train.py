"""A tiny `dvcall train` run: writes a loadable model, logs epochs, resumes from its state."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from deepvariant_py.examples_io import ExampleWriter, VariantInfo, write_sidecar
from deepvariant_py.model import load_model, load_model_info
from deepvariant_py.train import TrainOptions, train

SHAPE = (100, 221, 6)


def _examples(path, n=48):
    rng = np.random.default_rng(1)
    w = ExampleWriter(str(path))
    for i in range(n):
        label = i % 3
        img = np.zeros(SHAPE, np.uint8)
        img[5:5 + 10 * (label + 1), 100:120, :] = rng.integers(1, 254, (10 * (label + 1), 20, 6))
        w.write(VariantInfo("chr1", i, "A", ("C",), 10, (5, 5)), (0,), img, label)
    w.close()
    write_sidecar(str(path), SHAPE, [1, 2, 3, 4, 5, 6])


def test_tiny_training_run_writes_loadable_model_and_resumes(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex)
    out = tmp_path / "model"
    opts = TrainOptions(epochs=2, batch_size=16, shuffle_buffer=64)
    summary = train(str(ex), str(out), opts)
    assert summary["best_epoch"] in (1, 2)
    info = load_model_info(str(out))
    assert info["shape"] == list(SHAPE)
    model = load_model(str(out))
    probs = model(np.zeros((2, *SHAPE), np.uint8)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    log_lines = open(out / "training_log.csv").read().strip().splitlines()
    assert len(log_lines) == 3  # header + one line per epoch
    # Resume: a rerun with more epochs continues from the saved state and appends to the log.
    train(str(ex), str(out), TrainOptions(epochs=3, batch_size=16, shuffle_buffer=64))
    assert len(open(out / "training_log.csv").read().strip().splitlines()) >= 4
    assert json.load(open(out / "best.json"))["epoch"] >= 1
    assert os.path.exists(out / "model.keras")


def test_a_stopped_training_resumes_from_its_last_finished_epoch(tmp_path):
    import keras

    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=32)
    out = tmp_path / "model"

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("node lost")

    opts = TrainOptions(epochs=4, batch_size=8, shuffle_buffer=16)
    with pytest.raises(RuntimeError, match="node lost"):
        train(str(ex), str(out), opts, callbacks=[Crash()])
    assert os.path.isdir(out / "resume")  # the state of the finished epochs
    train(str(ex), str(out), opts)
    epochs = [int(line.split(",")[0]) for line in open(out / "training_log.csv").read().strip().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]  # epochs 0 and 1 from the first run, 2 and 3 from the second: no restart
    assert not os.path.exists(out / "resume")
    load_model(str(out))


def test_fine_tuning_starts_from_the_given_models_weights(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    first = tmp_path / "first"
    train(str(ex), str(first), TrainOptions(epochs=1, batch_size=8, shuffle_buffer=16))
    start = load_model(str(first))
    tuned = tmp_path / "tuned"
    train(str(ex), str(tuned), TrainOptions(epochs=1, batch_size=8, shuffle_buffer=16, init_model=str(first), learning_rate=0.0))
    # a zero learning rate keeps the starting weights: the result is the first model, not a fresh one
    for a, b in zip(start.get_weights(), load_model(str(tuned)).get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_training_on_a_channel_subset_records_it(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    out = tmp_path / "model"
    train(str(ex), str(out), TrainOptions(epochs=1, batch_size=8, shuffle_buffer=16, channels=[1, 2, 3, 4]))
    info = load_model_info(str(out))
    assert info["shape"] == [100, 221, 4] and info["channels"] == [1, 2, 3, 4]
    assert info["settings"]["alt_aligned_pileup"] == "none"


def test_examples_with_an_hp_channel_train_a_haplotype_pooling_model_unless_told_not_to(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    write_sidecar(str(ex), SHAPE, [1, 2, 3, 4, 5, 7])  # the sixth channel read as HP
    for pooling, version in ((True, "dvcall-readset-2"), (False, "dvcall-readset-1")):
        out = tmp_path / f"model_{pooling}"
        train(str(ex), str(out), TrainOptions(epochs=1, batch_size=8, shuffle_buffer=16, haplotype_pooling=pooling))
        assert load_model_info(str(out))["version"] == version
        assert any(layer.name == "haplotype" for layer in load_model(str(out)).layers) == pooling

"""A tiny `dvcall train` run: writes a loadable model, logs epochs, resumes from its state."""
from __future__ import annotations

import json
import os

import numpy as np

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


def test_training_on_a_channel_subset_records_it(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    out = tmp_path / "model"
    train(str(ex), str(out), TrainOptions(epochs=1, batch_size=8, shuffle_buffer=16, channels=[1, 2, 3, 4]))
    info = load_model_info(str(out))
    assert info["shape"] == [100, 221, 4] and info["channels"] == [1, 2, 3, 4]
    assert info["settings"]["alt_aligned_pileup"] == "none"

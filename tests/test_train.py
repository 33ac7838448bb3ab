"""Tiny `dvcall train` runs: a loadable model, its log, resuming after a stop, fine-tuning, channel subsets."""
from __future__ import annotations

import json
import logging
import os
import re

import numpy as np
import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import ExampleWriter, VariantInfo, write_sidecar
from deepvariant_py.inference import NumpyGenotypeModel
from deepvariant_py.model import load_model
from deepvariant_py.model_info import load_model_info
from deepvariant_py.train import TrainOptions, epoch_dirs, epoch_model_dir, train

SHAPE = (100, 221, 6)


def _examples(path, n=48, model_type=None, spans=None):
    rng = np.random.default_rng(1)
    w = ExampleWriter(str(path))
    for i in range(n):
        label = i % 3
        img = np.zeros(SHAPE, np.uint8)
        img[5:5 + 10 * (label + 1), 100:120, :] = rng.integers(1, 254, (10 * (label + 1), 20, 6))
        w.write(VariantInfo("chr1", i, "A", ("C",), 10, (5, 5)), (0,), img, label)
    w.close()
    write_sidecar(str(path), SHAPE, [1, 2, 3, 4, 5, 6], model_type=model_type, spans=spans)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny two-epoch training run, shared: each `fit` costs seconds of graph tracing."""
    tmp = tmp_path_factory.mktemp("trained")
    ex = tmp / "train.tfrecord.gz"
    _examples(ex, model_type="ont", spans=[("chr1", 0, 50_000)])
    out = tmp / "model"
    summary = train(str(ex), str(out), TrainOptions(epochs=2, batch_size=16, shuffle_buffer=64, keep_epochs=True))
    return ex, out, summary


def test_tiny_training_run_writes_a_loadable_model_and_its_log(trained):
    _, out, summary = trained
    assert summary["best_epoch"] in (1, 2)
    info = load_model_info(str(out))
    assert not (out / ".dvcall.lock").exists()  # hostile17: a finished folder kept it, and copies carried it
    assert info.shape == SHAPE and set(info.notes) == {"tune_accuracy", "epoch", "label_smoothing", "seed"}
    assert info.model_type == "ont"  # the examples' preset: `run --model` takes its thresholds
    assert info.training_spans == (("chr1", 0, 50_000),)  # where they were made: calibrate warns on data from there
    assert info.notes["label_smoothing"] == TrainOptions().label_smoothing and info.notes["seed"] == TrainOptions().seed
    model = load_model(str(out))
    probs = model(np.zeros((2, *SHAPE), np.uint8)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    log_lines = open(out / "training_log.csv").read().strip().splitlines()
    assert len(log_lines) == 3  # header + one line per epoch
    assert json.load(open(out / "best.json"))["epoch"] >= 1
    assert os.path.exists(out / "model.keras") and not os.path.exists(out / "resume")  # resume state gone when done


def test_keep_epochs_saves_every_epochs_model_and_the_best_is_one_of_them(trained):
    _, out, summary = trained
    best = load_model(str(out)).get_weights()
    same = []
    for epoch in (1, 2):
        folder = epoch_model_dir(str(out), epoch)
        assert load_model_info(folder).notes["epoch"] == epoch
        weights = load_model(folder).get_weights()
        same.append(all(np.array_equal(a, b) for a, b in zip(best, weights)))
    assert same == [summary["best_epoch"] == 1, summary["best_epoch"] == 2]  # the epochs differ; the best is its own
    assert not os.path.exists(epoch_model_dir(str(out), 3))


def test_epoch_dirs_are_the_keep_epochs_folders_in_epoch_order(tmp_path):
    for name in ("epoch-2", "epoch-10", "epoch-1", "epoch-x", "resume"):
        (tmp_path / name).mkdir()
    (tmp_path / "epoch-3").write_text("a file, not a model folder")
    found = epoch_dirs(str(tmp_path))
    assert list(found) == [1, 2, 10]
    assert found[10] == str(tmp_path / "epoch-10")


def test_keep_epochs_refuses_an_earlier_runs_later_epochs(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=8)
    os.makedirs(epoch_model_dir(str(tmp_path / "model"), 3))
    with pytest.raises(InputError, match="epoch-3 is from an earlier run"):
        train(str(ex), str(tmp_path / "model"), TrainOptions(epochs=2, batch_size=8, keep_epochs=True))


def test_a_stopped_training_resumes_from_its_last_finished_epoch(tmp_path):
    import keras

    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=32)
    out = tmp_path / "model"

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("node lost")

    opts = TrainOptions(eager=True, epochs=3, batch_size=16, shuffle_buffer=16)
    with pytest.raises(RuntimeError, match="node lost"):
        train(str(ex), str(out), opts, callbacks=[Crash()])
    assert os.path.isdir(out / "resume")  # the state of the finished epochs
    clock = out / "resume" / "seconds.json"
    assert json.loads(clock.read_text())["seconds"] > 0  # the seconds of the epoch kept
    clock.write_text(json.dumps({"seconds": 1000.0}))  # as if that epoch had taken long
    summary = train(str(ex), str(out), opts)
    assert summary["seconds"] >= 1000.0  # the whole training's seconds, not only the rerun's
    epochs = [int(line.split(",")[0]) for line in open(out / "training_log.csv").read().strip().splitlines()[1:]]
    # epoch 0 from the first run, not redone; the crash came in epoch 1's end-of-epoch work, before its resume backup
    # (taken last, after the epoch's models are saved), so the second run trained epoch 1 again, then 2
    assert epochs == [0, 1, 1, 2]
    assert not os.path.exists(out / "resume")
    load_model(str(out))


def test_fine_tuning_starts_from_the_given_models_weights(trained, tmp_path, caplog):
    ex, first, _ = trained
    start = load_model(str(first))
    tuned = tmp_path / "tuned"
    more = tmp_path / "more.tfrecord.gz"
    _examples(more, model_type="ont", spans=[("chr1", 40_000, 90_000), ("chr2", 5, 10)])
    with caplog.at_level(logging.INFO, logger="dvcall"):
        train(str(more), str(tuned), TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16, init_model=str(first),
                                                learning_rate=0.0, max_pooling=False))
    # hostile17: architecture flags were ignored silently, and training said nothing but Keras's own lines
    assert "--no-max-pooling: ignored with --init-model" in caplog.text
    assert re.search(r"train: 4\d training examples, 1 epoch of [56] batches", caplog.text)  # 48 less every 10th (tuning)
    assert re.search(r"epoch 1/1: loss [\d.]+, accuracy [\d.]+, tuning loss", caplog.text)
    assert load_model_info(str(tuned)).model_type == "ont"  # the examples' preset
    # where it learned: its examples' spans and the init model's, merged
    assert load_model_info(str(tuned)).training_spans == (("chr1", 0, 90_000), ("chr2", 5, 10))
    # a zero learning rate keeps the starting weights: the result is the first model, not a fresh one
    for a, b in zip(start.get_weights(), load_model(str(tuned)).get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_seed_alone_sets_the_trained_model_with_augmentations_on(tmp_path):
    """Replicate runs of one recipe (--seed): the same seed gives the same model, training included (the
    augmentations' random draws land on the same examples), and another seed another one. Run eagerly (--eager) to
    spare three graph tracings: the seed reaches the weights, the shuffle and the augmentations (tf.data, traced
    either way) by the same code in both modes."""
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=64)
    weights = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        train(str(ex), str(tmp_path / name), TrainOptions(eager=True, epochs=1, batch_size=16, shuffle_buffer=64, learning_rate=1e-3,
                                                          seed=seed, augment_qualities=0.5, augment_balance=0.5))
        weights[name] = load_model(str(tmp_path / name)).get_weights()
    for a, b in zip(weights["a"], weights["b"]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(weights["a"], weights["c"]))


def test_examples_with_an_hp_channel_train_a_haplotype_pooling_model_unless_told_not_to(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    write_sidecar(str(ex), SHAPE, [1, 2, 3, 4, 5, 7])  # the sixth channel read as HP
    pooled = tmp_path / "pooled"
    train(str(ex), str(pooled), TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16))
    assert load_model_info(str(pooled)).version == "dvcall-readset-2"
    assert any(layer.name == "haplotype" for layer in load_model(str(pooled)).layers)
    # a channel subset that keeps HP, with pooling turned off (and augmenting in tf.data too)
    plain = tmp_path / "plain"
    train(str(ex), str(plain), TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16, channels=[1, 2, 3, 5, 7],
                                            haplotype_pooling=False, augment_qualities=0.5, augment_balance=0.5))
    info = load_model_info(str(plain))
    assert info.shape == (100, 221, 5) and info.channels == (1, 2, 3, 5, 7)
    assert info.settings["alt_aligned_pileup"] == "none" and info.version == "dvcall-readset-1"
    assert not any(layer.name == "haplotype" for layer in load_model(str(plain)).layers)


def test_network_options_reach_the_trained_network(trained, tmp_path):
    """--no-max-pooling and --column-features in one run; the shared default run pools by maximum too, at the default
    width. The run is eager (--eager): its steps ran without a graph."""
    import keras

    modes = []

    class Mode(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            modes.append(self.model.run_eagerly)

    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    train(str(ex), str(tmp_path / "narrow"), TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16, max_pooling=False,
                                                          column_features=40), callbacks=[Mode()])
    assert modes and all(modes)
    changed = NumpyGenotypeModel.from_keras_file(str(tmp_path / "narrow"))
    assert changed.max_pooling is False
    assert [c.kernel.shape[-1] for c in changed.columns] == [40] * 4  # every column convolution, and inference reads it
    default = NumpyGenotypeModel.from_keras_file(str(trained[1]))
    assert default.max_pooling is True and [c.kernel.shape[-1] for c in default.columns] == [TrainOptions().column_features] * 4


def _pileup_image(n_alt=20, n_other=20, qual=30, width=11, channels=8):
    """Reference band of 5 rows, then n_alt alt-supporting and n_other other reads, the rest empty."""
    import numpy as np

    from deepvariant_py.pileup import SUPPORTS_ALT, SUPPORTS_OTHER

    img = np.zeros((100, width, channels), np.uint8)
    img[:5] = 50
    reads = slice(5, 5 + n_alt + n_other)
    img[reads, :, 0] = 200
    img[reads, :, 1] = int(qual * 254 / 40)
    img[5:5 + n_alt, :, 4] = SUPPORTS_ALT
    img[5 + n_alt:5 + n_alt + n_other, :, 4] = SUPPORTS_OTHER
    return img


def test_quality_augment_bins_or_shifts_only_drawn_bases():
    import numpy as np

    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import quality_augment

    tensorflow().random.set_seed(3)
    img = _pileup_image(qual=30)
    seen = set()
    for _ in range(40):
        out = quality_augment(img, 1.0).numpy()
        assert (out[..., [0, 2, 3, 4, 5, 6, 7]] == img[..., [0, 2, 3, 4, 5, 6, 7]]).all()  # other channels untouched
        assert (out[:5] == img[:5]).all() and (out[45:] == 0).all()  # reference band and empty rows untouched
        quals = np.unique(np.round(out[5:45, :, 1].astype(float) * 40 / 254))
        assert len(quals) == 1  # one transformation per example
        seen.add(int(quals[0]))
    assert 23 in seen  # NovaSeq's bin for Q30
    assert seen - {23} and all(20 <= q <= 33 for q in seen - {23})  # shifts by -10..+3
    assert (quality_augment(img, 0.0).numpy() == img).all()


def test_quality_augment_long_read_shifts_both_ways_without_bins():
    """Long reads (--augment-qualities-shifts -8,8 --augment-qualities-binned 0): every augmented example is shifted,
    up as well as down, never binned; a shift past Q40 saturates as the pileup's quality pixel does."""
    import numpy as np

    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import quality_augment

    tensorflow().random.set_seed(5)
    img = _pileup_image(qual=30)
    seen = set()
    for _ in range(60):
        out = quality_augment(img, 1.0, shifts=(-8, 8), binned_share=0.0).numpy()
        assert (out[45:] == 0).all()
        quals = np.unique(np.round(out[5:45, :, 1].astype(float) * 40 / 254))
        assert len(quals) == 1
        seen.add(int(quals[0]))
    assert seen <= set(range(22, 39)) and min(seen) < 26 and max(seen) > 34  # 30 - 8 .. 30 + 8, both directions
    high = quality_augment(_pileup_image(qual=38), 1.0, shifts=(8, 8), binned_share=0.0).numpy()
    assert (high[5:45, :, 1] == 254).all()  # Q46 is drawn as Q40
    binned = quality_augment(img, 1.0, shifts=(-8, 8), binned_share=1.0).numpy()
    assert (np.round(binned[5:45, :, 1].astype(float) * 40 / 254) == 23).all()


def test_balance_augment_thins_one_allele_of_hets_only():
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import balance_augment

    tensorflow().random.set_seed(5)
    img = _pileup_image(n_alt=30, n_other=30)
    thinned_groups = set()
    for _ in range(30):
        out = balance_augment(img, 1, 1.0).numpy()
        alive = out[5:, :, 0].max(axis=1) > 0
        alt, other = int(alive[:30].sum()), int(alive[30:60].sum())
        assert alt == 30 or other == 30  # one allele keeps every read
        assert min(alt, other) >= 30 * 0.4 - 6  # at most ~60% dropped
        if alt < 30:
            thinned_groups.add("alt")
        if other < 30:
            thinned_groups.add("other")
        assert (out[:5] == img[:5]).all()
    assert thinned_groups == {"alt", "other"}
    for label in (0, 2):
        assert (balance_augment(img, label, 1.0).numpy() == img).all()
    # --support-channel other_alts: the reads of the site's other alt are thinned with the reference reads
    from deepvariant_py.pileup import SUPPORTS_OTHER_ALT
    mixed = img.copy()
    mixed[5 + 45:5 + 60, :, 4] = np.where(mixed[5 + 45:5 + 60, :, 4] > 0, SUPPORTS_OTHER_ALT, 0)
    both = set()
    for _ in range(30):
        alive = balance_augment(mixed, 1, 1.0).numpy()[5:, :, 0].max(axis=1) > 0
        if alive[:30].all():
            both.add((int(alive[30:45].sum()) < 15, int(alive[45:60].sum()) < 15))
    assert (True, True) in both


def test_binomial_cdf_matches_the_sum_of_the_pmf():
    from math import comb

    from deepvariant_py.train import binomial_cdf

    for k, n, p in [(0, 0, 0.3), (1, 14, 0.3), (2, 14, 0.3), (4, 24, 0.3), (7, 7, 0.5), (3, 30, 0.35)]:
        expected = sum(comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k + 1))
        assert abs(float(binomial_cdf(float(k), float(n), p)) - expected) < 1e-5


def test_balance_augment_min_haplotype_keeps_low_depth_hom_alt_looks_out_of_hets():
    """Depth-aware thinning: at 13+13 reads an allele is thinned only to counts a 30%
    haplotype shows >= 5% of the time; at 40+40 reads it may still reach ~20%."""
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import balance_augment

    from math import comb

    def tail(k, n, p=0.3):
        return sum(comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k + 1))

    tensorflow().random.set_seed(7)
    small = _pileup_image(n_alt=13, n_other=13)
    seen_thinned = 0
    for _ in range(200):
        alive = balance_augment(small, 1, 1.0, max_drop=0.95, min_haplotype=0.3).numpy()[5:, :, 0].max(axis=1) > 0
        alt, other = int(alive[:13].sum()), int(alive[13:26].sum())
        low = min(alt, other)
        if low < 13:
            seen_thinned += 1
            assert tail(low, alt + other) >= 0.05, (alt, other)
    assert seen_thinned > 20
    # without the rule the same draws reach 13 + 1
    lows = []
    for _ in range(200):
        alive = balance_augment(small, 1, 1.0, max_drop=0.95).numpy()[5:, :, 0].max(axis=1) > 0
        lows.append(min(int(alive[:13].sum()), int(alive[13:26].sum())))
    assert min(lows) <= 1
    big = _pileup_image(n_alt=40, n_other=40)
    kept = []
    for _ in range(60):
        alive = balance_augment(big, 1, 1.0, max_drop=0.8, min_haplotype=0.3).numpy()[5:, :, 0].max(axis=1) > 0
        kept.append(min(int(alive[:40].sum()), int(alive[40:80].sum())))
    assert all(tail(low, low + 40) >= 0.05 for low in kept)
    assert min(kept) <= 12  # deep hets still reach allele fractions near 20%


def test_balance_augment_max_drop_reaches_low_allele_fractions():
    """max_drop 0.8 thins an allele to ~20% of its reads at most: imbalanced samples show hets at 15-20%."""
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import balance_augment

    tensorflow().random.set_seed(11)
    img = _pileup_image(n_alt=40, n_other=40)
    kept = []
    for _ in range(60):
        alive = balance_augment(img, 1, 1.0, max_drop=0.8).numpy()[5:, :, 0].max(axis=1) > 0
        kept.append(min(int(alive[:40].sum()), int(alive[40:80].sum())))
    assert min(kept) >= 40 * 0.2 - 6
    assert min(kept) < 40 * 0.4 - 6  # below what the default 0.6 can reach


CHANNEL_AT = (0, 1, 4, 5, (6, 7))  # _pileup_image's read base, quality, supports, differs, ALT-aligned channels


def _c_to_t_pileup(n_alt, n_other, qual):
    """_pileup_image at a C>T candidate: the reference band and the other reads show C, the alt reads T (differing
    from the reference along their whole row); (image, C pixel, T pixel, candidate column)."""
    from deepvariant_py.pileup import BASE_PIXELS, DIFFERS_FROM_REF, MATCHES_REF

    ref, alt = BASE_PIXELS[1], BASE_PIXELS[3]
    img = _pileup_image(n_alt=n_alt, n_other=n_other, qual=qual)
    img[:5 + n_alt + n_other, :, 0] = ref
    img[5 + n_alt:5 + n_alt + n_other, :, 5] = MATCHES_REF
    img[5:5 + n_alt, :, 0] = alt
    img[5:5 + n_alt, :, 5] = DIFFERS_FROM_REF
    return img, ref, alt, img.shape[1] // 2


def test_error_augment_gives_one_alt_read_of_snp_hom_alts_a_low_quality_error():
    import numpy as np

    from deepvariant_py.pileup import BASE_PIXELS, DIFFERS_FROM_REF, MATCHES_REF, SUPPORTS_ALT, SUPPORTS_OTHER
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import error_augment

    tensorflow().random.set_seed(11)
    img, ref, alt, col = _c_to_t_pileup(n_alt=14, n_other=0, qual=35)
    seen = set()
    for _ in range(30):
        out = error_augment(img, 2, 1.0, *CHANNEL_AT).numpy()
        changed = np.nonzero((out != img).any(axis=(1, 2)))[0]
        assert len(changed) == 1 and 5 <= changed[0] < 19  # one alt read, nothing else
        r = changed[0]
        assert (out[r, :, 4] == SUPPORTS_OTHER).all()  # it no longer supports the alt
        others = [c for c in range(img.shape[1]) if c != col]
        assert (out[r, others, :4] == img[r, others, :4]).all()  # only the candidate's base changed
        base, q = int(out[r, col, 0]), round(int(out[r, col, 1]) * 40 / 254)
        assert base in BASE_PIXELS and base != alt and 5 <= q <= 20
        assert out[r, col, 5] == (MATCHES_REF if base == ref else DIFFERS_FROM_REF)
        seen.add(base)
    assert len(seen) == 3  # any of the three other bases, the reference's included
    for label in (0, 1):
        assert (error_augment(img, label, 1.0, *CHANNEL_AT).numpy() == img).all()
    indel = img.copy()
    indel[5:19, :, 6] = 200  # ALT-aligned channels drawn: an indel example
    assert (error_augment(indel, 2, 1.0, *CHANNEL_AT).numpy() == indel).all()
    assert (error_augment(img, 2, 0.0, *CHANNEL_AT).numpy() == img).all()
    assert (img[5:19, col, 4] == SUPPORTS_ALT).all()


def test_contamination_augment_shows_some_alt_reads_of_snp_hom_alts_as_clean_reference_reads():
    import numpy as np

    from deepvariant_py.pileup import BASE_PIXELS, DIFFERS_FROM_REF, MATCHES_REF, SUPPORTS_ALT, SUPPORTS_OTHER
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import contamination_augment

    tensorflow().random.set_seed(5)
    ref, alt = BASE_PIXELS[0], BASE_PIXELS[2]
    img = _pileup_image(n_alt=60, n_other=0, qual=37)
    img[:5, :, 0] = ref
    img[5:65, :, 0] = alt
    img[5:65, :, 5] = DIFFERS_FROM_REF
    col = img.shape[1] // 2
    where = (0, 4, 5, (6, 7))  # base, supports, differs; the ALT-aligned channels
    turned = []
    for _ in range(40):
        out = contamination_augment(img, 2, 1.0, 0.2, *where).numpy()
        changed = np.nonzero((out != img).any(axis=(1, 2)))[0]
        assert ((5 <= changed) & (changed < 65)).all()  # alt reads only
        for r in changed:
            assert out[r, col, 0] == ref and out[r, col, 5] == MATCHES_REF  # the reference base...
            assert out[r, col, 1] == img[r, col, 1]  # ... at the read's own quality
            assert (out[r, :, 4] == SUPPORTS_OTHER).all()
            others = [c for c in range(img.shape[1]) if c != col]
            assert (out[r, others, :4] == img[r, others, :4]).all() and (out[r, others, 5] == img[r, others, 5]).all()
        turned.append(len(changed))
    assert 0 < np.mean(turned) / 60 < 0.2  # a rate drawn up to 0.2: about 0.1 on average
    assert max(turned) > 1  # several reads at once, not one
    for label in (0, 1):
        assert (contamination_augment(img, label, 1.0, 0.2, *where).numpy() == img).all()
    indel = img.copy()
    indel[5:65, :, 6] = 200  # ALT-aligned channels drawn: an indel example
    assert (contamination_augment(indel, 2, 1.0, 0.2, *where).numpy() == indel).all()
    assert (contamination_augment(img, 2, 0.0, 0.2, *where).numpy() == img).all()
    assert (img[5:65, col, 4] == SUPPORTS_ALT).all()


def test_contamination_augment_clean_only_leaves_hom_alts_that_hold_other_reads():
    from deepvariant_py.pileup import BASE_PIXELS, DIFFERS_FROM_REF, SUPPORTS_ALT, SUPPORTS_OTHER, SUPPORTS_OTHER_ALT
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import contamination_augment

    tensorflow().random.set_seed(7)
    img = _pileup_image(n_alt=40, n_other=0, qual=37)
    img[:5, :, 0] = BASE_PIXELS[0]
    img[5:45, :, 0] = BASE_PIXELS[2]
    img[5:45, :, 5] = DIFFERS_FROM_REF
    col = img.shape[1] // 2
    where = (0, 4, 5, (6, 7))
    holding = img.copy()
    holding[44, :, 4] = SUPPORTS_OTHER  # one read without the alt (an error, another allele)
    other_alt = img.copy()
    other_alt[44, :, 4] = SUPPORTS_OTHER_ALT  # one read of the site's other alt (--support-channel other_alts)
    outside = img.copy()
    outside[44, col - 3:, :] = 0  # one read that ends before the candidate: not drawn there
    outside[44, :col - 3, 4] = SUPPORTS_OTHER
    changed = lambda a, b: int((a != b).any(axis=(1, 2)).sum())  # noqa: E731
    for _ in range(10):
        assert changed(contamination_augment(holding, 2, 1.0, 0.3, *where, clean_only=True).numpy(), holding) == 0
        assert changed(contamination_augment(other_alt, 2, 1.0, 0.3, *where, clean_only=True).numpy(), other_alt) == 0
    assert sum(changed(contamination_augment(holding, 2, 1.0, 0.3, *where).numpy(), holding) for _ in range(10)) > 0
    assert sum(changed(contamination_augment(img, 2, 1.0, 0.3, *where, clean_only=True).numpy(), img) for _ in range(10)) > 0
    assert sum(changed(contamination_augment(outside, 2, 1.0, 0.3, *where, clean_only=True).numpy(), outside)
               for _ in range(10)) > 0  # a read that does not reach the candidate does not count
    assert (img[5:45, col, 4] == SUPPORTS_ALT).all()


def test_confident_error_augment_gives_snp_hom_refs_more_alt_reads_at_high_quality():
    import numpy as np

    from deepvariant_py.pileup import DIFFERS_FROM_REF, MATCHES_REF, SUPPORTS_ALT, SUPPORTS_OTHER
    from deepvariant_py.tf_runtime import tensorflow
    from deepvariant_py.train import confident_error_augment

    tensorflow().random.set_seed(13)
    img, ref, alt, col = _c_to_t_pileup(n_alt=2, n_other=38, qual=35)
    others = [c for c in range(img.shape[1]) if c != col]
    img[5:7, others, 0] = ref  # two low-quality errors at the candidate only
    img[5:7, others, 5] = MATCHES_REF
    img[5:7, col, 1] = int(8 * 254 / 40)
    shares = []
    for _ in range(40):
        out = confident_error_augment(img, 0, 1.0, 0.3, *CHANNEL_AT).numpy()
        supports = out[5:45, col, 4] == SUPPORTS_ALT
        assert supports[:2].all()  # the reads that had the error keep it...
        assert (out[5:7, col, 1] >= int(25 * 254 / 40)).all()  # ... now at quality 25 or more
        assert (out[5:45, col, 0][supports] == alt).all() and (out[5:45, col, 5][supports] == DIFFERS_FROM_REF).all()
        assert (out[5:45, col, 1][supports] >= int(25 * 254 / 40)).all()
        for r in np.nonzero(supports)[0] + 5:
            assert (out[r, :, 4] == SUPPORTS_ALT).all()  # the whole read supports the alt
            assert (out[r, others][:, [0, 1, 5]] == img[r, others][:, [0, 1, 5]]).all()  # only the candidate's base changed
        assert (out[45:] == 0).all() and (out[:5] == img[:5]).all()  # no read drawn where there was none; reference kept
        assert (out[5:45, col, 4][~supports] == SUPPORTS_OTHER).all()
        shares.append(supports.sum() / 40)
    assert max(shares) > 0.15 and min(shares) == 2 / 40  # up to the drawn share; an example already above it keeps its own
    assert max(shares) <= 0.3
    for label in (1, 2):
        assert (confident_error_augment(img, label, 1.0, 0.3, *CHANNEL_AT).numpy() == img).all()
    indel = img.copy()
    indel[5:45, :, 6] = 200  # ALT-aligned channels drawn: an indel example
    assert (confident_error_augment(indel, 0, 1.0, 0.3, *CHANNEL_AT).numpy() == indel).all()
    clean = img.copy()
    clean[5:7, col] = clean[7, col]
    clean[5:7, :, 4] = SUPPORTS_OTHER  # no alt read: nothing tells which base the error would be
    assert (confident_error_augment(clean, 0, 1.0, 0.3, *CHANNEL_AT).numpy() == clean).all()
    assert (confident_error_augment(img, 0, 0.0, 0.3, *CHANNEL_AT).numpy() == img).all()


def test_error_augment_refuses_examples_that_cannot_tell_snps_from_indels(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=8)  # channels 1-6: no ALT-aligned channels
    with pytest.raises(InputError, match="--augment-errors needs"):
        train(str(ex), str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8, augment_errors=0.3))
    with pytest.raises(InputError, match="--augment-contamination needs"):
        train(str(ex), str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8, augment_contamination=0.3))
    with pytest.raises(InputError, match="--augment-confident-errors needs"):
        train(str(ex), str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8, augment_confident_errors=0.3))
    assert not os.path.exists(tmp_path / "model")


def test_examples_are_held_in_memory_only_while_they_fit():
    from deepvariant_py.train import available_memory, cache_fits

    assert cache_fits(4 * 10**9, 10 * 10**9)  # 4 GB of 10 available: held
    assert not cache_fits(6 * 10**9, 10 * 10**9)  # 6 of 10: read from disk each epoch instead
    assert cache_fits(10**12, None)  # memory unknown: as asked
    avail = available_memory()
    assert avail is None or avail > 0


def test_training_streams_from_disk_when_the_examples_would_not_fit(tmp_path, monkeypatch, caplog):
    import deepvariant_py.train as train_module

    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    monkeypatch.setattr(train_module, "available_memory", lambda: 10**6)  # 1 MB: 16 examples of 133 kB do not fit
    with caplog.at_level("WARNING", logger="dvcall"):
        summary = train(str(ex), str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16))
    assert summary["best_epoch"] == 1
    assert any("reading them from disk every epoch" in r.getMessage() for r in caplog.records)


def test_training_refuses_examples_made_with_different_settings(tmp_path):
    a, b = tmp_path / "a.tfrecord.gz", tmp_path / "b.tfrecord.gz"
    _examples(a, n=8)
    _examples(b, n=8)
    write_sidecar(str(b), SHAPE, [1, 2, 3, 4, 5, 6], {"indel_reads": "spanning"})
    with pytest.raises(InputError, match="indel_reads=spanning"):
        train(f"{a},{b}", str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8))
    with pytest.raises(InputError, match="indel_reads=spanning"):  # tuning examples too
        train(str(a), str(tmp_path / "model"), TrainOptions(eager=True, epochs=1, batch_size=8), tune_examples=str(b))
    assert not os.path.exists(tmp_path / "model")


def test_truncated_or_unlabelled_examples_are_one_line_before_training(tmp_path):
    """Not a DataLossError or 'Graph execution error' mid-epoch ('a bug in dvcall'), and no half-made output folder."""
    good = tmp_path / "good.tfrecord.gz"
    _examples(good, n=200)
    cut = tmp_path / "cut.tfrecord.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    write_sidecar(str(cut), SHAPE, [1, 2, 3, 4, 5, 6])
    plain = tmp_path / "plain.tfrecord.gz"
    w = ExampleWriter(str(plain))
    w.write(VariantInfo("chr1", 5, "A", ("C",), 10, (5, 5)), (0,), np.zeros(SHAPE, np.uint8))  # no label
    w.close()
    write_sidecar(str(plain), SHAPE, [1, 2, 3, 4, 5, 6])
    other = tmp_path / "other.tfrecord.gz"  # hostile17: another model type's sidecar copied beside them
    other.write_bytes(good.read_bytes())
    write_sidecar(str(other), (SHAPE[0] + 10, SHAPE[1], SHAPE[2]), [1, 2, 3, 4, 5, 6])
    for examples, message in ((cut, "cut.tfrecord.gz: the examples file is truncated or corrupt"),
                              (plain, "plain.tfrecord.gz carry no labels: make labelled examples"),
                              (other, "other.tfrecord.gz hold images of .* but their sidecar .* says shape")):
        out = tmp_path / f"model_{examples.stem}"
        with pytest.raises(InputError, match=message):
            train(str(examples), str(out), TrainOptions(eager=True, epochs=1, batch_size=16))
        assert not out.exists()


def test_train_never_writes_into_a_model_folder_or_another_runs_folder(trained, tmp_path):
    """A shipped or installed model's folder would get a new network beside its old merger and card; another run's
    folder would keep its old network when it scored better. A finished run of the same command is left as it is."""
    ex, out, summary = trained
    same = TrainOptions(epochs=2, batch_size=16, shuffle_buffer=64, keep_epochs=True)
    before = {name: os.path.getmtime(out / name) for name in ("model.keras", "best.json")}
    assert train(str(ex), str(out), same) == summary  # nothing trained again
    assert {name: os.path.getmtime(out / name) for name in before} == before
    with pytest.raises(InputError, match=r"holds a training run with other examples or options \(seed \d+ there, 7 now\)"
                                         ".*a finished run is not extended"):  # hostile17: it did not say which
        train(str(ex), str(out), TrainOptions(epochs=2, batch_size=16, shuffle_buffer=64, keep_epochs=True, seed=7))
    model = tmp_path / "installed"
    model.mkdir()
    (model / "model.keras").write_bytes(b"a network")
    (model / "merger.keras").write_bytes(b"its merger")
    with pytest.raises(InputError, match="holds no training run of dvcall train \\(a model folder\\?\\)"):
        train(str(ex), str(model), TrainOptions(eager=True, epochs=1, batch_size=16))
    assert sorted(os.listdir(model)) == ["merger.keras", "model.keras"] and (model / "model.keras").read_bytes() == b"a network"


def test_fine_tuning_a_model_of_another_pileup_shape_is_one_line(trained, tmp_path):
    _, model, _ = trained
    narrow = tmp_path / "narrow.tfrecord.gz"
    w = ExampleWriter(str(narrow))
    for i in range(6):
        w.write(VariantInfo("chr1", i, "A", ("C",), 10, (5, 5)), (0,), np.zeros((100, 199, 6), np.uint8), i % 3)
    w.close()
    write_sidecar(str(narrow), (100, 199, 6), [1, 2, 3, 4, 5, 6])
    out = tmp_path / "tuned"
    with pytest.raises(InputError, match=r"reads pileups of shape \[100, 221, 6\], the examples are \[100, 199, 6\]"):
        train(str(narrow), str(out), TrainOptions(eager=True, epochs=1, batch_size=4, init_model=str(model)))
    assert not out.exists()


def test_empty_overlapping_or_unlike_tuning_sets_are_one_line_before_any_folder(tmp_path):
    """No untrained model (0 examples 'trained' at accuracy 0 and called everything ./.), no epoch picked on the
    training data, no 'Graph execution error' for tuning examples of another width."""
    good, empty = tmp_path / "good.tfrecord.gz", tmp_path / "empty.tfrecord.gz"
    _examples(good, n=8)
    _examples(empty, n=0)
    narrow = tmp_path / "narrow.tfrecord.gz"
    w = ExampleWriter(str(narrow))
    w.write(VariantInfo("chr1", 1, "A", ("C",), 10, (5, 5)), (0,), np.zeros((100, 199, 6), np.uint8), 1)
    w.close()
    write_sidecar(str(narrow), (100, 199, 6), [1, 2, 3, 4, 5, 6])
    cases = ((str(empty), None, "no training examples in"), (str(good), str(empty), "no tuning examples in"),
             (str(good), str(good), "is given as training and as tuning examples"),
             (str(good), str(narrow), r"tuning examples .*narrow.tfrecord.gz \(shape \[100, 199, 6\]"))
    for i, (examples, tune, message) in enumerate(cases):
        out = tmp_path / f"model{i}"
        with pytest.raises(InputError, match=message):
            train(examples, str(out), TrainOptions(eager=True, epochs=1, batch_size=4), tune_examples=tune)
        assert not out.exists()


def test_a_diverging_run_stops_with_one_line_and_saves_no_model(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    out = tmp_path / "model"
    with pytest.raises(InputError, match="training diverged at epoch 1"):
        train(str(ex), str(out), TrainOptions(eager=True, epochs=2, batch_size=8, learning_rate=1e12))
    assert not (out / "model.keras").exists()


def test_a_glob_of_an_examples_folder_skips_the_sidecars(tmp_path):
    from deepvariant_py.examples_io import expand_paths

    _examples(tmp_path / "a.tfrecord.gz", n=2)
    _examples(tmp_path / "b.tfrecord.gz", n=2)
    assert expand_paths(str(tmp_path / "*")) == [str(tmp_path / "a.tfrecord.gz"), str(tmp_path / "b.tfrecord.gz")]


def test_a_stop_while_an_epoch_is_saved_redoes_that_epoch(tmp_path, monkeypatch):
    """The resume backup is taken after the epoch's models are saved: a failure (a full disk, a kill) while saving
    epoch 1 makes the rerun train epoch 1 again, so its model and its --keep-epochs folder are not lost."""
    import deepvariant_py.train as tr

    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    out = tmp_path / "model"
    opts = TrainOptions(eager=True, epochs=2, batch_size=8, shuffle_buffer=16, keep_epochs=True)
    real = tr.save_model

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tr, "save_model", full_disk)
    with pytest.raises(OSError):
        train(str(ex), str(out), opts)
    monkeypatch.setattr(tr, "save_model", real)
    train(str(ex), str(out), opts)
    assert (out / "epoch-1" / "model.keras").exists() and (out / "epoch-2" / "model.keras").exists()


def test_train_refuses_what_would_give_a_wrong_model(tmp_path, trained):
    from deepvariant_py.resume import DirectoryLock

    ex, model, _ = trained
    # --init-model of the same shape but other channels: its weights would read other data
    other = tmp_path / "other.tfrecord.gz"
    _examples(other, n=16)
    write_sidecar(str(other), SHAPE, [1, 2, 3, 4, 5, 7])
    with pytest.raises(InputError, match=r"reads channels \[1, 2, 3, 4, 5, 6\], the examples hold \[1, 2, 3, 4, 5, 7\]"):
        train(str(other), str(tmp_path / "ft"), TrainOptions(eager=True, epochs=1, batch_size=8, init_model=str(model)))
    # a file as --output
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is an existing file: give a folder"):
        train(str(other), str(tmp_path / "afile"), TrainOptions(eager=True, epochs=1, batch_size=8))
    # a second training into a folder another one is using
    busy = tmp_path / "busy"
    busy.mkdir()
    with DirectoryLock(str(busy), "dvcall train --output busy", flag="--output"):
        with pytest.raises(InputError, match=r"--output .*busy is in use by another dvcall run \(pid .*dvcall train --output busy\)"):
            train(str(other), str(busy), TrainOptions(eager=True, epochs=1, batch_size=8))


def test_a_finished_run_that_lost_its_model_is_not_reported_done(tmp_path):
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=16)
    out = tmp_path / "model"
    opts = TrainOptions(eager=True, epochs=1, batch_size=8, shuffle_buffer=16)
    train(str(ex), str(out), opts)
    os.remove(out / "model.keras")
    with pytest.raises(InputError, match="finished, but its model.keras is gone"):
        train(str(ex), str(out), opts)


def test_a_refused_rerun_names_what_differs():
    from deepvariant_py.train import _run_difference, _run_record
    before = _run_record("a/*.tfrecord.gz", "t.tfrecord.gz", TrainOptions(epochs=3, batch_size=16))
    assert _run_difference(before, _run_record("a/*.tfrecord.gz", "t.tfrecord.gz", TrainOptions(epochs=5, batch_size=16))) \
        == "epochs 3 there, 5 now"
    assert _run_difference(before, _run_record("b/*.tfrecord.gz", None, TrainOptions(epochs=3, batch_size=16))) == \
        "examples 'a/*.tfrecord.gz' there, 'b/*.tfrecord.gz' now; tune-examples 't.tfrecord.gz' there, None now"
    assert "example files changed" in _run_difference(before, before)  # same names and options: the files were remade
    assert "predates" in _run_difference({"key": "x"}, before)


def test_tuning_examples_from_where_training_examples_come_from_are_warned_about(tmp_path, caplog):
    """hostile17: tuning examples over 20:260-290 kb, training over 201-280 kb, were taken silently (train/tune
    leakage was checked by file path only); the sidecars now record where each run called."""
    from deepvariant_py.train import _datasets
    train_ex, tune_ex, apart = tmp_path / "train.tfrecord.gz", tmp_path / "tune.tfrecord.gz", tmp_path / "apart.tfrecord.gz"
    for path, spans in ((train_ex, [("20", 200_000, 280_000)]), (tune_ex, [("20", 259_000, 290_000)]),
                        (apart, [("20", 400_000, 420_000), ("21", 200_000, 280_000)])):
        _examples(path, n=16)
        write_sidecar(str(path), SHAPE, [1, 2, 3, 4, 5, 6], spans=spans)
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        _datasets(str(train_ex), str(tune_ex), TrainOptions(epochs=1, batch_size=8))
    assert "tuning examples come from where training examples do (20:259,001-280,000, 21,000 bp in all" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        _datasets(str(train_ex), str(apart), TrainOptions(epochs=1, batch_size=8))
    assert "come from where" not in caplog.text


def test_train_flags_reach_the_training_options(tmp_path, monkeypatch):
    """What `dvcall train` hands the library: --eager, and the default (graph) without it."""
    from click.testing import CliRunner

    import deepvariant_py.cli.train as cli_train
    from deepvariant_py.cli.main import main

    seen = []
    monkeypatch.setattr(cli_train, "train", lambda examples, output, opts, tune: seen.append(opts) or
                        {"best_tune_accuracy": 1.0, "best_epoch": 1})
    ex = tmp_path / "train.tfrecord.gz"
    _examples(ex, n=4)
    for extra in ([], ["--eager"]):
        result = CliRunner().invoke(main, ["train", "--examples", str(ex), "--output", str(tmp_path / "m"), *extra])
        assert result.exit_code == 0, result.output
    assert [opts.eager for opts in seen] == [False, True]


def test_the_batch_eta_leaves_out_each_epochs_first_batch(monkeypatch, caplog):
    """The first batch also compiles the graph: an ETA timed from it said 5h02m for a 17-minute epoch."""
    import deepvariant_py.progress as progress
    from deepvariant_py.train import _progress_log

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "time", lambda: clock[0])
    log = _progress_log(epochs=1, steps=100, examples=12_800)
    with caplog.at_level(logging.INFO, logger="dvcall"):
        log.on_epoch_begin(0)
        clock[0] += 300.0  # the first batch: tracing
        log.on_train_batch_end(0)
        for batch in range(1, 30):  # then a second a batch
            clock[0] += 1.0
            log.on_train_batch_end(batch)
    etas = re.findall(r"epoch 1/1: (\d+)/100 batches, ETA (\d+)m(\d+)s", caplog.text)
    assert etas, caplog.text
    for done, minutes, seconds in etas:  # one second for each batch left, not 300
        assert abs(int(minutes) * 60 + int(seconds) - (100 - int(done))) <= 1, etas

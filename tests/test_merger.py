"""The multi-allelic merger network: truth genotypes from subset labels, hook contract, symmetry, save/load, training."""
from __future__ import annotations

import itertools
import json
import logging
import os

import numpy as np
import pytest

from deepvariant_py.errors import InputError, ModelError
from deepvariant_py.genotypes import genotype_pairs, merge_min_rule
from deepvariant_py.labeler import label_for_alt_subset
from deepvariant_py.merger import (
    MERGER_FILE,
    MERGER_INFO_FILE,
    SWAP,
    LabelledSite,
    MergerNetwork,
    called_genotype,
    concordance,
    fit_merger,
    genotype_from_labels,
    genotype_from_pair_labels,
    load_merger,
    pair_features,
    train_merger,
)

PAIRS = genotype_pairs(3)  # 0/0, 0/1, 1/1, 0/2, 1/2, 2/2


def _subsets(n_alts):
    singles = [(i,) for i in range(n_alts)]
    return singles + list(itertools.combinations(range(n_alts), 2))


def _synthetic(n, seed):
    """Images drawn around the copy numbers of a random true genotype: (p1, p2, p12, genotype index)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, n)

    def image(copies):
        return rng.dirichlet(np.full(3, 0.5) + 30.0 * np.eye(3)[copies])

    rows = []
    for k in y:
        c1, c2 = (sum(a == i for a in PAIRS[k]) for i in (1, 2))
        rows.append((image(c1), image(c2), image(c1 + c2)))
    p = np.asarray(rows)
    return p[:, 0], p[:, 1], p[:, 2], y


@pytest.fixture(scope="module")
def trained():
    return fit_merger(*_synthetic(600, seed=3), epochs=40, batch_size=64)


def _images(p1, p2, p12, a1=0, a2=1):
    return {(a1,): tuple(p1), (a2,): tuple(p2), (a1, a2): tuple(p12)}


# --- truth genotype from labels ---

@pytest.mark.parametrize("labels,genotype", [
    ((1, 1, 2), (1, 2)), ((1, 0, 1), (0, 1)), ((2, 0, 2), (1, 1)), ((0, 1, 1), (0, 2)), ((0, 2, 2), (2, 2)),
    ((0, 0, 0), (0, 0)),
    # impossible: the pair image must count both alts, and a diploid has two alleles
    ((1, 1, 1), None), ((1, 0, 2), None), ((0, 0, 1), None), ((2, 1, 2), None), ((2, 1, 3), None), ((2, 2, 2), None),
    ((3, 0, 3), None), ((-1, 1, 0), None),
])
def test_genotype_from_pair_labels(labels, genotype):
    assert genotype_from_pair_labels(*labels) == genotype


def test_genotype_from_pair_labels_exhaustive():
    for l1, l2, l12 in itertools.product(range(3), repeat=3):
        ok = l12 == l1 + l2 <= 2
        assert (genotype_from_pair_labels(l1, l2, l12) is not None) == ok, (l1, l2, l12)


@pytest.mark.parametrize("n_alts", [1, 2, 3, 4])
def test_genotype_from_labels_inverts_the_labeler(n_alts):
    for genotype in genotype_pairs(n_alts + 1):
        labels = {s: label_for_alt_subset(genotype, s) for s in _subsets(n_alts)}
        assert genotype_from_labels(labels, n_alts) == genotype


def test_genotype_from_labels_needs_every_single_alt_image():
    assert genotype_from_labels({(0,): 1, (0, 1): 1}, 2) is None
    assert genotype_from_labels({(0,): 1, (1,): 0, (0, 5): 1}, 2) is None  # subset outside the site's alts


# --- the postprocess hook ---

def test_untrained_network_is_the_min_rule():
    merger = MergerNetwork.untrained()
    p1, p2, p12, _ = _synthetic(50, seed=5)
    for a, b, c in zip(p1, p2, p12):
        images = _images(a, b, c)
        np.testing.assert_allclose(merger(images, [0, 1], 2), merge_min_rule(images, [0, 1]), atol=1e-5)


def test_outputs_are_distributions(trained):
    rng = np.random.default_rng(11)
    for _ in range(200):
        p = rng.dirichlet(np.full(3, 0.3), size=3)
        out = trained(_images(*p), [0, 1], 2)
        assert out.shape == (6,) and np.all(out >= 0)
        assert out.sum() == pytest.approx(1.0, abs=1e-12)
    batch = trained.predict_pairs(*(rng.dirichlet(np.ones(3), size=100) for _ in range(3)))
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("p1,p2,p12,genotype", [
    ((0.01, 0.01, 0.98), (0.98, 0.01, 0.01), (0.01, 0.01, 0.98), (1, 1)),
    ((0.01, 0.98, 0.01), (0.01, 0.98, 0.01), (0.01, 0.01, 0.98), (1, 2)),
    ((0.01, 0.98, 0.01), (0.98, 0.01, 0.01), (0.01, 0.98, 0.01), (0, 1)),
    ((0.98, 0.01, 0.01), (0.01, 0.98, 0.01), (0.01, 0.98, 0.01), (0, 2)),
    ((0.98, 0.01, 0.01), (0.98, 0.01, 0.01), (0.98, 0.01, 0.01), (0, 0)),
])
def test_clear_sites_agree_with_the_min_rule(trained, p1, p2, p12, genotype):
    images = _images(p1, p2, p12)
    assert PAIRS[int(np.argmax(merge_min_rule(images, [0, 1])))] == genotype
    assert PAIRS[int(np.argmax(trained(images, [0, 1], 2)))] == genotype


def test_clear_hom_alt2_is_what_the_min_rule_gets_wrong(trained):
    """Only the pair image speaks to 1/2, so at a clear 2/2 the min rule ties 1/2 with 2/2 and the first (1/2) wins."""
    images = _images((0.98, 0.01, 0.01), (0.01, 0.01, 0.98), (0.01, 0.01, 0.98))
    assert PAIRS[int(np.argmax(merge_min_rule(images, [0, 1])))] == (1, 2)
    assert PAIRS[int(np.argmax(trained(images, [0, 1], 2)))] == (2, 2)


def test_swapping_the_alts_swaps_the_genotypes(trained):
    rng = np.random.default_rng(2)
    for _ in range(50):
        p1, p2, p12 = rng.dirichlet(np.full(3, 0.5), size=3)
        forward = trained(_images(p1, p2, p12), [0, 1], 2)
        swapped = trained(_images(p2, p1, p12), [0, 1], 2)
        np.testing.assert_allclose(swapped, forward[SWAP], atol=1e-12)


def test_kept_alts_select_the_images(trained):
    """With alts 0 and 2 kept out of 3, only images {0}, {2}, {0,2} matter."""
    p1, p2, p12 = (0.01, 0.98, 0.01), (0.01, 0.98, 0.01), (0.01, 0.01, 0.98)
    images = _images(p1, p2, p12, a1=0, a2=2)
    images.update({(1,): (0.9, 0.05, 0.05), (0, 1): (0.2, 0.7, 0.1), (1, 2): (0.3, 0.6, 0.1)})
    np.testing.assert_allclose(trained(images, [0, 2], 3), trained(_images(p1, p2, p12), [0, 1], 2))


def test_falls_back_to_the_min_rule(trained):
    rng = np.random.default_rng(4)
    three = {s: tuple(rng.dirichlet(np.ones(3))) for s in _subsets(3)}
    np.testing.assert_array_equal(trained(three, [0, 1, 2], 3), merge_min_rule(three, [0, 1, 2]))
    np.testing.assert_array_equal(trained(three, [1], 3), merge_min_rule(three, [1]))
    missing_pair = {(0,): (0.1, 0.8, 0.1), (1,): (0.2, 0.7, 0.1)}
    np.testing.assert_array_equal(trained(missing_pair, [0, 1], 2), merge_min_rule(missing_pair, [0, 1]))


# --- files ---

def test_save_load_round_trip(trained, tmp_path):
    trained.save(str(tmp_path))
    assert os.path.exists(tmp_path / MERGER_FILE) and os.path.exists(tmp_path / MERGER_INFO_FILE)
    loaded = MergerNetwork.load(str(tmp_path))
    p1, p2, p12, _ = _synthetic(20, seed=9)
    np.testing.assert_allclose(loaded.predict_pairs(p1, p2, p12), trained.predict_pairs(p1, p2, p12), atol=1e-12)
    assert loaded.keras_model is None  # inference needs only the weights in merger_info.json, not TensorFlow
    # The NumPy forward pass is the Keras model.
    feats, log_min = pair_features(p1, p2, p12)
    keras_out = trained.keras_model([feats, log_min]).numpy()
    np.testing.assert_allclose(loaded._forward(feats, log_min), keras_out, atol=1e-5)
    assert json.load(open(tmp_path / MERGER_INFO_FILE))["trained"] is True
    assert callable(load_merger("network", str(tmp_path)))


def test_load_merger_modes(tmp_path):
    assert load_merger("min", str(tmp_path)) is None
    with pytest.raises(ModelError, match="--multiallelic-merge min"):
        load_merger("network", str(tmp_path))
    with pytest.raises(InputError):
        load_merger("average", str(tmp_path))
    (tmp_path / MERGER_FILE).write_bytes(b"not a keras file")
    (tmp_path / MERGER_INFO_FILE).write_text("{}")
    with pytest.raises(ModelError, match="cannot load"):
        MergerNetwork.load(str(tmp_path))


# --- evaluation and the training entry point ---

def test_called_genotype_maps_kept_alts_back():
    """Alt 1 of 3 pruned (QUAL < 1): a 1/2 over kept alts [0, 2] is 1/3 over the site's alleles."""
    site = LabelledSite("x", "chr1", 10, 3)
    site.images = {(0,): np.array([0.01, 0.98, 0.01]), (1,): np.array([0.95, 0.04, 0.01]), (2,): np.array([0.01, 0.98, 0.01]),
                   (0, 1): np.array([0.01, 0.98, 0.01]), (0, 2): np.array([0.01, 0.01, 0.98]), (1, 2): np.array([0.01, 0.98, 0.01])}
    site.labels = {s: label_for_alt_subset((1, 3), s) for s in _subsets(3)}
    assert site.kept == [0, 2] and site.truth == (1, 3)
    assert called_genotype(site, None) == (1, 3)
    report = concordance([site], MergerNetwork.untrained())
    assert report["sites"] == 1 and report["min_rule_correct"] == 1 and report["two_kept_sites"] == 1


def test_train_merger_end_to_end(tmp_path, caplog):
    from deepvariant_py.examples_io import ExampleWriter, VariantInfo, write_sidecar
    from deepvariant_py.model import ModelInfo, build_model, save_model

    shape = (100, 221, 6)
    model_dir = tmp_path / "cnn"
    save_model(build_model(shape), str(model_dir), ModelInfo(list(shape), [1, 2, 3, 4, 5, 6]))
    ex = tmp_path / "ex.tfrecord.gz"
    rng = np.random.default_rng(0)
    w = ExampleWriter(str(ex))
    w.write(VariantInfo("chr1", 5, "A", ("C",), 10, (5, 5)), (0,), np.zeros(shape, np.uint8), 1)  # bi-allelic: skipped
    for i in range(12):
        variant = VariantInfo("chr1", 100 + 37 * i, "A", ("C", "G"), 10, (2, 4, 4))
        genotype = PAIRS[i % 6]
        for subset in _subsets(2):
            w.write(variant, subset, rng.integers(0, 254, shape, dtype=np.uint8), label_for_alt_subset(genotype, subset))
    w.close()
    write_sidecar(str(ex), shape, [1, 2, 3, 4, 5, 6])
    out = tmp_path / "merger"
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        report = train_merger([str(ex)], str(model_dir), str(out), epochs=2)
    assert any("trained on only" in r.getMessage() for r in caplog.records)  # 12 sites: flagged, still written
    assert report["multiallelic_sites"] == 12
    assert report["train"]["sites"] + report["heldout"]["sites"] == 12
    assert 0 < report["training_two_alt_sites"] <= 12
    info = json.load(open(out / MERGER_INFO_FILE))
    assert info["symmetry"] and info["cnn_sha256"]
    assert MergerNetwork.load(str(out))(_images((0.1, 0.8, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8)), [0, 1], 2).sum() == pytest.approx(1.0)


def test_unlabelled_examples_are_refused(tmp_path):
    from deepvariant_py.examples_io import ExampleWriter, VariantInfo, write_sidecar
    from deepvariant_py.model import ModelInfo, build_model, save_model

    shape = (100, 221, 6)
    save_model(build_model(shape), str(tmp_path / "cnn"), ModelInfo(list(shape), [1, 2, 3, 4, 5, 6]))
    ex = tmp_path / "calling.tfrecord.gz"
    w = ExampleWriter(str(ex))
    w.write(VariantInfo("chr1", 5, "A", ("C", "G"), 10, (5, 3, 2)), (0,), np.zeros(shape, np.uint8))
    w.close()
    write_sidecar(str(ex), shape, [1, 2, 3, 4, 5, 6])
    with pytest.raises(InputError, match="without labels"):
        train_merger([str(ex)], str(tmp_path / "cnn"), str(tmp_path / "merger"), epochs=1)


def test_a_merger_of_another_network_is_never_written_or_used_by_default(trained, tmp_path, caplog):
    """train-merger --output pointed at another model's folder replaced its merger, silently; run then merged that
    model's sites with a network fitted on another CNN's probabilities."""
    from deepvariant_py.merger import _check_merger_output

    mine, other = tmp_path / "mine", tmp_path / "other"
    for folder, weights in ((mine, b"network A"), (other, b"network B")):
        folder.mkdir()
        (folder / "model.keras").write_bytes(weights)
    _check_merger_output(str(mine), str(mine))
    _check_merger_output(str(mine), str(tmp_path / "new"))
    with pytest.raises(InputError, match="holds another model"):
        _check_merger_output(str(mine), str(other))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file: give a folder"):
        _check_merger_output(str(mine), str(tmp_path / "file"))
    trained.save(str(other))  # a merger whose recorded CNN (none here) ...
    info = json.load(open(other / MERGER_INFO_FILE))
    info["cnn_sha256"] = "0" * 64  # ... is not model.keras
    (other / MERGER_INFO_FILE).write_text(json.dumps(info))
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        assert load_merger("auto", str(other)) is None  # the min rule
        assert callable(load_merger("network", str(other)))  # asked for by name: used, with the warning
    assert sum("trained on another CNN's outputs" in r.getMessage() for r in caplog.records) == 2


def test_auto_keeps_the_min_rule_for_a_merger_of_few_sites_or_without_its_network(trained, tmp_path, caplog):
    """hostile17: a merger trained on 6 two-alt sites (train-merger warned, then wrote it) was used by every `dvcall
    run` without a word, and turned a 0/1 into 1/2; merger_info.json without merger.keras was the min rule silently."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.keras").write_bytes(b"network")
    trained.save(str(model))
    info = json.load(open(model / MERGER_INFO_FILE))
    info.pop("cnn_sha256", None)
    for sites, used in ((600, True), (6, False)):
        info["training_sites"] = sites
        (model / MERGER_INFO_FILE).write_text(json.dumps(info))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dvcall"):
            assert callable(load_merger("auto", str(model))) == used
            assert callable(load_merger("network", str(model)))  # asked for by name: used
        assert any("trained on only 6 two-alt sites" in r.getMessage() for r in caplog.records) == (not used)
    os.remove(model / MERGER_FILE)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        assert load_merger("auto", str(model)) is None
    assert any("merger_info.json without merger.keras" in r.getMessage() for r in caplog.records)

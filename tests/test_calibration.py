"""Temperature scaling: ranks kept, confidence softened, T recovered from data, applied by postprocess."""
from __future__ import annotations

import json
import os

import numpy as np

from deepvariant_py.calibration import (Calibration, apply_temperature, fit_gq_map, fit_temperature, negative_log_likelihood,
                                        temperature_at_bound)


def test_temperature_keeps_every_genotypes_rank_and_softens():
    probs = np.array([[0.98, 0.015, 0.005], [0.1, 0.3, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    soft = apply_temperature(probs, 2.0)
    assert np.allclose(soft.sum(axis=1), 1.0)
    assert (np.argsort(soft, axis=1) == np.argsort(probs, axis=1)).all()
    assert soft[0, 0] < probs[0, 0] and soft[1, 2] < probs[1, 2]
    assert np.allclose(soft[2], probs[2])
    assert apply_temperature(probs, 1.0) is not None and np.array_equal(apply_temperature(probs, 1.0), probs)
    assert np.allclose(apply_temperature(probs[:, :2] / probs[:, :2].sum(1, keepdims=True), 0.5).sum(1), 1.0)


def test_fit_recovers_the_temperature_of_an_overconfident_model():
    rng = np.random.default_rng(7)
    n = 20000
    logits = rng.normal(0, 2.0, size=(n, 3))
    honest = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in honest])
    overconfident = apply_temperature(honest, 1 / 2.5)  # p^2.5: GQ inflated
    t = fit_temperature(overconfident, labels)
    assert 2.2 < t < 2.8 and not temperature_at_bound(t)
    # tuning examples without a wrong call: the likelihood only rises as T falls, so the fit stops at its bound
    right = np.array([[0.9, 0.08, 0.02], [0.1, 0.85, 0.05], [0.05, 0.15, 0.8]] * 50)
    t0 = fit_temperature(right, right.argmax(axis=1))
    assert temperature_at_bound(t0) and t0 < 0.3
    assert negative_log_likelihood(overconfident, labels, t) < negative_log_likelihood(overconfident, labels)


def test_shipped_illumina_model_carries_a_fitted_temperature():
    import json
    import os

    from deepvariant_py.model import default_model_dir

    with open(os.path.join(default_model_dir(), "model_info.json")) as fh:
        info = json.load(fh)
    # fitted, not the default 1.0; below 1 for the shipped ensemble (the mean of two networks is less sure of
    # itself than either), above 1 for a single overconfident network
    assert 0.5 < info["temperature"] < 3.0 and info["temperature"] != 1.0 and info["temperature_fit"]["examples"] > 1000


def test_postprocess_applies_the_temperature_to_gq_not_to_genotypes(tmp_path):
    import gzip
    import json
    import os

    import pysam

    from deepvariant_py.postprocess import postprocess

    ref = os.path.join(os.path.dirname(__file__), "..", "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
    calls = tmp_path / "calls.jsonl.gz"
    with gzip.open(calls, "wt") as fh:
        fh.write(json.dumps({"v": ["chr20", 10002100, "T", ["G"], 30, [15, 15]], "i": [0], "p": [0.0005, 0.999, 0.0005]}) + "\n")
    records = {}
    halved = ((0.0, 99.0), (0.0, 49.5))  # a GQ map that halves every GQ
    for name, cal in (("raw", Calibration()), ("t2", Calibration(2.0)), ("map", Calibration(1.0, *halved))):
        out = str(tmp_path / f"{name}.vcf.gz")
        postprocess(str(calls), ref, out, "S", calibration=cal)
        with pysam.VariantFile(out) as vf:
            (rec,) = list(vf)
            records[name] = (rec.samples[0]["GT"], rec.samples[0]["GQ"], rec.qual, rec.samples[0]["PL"])
    assert records["raw"][0] == records["t2"][0] == records["map"][0] == (0, 1)
    assert records["t2"][1] < records["raw"][1]
    assert records["map"][1] == round(records["raw"][1] / 2)  # the map moves GQ and nothing else
    assert records["map"][2:] == records["raw"][2:]


def test_gq_map_lowers_an_overconfident_level_and_keeps_an_honest_one():
    rng = np.random.default_rng(4)
    # GQ 15 claims 3% errors but is wrong 15% of the time; GQ 30 claims 0.1% and is right (0 of 2,000 wrong)
    gq = np.array([15] * 1000 + [30] * 2000)
    correct = np.concatenate([rng.random(1000) >= 0.15, np.ones(2000, bool)])
    raw, calibrated = fit_gq_map(gq, correct)
    cal = Calibration(1.0, tuple(raw), tuple(calibrated))
    assert abs(cal.gq(15) - (-10 * np.log10((~correct[:1000]).mean()))) <= 1.0  # ~GQ 8
    assert 30 <= cal.gq(30) <= 33  # no errors in 2,000 calls: at most the GQ 2,000 calls can show (33)
    few = fit_gq_map(np.array([25] * 10), np.ones(10, bool))
    assert Calibration(1.0, *map(tuple, few)).gq(25) == 25  # 10 right calls neither lower nor raise GQ 25
    assert all(b >= a for a, b in zip(calibrated, calibrated[1:]))  # monotone
    assert Calibration().gq(37) == 37


def test_gq_map_pools_levels_whose_error_rate_rises_with_gq():
    gq = np.array([10] * 100 + [20] * 100 + [30] * 100)
    correct = np.array([True] * 95 + [False] * 5 + [True] * 80 + [False] * 20 + [True] * 100)  # GQ 20 worse than 10
    raw, calibrated = fit_gq_map(gq, correct)
    assert len(raw) == 2 and 10 < raw[0] < 20  # 10 and 20 pooled
    assert calibrated[0] < calibrated[1]


def test_the_gq_map_interpolates_between_its_knots_and_holds_beyond_them():
    cal = Calibration(1.3, (5.0, 20.0), (3.0, 12.0))
    assert cal.gq(5) == 3 and cal.gq(20) == 12 and cal.gq(40) == 12 and cal.gq(0) == 3 and cal.gq(10) == 6
    assert Calibration().gq(37) == 37


# --- clustered calls: their own GQ map ------------------------------------------------------------------------------

def test_clustered_calls_by_gap_to_the_nearest_other_non_reference_record():
    from deepvariant_py.calibration import clustered_calls

    # SNP at 10; reference call at 12; SNP at 40; a 2-bp deletion over 100-102; reference call at 103; SNP at 200
    starts = np.array([10, 12, 40, 100, 103, 200])
    ends = np.array([11, 13, 41, 102, 104, 201])
    non_ref = np.array([True, False, True, True, False, True])
    assert clustered_calls(starts, ends, non_ref, 5).tolist() == [False, True, False, False, True, False]
    assert clustered_calls(starts, ends, non_ref, 29).tolist() == [True, True, True, False, True, False]  # 11 -> 40: 29 bp
    assert not clustered_calls(starts, ends, non_ref, 0).any()
    # a long deletion covers a later SNP: 0 bp apart, whichever comes first in the list
    assert clustered_calls(np.array([10, 15]), np.array([30, 16]), np.array([True, True]), 1).tolist() == [True, True]
    # a record is never its own neighbour; reference calls never make a neighbour
    assert clustered_calls(np.array([5]), np.array([6]), np.array([True]), 50).tolist() == [False]
    assert not clustered_calls(np.array([5, 6]), np.array([6, 7]), np.array([False, False]), 50).any()


def _clustered_data(rng, n=6000):
    """Isolated calls at raw GQ 25 are right 1 in 3,000 wrong; clustered ones at GQ 25 are wrong 1 in 10."""
    clustered = rng.random(n) < 0.1
    wrong = np.where(clustered, rng.random(n) < 0.1, rng.random(n) < 1 / 3000)
    return np.full(n, 25), ~wrong, clustered


def test_fit_calibration_gives_clustered_calls_their_own_map():
    from deepvariant_py.calibration import fit_calibration

    gq, correct, clustered = _clustered_data(np.random.default_rng(3))
    one = fit_calibration(1.2, gq, correct)
    two = fit_calibration(1.2, gq, correct, clustered, cluster_distance=5)
    assert one.cluster_distance == 0 and not one.clustered_raw and one.temperature == 1.2
    assert two.cluster_distance == 5 and two.temperature == 1.2
    assert two.gq(25, clustered=True) <= 11 < 30 <= two.gq(25)  # ~10 and ~35 where one map says ~21 for both
    assert two.gq(25, clustered=True) < one.gq(25) < two.gq(25)
    assert one.gq(25, clustered=True) == one.gq(25)  # without a distance the flag changes nothing
    assert fit_calibration(1.0, gq, correct, np.zeros(len(gq), bool), 5).cluster_distance == 0  # no clustered calls


def test_cross_validation_prefers_the_split_only_where_clustered_calls_differ():
    from deepvariant_py.calibration import choose_fit, cross_validated_log_likelihood

    rng = np.random.default_rng(5)
    gq, correct, clustered = _clustered_data(rng)
    folds = np.arange(len(gq)) % 4
    real = {d: cross_validated_log_likelihood(gq, correct, clustered, d, folds) for d in (0, 5)}
    assert len(real[0]) == 4 and real[5].sum() > real[0].sum() + 10
    assert choose_fit(real, 0) == 5
    random_flags = rng.random(len(gq)) < 0.1  # flags that say nothing: the split must not be chosen
    noise = {d: cross_validated_log_likelihood(gq, correct, random_flags, d, folds) for d in (0, 5)}
    assert noise[5].sum() < noise[0].sum() + 2
    assert choose_fit(noise, 0) == 0
    # a gain smaller than its spread over the folds is chance: the baseline
    assert choose_fit({0: np.array([-10.0, -10, -10, -10]), 5: np.array([-4.0, -16, -5, -14])}, 0) == 0
    assert choose_fit({0: np.array([-10.0, -10, -10, -10]), 5: np.array([-8.0, -9, -8, -9])}, 0) == 5
    assert choose_fit({(0, 5.0): np.array([-10.0, -10]), (0, 50.0): np.array([-9.0, -9])}, (0, 5.0)) == (0, 50.0)


def _sparse_levels(rng, rate_of, calls_per_level=60, levels=range(10, 40)):
    """Calls at many raw GQ levels, few each, wrong at rate_of(level): the map sees one or two errors per level."""
    gq = np.repeat(np.array(list(levels), dtype=float), calls_per_level)
    correct = rng.random(len(gq)) >= np.vectorize(rate_of)(gq)
    return gq, correct


def test_a_larger_prior_keeps_an_honest_gq_where_errors_are_few_and_a_small_one_follows_a_dishonest_one():
    from deepvariant_py.calibration import cross_validated_log_likelihood, fit_gq_map

    honest, liar = (lambda g: 10 ** (-g / 10)), (lambda g: 10 ** (-(g - 12) / 10))  # the liar claims 12 GQ too many
    scores = {}
    for name, rate in (("honest", honest), ("liar", liar)):
        per_prior = {p: 0.0 for p in (5.0, 200.0)}
        for seed in range(6):
            gq, correct = _sparse_levels(np.random.default_rng(seed), rate)
            folds = np.arange(len(gq)) % 4
            for p in per_prior:
                per_prior[p] += cross_validated_log_likelihood(gq, correct, np.zeros(len(gq), bool), 0, folds, p).sum()
        scores[name] = per_prior
    assert scores["honest"][200.0] > scores["honest"][5.0]  # sparse errors pull a weak prior's plateaus down: noise
    assert scores["liar"][5.0] > scores["liar"][200.0]      # a strong prior holds on to GQs the calls disprove
    gq, correct = _sparse_levels(np.random.default_rng(0), honest)
    raw, cal = fit_gq_map(gq, correct, prior_calls=200.0)
    assert max(abs(r - c) for r, c in zip(raw, cal) if r < 30) < 4  # an honest GQ stays about where it was


def test_postprocess_maps_clustered_calls_with_their_map_and_refcalls_follow_the_mapped_gq():
    from deepvariant_py.postprocess import mapped_gq
    from deepvariant_py.vcf import VcfRecord

    def rec(contig, start, gt, gq, flt="PASS", ref="A"):
        return VcfRecord(contig=contig, start=start, ref=ref, alts=["G"], qual=30.0, filter=flt, genotype=gt, gq=gq,
                         depth=30, allele_depths=[15, 15], vafs=[0.5], pl=[30, 0, 30])

    # isolated calls keep GQ + 10, clustered ones lose 10
    cal = Calibration(1.0, (0.0, 80.0), (10.0, 90.0), 5, (10.0, 80.0), (0.0, 70.0))
    # a reference call 3 bp from a SNP is clustered; the SNP is not (a reference call is no neighbour)
    records = [rec("chr1", 100, (0, 1), 25), rec("chr1", 104, (0, 0), 25, "RefCall"),
               rec("chr1", 300, (0, 0), 15, "RefCall"),  # isolated reference call: raw 15 (no call) -> 25, (0, 0)
               rec("chr1", 1000, (1, 1), 30, ref="AAAA"), rec("chr1", 1008, (0, 1), 30),  # 5 bp after the deletion ends
               rec("chr2", 1010, (0, 1), 30)]  # another contig: isolated
    out = list(mapped_gq(iter(records), cal))
    assert [r.gq for r in out] == [35, 15, 25, 20, 20, 40]
    assert out[1].genotype is None and out[2].genotype == (0, 0)  # RefCall GQ < 20 is ./., >= 20 is 0/0
    assert [r.genotype for r in out[3:]] == [(1, 1), (0, 1), (0, 1)]
    assert list(mapped_gq(iter(records), Calibration(1.3))) == records  # no map: records pass unchanged


def test_a_model_carries_its_clustered_map_and_a_broken_one_is_refused():
    import pytest

    from deepvariant_py.model_info import ModelInfo

    base = {"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]}
    cal = Calibration(1.1, (5.0, 25.0), (4.0, 33.0), 5, (5.0, 25.0), (3.0, 12.0))
    data = ModelInfo.from_json(base).with_calibration(cal).to_json()
    assert ModelInfo.from_json(data).calibration == cal
    for bad in ({"raw": [5.0], "calibrated": [4.0], "cluster_distance": 5},  # distance without its map
                {"raw": [5.0], "calibrated": [4.0], "cluster_distance": -1, "clustered_raw": [5.0], "clustered_calibrated": [3.0]},
                {"raw": [5.0], "calibrated": [4.0], "cluster_distance": 5, "clustered_raw": [5.0, 1.0], "clustered_calibrated": [3.0, 4.0]}):
        with pytest.raises(ValueError, match="gq_calibration"):
            ModelInfo.from_json({**base, "gq_calibration": bad})


def test_a_new_temperature_drops_the_gq_map_fitted_at_the_old_one():
    from deepvariant_py.calibration import at_temperature
    mapped = Calibration(0.87, (0.0, 99.0), (0.0, 40.0), 5, (0.0, 99.0), (0.0, 20.0))
    assert at_temperature(mapped, 2.27) == (Calibration(2.27), True)
    assert at_temperature(mapped, 0.87) == (mapped, False)  # refitted to the same value: the map still applies
    assert at_temperature(Calibration(1.0), 0.5) == (Calibration(0.5), False)


def test_calibrate_never_replaces_a_calibration_with_a_fit_stopped_at_its_bound(tmp_path, monkeypatch):
    """Examples without a wrong call push the temperature to its bound; written, it deleted the model's GQ map and
    sent every GQ to 99 (exit 0). Now the model is left as it was and the command fails; an uncalibrated model
    still takes the bound (the recipes fit the GQ map at it next)."""
    import shutil

    from click.testing import CliRunner

    import deepvariant_py.cli.calibrate as calibrate_cli
    from deepvariant_py.cli.main import main
    from deepvariant_py.model import default_model_dir

    labels = np.arange(150) % 3
    probs = np.full((150, 3), 0.005)
    probs[np.arange(150), labels] = 0.99
    monkeypatch.setattr(calibrate_cli, "predict_labelled", lambda model, examples: (probs, labels))
    examples = tmp_path / "tune.tfrecord.gz"
    examples.write_bytes(b"x")  # never read: predict_labelled is replaced
    from deepvariant_py.examples_io import write_sidecar
    write_sidecar(str(examples), (100, 221, 6), [1, 2, 3, 4, 5, 6], spans=[("chr20", 1_000, 9_000)])
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(os.path.join(default_model_dir("illumina-wgs"), "model_info.json"), model / "model_info.json")
    (model / "model.keras").write_bytes(b"never read: predict_labelled is replaced")
    before = (model / "model_info.json").read_bytes()
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--examples", str(examples)])
    assert result.exit_code == 1 and "stopped at its bound (0.25)" in result.output and "left as it was" in result.output
    assert (model / "model_info.json").read_bytes() == before
    info = json.loads(before)
    info.pop("gq_calibration", None)
    info["temperature"] = 1.0
    (model / "model_info.json").write_text(json.dumps(info))
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--examples", str(examples)])
    assert result.exit_code == 0 and "fit the GQ map at this temperature next" in result.output
    assert json.loads((model / "model_info.json").read_text())["temperature"] == 0.25
    labels[:6] = (labels[:6] + 1) % 3  # six wrong calls, sure of themselves: a temperature above 1, on few examples
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--examples", str(examples)])
    assert result.exit_code == 0 and "fitted on only 150 examples holding 6 wrong call(s)" in result.output
    assert json.loads((model / "model_info.json").read_text())["temperature"] > 1
    fitted = (model / "model_info.json").read_bytes()
    assert "was trained" not in result.output
    info = json.loads(fitted)  # hostile17: a model calibrated on its own training examples went unnoticed
    (model / "model_info.json").write_text(json.dumps({**info, "training_spans": [["chr20", 0, 2_000]]}))
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--examples", str(examples)])
    assert result.exit_code == 0 and f"warning: the --examples come from where model {model} was trained (chr20:1,001-2,000" \
        in result.output.replace("\n", " ")
    (model / "model_info.json").write_bytes(fitted)
    labels, probs = labels[:60], probs[:60]  # hostile17: 4 examples made a temperature of 2.19, written (exit 0)
    result = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--examples", str(examples)])
    assert result.exit_code == 1 and "only 60 labelled example(s)" in result.output
    assert (model / "model_info.json").read_bytes() == fitted


def test_a_level_of_only_wrong_calls_maps_to_gq_zero_not_minus_zero():
    raw, cal = fit_gq_map(np.array([1.0, 1.0, 30.0, 30.0]), np.array([False, False, True, True]), prior_calls=0.0)
    assert raw[0] == 1.0 and cal[0] == 0.0 and str(cal[0]) == "0.0"  # printed and stored as 0.0, never -0.0

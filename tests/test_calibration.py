"""Temperature scaling: ranks kept, confidence softened, T recovered from data, applied by postprocess."""
from __future__ import annotations

import numpy as np

from deepvariant_py.calibration import Calibration, apply_temperature, fit_gq_map, fit_temperature, negative_log_likelihood


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
    assert 2.2 < t < 2.8
    assert negative_log_likelihood(overconfident, labels, t) < negative_log_likelihood(overconfident, labels)


def test_shipped_illumina_model_carries_a_fitted_temperature():
    import json
    import os

    from deepvariant_py.model import default_model_dir

    with open(os.path.join(default_model_dir(), "model_info.json")) as fh:
        info = json.load(fh)
    assert 1.0 < info["temperature"] < 3.0 and info["temperature_fit"]["examples"] > 1000


def test_postprocess_applies_the_temperature_to_gq_not_to_genotypes(tmp_path):
    import gzip
    import json
    import os

    import pysam

    from deepvariant_py.postprocess import postprocess

    ref = os.path.join(os.path.dirname(__file__), "..", "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
    calls = tmp_path / "calls.jsonl.gz"
    with gzip.open(calls, "wt") as fh:
        fh.write(json.dumps({"v": ["chr20", 10002100, "A", ["G"], 30, [15, 15]], "i": [0], "p": [0.0005, 0.999, 0.0005]}) + "\n")
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

"""Temperature scaling: ranks kept, confidence softened, T recovered from data, applied by postprocess."""
from __future__ import annotations

import numpy as np

from deepvariant_py.calibration import apply_temperature, fit_temperature, negative_log_likelihood


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
    for t in (1.0, 2.0):
        out = str(tmp_path / f"t{t}.vcf.gz")
        postprocess(str(calls), ref, out, "S", temperature=t)
        with pysam.VariantFile(out) as vf:
            (rec,) = list(vf)
            records[t] = (rec.samples[0]["GT"], rec.samples[0]["GQ"])
    assert records[1.0][0] == records[2.0][0] == (0, 1)
    assert records[2.0][1] < records[1.0][1]

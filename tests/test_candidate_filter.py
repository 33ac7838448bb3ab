"""candidate_filter: per-candidate features, the logistic regression, loading it, and make_examples dropping
what it scores as errors."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from builders import pileup_reads, two_haplotype_sample
from deepvariant_py.candidate_filter import (FEATURES, FILE_NAME, CandidateFilter, allele_features, fit_logistic,
                                             load_candidate_filter)
from deepvariant_py.candidates import find_candidates
from deepvariant_py.errors import ModelError
from deepvariant_py.make_examples import MakeExamplesOptions, process_partition
from deepvariant_py.presets import make_examples_options, resolve_settings
from deepvariant_py.read_events import extract_events
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region

F = {name: i for i, name in enumerate(FEATURES)}
REF = "ACGTACGTAAAAAAAACGTACGTACGT"


def _features(rows):
    events = extract_events(pileup_reads(REF, rows), REF, 0, 10)
    cands = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    x, owner = allele_features(events, cands, REF, 0)
    assert owner.tolist() == [k for k, c in enumerate(cands) for _ in c.alts]
    return cands, x, owner


def test_a_heterozygous_snp_on_one_haplotype_and_an_error_on_both():
    # column 4: A>T on the three HP=1 reads only (a het); column 20: A>G on one read of each haplotype (an error)
    het, error = "ACGTTCGTAAAAAAAACGTACGTACGT", "ACGTACGTAAAAAAAACGTAGGTACGT"
    both = "ACGTTCGTAAAAAAAACGTAGGTACGT"
    rows = [(het, {"hp": 1}), (both, {"hp": 1}), (het, {"hp": 1, "reverse": True}),
            (error, {"hp": 2}), (REF, {"hp": 2}), (REF, {"hp": 2, "reverse": True}), (REF, {"hp": 2})]
    cands, x, _ = _features(rows)  # single-alt candidates: one row each
    by_pos = {c.start: x[i] for i, c in enumerate(cands)}
    snp, err = by_pos[4], by_pos[20]
    assert snp[F["best_haplotype_fraction"]] == 1.0 and snp[F["other_haplotype_fraction"]] == 0.0
    assert err[F["best_haplotype_fraction"]] == pytest.approx(1 / 3) and err[F["other_haplotype_fraction"]] == pytest.approx(1 / 4)
    assert snp[F["alt_fraction"]] == pytest.approx(3 / 7) and snp[F["tagged_fraction"]] == 1.0
    assert snp[F["strand_balance"]] == pytest.approx(1 / 3) and snp[F["is_indel"]] == 0


def test_indel_features_and_homopolymer_length():
    # a 2-base deletion of the 8-base A run (columns 8-15), left-aligned (anchored on the T before), on 3 of 4 reads
    rows = ["ACGTACGT--AAAAAACGTACGTACGT"] * 3 + [REF]
    cands, x, _ = _features(rows)
    (k,) = [i for i, c in enumerate(cands) if c.is_indel]
    assert x[k, F["is_indel"]] == 1 and x[k, F["indel_length"]] == 2 and x[k, F["homopolymer"]] == 8
    assert x[k, F["tagged_fraction"]] == 0 and x[k, F["best_haplotype_fraction"]] == 0  # untagged reads


def test_each_alt_of_a_multiallelic_site_gets_its_own_row_and_the_site_is_kept_if_one_passes():
    # column 4: A>T on the HP=1 reads (the true het), A>G on one HP=2 read and A>C on another (errors)
    rows = [("ACGTTCGTAAAAAAAACGTACGTACGT", {"hp": 1})] * 3 + [
        ("ACGTGCGTAAAAAAAACGTACGTACGT", {"hp": 2}), ("ACGTGCGTAAAAAAAACGTACGTACGT", {"hp": 2}),
        ("ACGTCCGTAAAAAAAACGTACGTACGT", {"hp": 2}), ("ACGTCCGTAAAAAAAACGTACGTACGT", {"hp": 2}), (REF, {"hp": 2})]
    cands, x, owner = _features(rows)
    (k,) = [i for i, c in enumerate(cands) if c.start == 4]
    alts = cands[k].alts
    mine = {alts[j]: x[np.flatnonzero(owner == k)[j]] for j in range(len(alts))}
    assert mine["T"][F["best_haplotype_fraction"]] == 1.0 and mine["G"][F["best_haplotype_fraction"]] == pytest.approx(2 / 5)
    weights = [0.0] * len(FEATURES)
    weights[F["best_haplotype_fraction"]] = 10.0
    filt = CandidateFilter(tuple(weights), -8.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.5)
    assert filt.keep(x, owner, len(cands))[k]  # T passes (sigmoid(2)), G and C do not (sigmoid(-4))
    only_errors = np.flatnonzero((owner == k) & (x[:, F["best_haplotype_fraction"]] < 1))
    assert not filt.keep(x[only_errors], np.zeros(len(only_errors), np.int64), 1)[0]


def test_the_regression_separates_what_it_can():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] - 2 * x[:, 1] > 0).astype(float)
    w, b, mean, scale = fit_logistic(x, y, l2=1e-4)
    p = 1 / (1 + np.exp(-(((x - mean) / scale) @ w + b)))
    assert np.mean((p > 0.5) == (y > 0)) > 0.97
    assert w[1] < 0 < w[0] and abs(w[2]) < 0.2 * abs(w[1])


def _filter(threshold: float, weights=None) -> CandidateFilter:
    n = len(FEATURES)
    weights = weights if weights is not None else [0.0] * n
    return CandidateFilter(tuple(weights), 0.0, (0.0,) * n, (1.0,) * n, threshold)


def test_loading_a_filter_checks_it(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text(json.dumps(_filter(0.5).to_json()))
    assert load_candidate_filter(str(path)).threshold == 0.5
    bad = _filter(0.5).to_json()
    bad["features"] = list(FEATURES[:-1]) + ["mystery"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="does not match this dvcall"):
        load_candidate_filter(str(path))
    path.write_text("{not json")
    with pytest.raises(ModelError, match="cannot read the candidate filter"):
        load_candidate_filter(str(path))
    path.write_text('{"weights": [1]}')
    with pytest.raises(ModelError, match=r"\(no 'mean'\)"):
        load_candidate_filter(str(path))


def test_make_examples_drops_what_the_filter_scores_low_and_counts_it(tmp_path):
    fasta, bam, snps = two_haplotype_sample(str(tmp_path))
    reference = Reference(fasta)
    region = Region("chr1", 10_000, 11_000)
    opts = MakeExamplesOptions(realign=False, phase_reads=True)
    keep_all = replace(opts, candidate_filter=_filter(0.0))
    # weight +5 on best_haplotype_fraction, threshold 0.9: only alleles that fill one haplotype's reads pass
    weights = [0.0] * len(FEATURES)
    weights[F["best_haplotype_fraction"]] = 5.0
    strict = replace(opts, candidate_filter=CandidateFilter(tuple(weights), -2.5, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.9))
    results = {}
    for name, o in (("none", opts), ("all", keep_all), ("strict", strict)):
        with open_reads(bam, reference) as handle:
            results[name] = process_partition(handle, reference, region, o)
    found = {c.start for c in results["none"].candidates}
    assert found == {p for p in snps if 10_000 <= p < 11_000}
    assert {c.start for c in results["all"].candidates} == found and results["all"].n_filtered == 0
    assert {c.start for c in results["strict"].candidates} == found  # true hets fill one haplotype's reads
    never = replace(opts, candidate_filter=_filter(0.99))
    with open_reads(bam, reference) as handle:
        dropped = process_partition(handle, reference, region, never)
    assert dropped.candidates == [] and dropped.n_filtered == len(found)


def test_the_filter_is_used_when_the_model_ships_one_and_the_settings_want_it(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    settings = resolve_settings("ont", None)
    assert settings["candidate_filter"] is True
    assert make_examples_options(settings, model_dir=str(model)).candidate_filter is None
    (model / FILE_NAME).write_text(json.dumps(_filter(0.3).to_json()))
    assert make_examples_options(settings, model_dir=str(model)).candidate_filter.threshold == 0.3
    assert make_examples_options({**settings, "candidate_filter": False}, model_dir=str(model)).candidate_filter is None
    assert make_examples_options(settings).candidate_filter is None  # training examples: no model, every candidate


def test_untagged_reads_keep_every_candidate(tmp_path):
    """On unphased reads an allele cannot fill one haplotype, so the filter would drop true variants: it steps aside."""
    fasta, bam, snps = two_haplotype_sample(str(tmp_path))
    reference = Reference(fasta)
    never = MakeExamplesOptions(realign=False, candidate_filter=_filter(0.99))
    with open_reads(bam, reference) as handle:  # untagged, not phased
        part = process_partition(handle, reference, Region("chr1", 10_000, 11_000), never)
    assert {c.start for c in part.candidates} == {p for p in snps if 10_000 <= p < 11_000} and part.n_filtered == 0


def test_a_quadratic_filter_weighs_products_of_features(tmp_path):
    from deepvariant_py.candidate_filter import expand, input_width
    x = np.arange(2 * len(FEATURES), dtype=float).reshape(2, -1)
    z = expand(x, True)
    assert z.shape == (2, input_width(True)) and np.array_equal(z[:, :len(FEATURES)], x)
    assert z[1, len(FEATURES)] == x[1, 0] ** 2 and z[1, len(FEATURES) + 1] == x[1, 0] * x[1, 1]
    n = input_width(True)
    # one weight on the product alt_fraction x best_haplotype_fraction (its index among the products)
    i, j = np.triu_indices(len(FEATURES))
    k = len(FEATURES) + int(np.flatnonzero((i == F["alt_fraction"]) & (j == F["best_haplotype_fraction"]))[0])
    weights = [0.0] * n
    weights[k] = 10.0
    filt = CandidateFilter(tuple(weights), -2.0, (0.0,) * n, (1.0,) * n, 0.5, quadratic=True)
    rows = np.zeros((2, len(FEATURES)))
    rows[0, [F["alt_fraction"], F["best_haplotype_fraction"]]] = 0.5, 1.0  # product 0.5: sigmoid(3) passes
    rows[1, [F["alt_fraction"], F["best_haplotype_fraction"]]] = 0.5, 0.2  # product 0.1: sigmoid(-1) does not
    assert filt.keep(rows, np.array([0, 1]), 2).tolist() == [True, False]
    path = tmp_path / FILE_NAME
    path.write_text(json.dumps(filt.to_json()))
    assert load_candidate_filter(str(path)).quadratic
    short = {**filt.to_json(), "quadratic": False}  # 65 weights for a linear filter: refused
    path.write_text(json.dumps(short))
    with pytest.raises(ModelError, match="does not match this dvcall"):
        load_candidate_filter(str(path))

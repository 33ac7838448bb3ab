"""A model's calibration: temperature scaling of its genotype probabilities, then a monotone GQ map.

Temperature scaling: one number per model that makes its genotype probabilities, and so GQ, honest on average.

A network trained to high accuracy is usually overconfident: its GQ 30 calls are wrong more often than one in a
thousand. Dividing the log-probabilities by a temperature T > 1 (then renormalising) softens every distribution
without changing any genotype's rank, so calls stay the same and only GQ, QUAL and PL move. T is fitted on a
simulated tuning set (labelled examples the model did not train on) by minimising the negative log-likelihood,
stored in the model's model_info.json as "temperature", and applied by postprocess to each site's genotype
distribution (after the multi-allelic merger, whose inputs stay what it was trained on).

One temperature fits the bulk of the calls; the hard ones (long homopolymers, imbalanced hets) can stay
overconfident at low GQ. The GQ map, fitted on the *calls* of simulated calibration samples the model never
trained on (scripts/fit_gq_calibration.py), is an isotonic (monotone) regression of the genotype error rate
on the GQ postprocess would write: knots (raw GQ -> calibrated GQ) in model_info.json "gq_calibration",
interpolated linearly (a model whose probabilities are capped, so that GQ tops out below what its calls
earn, is raised where the calls show it). It moves GQ only: genotypes, QUAL, PL and filters other than RefCall's GQ < 20 no-call
stay as they were.

Calls beside other calls are harder: a complex site written as several records, a SNP next to an indel in a
repeat. At the same raw GQ such a call errs far more often (simulated HiFi calibration samples: 1 in 20 at raw
GQ 20+ within 5 bp of another variant call, 1 in 750 elsewhere), so one map either under-claims the isolated
calls or over-claims the clustered ones. A model can therefore carry a second map for *clustered* calls:
records with another non-reference call within `cluster_distance` bp (`clustered_calls`), chosen with the map
by cross-validation on the calibration samples (fit_gq_calibration.py); 0 = one map for every call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

FLOOR = 1e-12
MIN_FIT_EXAMPLES = 100  # `dvcall calibrate` writes no temperature fitted on fewer labelled examples (noise)
TEMPERATURE_RANGE = (0.25, 8.0)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of probabilities p -> p^(1/T) / sum(p^(1/T)); T = 1 returns them unchanged."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return probs
    logp = np.log(np.clip(probs, FLOOR, 1.0)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=-1, keepdims=True)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = apply_temperature(probs, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], FLOOR, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, steps: int = 400) -> float:
    """The T in TEMPERATURE_RANGE (log-spaced grid) that minimises the negative log-likelihood of `labels`."""
    grid = np.exp(np.linspace(np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1]), steps))
    losses = [negative_log_likelihood(probs, labels, t) for t in grid]
    return float(grid[int(np.argmin(losses))])


def temperature_at_bound(temperature: float) -> bool:
    """Whether a fitted temperature sits at an end of TEMPERATURE_RANGE: the fit found no optimum inside it, e.g.
    tuning examples without a single wrong call (the likelihood then only rises as T falls), so it says nothing
    about the model's honesty."""
    lo, hi = TEMPERATURE_RANGE
    return temperature <= lo * 1.01 or temperature >= hi / 1.01


# --- GQ map ---

PRIOR_CALLS = 5.0  # each raw-GQ level starts with this many pseudo-calls that are as right as its GQ claims
MAX_GQ = 99


@dataclass(frozen=True)
class Calibration:
    """What postprocess applies to a model's outputs: the temperature, then the GQ map (empty: GQ unchanged);
    with a `cluster_distance`, clustered calls (`clustered_calls`) take the second map instead."""

    temperature: float = 1.0
    gq_raw: tuple[float, ...] = ()
    gq_calibrated: tuple[float, ...] = ()
    cluster_distance: int = 0
    clustered_raw: tuple[float, ...] = ()
    clustered_calibrated: tuple[float, ...] = ()

    @property
    def maps_gq(self) -> bool:
        return bool(self.gq_raw)

    def gq(self, raw: int, clustered: bool = False) -> int:
        return int(self.gqs(np.array([raw]), np.array([clustered]))[0])

    def gqs(self, raw: np.ndarray, clustered: np.ndarray | None = None) -> np.ndarray:
        """GQ through the map(s), for arrays of raw GQ and clustered flags (postprocess maps records in batches)."""
        raw = np.asarray(raw)
        if not self.gq_raw:
            return raw.astype(np.int64)
        out = np.interp(raw, self.gq_raw, self.gq_calibrated)
        if self.cluster_distance and clustered is not None and np.any(clustered):
            flags = np.asarray(clustered, dtype=bool)
            out[flags] = np.interp(raw[flags], self.clustered_raw, self.clustered_calibrated)
        return np.clip(np.round(out), 0, MAX_GQ).astype(np.int64)


def at_temperature(cal: Calibration, temperature: float) -> tuple[Calibration, bool]:
    """`cal` with another temperature, and whether its GQ map(s) had to go: a map is fitted on the raw GQs of one
    temperature (scripts/fit_gq_calibration.py), so at another it maps the wrong numbers."""
    if cal.maps_gq and abs(temperature - cal.temperature) > 1e-6:
        return Calibration(temperature), True
    return replace(cal, temperature=temperature), False


def clustered_calls(starts: np.ndarray, ends: np.ndarray, non_ref: np.ndarray, distance: int) -> np.ndarray:
    """For records in reference order on one contig (0-based [start, end) spans; `non_ref`: the genotype
    carries an alt allele), whether another non-reference record lies within `distance` bp of each (gap
    between spans; overlapping spans are 0 apart). distance 0: none is."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    non_ref = np.asarray(non_ref, dtype=bool)
    n = len(starts)
    if distance <= 0 or not non_ref.any():
        return np.zeros(n, dtype=bool)
    big = np.int64(1) << 62
    idx = np.arange(n)
    # before: the largest end among non-reference records earlier in the list (records are sorted by start)
    nr_end = np.where(non_ref, ends, -big)
    prev_end = np.concatenate(([-big], np.maximum.accumulate(nr_end)[:-1]))
    near = starts - prev_end <= distance
    # after: the first non-reference record later in the list (the smallest start after this one)
    nr_idx = np.flatnonzero(non_ref)
    nxt = np.searchsorted(nr_idx, idx, side="right")
    has_next = nxt < len(nr_idx)
    next_start = np.where(has_next, starts[nr_idx[np.minimum(nxt, len(nr_idx) - 1)]], big)
    near |= next_start - ends <= distance
    return near


def fit_gq_map(gq: np.ndarray, correct: np.ndarray, prior_calls: float = PRIOR_CALLS) -> tuple[list[float], list[float]]:
    """Knots (raw GQ, calibrated GQ) of a monotone map from the GQ of calls to the GQ their error rate earns.

    Calls are grouped by raw GQ; each group's error rate gets `prior_calls` pseudo-calls at the rate its GQ
    claims (so a level with few calls keeps about its GQ), then adjacent groups are pooled until the rate
    never rises with GQ (pool-adjacent-violators). Each pooled block gives a knot at its calls' mean raw GQ,
    calibrated to the GQ of its error rate; above the raw GQ only as far as the block's call count can show.
    """
    gq = np.asarray(gq, dtype=np.float64)
    wrong = ~np.asarray(correct, dtype=bool)
    if len(gq) == 0:
        raise ValueError("no calls to fit a GQ map on")
    levels = np.unique(gq)
    blocks = []  # [calls (with prior), errors (with prior), sum of raw GQ, real calls]
    for level in levels:
        inside = gq == level
        n, e = float(inside.sum()), float(wrong[inside].sum())
        claimed = 10 ** (-level / 10)
        blocks.append([n + prior_calls, e + prior_calls * claimed, level * n, n])
    pooled: list[list[float]] = []
    for b in blocks:
        pooled.append(list(b))
        while len(pooled) > 1 and pooled[-2][1] / pooled[-2][0] < pooled[-1][1] / pooled[-1][0]:
            last = pooled.pop()
            pooled[-1] = [x + y for x, y in zip(pooled[-1], last)]
    raw = [b[2] / b[3] for b in pooled]
    # A block may rise above its raw GQ only as far as its calls can show: n calls without an error say the
    # rate is below ~1/n, no more (GQ 10*log10(n+1)); a GQ 25 level of 10 calls keeps 25.
    calibrated = [min(max(0.0, -10 * math.log10(max(b[1] / b[0], 1e-10))), max(r, 10 * math.log10(b[3] + 1)))
                  for r, b in zip(raw, pooled)]
    for i in range(1, len(calibrated)):  # the cap can undo monotonicity: keep the map non-decreasing
        calibrated[i] = max(calibrated[i], calibrated[i - 1])
    return [round(x, 3) for x in raw], [round(x, 3) for x in calibrated]


def fit_calibration(temperature: float, gq: np.ndarray, correct: np.ndarray, clustered: np.ndarray | None = None,
                    cluster_distance: int = 0, prior_calls: float = PRIOR_CALLS) -> Calibration:
    """A Calibration with the GQ map(s) fitted on calls (raw GQ, right or wrong; `prior_calls` as in fit_gq_map);
    with `cluster_distance`, the clustered calls (`clustered`) get their own map (none when there are none of them)."""
    gq, correct = np.asarray(gq), np.asarray(correct, dtype=bool)
    clustered = np.zeros(len(gq), dtype=bool) if clustered is None or not cluster_distance else np.asarray(clustered, dtype=bool)
    isolated = ~clustered
    raw, calibrated = fit_gq_map(gq[isolated], correct[isolated], prior_calls) if isolated.any() else ([], [])
    if not clustered.any():
        return Calibration(temperature, tuple(raw), tuple(calibrated))
    c_raw, c_cal = fit_gq_map(gq[clustered], correct[clustered], prior_calls)
    return Calibration(temperature, tuple(raw), tuple(calibrated), int(cluster_distance), tuple(c_raw), tuple(c_cal))


def log_likelihood(gq: np.ndarray, correct: np.ndarray) -> float:
    """How well GQs predict right and wrong calls: the sum of log P(what happened) with P(wrong) = 10^(-GQ/10)
    (at most 2/3: GQ 0 claims no more than a uniform guess over three genotypes)."""
    p = np.minimum(10.0 ** (-np.asarray(gq, dtype=np.float64) / 10), 2 / 3)
    return float(np.sum(np.where(np.asarray(correct, dtype=bool), np.log1p(-p), np.log(p))))


def cross_validated_log_likelihood(gq: np.ndarray, correct: np.ndarray, clustered: np.ndarray, cluster_distance: int,
                                   folds: np.ndarray, prior_calls: float = PRIOR_CALLS) -> np.ndarray:
    """Per fold, log_likelihood of its calls under the map(s) fitted on the other folds: what choosing the
    cluster distance and the prior rests on (calibration-sample positions split into folds, so the same loci of
    replicate samples are never on both sides)."""
    gq, correct, folds = np.asarray(gq), np.asarray(correct, dtype=bool), np.asarray(folds)
    clustered = np.asarray(clustered, dtype=bool)
    out = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        cal = fit_calibration(1.0, gq[train], correct[train], clustered[train], cluster_distance, prior_calls)
        out.append(log_likelihood(cal.gqs(gq[test], clustered[test]), correct[test]))
    return np.array(out)


def choose_fit(per_fold: dict, baseline):
    """The fit (a key of `per_fold`: e.g. (cluster distance, prior calls)) whose maps predict held-out folds best,
    but `baseline` unless another beats it by more than the standard error of its per-fold gains (the
    one-standard-error rule: several noisy candidates would otherwise pick one on chance)."""
    base = per_fold[baseline]
    best, best_gain = baseline, 0.0
    for key, scores in per_fold.items():
        if key == baseline:
            continue
        gains = np.asarray(scores) - base
        se = float(np.std(gains, ddof=1) * np.sqrt(len(gains))) if len(gains) > 1 else 0.0
        if gains.sum() > se and gains.sum() > best_gain:
            best, best_gain = key, float(gains.sum())
    return best

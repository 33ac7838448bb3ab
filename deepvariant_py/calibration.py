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
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOOR = 1e-12
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


# --- GQ map ---

PRIOR_CALLS = 5.0  # each raw-GQ level starts with this many pseudo-calls that are as right as its GQ claims
MAX_GQ = 99


@dataclass(frozen=True)
class Calibration:
    """What postprocess applies to a model's outputs: the temperature, then the GQ map (empty: GQ unchanged)."""

    temperature: float = 1.0
    gq_raw: tuple[float, ...] = ()
    gq_calibrated: tuple[float, ...] = ()

    def gq(self, raw: int) -> int:
        if not self.gq_raw:
            return raw
        return int(max(0, min(MAX_GQ, round(float(np.interp(raw, self.gq_raw, self.gq_calibrated))))))


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
    calibrated = [min(-10 * math.log10(max(b[1] / b[0], 1e-10)), max(r, 10 * math.log10(b[3] + 1)))
                  for r, b in zip(raw, pooled)]
    for i in range(1, len(calibrated)):  # the cap can undo monotonicity: keep the map non-decreasing
        calibrated[i] = max(calibrated[i], calibrated[i - 1])
    return [round(x, 3) for x in raw], [round(x, 3) for x in calibrated]

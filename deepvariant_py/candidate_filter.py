"""A cheap first look at each candidate (docs/design.md §2.1): drop those that are clearly sequencing errors
before any pileup image is built.

Long reads with ~6% errors (ONT R9-like) give ~20 candidates per true variant at the ont preset's thresholds,
and every one costs an image and a pass of the network. DeepVariant 1.0 put a cheap network (PEPPER) in
front for ONT; dvcall puts a logistic regression on a few numbers per alt allele that make_examples already
has (`FEATURES`; a candidate is kept when one of its alleles passes), trained on simulated samples with truth
(`scripts/train_candidate_filter.py`) and shipped beside a model as `candidate_filter.json`, with a threshold
chosen for recall of true candidates on separate tuning samples. The strongest number is haplotype concentration: a true heterozygous allele sits
on the reads of one haplotype, an error on both, which is why the filter runs after read phasing.
Pure functions over make_examples' arrays; loading the JSON is the one I/O.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .candidates import Candidate
from .errors import ModelError
from .pileup import hp_groups
from .read_events import ReadEvents

FILE_NAME = "candidate_filter.json"
FORMAT_VERSION = 2  # 2: one row of features per alt allele (optionally with their products: quadratic)
FEATURES = (  # per alt allele of a candidate
    "alt_fraction",  # reads of the alt / depth
    "log_depth",  # log(1 + depth)
    "log_alt_reads",  # log(1 + reads of the alt)
    "is_indel",  # the alt changes length
    "indel_length",  # |length change|, capped at 10
    "homopolymer",  # longest run of one base starting within 1 bp of the site in the reference, capped at 12
    "best_haplotype_fraction",  # max over HP=1, HP=2 of (alt reads / reads) on that haplotype
    "other_haplotype_fraction",  # the same on the other haplotype
    "tagged_fraction",  # reads at the site with an HP tag / reads there
    "strand_balance",  # min(forward, reverse) / alt reads
)


@dataclass(frozen=True)
class CandidateFilter:
    """A candidate is kept when one of its alleles scores sigmoid(w . (expand(x) - mean) / scale + bias) >= threshold."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    features: tuple[str, ...] = FEATURES
    format_version: int = FORMAT_VERSION
    note: str = ""  # how it was trained and the threshold chosen (the model card has the details)
    quadratic: bool = False  # the regression also weighs every product of two features (expand)

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = (expand(x, self.quadratic) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))

    def candidate_scores(self, x: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        """Per candidate (of `n`): the best score of its alleles (rows of `x`, owner[i] = the row's candidate)."""
        out = np.zeros(n)
        if len(x):
            np.maximum.at(out, owner, self.scores(x))
        return out

    def keep(self, x: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        """Per candidate (of `n`): whether one of its alleles scores at the threshold or above."""
        return self.candidate_scores(x, owner, n) >= self.threshold

    def select(self, events: ReadEvents, candidates: list[Candidate], ref_seq: str, ref_offset: int) -> list[Candidate]:
        """The candidates of a partition the filter keeps; all of them where most reads are untagged
        (MIN_TAGGED_SHARE)."""
        if not candidates or not phased_enough(events.hp):
            return candidates
        x, owner = allele_features(events, candidates, ref_seq, ref_offset)
        return [c for c, k in zip(candidates, self.keep(x, owner, len(candidates)).tolist()) if k]

    def to_json(self) -> dict:
        return asdict(self)


MIN_TAGGED_SHARE = 0.5
"""The filter was fitted on phased reads, where an error's spread over both haplotypes is its strongest sign;
on a partition whose reads are mostly untagged (--no-phase-reads, whatshap's first pass) every candidate
would look like an error, so there it keeps them all."""


def phased_enough(hp: np.ndarray) -> bool:
    """Whether a partition's reads (their HP tags) are phased enough for the filter."""
    return len(hp) > 0 and np.count_nonzero(_tagged(hp)) >= MIN_TAGGED_SHARE * len(hp)


def _tagged(hp: np.ndarray) -> np.ndarray:
    return hp_groups(hp) < 2  # HP=1 or HP=2, as the pileup groups them


def expand(x: np.ndarray, quadratic: bool) -> np.ndarray:
    """The regression's inputs: the features, and with `quadratic` every product of two of them (squares
    included) after them."""
    if not quadratic:
        return x
    i, j = np.triu_indices(x.shape[1])
    return np.hstack([x, x[:, i] * x[:, j]])


def input_width(quadratic: bool) -> int:
    n = len(FEATURES)
    return n + n * (n + 1) // 2 if quadratic else n


def load_candidate_filter(path: str) -> CandidateFilter:
    """The filter at `path`, checked: the features this code computes, in the same order, and a sane threshold."""
    try:
        with open(path) as fh:
            data = json.load(fh)
        filt = CandidateFilter(**{**data, "weights": tuple(data["weights"]), "mean": tuple(data["mean"]),
                                  "scale": tuple(data["scale"]), "features": tuple(data["features"])})
    except (OSError, ValueError, TypeError, KeyError) as exc:
        why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelError(f"cannot read the candidate filter {path} ({why}): retrain it with "
                         "scripts/train_candidate_filter.py or pass --no-candidate-filter") from None
    n = input_width(filt.quadratic)
    if filt.format_version != FORMAT_VERSION or filt.features != FEATURES or \
            not (len(filt.weights) == len(filt.mean) == len(filt.scale) == n) or not 0 <= filt.threshold < 1:
        raise ModelError(f"the candidate filter {path} does not match this dvcall (format {filt.format_version}, features "
                         f"{list(filt.features)}): retrain it with scripts/train_candidate_filter.py or pass --no-candidate-filter")
    return filt


def _homopolymer(ref_seq: str, i: int) -> int:
    best = 0
    for j in (i, i + 1):
        if 0 <= j < len(ref_seq):
            base, k = ref_seq[j], j
            while k < len(ref_seq) and ref_seq[k] == base and k - j < 12:
                k += 1
            best = max(best, k - j)
    return best


def allele_features(events: ReadEvents, candidates: Sequence[Candidate], ref_seq: str, ref_offset: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """([alleles, FEATURES], owner): one row per alt allele of each candidate (a multi-allelic site's true
    allele need not be its best-supported one), `owner[i]` the candidate of row i; computed after the reads'
    HP tags are final."""
    rows, owner = [], []
    for k, c in enumerate(candidates):
        depth = max(c.depth, 1)
        covers = (events.start <= c.start) & (events.end > c.start)
        hp = np.zeros_like(events.hp)
        hp[covers] = events.hp_of(np.flatnonzero(covers))  # in one phase set (ReadEvents.hp_of)
        on = [covers & (hp == tag) for tag in (1, 2)]
        n_on = [int(np.count_nonzero(m)) for m in on]
        n_cover = max(int(np.count_nonzero(covers)), 1)
        tagged = np.count_nonzero(covers & _tagged(hp)) / n_cover
        homopolymer = _homopolymer(ref_seq, c.start - ref_offset)
        for a, alt in enumerate(c.alts):
            alt_n = c.allele_depths[a + 1]
            change = abs(len(alt) - len(c.ref))
            carries = c.support == a
            fractions = [np.count_nonzero(carries & m) / n if n else 0.0 for m, n in zip(on, n_on)]
            n_alt = int(np.count_nonzero(carries))
            rev = int(np.count_nonzero(carries & events.reverse))
            rows.append((alt_n / depth, math.log1p(depth), math.log1p(alt_n), float(change > 0), min(change, 10), homopolymer,
                         max(fractions), min(fractions), tagged, min(rev, n_alt - rev) / n_alt if n_alt else 0.0))
            owner.append(k)
    x = np.array(rows, np.float64).reshape(-1, len(FEATURES))
    return x, np.array(owner, np.int64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(weights, bias, mean, scale) of an L2-regularised logistic regression by Newton's method."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = l2 * len(x) * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, scale

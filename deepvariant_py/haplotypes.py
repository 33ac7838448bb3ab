"""Overlapping calls made consistent with a diploid genome (docs/design.md §9.4).

Each candidate is genotyped on its own, so a homozygous deletion and a heterozygous SNP inside it can both
be called although no diploid genome carries three alleles at one base. Where the calls of an overlapping
group put more than two non-reference alleles on some base, every joint genotype configuration that fits is
scored by the calls' own probabilities; when the best configuration is also every call's most likely
genotype after marginalising over the others, those marginals replace the calls' probabilities.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .genotypes import MIN_PROBABILITY, genotype_pairs, n_alleles

PLOIDY = 2
MAX_CALLS = 12
"""Larger groups are left as they are (DeepVariant's limit)."""
MAX_CONFIGURATIONS = 3 ** MAX_CALLS
"""Guard for groups of multi-allelic calls, whose configurations multiply faster than 3 per call."""


def _alt_copies(n_genotypes: int) -> np.ndarray:
    """Non-reference alleles in each genotype, VCF order."""
    return np.array([(a > 0) + (b > 0) for a, b in genotype_pairs(n_alleles(n_genotypes))], np.int64)


def overlapping_groups(spans: list[tuple[str, int, int]]) -> list[list[int]]:
    """Indices of calls, sorted by (contig, start), grouped where reference spans [start, end) overlap."""
    groups: list[list[int]] = []
    contig, end = None, -1
    for i, (c, s, e) in enumerate(spans):
        if c == contig and s < end:
            groups[-1].append(i)
            end = max(end, e)
        else:
            groups.append([i])
            contig, end = c, e
    return groups


def resolve_group(spans: list[tuple[int, int]], probs: list[np.ndarray]) -> list[np.ndarray] | None:
    """Marginal genotype probabilities of calls that overlap, or None when they already fit two haplotypes,
    the group is too large, or the joint best disagrees with some call's marginal best."""
    n = len(probs)
    copies = [_alt_copies(len(p)) for p in probs]
    lo = min(s for s, _ in spans)
    cover = np.zeros((n, max(e for _, e in spans) - lo), np.int64)
    for i, (s, e) in enumerate(spans):
        cover[i, s - lo:e - lo] = 1
    cover = np.unique(cover, axis=1)  # bases covered by the same calls count alike: at most 2n - 1 columns
    current = np.array([copies[i][int(np.argmax(p))] for i, p in enumerate(probs)])
    if (current @ cover).max() <= PLOIDY:
        return None
    sizes = [len(p) for p in probs]
    if n > MAX_CALLS or math.prod(sizes) > MAX_CONFIGURATIONS:
        return None
    configs = np.array(list(itertools.product(*(range(k) for k in sizes))), np.int64)
    alt = np.stack([copies[i][configs[:, i]] for i in range(n)], axis=1)
    fits = (alt @ cover).max(axis=1) <= PLOIDY
    log_p = [np.log(np.maximum(np.asarray(p, float), MIN_PROBABILITY)) for p in probs]
    score = np.sum([log_p[i][configs[:, i]] for i in range(n)], axis=0)
    score[~fits] = -np.inf
    best = configs[int(np.argmax(score))]
    weight = np.exp(score - score.max())
    marginals = []
    for i in range(n):
        m = np.bincount(configs[:, i], weights=weight, minlength=sizes[i])
        m /= m.sum()
        if int(np.argmax(m)) != best[i]:
            return None
        marginals.append(m)
    return marginals


def resolve_overlaps(spans: list[tuple[str, int, int]], probs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """{call index: its marginal genotype probabilities} for the calls of every overlapping group that
    conflicted and could be resolved. Calls whose best genotype is hom-ref take no part."""
    out: dict[int, np.ndarray] = {}
    for group in overlapping_groups(spans):
        members = [i for i in group if int(np.argmax(probs[i])) != 0]
        if len(members) < 2:
            continue
        resolved = resolve_group([spans[i][1:] for i in members], [probs[i] for i in members])
        if resolved is not None:
            out.update(zip(members, resolved))
    return out

"""Genotype arithmetic: merge per-subset probabilities, then GT/GQ/QUAL/PL as DeepVariant computes them (docs/design.md §9)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_PROBABILITY = 1.25e-10
"""Floor for a genotype probability before taking logs (DeepVariant's, GL >= -9.903)."""
MAX_CONFIDENCE = 1.0 - MIN_PROBABILITY
MULTI_ALLELIC_QUAL_FILTER = 1.0


def diploid_alleles(gt) -> list[int]:
    """A VCF GT's allele indices with a missing allele as 0 (reference) and a haploid `g` as `g/g`, the homozygote
    it is scored and labelled as (a male's chrX in a truth set); other ploidies as they are (None: none)."""
    alleles = [0 if g is None else int(g) for g in gt or ()]
    return alleles * 2 if len(alleles) == 1 else alleles


def genotype_pairs(n_alleles: int) -> list[tuple[int, int]]:
    """Diploid genotypes in VCF order: 0/0, 0/1, 1/1, 0/2, 1/2, 2/2, ..."""
    return [(a, b) for b in range(n_alleles) for a in range(b + 1)]


def n_alleles(n_genotypes: int) -> int:
    """Alleles (REF included) of a diploid site with this many genotypes: n(n+1)/2 = n_genotypes."""
    return int(round((math.sqrt(8 * n_genotypes + 1) - 1) / 2))


def ptrue_to_qual(p_true: float) -> float:
    """Phred of (1 - p), with p capped so quality stays finite (max about 99.03)."""
    return -10.0 * math.log10(1.0 - min(p_true, MAX_CONFIDENCE))


def prune_alts(singles: dict[int, tuple[float, float, float]], n_alts: int) -> list[int]:
    """Alt indices kept: those whose own image gives QUAL >= 1; at least the best one survives."""
    quals = {i: ptrue_to_qual(min(1.0, singles[i][1] + singles[i][2])) for i in range(n_alts) if i in singles}
    kept = [i for i in range(n_alts) if quals.get(i, 0.0) >= MULTI_ALLELIC_QUAL_FILTER]
    if not kept:
        kept = [max(quals, key=lambda i: quals[i])] if quals else [0]
    return kept


def merge_min_rule(images: dict[tuple[int, ...], tuple[float, float, float]], alts: list[int]) -> np.ndarray:
    """Genotype probabilities over [ref] + alts (VCF order) as the min over every image covering each genotype."""
    n = len(alts) + 1
    pairs = genotype_pairs(n)
    probs = np.ones(len(pairs))
    allowed = set(alts)
    for subset, p in images.items():
        if not set(subset) <= allowed:
            continue
        local = {alts.index(a) + 1 for a in subset}
        for k, (a, b) in enumerate(pairs):
            if a == 0 and b == 0:
                probs[k] = min(probs[k], p[0])
            elif a == 0 and b in local:
                probs[k] = min(probs[k], p[1])
            elif a in local and b in local:
                probs[k] = min(probs[k], p[2])
    # Genotypes no image speaks to (e.g. 1/2 without a pair image) get no support.
    covered = np.zeros(len(pairs), bool)
    for subset in images:
        if set(subset) <= allowed:
            local = {alts.index(a) + 1 for a in subset}
            for k, (a, b) in enumerate(pairs):
                covered[k] |= (a == 0 and b == 0) or (a == 0 and b in local) or (a in local and b in local)
    probs[~covered] = 0.0
    total = probs.sum()
    return probs / total if total > 0 else np.full(len(pairs), 1.0 / len(pairs))


def site_distribution(images: dict[tuple[int, ...], tuple[float, float, float]], n_alts: int,
                      merger=None) -> tuple[list[int], np.ndarray]:
    """(alt indices kept, genotype probabilities over [ref] + kept) of one site from its per-subset images:
    the one image of a bi-allelic site, else the alts pruned (prune_alts) and the images merged by `merger`
    (the trained network) or the min rule. What postprocess writes and what merger training scores."""
    if n_alts == 1:
        return [0], np.asarray(images[(0,)], float)
    kept = prune_alts({s[0]: p for s, p in images.items() if len(s) == 1}, n_alts)
    return kept, (merger(images, kept, n_alts) if merger else merge_min_rule(images, kept))


@dataclass(frozen=True)
class GenotypeCall:
    genotype: tuple[int, int]
    gq: int
    qual: float
    pl: tuple[int, ...]


def call_genotype(probs: np.ndarray) -> GenotypeCall:
    """GT = first argmax; GQ, QUAL and PL with DeepVariant's caps and rounding."""
    pairs = genotype_pairs(n_alleles(len(probs)))
    k = int(np.argmax(probs))
    gq = int(np.around(-10.0 * math.log10(1.0 - min(float(probs[k]), MAX_CONFIDENCE))))
    p_variant = float(min(1.0, probs[1:].sum()))
    qual = round(ptrue_to_qual(p_variant), 7)
    gl = np.log10(np.maximum(probs, MIN_PROBABILITY))
    pl = tuple(int(-10.0 * (g - gl.max())) for g in gl)
    return GenotypeCall(pairs[k], max(0, min(gq, 99)), qual, pl)


def simplify_alleles(ref: str, alts: list[str]) -> tuple[str, list[str]]:
    """Drop the common suffix of REF and all ALTs (keeping one base each), as after allele pruning."""
    while len(ref) > 1 and all(len(a) > 1 and a[-1] == ref[-1] for a in alts):
        ref, alts = ref[:-1], [a[:-1] for a in alts]
    return ref, alts

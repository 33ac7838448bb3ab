"""Overlapping calls made consistent with a diploid genome (docs/design.md §9.4).

Each candidate is genotyped on its own, so a homozygous deletion and a heterozygous SNP inside it can both
be called although no diploid genome carries three alleles at one base. Where the calls of an overlapping
group put more than two non-reference alleles on some base, every joint genotype configuration that fits is
scored by the calls' own probabilities; when the best configuration is also every call's most likely
genotype after marginalising over the others, those marginals replace the calls' probabilities.

A SNP or MNP allele holds only the bases it changes (allele_spans), an indel its record's whole REF as in
DeepVariant. With the REF span for every allele, a 1/2 call CTT>C,TTT (a deletion of TT and, on the other
haplotype, a C>T SNP padded to the deletion's length) and a het T>C SNP on the last T conflicted and the SNP
was dropped, although the second haplotype carries both SNPs (a (TTTC)n repeat of simulated HiFi + Illumina
pairs). Indels keep the REF span: inside a repeat their place is not fixed, and letting a SNP or a second
indel sit beside them there added false calls (two on a simulated 20x HiSeq X sample).
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


def allele_spans(start: int, ref: str, alts: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """The reference bases each alt allele of a record holds, [start, end) per alt. An insertion or deletion
    holds the record's whole REF, as in DeepVariant (its place inside a repeat is not fixed, and the record's REF
    spans the repeat it was found in); a SNP or MNP holds only the bases it changes (REF and ALT trimmed of
    their shared suffix, then prefix): a multi-allelic record's REF is padded to its longest allele, so the
    second alt of CTT>C,TTT changes one base and leaves the other two to a SNP of its haplotype."""
    spans = []
    for alt in alts:
        r, a = ref, alt
        while r and a and r[-1] == a[-1]:
            r, a = r[:-1], a[:-1]
        if len(r) != len(a) or not r:  # an insertion or deletion (or an alt equal to REF)
            spans.append((start, start + len(ref)))
            continue
        p = 0
        while r[p] == a[p]:
            p += 1
        spans.append((start + p, start + len(r)))
    return spans


def resolve_group(spans: list[list[tuple[int, int]]], probs: list[np.ndarray]) -> list[np.ndarray] | None:
    """Marginal genotype probabilities of calls that overlap, or None when they already fit two haplotypes,
    the group is too large, or the joint best disagrees with some call's marginal best. `spans[i]`: the bases
    each alt allele of call i holds (allele_spans); a genotype puts one allele on a base per alt copy holding it."""
    n = len(probs)
    lo = min(a for call in spans for a, _ in call)
    cover = np.zeros((sum(len(call) for call in spans), max(b for call in spans for _, b in call) - lo), np.int64)
    row = 0
    for call in spans:
        for a, b in call:
            cover[row, a - lo:b - lo] = 1
            row += 1
    cover = np.unique(cover, axis=1)  # bases covered by the same alleles count alike
    per_genotype = []  # per call: alleles on each (compressed) base for each genotype, VCF order
    row = 0
    for call, p in zip(spans, probs):
        alleles = np.vstack([np.zeros((1, cover.shape[1]), np.int64), cover[row:row + len(call)]])
        row += len(call)
        pairs = genotype_pairs(n_alleles(len(p)))
        if len(pairs) != len(p) or len(alleles) != n_alleles(len(p)):
            raise ValueError(f"{len(p)} genotype probabilities for a call with {len(call)} alt alleles")
        per_genotype.append(np.array([alleles[a] + alleles[b] for a, b in pairs], np.int8))
    current = sum(g[int(np.argmax(p))].astype(np.int64) for g, p in zip(per_genotype, probs))
    if current.max() <= PLOIDY:
        return None
    sizes = [len(p) for p in probs]
    if n > MAX_CALLS or math.prod(sizes) > MAX_CONFIGURATIONS:
        return None
    configs = np.array(list(itertools.product(*(range(k) for k in sizes))), np.int64)
    load = np.zeros((len(configs), cover.shape[1]), np.int8)  # at most 2 x MAX_CALLS
    for i in range(n):
        load += per_genotype[i][configs[:, i]]
    fits = load.max(axis=1) <= PLOIDY
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


def resolve_overlaps(records: list[tuple[str, int, str, list[str]]], probs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """{call index: its marginal genotype probabilities} for the calls of every overlapping group that
    conflicted and could be resolved. `records`: each call's (contig, start, REF, ALTs), sorted by (contig, start).
    Calls whose best genotype is hom-ref take no part; allele spans are worked out for the others of a group only."""
    out: dict[int, np.ndarray] = {}
    for group in overlapping_groups([(c, start, start + len(ref)) for c, start, ref, _ in records]):
        members = [i for i in group if int(np.argmax(probs[i])) != 0]
        if len(members) < 2:
            continue
        resolved = resolve_group([allele_spans(*records[i][1:]) for i in members], [probs[i] for i in members])
        if resolved is not None:
            out.update(zip(members, resolved))
    return out

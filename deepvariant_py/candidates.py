"""Candidate variants by allele counting (docs/design.md §2): one allele per read per position, DeepVariant's thresholds."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .read_events import BASES, CLIPPED, DELETION, MIN_BASE_QUALITY, ReadEvents, anchor_overridden, encode_bases, valid_event_mask
from .reference import as_acgtn
from .variant import VariantInfo

UNCALLED = -2
NO_ALT = -1
_ACGT = set("ACGT")


@dataclass(frozen=True)
class CandidateThresholds:
    min_count_snps: int = 2
    min_count_indels: int = 2
    min_fraction_snps: float = 0.12
    min_fraction_indels: float = 0.06
    min_base_quality: int = MIN_BASE_QUALITY


@dataclass
class Candidate(VariantInfo):
    """A multi-allelic candidate site: the VariantInfo its examples carry, plus `support[i]`, the alt index read i
    carries at the site (-1 none, -2 other)."""

    support: np.ndarray = field(repr=False, compare=False)

    @property
    def is_indel(self) -> bool:
        return any(len(a) != len(self.ref) for a in self.alts)


@dataclass
class AlleleCounts:
    """Counts over [start, end): ref-supporting reads, substitutions by base, indel alleles, and depth."""

    start: int
    ref_count: np.ndarray
    sub_counts: np.ndarray  # [L, 4]
    indel_counts: dict[int, dict[tuple[int, str], int]]
    depth: np.ndarray


def count_alleles(events: ReadEvents, ref_codes: np.ndarray, start: int, end: int,
                  min_base_quality: int = MIN_BASE_QUALITY, indels: bool = True) -> AlleleCounts:
    """Allele counts of every position in [start, end); `ref_codes` covers exactly that interval. Without
    `indels`, only aligned bases are counted (indel_counts empty, depth of bases alone). `min_base_quality` is the
    aligned bases' floor; an insertion's is the one the events were extracted at (make_examples uses one for both)."""
    length = end - start
    valid = valid_event_mask(events)
    keep_m = ~anchor_overridden(events, valid)
    pos = events.m_pos
    inside = keep_m & (pos >= start) & (pos < end) & (events.m_qual >= min_base_quality) & (events.m_base < 4)
    rel = (pos[inside] - start).astype(np.int64)
    base = events.m_base[inside]
    is_ref = base == ref_codes[rel]
    ref_count = np.bincount(rel[is_ref], minlength=length)[:length]
    sub_counts = np.bincount(rel[~is_ref] * 4 + base[~is_ref], minlength=length * 4)[: length * 4].reshape(length, 4)
    depth = ref_count + sub_counts.sum(axis=1)
    indel_counts: dict[int, dict[tuple[int, str], int]] = defaultdict(lambda: defaultdict(int))
    sel = np.flatnonzero(valid & ~events.e_low_quality & (events.e_pos >= start) & (events.e_pos < end)) if indels else []
    for j in sel:
        p = int(events.e_pos[j])
        indel_counts[p][(int(events.e_kind[j]), events.e_bases[j])] += 1
        depth[p - start] += 1
    return AlleleCounts(start, ref_count, sub_counts, indel_counts, depth)


def find_candidates(events: ReadEvents, contig: str, ref_seq: str, ref_offset: int, start: int, end: int,
                    thresholds: CandidateThresholds = CandidateThresholds(), counts: AlleleCounts | None = None
                    ) -> list[Candidate]:
    """Candidates with start in [start, end); `ref_seq` starting at `ref_offset` must extend past the longest deletion.
    `counts`: this interval's `count_alleles`, when the caller needs them too (the gVCF)."""
    ref_codes = encode_bases(ref_seq[start - ref_offset:end - ref_offset])
    if counts is None:
        counts = count_alleles(events, ref_codes, start, end, thresholds.min_base_quality)
    depth = counts.depth
    with np.errstate(divide="ignore", invalid="ignore"):
        snp_ok = (counts.sub_counts >= thresholds.min_count_snps) & (counts.sub_counts >= thresholds.min_fraction_snps * depth[:, None])
    snp_ok &= (ref_codes < 4)[:, None]
    sites: dict[int, list[tuple[int, str, int]]] = defaultdict(list)  # pos -> [(kind, bases, count)]
    for rel, b in zip(*np.nonzero(snp_ok)):
        sites[start + int(rel)].append((0, BASES[b], int(counts.sub_counts[rel, b])))
    for p, alleles in counts.indel_counts.items():
        if ref_codes[p - start] >= 4:
            continue
        for (kind, bases), c in alleles.items():
            if kind == CLIPPED or c < thresholds.min_count_indels or c < thresholds.min_fraction_indels * depth[p - start]:
                continue
            sites[p].append((kind, bases, c))
    out = []
    at = ByPosition(events, len(sites)) if sites else None
    for p in sorted(sites):
        candidate = _make_candidate(events, contig, ref_seq, ref_offset, p, sites[p], int(counts.ref_count[p - start]),
                                    int(depth[p - start]), at)
        if candidate.alts:  # an allele equal to REF (an empty indel) is no candidate
            out.append(candidate)
    return out


class ByPosition:
    """The aligned bases and events of each reference position, in index order. With many candidate positions,
    found by bisection after one sort per partition (a scan per candidate was 21% of HiFi make_examples); with a
    few (most short-read partitions have 0-3), a scan per position is cheaper than sorting every aligned base."""

    SCAN_UP_TO = 4

    def __init__(self, events: ReadEvents, positions: int):
        self._events = events
        self._sorted = positions > self.SCAN_UP_TO
        if self._sorted:
            self._m_order = np.argsort(events.m_pos, kind="stable")
            self._m_pos = events.m_pos[self._m_order]
            self._e_order = np.argsort(events.e_pos, kind="stable")
            self._e_pos = events.e_pos[self._e_order]

    def bases(self, pos: int) -> np.ndarray:
        if not self._sorted:
            return np.flatnonzero(self._events.m_pos == pos)
        lo, hi = np.searchsorted(self._m_pos, [pos, pos + 1])
        return self._m_order[lo:hi]

    def events(self, pos: int) -> np.ndarray:
        if not self._sorted:
            return np.flatnonzero(self._events.e_pos == pos)
        lo, hi = np.searchsorted(self._e_pos, [pos, pos + 1])
        return np.sort(self._e_order[lo:hi])


def _make_candidate(events: ReadEvents, contig: str, ref_seq: str, ref_offset: int, pos: int,
                    alleles: list[tuple[int, str, int]], ref_count: int, depth: int, at: ByPosition) -> Candidate:
    """One record per position: REF spans the longest deletion, alts rewritten against it and string-sorted."""
    longest_del = max((len(b) - 1 for k, b, _ in alleles if k == DELETION), default=0)
    ref = as_acgtn(ref_seq[pos - ref_offset:pos - ref_offset + 1 + longest_del])  # VCF REF: ACGTN only
    rewritten: dict[str, tuple[int, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for kind, bases, c in alleles:
        if kind == DELETION:
            alt = bases[0] + ref[len(bases):]
        else:  # substitution or insertion: allele bases then the rest of REF
            alt = bases + ref[1:]
        if alt == ref:
            continue
        rewritten[alt] = (kind, bases)
        counts[alt] += c
    alts = tuple(sorted(rewritten))
    support = _support(events, pos, ref, {rewritten[a]: i for i, a in enumerate(alts)}, at)
    return Candidate(contig, pos, ref, alts, depth, (ref_count,) + tuple(counts[a] for a in alts), support)


def distinguishing_span(candidate: VariantInfo, ref_seq: str, ref_offset: int, flank: int = 200) -> tuple[int, int]:
    """[first, last], the reference positions (0-based, inclusive) a read must cover, from the candidate's start
    on, to tell its indel alleles from the reference: an indel in a repeat can be written anywhere along it, so a
    read that ends (or starts) inside the repeat spells both alleles alike. Each alt haplotype is compared with the
    reference one base by base from the left and from the right; the span runs from the candidate's start to the
    furthest base where they first differ. A substitution-only candidate spans its start alone; `ref_seq` (from
    `ref_offset`) is read up to `flank` bases past the candidate's end, so a repeat longer than that is cut there."""
    pos, ref = candidate.start, candidate.ref
    lo, hi = max(pos - flank, ref_offset), min(candidate.end + flank, ref_offset + len(ref_seq))
    left, right = ref_seq[lo - ref_offset:pos - ref_offset], ref_seq[candidate.end - ref_offset:hi - ref_offset]
    ref_hap = np.frombuffer((left + ref + right).encode(), np.uint8)
    first = last = pos
    for alt in candidate.alts:
        if len(alt) == len(ref):
            continue
        alt_hap = np.frombuffer((left + alt + right).encode(), np.uint8)
        n = min(len(ref_hap), len(alt_hap))
        differs = np.flatnonzero(ref_hap[:n] != alt_hap[:n])
        last = max(last, lo + (int(differs[0]) if len(differs) else len(ref_hap) - 1))
        differs = np.flatnonzero(ref_hap[::-1][:n] != alt_hap[::-1][:n])
        first = min(first, hi - 1 - (int(differs[0]) if len(differs) else len(ref_hap) - 1))
    return first, last


def _support(events: ReadEvents, pos: int, ref: str, alt_index: dict[tuple[int, str], int], at: ByPosition) -> np.ndarray:
    """Which alt each read carries at `pos`; low-quality observations still count as support, as in DeepVariant."""
    support = np.full(events.n_reads, NO_ALT, np.int8)
    here = at.bases(pos)
    if len(here):
        reads, bases = events.m_read[here], events.m_base[here]
        ref_code = "ACGT".find(ref[0])
        for code in np.unique(bases):
            if code == ref_code or code >= 4:  # non-ACGT read bases are no allele at all, as in counting
                continue
            idx = alt_index.get((0, BASES[code]), UNCALLED)
            support[reads[bases == code]] = idx
    for j in at.events(pos):
        if not set(events.e_bases[j]) <= _ACGT:
            continue  # skipped by counting (valid_event_mask): the read keeps its aligned-base allele
        key = (int(events.e_kind[j]), events.e_bases[j])
        support[events.e_read[j]] = alt_index.get(key, NO_ALT if key[0] == CLIPPED else UNCALLED)
    return support

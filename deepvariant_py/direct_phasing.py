"""Read phasing inside make_examples (docs/design.md §6): HP tags for a partition's reads from the heterozygous-looking
SNPs under them.

Long-read models pool reads per haplotype, so untagged reads must be phased. DeepVariant 1.0 did it in three
steps (call, whatshap phase + haplotag, call again; `--phaser whatshap` here); later versions phase the reads of
each partition from the candidates that look heterozygous, in one pass, and so does this module:

1. sites: positions under the partition's reads (inside it or not) whose best substitution and the
   reference together hold most of the bases there, at the alt fraction of a heterozygous site (`PhasingOptions`);
2. a matrix of reads x sites: +1 the read shows the alt, -1 the reference, 0 neither or not covered;
3. sites phased in position order, each by the vote of the reads that also cover sites already phased
   (a new block where none does), then refined: reads assigned to the haplotype they agree with, each site
   re-oriented by its reads, and sites whose reads disagree with their phase dropped (errors and paralogs);
4. each read tagged HP=1 or 2 by the sign of its agreement with the phased sites, 0 when it covers none or ties;
5. a read still untagged (a short read in a hybrid pileup crossing one imbalanced heterozygous site) is tagged
   by the allele it shows at a site (a substitution, or an indel candidate of the partition) of alt fraction
   0.1-0.9 whose tagged reads put its two alleles on opposite
   haplotypes, as whatshap haplotag tags reads at every phased heterozygous call.

HP labels are arbitrary per block (as whatshap's are per phase set): the network pools the two groups
symmetrically, and every read of one example comes from one partition, so labels only need to agree there.
Pure functions over make_examples' arrays; no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .candidates import NO_ALT, Candidate, count_alleles
from .read_events import MIN_BASE_QUALITY, ReadEvents, encode_bases


@dataclass(frozen=True)
class PhasingOptions:
    min_fraction: float = 0.25  # a site's alt fraction (alt / (ref + alt)) within [min, 1 - min]
    min_reads_each: int = 2  # reads showing the reference and reads showing the alt, at least
    min_allele_share: float = 0.8  # ref + best alt among the site's reads (multi-allelic noise excluded)
    min_agreement: float = 0.6  # a phased site's reads agree with its orientation at least this much (else dropped)
    refinements: int = 3
    # Second look, for reads left untagged (short reads in a hybrid pileup cross one site, often an imbalanced one):
    secondary_min_fraction: float = 0.1  # sites at alt fractions within [min, 1 - min] outside the phasing range
    secondary_min_tagged: int = 3  # tagged reads showing one of the site's alleles, at least
    secondary_concordance: float = 0.9  # of which at least this share put its alleles on opposite haplotypes


def _site_table(events: ReadEvents, ref_seq: str, ref_offset: int, floor: float, opts: PhasingOptions,
                min_base_quality: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(positions, reference codes, alt codes, alt fractions) of the substitutions under the reads at alt fractions
    within [floor, 1 - floor]: counted over every read's whole span, not only the partition, so reads reaching
    out of it are phased too."""
    lo, hi = int(events.start.min()), int(events.end.max())
    ref_codes = encode_bases(ref_seq[lo - ref_offset:hi - ref_offset])
    counts = count_alleles(events, ref_codes, lo, hi, min_base_quality, indels=False)
    alt = counts.sub_counts.argmax(axis=1)
    alt_n = np.take_along_axis(counts.sub_counts, alt[:, None], axis=1)[:, 0]
    ref_n = counts.ref_count
    both = ref_n + alt_n
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = alt_n / both
        ok = ((np.minimum(ref_n, alt_n) >= opts.min_reads_each) & (both >= opts.min_allele_share * counts.depth)
              & (fraction >= floor) & (fraction <= 1 - floor) & (ref_codes < 4))
    rel = np.flatnonzero(ok)
    return lo + rel, ref_codes[rel], alt[rel], fraction[rel]


def phasing_sites(events: ReadEvents, ref_seq: str, ref_offset: int, opts: PhasingOptions = PhasingOptions(),
                  min_base_quality: int = MIN_BASE_QUALITY) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, reference codes, alt codes) of the positions under the reads that look like heterozygous SNPs."""
    return _site_table(events, ref_seq, ref_offset, opts.min_fraction, opts, min_base_quality)[:3]


def allele_matrix(events: ReadEvents, positions: np.ndarray, ref_codes: np.ndarray, alt_codes: np.ndarray,
                  min_base_quality: int = MIN_BASE_QUALITY) -> np.ndarray:
    """[reads, sites] int8: +1 the read shows the site's alt, -1 its reference, 0 another base, a low-quality one
    or none (not covered, or deleted)."""
    out = np.zeros((events.n_reads, len(positions)), np.int8)
    if not len(positions):
        return out
    lo = int(positions[0])
    site_of = np.full(int(positions[-1]) - lo + 1, -1, np.int64)  # reference position - lo -> site index
    site_of[positions - lo] = np.arange(len(positions))
    rel = events.m_pos - lo
    inside = np.flatnonzero((rel >= 0) & (rel < len(site_of)) & (events.m_qual >= min_base_quality))
    j = site_of[rel[inside]]
    hit = inside[j >= 0]
    j = j[j >= 0]
    base, read = events.m_base[hit], events.m_read[hit]
    out[read, j] = np.where(base == alt_codes[j], 1, np.where(base == ref_codes[j], -1, 0))
    return out


def phase_matrix(matrix: np.ndarray, opts: PhasingOptions = PhasingOptions()) -> tuple[np.ndarray, np.ndarray]:
    """(site orientation in {-1, 0, 1}, read haplotype in {-1, 0, 1}) of a reads x sites allele matrix whose
    sites are in position order; 0 = site dropped / read untagged."""
    n_reads, n_sites = matrix.shape
    m = matrix.astype(np.int32)
    h = np.zeros(n_sites, np.int32)
    score = np.zeros(n_reads, np.int32)
    for s in range(n_sites):
        col = m[:, s]
        vote = int(col @ np.sign(score))
        connected = bool(np.any((col != 0) & (score != 0)))
        if vote == 0 and connected:
            continue  # the reads linking it to the phased sites tie: leave it out
        h[s] = 1 if vote >= 0 else -1
        score += col * h[s]
    for _ in range(opts.refinements):
        reads = np.sign(m @ h)
        votes = reads @ m
        h = np.where(votes != 0, np.sign(votes), h)
    reads = np.sign(m @ h)
    agree = reads @ m * h
    seen = np.abs(m).T @ (reads != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (seen > 0) & (agree >= opts.min_agreement * seen)
    h = np.where(keep, h, 0)
    return h, np.sign(m @ h)


def extend_tags(matrix: np.ndarray, reads: np.ndarray, opts: PhasingOptions = PhasingOptions()) -> np.ndarray:
    """`reads` (haplotypes in {-1, 0, 1}) with untagged ones tagged from further sites (`matrix`: reads x those
    sites): a site whose tagged reads put its two alleles on opposite haplotypes (secondary_concordance, at least
    secondary_min_tagged of them) tags the untagged reads by the allele they show, as whatshap haplotag does
    at every phased heterozygous call. Tagged reads keep their haplotype."""
    tagged = reads != 0
    if not tagged.any() or tagged.all() or matrix.shape[1] == 0:
        return reads
    votes = matrix[tagged].astype(np.int32) * reads[tagged, None]  # +1: alt on haplotype +1 (or ref on -1)
    plus, minus = (votes > 0).sum(axis=0), (votes < 0).sum(axis=0)
    seen = plus + minus
    ok = (seen >= opts.secondary_min_tagged) & (np.maximum(plus, minus) >= opts.secondary_concordance * seen)
    orientation = np.where(ok, np.where(plus >= minus, 1, -1), 0)
    out = reads.copy()
    out[~tagged] = np.sign(matrix[~tagged].astype(np.int32) @ orientation)
    return out


def indel_columns(events: ReadEvents, candidates: Sequence[Candidate], opts: PhasingOptions = PhasingOptions()) -> np.ndarray:
    """[reads, indel sites]: the candidates whose best alt is an indel at an alt fraction within
    [secondary_min_fraction, 1 - secondary_min_fraction], +1 a read carries it, -1 the read covers the site
    without any alt, 0 otherwise."""
    cols = []
    for c in candidates:
        counts = c.allele_depths
        if len(counts) < 2:
            continue
        best = int(np.argmax(counts[1:]))
        ref_n, alt_n = counts[0], counts[best + 1]
        if len(c.alts[best]) == len(c.ref) or min(ref_n, alt_n) < opts.min_reads_each:
            continue
        fraction = alt_n / (ref_n + alt_n)
        if not opts.secondary_min_fraction <= fraction <= 1 - opts.secondary_min_fraction:
            continue
        covers = (events.start <= c.start) & (events.end > c.start + len(c.ref) - 1)
        cols.append(np.where(c.support == best, 1, np.where(covers & (c.support == NO_ALT), -1, 0)).astype(np.int8))
    return np.stack(cols, axis=1) if cols else np.zeros((events.n_reads, 0), np.int8)


def tag_concordance(events: ReadEvents, ref_seq: str, ref_offset: int, opts: PhasingOptions = PhasingOptions(),
                    min_base_quality: int = MIN_BASE_QUALITY) -> tuple[float, int]:
    """(share, observations): how well the reads' own HP tags (read within their main phase set, ReadEvents.hp_of)
    separate the alleles of the heterozygous-looking SNPs under them: at each site the larger of (alt on HP 1 and
    ref on HP 2) and the reverse, pooled over the sites, over every tagged read's allele there. Right tags give
    ~1 (sequencing errors aside); tags of another phasing (two runs haplotagged apart and merged, another
    sample's VCF) or random ones ~0.5, and a model that pools reads by haplotype then calls clear hets 1/1 or 0/0."""
    if events.n_reads == 0:
        return 1.0, 0
    positions, ref_codes, alt_codes = phasing_sites(events, ref_seq, ref_offset, opts, min_base_quality)
    if not len(positions):
        return 1.0, 0
    matrix = allele_matrix(events, positions, ref_codes, alt_codes, min_base_quality).astype(np.int32)
    hp = events.hp_of(np.arange(events.n_reads))
    side = np.where(hp == 1, 1, np.where(hp == 2, -1, 0)).astype(np.int32)
    seen = np.abs(side) @ np.abs(matrix)  # tagged reads showing the site's ref or alt
    lean = np.abs(side @ matrix)  # |(alt on 1 + ref on 2) - (alt on 2 + ref on 1)|
    total = int(seen.sum())
    return (float((seen + lean).sum() / 2 / total) if total else 1.0), total


def phase_reads(events: ReadEvents, ref_seq: str, ref_offset: int, opts: PhasingOptions = PhasingOptions(),
                min_base_quality: int = MIN_BASE_QUALITY, candidates: Sequence[Candidate] = ()) -> np.ndarray:
    """HP tag per read (0 untagged, 1, 2) of a partition's reads; `ref_seq` from `ref_offset` covers every read.
    `candidates` (the partition's): their indels also tag reads left untagged (extend_tags)."""
    hp = np.zeros(events.n_reads, events.hp.dtype)
    if events.n_reads == 0:
        return hp
    floor = min(opts.min_fraction, opts.secondary_min_fraction)
    positions, ref_codes, alt_codes, fraction = _site_table(events, ref_seq, ref_offset, floor, opts, min_base_quality)
    if not len(positions):
        return hp
    matrix = allele_matrix(events, positions, ref_codes, alt_codes, min_base_quality)
    primary = (fraction >= opts.min_fraction) & (fraction <= 1 - opts.min_fraction)
    _, reads = phase_matrix(matrix[:, primary], opts)
    reads = extend_tags(np.hstack([matrix[:, ~primary], indel_columns(events, candidates, opts)]), reads, opts)
    hp[reads > 0] = 1
    hp[reads < 0] = 2
    return hp

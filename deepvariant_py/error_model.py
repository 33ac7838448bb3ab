"""The sample's own sequencing-error rate per reported base quality, and the gate that drops SNP candidates those
errors explain far better than a heterozygous variant does (`--recurrent-error-gate`, short reads).

Why: the network learnt what an alt read of a given base quality means from reads whose qualities tell the truth
(ART's errors sit at low quality). Where they do not, two alt reads at "Q40" in a 14-read pileup look like a het
to it, while in such a sample two coincident errors at one site are common: NEAT's default model (reported Q25-42,
every base ~0.5% wrong whatever it claims) at 20x gave 50 low-GQ het false positives where bcftools gave 1
(docs/measurements.md, "Qualities that do not tell the truth"). Nothing in one pileup shows the sample's error
rate; the reads of the whole sample do.

Measured (ErrorTable.from_counts over `tally`s): every aligned base at or above the base-quality floor, by its
quality, as matching the reference or not, leaving out the positions where one alt base has >= 2 reads and >= 15%
of the depth (variants, mostly). Each quality's rate is shrunk towards what the quality claims,
(mismatches + PRIOR_BASES * 10^(-q/10)) / (bases + PRIOR_BASES), so a quality seldom seen keeps its own word.
The same tally gives the errors' spectrum: s(r->a), how much of the average base's error rate an error of
reference base r to read base a takes (1/3 each for uniform errors; C>T far more in a deaminated library),
shrunk towards 1/3 by PRIOR_CHANGES errors.

Gate (RecurrentErrorGate): for a SNP alt that k of a site's n reads carry, with qualities q_1..q_k, the odds of
a heterozygous variant (prior HET_PRIOR; each read the alt with probability 1/2) against sequencing errors (each
alt read an error to that base, e(q_i) s(ref->alt); every other read right):

    log10 odds = log10(HET_PRIOR) + sum_i log10(0.5 / (e(q_i) s(ref->alt))) + (n - k) log10(0.5)

A candidate is dropped when each of its alts is a single-base substitution with odds below `min_odds`. Where the
qualities are honest an alt read at Q30+ is worth ~3.7 in log10 odds and a 2-of-14 het is kept; where every base is
~Q23 in truth it is worth ~2.5 and the same site is dropped; an alt that the sample's errors make three times as
often as the average change (FFPE C>T) is worth ~0.5 less again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .candidates import ByPosition, Candidate
from .read_events import ReadEvents, encode_bases

MAX_QUALITY = 93
PRIOR_BASES = 2000.0
"""How many bases' worth of belief each reported quality starts with (its own claim)."""
HET_PRIOR = 1e-3
"""Heterozygous SNPs per base of a human genome, about."""
GATE_MIN_ODDS = 0.01
"""--recurrent-error-gate's odds threshold, chosen on simulated calibration samples (twelve ART, three NEAT; the
largest of 0.01, 0.03, 0.1, 0.3, 1 that dropped at most one true SNP of the ART samples' and three of all, with
the spectrum: docs/measurements.md, "Qualities that do not tell the truth")."""
PRIOR_CHANGES = 50.0
"""Errors' worth of belief that each change of a reference base is 1/3 of its errors."""
VARIANT_MIN_READS = 2
VARIANT_MIN_FRACTION = 0.15
"""A position where one alt base has this many reads and this share of the depth is left out of the tally."""


def tally(events: ReadEvents, ref_seq: str, ref_offset: int, start: int, end: int,
          min_base_quality: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bases, mismatches) per base quality 0..MAX_QUALITY over the aligned bases in [start, end) at or above
    `min_base_quality`, then the mismatches by (reference base, read base) as a 4 x 4 array and the bases by
    reference base, leaving out variant-like positions and reference Ns (see the module's text)."""
    length = end - start
    pos = events.m_pos
    inside = (pos >= start) & (pos < end) & (events.m_qual >= min_base_quality) & (events.m_base < 4)
    rel = (pos[inside] - start).astype(np.int64)
    base = events.m_base[inside]
    qual = np.minimum(events.m_qual[inside], MAX_QUALITY).astype(np.int64)
    ref = encode_bases(ref_seq[start - ref_offset:end - ref_offset])[rel]
    wrong = base != ref
    alt_counts = np.bincount(rel[wrong] * 4 + base[wrong], minlength=length * 4)[:length * 4].reshape(length, 4)
    depth = np.bincount(rel, minlength=length)[:length]
    top = alt_counts.max(axis=1)
    variant_like = (top >= VARIANT_MIN_READS) & (top >= VARIANT_MIN_FRACTION * depth)
    keep = (ref < 4) & ~variant_like[rel]
    bases = np.bincount(qual[keep], minlength=MAX_QUALITY + 1)
    mismatches = np.bincount(qual[keep & wrong], minlength=MAX_QUALITY + 1)
    changes = np.bincount(ref[keep & wrong] * 4 + base[keep & wrong], minlength=16)[:16].reshape(4, 4)
    by_ref = np.bincount(ref[keep], minlength=4)[:4]
    return bases, mismatches, changes, by_ref


@dataclass(frozen=True)
class ErrorTable:
    """Empirical error rate per reported base quality (index = quality)."""

    rate: tuple[float, ...]
    counts: tuple[int, ...] = ()  # bases measured per quality
    change: tuple[tuple[float, ...], ...] = ()
    """change[r][a]: how much likelier than the average base error an error of reference base r to read base a is
    (1/3 each where nothing was measured): the spectrum, e.g. C>T well above 1/3 in a deaminated library."""

    @property
    def bases(self) -> int:
        """Bases it was measured on."""
        return sum(self.counts)

    @classmethod
    def unmeasured(cls) -> "ErrorTable":
        """Every quality as it claims, every change 1/3: what a sample with no short-read bases to measure gets."""
        return cls.from_counts(np.zeros(MAX_QUALITY + 1), np.zeros(MAX_QUALITY + 1))

    @classmethod
    def from_counts(cls, bases: np.ndarray, mismatches: np.ndarray, changes: np.ndarray | None = None,
                    by_ref: np.ndarray | None = None) -> "ErrorTable":
        claimed = 10.0 ** (-np.arange(MAX_QUALITY + 1) / 10.0)
        rate = (mismatches + PRIOR_BASES * claimed) / (bases + PRIOR_BASES)
        change = np.full((4, 4), 1.0 / 3.0)
        if changes is not None and by_ref is not None and bases.sum() > 0:
            mean = mismatches.sum() / bases.sum()  # errors per base, all qualities
            change = (changes + PRIOR_CHANGES / 3.0) / (by_ref[:, None] * mean + PRIOR_CHANGES)
        np.fill_diagonal(change, 0.0)
        return cls(tuple(float(x) for x in np.clip(rate, 1e-6, 0.75)), tuple(int(x) for x in bases),
                   tuple(tuple(float(x) for x in row) for row in change))

    def change_share(self, ref: str, alt: str) -> float:
        """change[ref][alt] (1/3 without a measured spectrum, or for a base other than ACGT)."""
        if not self.change or ref not in "ACGT" or alt not in "ACGT":
            return 1.0 / 3.0
        return self.change["ACGT".index(ref)]["ACGT".index(alt)]

    def of(self, quals: np.ndarray) -> np.ndarray:
        return np.asarray(self.rate)[np.minimum(quals, MAX_QUALITY).astype(np.int64)]

    def phred(self, quality: int) -> float:
        """The quality a base reported at `quality` has in truth."""
        return -10.0 * math.log10(self.rate[min(quality, MAX_QUALITY)])

    def phred_of_range(self, lo: int, hi: int) -> float:
        """The quality that bases reported at lo..hi-1 have in truth, together (their rates weighted by the bases
        measured at each; the qualities' own claims where none was)."""
        rates = np.asarray(self.rate[lo:hi])
        weights = np.asarray(self.counts[lo:hi], float) if self.counts else np.ones(len(rates))
        if weights.sum() == 0:
            weights = np.ones(len(rates))
        return -10.0 * math.log10(float(np.sum(rates * weights) / weights.sum()))


@dataclass(frozen=True)
class RecurrentErrorGate:
    table: ErrorTable
    min_odds: float = GATE_MIN_ODDS
    """Odds of a het against errors (module text) below which a SNP alt is taken as recurrent error."""

    def log10_odds(self, depth: int, alt_quals: np.ndarray, share: float = 1.0 / 3.0) -> float:
        """The odds (module text) of an alt seen in reads of `alt_quals` among `depth`; `share`: the alt's share of
        the reference base's errors (ErrorTable.change_share)."""
        k = len(alt_quals)
        errors = np.minimum(self.table.of(alt_quals) * share, 0.99)
        return math.log10(HET_PRIOR) + float(np.sum(np.log10(0.5 / errors))) + (depth - k) * math.log10(0.5)

    def is_error(self, candidate: Candidate, site_reads: np.ndarray, site_quals: np.ndarray) -> bool:
        """Whether every alt of `candidate` is a substitution its reads' errors explain (odds below min_odds);
        `site_reads` / `site_quals`: the reads with an aligned base at the site, and those bases' qualities."""
        if not candidate.alts:
            return False
        threshold = math.log10(self.min_odds)
        support = candidate.support[site_reads]
        for i, alt in enumerate(candidate.alts):
            if len(alt) != 1 or len(candidate.ref) != 1:
                return False
            quals = site_quals[support == i]
            share = self.table.change_share(candidate.ref, alt)
            if len(quals) == 0 or self.log10_odds(candidate.depth, quals, share) >= threshold:
                return False
        return True

    def select(self, events: ReadEvents, candidates: list[Candidate], min_base_quality: int) -> list[Candidate]:
        """The candidates that are not recurrent errors, in their order (alt reads below `min_base_quality` are not
        counted: the candidate's depth does not count them either)."""
        at = ByPosition(events, len(candidates))
        kept = []
        for c in candidates:
            rows = at.bases(c.start)
            rows = rows[events.m_qual[rows] >= min_base_quality]
            if not self.is_error(c, events.m_read[rows], events.m_qual[rows]):
                kept.append(c)
        return kept

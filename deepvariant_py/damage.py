"""Library damage that only one pair orientation of the reads shows, dropped before any pileup is built
(`--ffpe-filter`, off by default).

Formalin fixation deaminates cytosines of the original molecule's strands; the copy reads them as thymine. A read
pair shows that strand in one orientation only: read 1 forward or read 2 reverse ("F1R2") reads the original top
strand, so damage there is C>T in the reference's coordinates, and the other orientation ("F2R1") shows the
bottom strand's damage as G>A. A true variant is carried by both strands of the molecule, so its alt reads come in
both orientations, about as often as the site's other reads do; an artifact's come in one. The network cannot see
this (its pileup has a strand channel but no read-of-pair one), and it called such artifacts as low-quality hets
(FFPE-like C>T on 2% of C: SNP F1 0.95 where bcftools keeps 0.99, README "Known weak spots").

A SNP allele is taken as damage when it is the change that orientation would show, every read that carries it
(at any base quality) is of that orientation, it is at most `max_fraction` of the site's depth, and at least
`min_other_reads` reads of the other orientation cover the site with a base (so its absence there means
something: amplicon or single-end reads in one orientation are left alone). A candidate is dropped only when
every alt of it is damage; a true het whose few alt reads all happen to share one orientation is lost with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .candidates import ByPosition, Candidate
from .read_events import ReadEvents

DAMAGE_CHANGES = {("C", "T"): True, ("G", "A"): False}
"""(REF base, ALT base) -> whether the F1R2 orientation (else F2R1) shows it as deamination damage."""


def f1r2(events: ReadEvents) -> np.ndarray:
    """Per read: read 1 on the forward strand or read 2 on the reverse one (an unpaired read counts as read 1)."""
    return events.reverse == events.read2


@dataclass(frozen=True)
class DamageFilter:
    max_fraction: float = 0.25
    """The most of a site's depth a damaged allele's reads may be (true hets sit near half)."""
    min_other_reads: int = 3
    """Reads of the other orientation that must cover the site before an allele absent from them counts as damage.
    Both values were chosen on simulated calibration samples, clean and FFPE-damaged (docs/measurements.md, "FFPE
    damage"): the fewest artifacts left among the settings that dropped no more than one true SNP (none dropped)."""

    def is_damage(self, candidate: Candidate, events: ReadEvents, orientation: np.ndarray, at: ByPosition,
                  swapped: bool = False) -> bool:
        """Whether every alt of `candidate` looks like one-orientation damage (see the module's text); `at`: the
        partition's aligned bases by position; `swapped`: with the two orientations' roles exchanged, which
        deamination cannot produce (a control: what sequencing errors alone give)."""
        ref = candidate.ref
        covering = None
        for i, alt in enumerate(candidate.alts):
            shows = DAMAGE_CHANGES.get((ref[0], alt[0]))
            if shows is None or len(alt) != len(ref) or alt[1:] != ref[1:]:
                return False  # not a single-base deamination change
            shows = shows != swapped
            if candidate.allele_depths[i + 1] > self.max_fraction * max(candidate.depth, 1):
                return False
            carriers = orientation[candidate.support == i]
            if len(carriers) == 0 or np.any(carriers != shows):
                return False
            if covering is None:
                covering = orientation[events.m_read[at.bases(candidate.start)]]
            if np.count_nonzero(covering != shows) < self.min_other_reads:
                return False
        return bool(candidate.alts)

    def signal(self, events: ReadEvents, candidates: list[Candidate]) -> tuple[int, int]:
        """(candidates that look like damage, candidates that look like it with the orientations swapped): in an
        undamaged library sequencing errors give about as many of each; deamination only the first."""
        if not candidates:
            return 0, 0
        orientation, at = f1r2(events), ByPosition(events, len(candidates))
        return (sum(self.is_damage(c, events, orientation, at) for c in candidates),
                sum(self.is_damage(c, events, orientation, at, swapped=True) for c in candidates))

    def select(self, events: ReadEvents, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates that are not damage, in their order."""
        if not candidates:
            return candidates
        orientation, at = f1r2(events), ByPosition(events, len(candidates))
        return [c for c in candidates if not self.is_damage(c, events, orientation, at)]

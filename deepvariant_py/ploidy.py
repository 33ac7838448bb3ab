"""Haploid contigs: genotypes without heterozygotes where a sample carries one copy (chrX and chrY of an XY sample).

dvcall's network is diploid: it gives every candidate probabilities over {hom-ref, het, hom-alt} (over every
allele pair at multi-allelic sites). On a contig the sample carries once, a "het" is a sequencing or mapping
artefact or a misread hom-alt, so postprocess (as DeepVariant's --haploid_contigs does) sets the probability of
every genotype with two different alleles to zero and renormalises; GT, GQ, PL and QUAL follow from what is left.
Genotypes stay written as diploid (0/0, 1/1, 2/2), as DeepVariant writes them, so that gVCF merging and tools
that expect two alleles per call keep working.

The pseudo-autosomal regions (PAR1/PAR2 of X and Y) are diploid in every sample: sites overlapping a region of
the PAR BED keep their diploid genotypes. The gVCF's reference blocks on the haploid contigs, outside the PARs, take
a haploid reference confidence (haploid_blocks): with no heterozygous genotype, a few reference reads rule out the
alternative (GQ 50 from two reads, where the diploid model's het hypothesis keeps GQ near 3 per read).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import numpy as np

from .errors import InputError
from .genotypes import MIN_PROBABILITY, genotype_pairs, n_alleles
from .gvcf import MAX_GQ, RefBlock
from .regions import Region, RegionSet, absent_contigs_note, read_bed, toggle_chr_prefix


@dataclass(frozen=True)
class HaploidRegions:
    """Contigs called as haploid, less the pseudo-autosomal regions (diploid)."""

    contigs: frozenset[str]
    par: RegionSet = RegionSet(())

    def covers(self, contig: str, start: int, end: int) -> bool:
        """Whether a site spanning [start, end) of `contig` is called haploid: its contig is haploid and it does
        not overlap a pseudo-autosomal region (a site reaching into one keeps its diploid genotype)."""
        return contig in self.contigs and not self.par.overlaps(contig, start, max(end, start + 1))


def haploid_probabilities(probs: np.ndarray) -> np.ndarray:
    """Genotype probabilities (over genotypes.genotype_pairs order) with every heterozygous genotype at zero,
    renormalised; when the network gave the homozygous ones nothing at all, they share it equally."""
    pairs = genotype_pairs(n_alleles(len(probs)))
    hom = np.array([a == b for a, b in pairs])
    out = np.where(hom, np.asarray(probs, dtype=np.float64), 0.0)
    total = out.sum()
    return out / total if total > 0 else hom / hom.sum()


def mostly_haploid(called: Iterable[Region], haploid: HaploidRegions | None) -> bool:
    """Whether at least half the bases called are haploid (on haploid contigs, outside the PARs): with no
    heterozygous site to phase by, reads are expected to carry no HP tag (so the few-tags warning is not given)."""
    called = list(called)
    total = sum(r.length for r in called)
    if haploid is None or total == 0:
        return False
    one_copy = sum(r.length - sum(e - s for s, e in haploid.par.clip(r.contig, r.start, r.end))
                   for r in called if r.contig in haploid.contigs)
    return 2 * one_copy >= total


HET_PL = int(-10.0 * np.log10(MIN_PROBABILITY))  # a heterozygous genotype's PL where it has no probability (99)


def haploid_block(block: RefBlock) -> RefBlock:
    """A reference block's confidence with one copy: its diploid PL (each genotype's least over its positions, hom-ref
    0 where hom-ref is most likely) without the heterozygous genotype, renormalised over hom-ref and hom-alt; GQ
    -10 log10 P(hom-alt) (at most gvcf.MAX_GQ) at the block's least hom-alt PL, the least over its positions (the
    PLs are truncated, so within one of what the counts would give); het PL HET_PL, as a haploid site's."""
    rr, _, aa = block.pl
    low = min(rr, aa)
    rr, aa = rr - low, aa - low
    # -10 log10 P(hom-alt) of the two = 10 log10(1 + 10^((aa - rr) / 10)); past the cap it is the cap
    gq = MAX_GQ if aa - rr >= MAX_GQ else int(np.floor(10.0 * np.log10(1.0 + 10.0 ** ((aa - rr) / 10.0))))
    return RefBlock(block.contig, block.start, block.end, gq, block.min_dp, (rr, HET_PL, aa), rr <= aa, haploid=True)


def haploid_blocks(blocks: Iterable[RefBlock], haploid: HaploidRegions | None) -> Iterator[RefBlock]:
    """The blocks (in reference order) with haploid_block's confidence where the sample has one copy: a block on a
    haploid contig is cut at the pseudo-autosomal regions, whose pieces keep their diploid confidence."""
    if haploid is None:
        yield from blocks
        return
    for b in blocks:
        if b.contig not in haploid.contigs:
            yield b
            continue
        at = b.start
        for s, e in haploid.par.clip(b.contig, b.start, b.end) + [(b.end, b.end)]:
            if s > at:
                yield haploid_block(replace(b, start=at, end=s))
            if e > s:
                yield replace(b, start=s, end=e)
            at = max(at, e)


# The pseudo-autosomal regions of the GRC assemblies (0-based, half-open), for --par-regions GRCh38 / GRCh37:
# GRCh38 chrX:10,001-2,781,479 and 155,701,383-156,030,895, chrY:10,001-2,781,479 and 56,887,903-57,217,415;
# GRCh37 X:60,001-2,699,520 and 154,931,044-155,260,560, Y:10,001-2,649,520 and 59,034,050-59,363,566.
BUILT_IN_PARS = {
    "grch38": {"X": ((10_000, 2_781_479), (155_701_382, 156_030_895)), "Y": ((10_000, 2_781_479), (56_887_902, 57_217_415))},
    "grch37": {"X": ((60_000, 2_699_520), (154_931_043, 155_260_560)), "Y": ((10_000, 2_649_520), (59_034_049, 59_363_566))},
}
_PAR_ALIASES = {"grch38": "grch38", "hg38": "grch38", "grch37": "grch37", "hg19": "grch37", "b37": "grch37"}
ASSEMBLY_LENGTHS = {"grch38": {"X": 156_040_895, "Y": 57_227_415}, "grch37": {"X": 155_270_560, "Y": 59_373_566}}


def built_in_pars(name: str, contig_lengths: dict[str, int]) -> list[Region] | None:
    """The PARs of a named assembly (GRCh38 / hg38, GRCh37 / hg19 / b37) on the reference's own X and Y
    (named X, chrX, ...); None when `name` names none of them."""
    build = _PAR_ALIASES.get(name.strip().lower())
    if build is None:
        return None
    out = []
    for contig, spans in BUILT_IN_PARS[build].items():
        named = next((n for n in (contig, f"chr{contig}") if n in contig_lengths), None) or \
            next((n for n, length in contig_lengths.items() if length == ASSEMBLY_LENGTHS[build][contig]), None)  # NC_000023.11
        if named and contig_lengths[named] != ASSEMBLY_LENGTHS[build][contig]:  # another assembly's X or Y
            other = next((b for b, lengths in ASSEMBLY_LENGTHS.items() if lengths[contig] == contig_lengths[named]), None)
            raise InputError(f"--par-regions {name.strip()}: the reference's {named} is {contig_lengths[named]:,} bp, not "
                             f"{build.replace('grch', 'GRCh')}'s {ASSEMBLY_LENGTHS[build][contig]:,}: "
                             + (f"pass --par-regions {other.replace('grch', 'GRCh')}" if other else
                                "pass a BED of this assembly's pseudo-autosomal regions"))
        out += [Region(named, s, min(e, contig_lengths[named])) for s, e in spans if named and s < contig_lengths[named]]
    return out


def missing_par_warning(regions: HaploidRegions | None, par: str | None, contig_lengths: dict[str, int]) -> str | None:
    """One line when X or Y (by name, or by a GRC assembly's length: NC_000023.11) is called haploid with no PAR on
    it: their pseudo-autosomal regions are diploid in every sample, and would lose their heterozygous calls; a
    --par-regions that places none there (an empty BED, other contigs' names) is said too."""
    if regions is None:
        return None
    known = {length for lengths in ASSEMBLY_LENGTHS.values() for length in lengths.values()}
    sex = sorted(c for c in regions.contigs if c.lower().removeprefix("chr") in ("x", "y") or contig_lengths.get(c) in known)
    bare = [c for c in sex if not regions.par.overlaps(c, 0, contig_lengths.get(c, 1 << 40))]
    if not bare:
        return None
    if par:
        return (f"--par-regions {par} places no region on {','.join(bare)}: its pseudo-autosomal regions, diploid in every "
                "sample, are called haploid (heterozygous calls there are lost); pass a BED that names this contig")
    return (f"--haploid-contigs {','.join(bare)} without --par-regions: their pseudo-autosomal regions, diploid in every "
            "sample, are called haploid too (heterozygous calls there are lost); pass --par-regions GRCh38 (or GRCh37) "
            "for the assembly's PAR1 and PAR2, or a BED")


def contig_names(given: list[str]) -> list[str]:
    """Contig names given once each or in comma-separated lists (--haploid-contigs, the workflow's lists), stripped."""
    return [name.strip() for value in given for name in value.split(",") if name.strip()]


def haploid_regions(contigs: list[str], par_bed: str | None, contig_lengths: dict[str, int],
                    notes: list[str] | None = None) -> HaploidRegions | None:
    """The --haploid-contigs (names, each given once or in comma-separated lists) and --par-regions (a BED, or an
    assembly's name: built_in_pars) checked against the reference: None when no contig is given. An unknown contig
    is an InputError naming the reference's spelling when it differs only by 'chr'; a PAR BED without haploid
    contigs is one too (it would do nothing). PAR lines on contigs the reference lacks are skipped, with a note
    appended to `notes`."""
    names = contig_names(contigs)
    if contigs and not names:
        raise InputError(f"--haploid-contigs {' '.join(contigs)!r} names no contig: give the contigs the sample carries "
                         "once, e.g. chrX,chrY")
    if not names:
        if par_bed:
            raise InputError(f"--par-regions {par_bed} only matters with --haploid-contigs (e.g. --haploid-contigs chrX,chrY "
                             "for an XY sample on GRCh38): give both, or neither")
        return None
    for name in names:
        if name not in contig_lengths:
            other = toggle_chr_prefix(name)
            hint = f" (it has {other!r})" if other in contig_lengths else ""
            raise InputError(f"--haploid-contigs names {name!r}, which the reference does not have{hint}: use the "
                             "reference's contig names, e.g. chrX,chrY on GRCh38 or hg19 and X,Y on b37")
    absent: list[str] = []
    given_file = bool(par_bed) and os.path.exists(par_bed) and not os.path.isdir(par_bed)  # /dev/null too, no folder
    if given_file and par_bed.strip().lower() in _PAR_ALIASES:
        raise InputError(f"--par-regions {par_bed} names both a file here and an assembly whose PARs dvcall knows: pass "
                         f"./{par_bed} for the file, or run where no such file is for the built-in PARs")
    named = built_in_pars(par_bed, contig_lengths) if par_bed and not given_file else None
    if par_bed and named is None and not given_file:
        raise InputError(f"--par-regions {par_bed} is neither a BED file nor an assembly whose PARs dvcall knows "
                         f"({', '.join(sorted(_PAR_ALIASES))}): pass a BED of the pseudo-autosomal regions")
    empty: list[int] = []
    par = RegionSet(named if named is not None else read_bed(par_bed, contig_lengths, absent, empty) if par_bed else [])
    if empty:  # a position written as START == END: a PAR is millions of bases, so the line is a mistake
        raise InputError(f"--par-regions {par_bed} line {empty[0]}: START == END holds no base, and a PAR is an "
                         "interval: fix the line (BED is 0-based, half-open: CONTIG START END covers bases START+1 "
                         "to END, 1-based)")
    if notes is not None and (note := absent_contigs_note("--par-regions", absent, "they are skipped")):
        notes.append(note)
    return HaploidRegions(frozenset(names), par)


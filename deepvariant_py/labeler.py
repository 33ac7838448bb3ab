"""Training labels: give each candidate its true diploid genotype by comparing haplotype sequences.

Follows DeepVariant's haplotype labeler (docs/design.md §7): candidates and truth
variants that lie close together are grouped, every genotype assignment of the candidates
is turned into a pair of haplotype strings over a small reference window, and the
assignment whose haplotype pair equals the truth's is chosen. Because sequences are
compared rather than VCF positions, an indel written differently (shifted in a repeat,
another anchor base, multi-allelic vs split records, MNP vs SNPs) still gets its label.

Differences from DeepVariant, on purpose:

* Truth genotypes are treated as unphased: every phasing of the truth hets is tried.
* Among equally good matches (same false negatives and same number of 0/0 candidates,
  DeepVariant's ranking) the one with fewer called alt alleles wins, then the first found
  in a fixed enumeration order, so the result is deterministic.
* A group too large to enumerate is labeled by positional matching instead of aborting
  the run (DeepVariant raises an error); ``label_genotypes_with_stats`` reports how often.
* A truth REF that disagrees with the reference raises ``InputError`` (the truth VCF and
  the FASTA are from different builds), instead of silently producing wrong labels.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from deepvariant_py.errors import InputError
from deepvariant_py.filetypes import open_variant_file
from deepvariant_py.genotypes import diploid_alleles, genotype_pairs

# Grouping: a variant joins the current group if it starts within this many bp of the
# group's furthest end (DeepVariant: 30).
GROUP_DISTANCE = 30
# At most this many candidates / truth variants per group (DeepVariant: 8 each).
MAX_GROUP_CANDIDATES = 8
MAX_GROUP_TRUTHS = 8
# Reference context appended after the last variant end of a group (DeepVariant: 20).
REF_PADDING_AFTER = 20
# A group whose candidate (or truth) genotype-count product exceeds this is labeled
# positionally (DeepVariant: 100,000).
MAX_GENOTYPE_PRODUCT = 100_000
# Hard cap on search steps per group, a safety net behind the product bound.
MAX_SEARCH_STEPS = 500_000

Genotype = tuple[int, int]
RefFetch = Callable[[int, int], str]


@dataclass(frozen=True)
class Variant:
    """A variant as the labeler sees it: 0-based start, REF and ALT strings as written, and for a truth variant
    its diploid genotype (allele indices, 0 = REF; phase ignored; None for a candidate)."""

    start: int
    ref: str
    alts: tuple[str, ...]
    genotype: tuple[int, int] | None = None

    @property
    def end(self) -> int:
        """Exclusive end on the reference, used for grouping and overlap tests."""
        return self.start + len(self.ref)


@dataclass
class LabelingStats:
    """Counters for run info: how groups were labeled and how many truth alleles went unmatched."""

    n_groups: int = 0
    n_haplotype_groups: int = 0
    n_positional_groups: int = 0
    n_truth_alleles: int = 0
    n_truth_alleles_missed: int = 0


class _SearchTooLarge(Exception):
    """Raised inside the enumeration when a group exceeds MAX_SEARCH_STEPS."""


@dataclass(frozen=True)
class _Prepared:
    """A variant in window coordinates; alleles[0] is REF, None marks an allele that edits nothing."""

    start: int
    end: int
    alleles: tuple[str | None, ...]


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def label_genotypes(
    candidates: list[Variant],
    truths: list[Variant],
    ref_fetch: Callable[[int, int], str],
) -> list[tuple[int, int]]:
    """Genotype (sorted allele-index pair into the candidate's alleles) for each candidate, in input order; all on one contig, both lists sorted by start."""
    return label_genotypes_with_stats(candidates, truths, ref_fetch)[0]


def label_genotypes_with_stats(
    candidates: Sequence[Variant],
    truths: Sequence[Variant],
    ref_fetch: RefFetch,
) -> tuple[list[Genotype], LabelingStats]:
    """Like label_genotypes, plus counters so training runs can report missed truth and fallbacks."""
    stats = LabelingStats()
    labels: list[Genotype] = [(0, 0)] * len(candidates)
    for cand_idx, truth_idx in _group(candidates, truths):
        stats.n_groups += 1
        group_cands = [candidates[i] for i in cand_idx]
        group_truths = [truths[i] for i in truth_idx]
        for t in group_truths:
            if any(g < 0 or g > len(t.alts) for g in t.genotype):
                raise InputError(
                    f"truth variant at 0-based position {t.start} has genotype {t.genotype} "
                    f"but only {len(t.alts)} alt allele(s)"
                )
        stats.n_truth_alleles += sum(_n_alt_copies(t.genotype) for t in group_truths)
        if not group_truths:
            stats.n_haplotype_groups += 1
            continue  # nothing true here: every candidate stays 0/0
        result = _label_group_by_haplotypes(group_cands, group_truths, ref_fetch)
        if result is None:
            stats.n_positional_groups += 1
            genotypes, missed = _label_group_by_position(group_cands, group_truths)
        else:
            stats.n_haplotype_groups += 1
            genotypes, missed = result
        stats.n_truth_alleles_missed += missed
        for i, gt in zip(cand_idx, genotypes):
            labels[i] = gt
    return labels, stats


def label_for_alt_subset(genotype: tuple[int, int], alt_indices: tuple[int, ...]) -> int:
    """DeepVariant's label: number of genotype alleles g != 0 with g-1 in alt_indices (0, 1 or 2). alt_indices are 0-based into alts."""
    wanted = set(alt_indices)
    return sum(1 for g in genotype if g != 0 and g - 1 in wanted)


def read_truth(vcf_path: str, contig: str, start: int, end: int) -> list[Variant]:
    """Truth records overlapping [start,end) with FILTER PASS or '.', skipping genotypes with no alt (0/0, ./.); uses pysam.VariantFile (tabix-indexed)."""
    with open_truth(vcf_path) as vcf:
        return truth_in(vcf, contig, start, end)


def open_truth(vcf_path: str):
    """The truth VCF, checked once (samples, index) so callers can fetch many regions from one handle."""
    vcf = open_variant_file(vcf_path, "truth VCF")
    if not vcf.header.samples:
        vcf.close()
        raise InputError(f"truth VCF {vcf_path!r} has no sample column, so it has no genotypes")
    samples = list(vcf.header.samples)
    if len(samples) > 1:
        vcf.close()
        shown = ", ".join(samples[:4]) + (", ..." if len(samples) > 4 else "")
        raise InputError(f"truth VCF {vcf_path!r} has {len(samples)} samples ({shown}): labels need the one sample of the "
                         f"reads; keep it with `bcftools view -s NAME {vcf_path} -Oz -o truth.vcf.gz` and index that")
    if "GT" not in vcf.header.formats:
        vcf.close()
        raise InputError(f"truth VCF {vcf_path!r} has no GT field, so it has no genotypes to label examples with")
    if vcf.index is None:
        vcf.close()
        raise InputError(f"truth VCF {vcf_path!r} is not indexed: bgzip it and run 'tabix -p vcf' on it")
    return vcf


def is_symbolic(allele: str) -> bool:
    """An allele that spells no bases (<DEL>, <INS>, <CNV>, a breakend): no candidate can be matched to it."""
    return allele.startswith("<") or "[" in allele or "]" in allele


def truth_in(vcf, contig: str, start: int, end: int, symbolic: list[tuple[int, int]] | None = None) -> list[Variant]:
    """Truth variants of an open truth VCF overlapping [start, end). A record with a symbolic alt (<DEL>) in the
    genotype is not one (no candidate can match it); its reference span is appended to `symbolic` instead, so the
    caller can leave candidates there unlabelled rather than call them hom-ref."""
    if contig not in vcf.index:
        return []
    out: list[Variant] = []
    for rec in vcf.fetch(contig, start, end):
        filters = list(rec.filter.keys())
        if filters and filters != ["PASS"]:
            continue
        if not rec.alts:
            continue
        gt = _diploid_genotype(rec.samples[0].get("GT"), f"{vcf.filename.decode()}: {rec.contig}:{rec.pos}")
        if gt is None:
            continue
        if any(g > 0 and is_symbolic(rec.alts[g - 1]) for g in gt if g <= len(rec.alts)):
            if symbolic is not None:
                symbolic.append((rec.start, max(rec.stop, rec.start + len(rec.ref))))
            continue
        out.append(Variant(start=rec.start, ref=rec.ref.upper(), alts=tuple(a.upper() for a in rec.alts), genotype=gt))
    return out


# --------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------


def _group(
    candidates: Sequence[Variant], truths: Sequence[Variant]
) -> list[tuple[list[int], list[int]]]:
    """Greedy left-to-right groups of nearby variants, so each group can be solved on its own."""
    items = [(c.start, 0, i, c.end) for i, c in enumerate(candidates)]
    items += [(t.start, 1, i, t.end) for i, t in enumerate(truths)]
    items.sort()
    groups: list[tuple[list[int], list[int]]] = []
    cur: tuple[list[int], list[int]] | None = None
    max_end = 0
    caps = (MAX_GROUP_CANDIDATES, MAX_GROUP_TRUTHS)
    for start, kind, idx, end in items:
        if cur is None or start > max_end + GROUP_DISTANCE or len(cur[kind]) >= caps[kind]:
            cur = ([], [])
            groups.append(cur)
            max_end = end
        cur[kind].append(idx)
        max_end = max(max_end, end)
    return groups


# --------------------------------------------------------------------------------------
# Haplotype matching
# --------------------------------------------------------------------------------------


def _label_group_by_haplotypes(
    cands: list[Variant], truths: list[Variant], ref_fetch: RefFetch
) -> tuple[list[Genotype], int] | None:
    """Best candidate genotypes whose haplotypes equal the truth's, with truth alleles missed; None if too large."""
    truth_options = [_truth_options(t.genotype) for t in truths]
    if _product(_n_genotypes(len(c.alts) + 1) for c in cands) > MAX_GENOTYPE_PRODUCT:
        return None
    # Truth phasings are enumerated explicitly, so bound the phased count.
    if _product(len(_phasings(o, False)) for o in truth_options) > MAX_GENOTYPE_PRODUCT:
        return None

    lo = max(0, min(v.start for v in (*cands, *truths)) - 1)
    hi = max(v.end for v in (*cands, *truths)) + REF_PADDING_AFTER
    ref = ref_fetch(lo, hi).upper()

    order = sorted(range(len(cands)), key=lambda i: (cands[i].start, cands[i].end))
    prep_cands = [_prepare(cands[i], ref, lo, "candidate") for i in order]
    truth_order = sorted(range(len(truths)), key=lambda i: (truths[i].start, truths[i].end))
    prep_truths = [_prepare(truths[i], ref, lo, "truth") for i in truth_order]
    ordered_truth_options = [truth_options[i] for i in truth_order]

    try:
        truth_pairs = _truth_haplotype_pairs(prep_truths, ordered_truth_options, ref)
        best = _best_candidate_assignment(prep_cands, ref, truth_pairs)
    except _SearchTooLarge:
        return None
    if best is None:  # cannot happen (all-ref matches all-dropped truth); be safe anyway
        return None
    missed, sorted_gts = best
    genotypes: list[Genotype] = [(0, 0)] * len(cands)
    for pos, i in enumerate(order):
        genotypes[i] = sorted_gts[pos]
    return genotypes, missed


def _truth_options(genotype: tuple[int, int]) -> dict[Genotype, int]:
    """Unphased truth genotypes reachable by dropping alleles to REF, each with the count dropped."""
    g1, g2 = genotype
    opts: dict[Genotype, int] = {}
    for r1 in dict.fromkeys((g1, 0)):
        for r2 in dict.fromkeys((g2, 0)):
            key = (min(r1, r2), max(r1, r2))
            dropped = (g1 != 0 and r1 == 0) + (g2 != 0 and r2 == 0)
            opts[key] = min(dropped, opts.get(key, dropped))
    return opts


def _phasings(unphased: Iterable[Genotype], symmetric: bool) -> list[Genotype]:
    """Ordered (hap A, hap B) versions of genotypes; while both haps are still identical only a<=b is needed."""
    out: list[Genotype] = []
    for a, b in unphased:
        out.append((a, b))
        if a != b and not symmetric:
            out.append((b, a))
    return out


def _apply(hap: str, cur: int, var: _Prepared, allele: int, ref: str) -> tuple[str, int] | None:
    """Extend one haplotype with an allele; None if it overlaps an edit already on that haplotype."""
    seq = var.alleles[allele]
    if allele == 0 or seq is None:
        return hap, cur
    if var.start < cur:
        return None
    return hap + ref[cur : var.start] + seq, var.end


def _truth_haplotype_pairs(
    truths: list[_Prepared], options: list[dict[Genotype, int]], ref: str
) -> dict[tuple[str, str], int]:
    """Every truth haplotype pair (sorted) reachable by phasing and dropping, with its fewest drops."""
    pairs: dict[tuple[str, str], int] = {}
    steps = 0

    def walk(i: int, ha: str, ca: int, hb: str, cb: int, dropped: int, symmetric: bool) -> None:
        nonlocal steps
        steps += 1
        if steps > MAX_SEARCH_STEPS:
            raise _SearchTooLarge
        if i == len(truths):
            a, b = ha + ref[ca:], hb + ref[cb:]
            key = (a, b) if a <= b else (b, a)
            if dropped < pairs.get(key, dropped + 1):
                pairs[key] = dropped
            return
        var = truths[i]
        opts = options[i]
        for x, y in _phasings(opts, symmetric):
            ra = _apply(ha, ca, var, x, ref)
            if ra is None:
                continue
            rb = _apply(hb, cb, var, y, ref)
            if rb is None:
                continue
            key = (min(x, y), max(x, y))
            walk(i + 1, ra[0], ra[1], rb[0], rb[1], dropped + opts[key], symmetric and x == y)

    walk(0, "", 0, "", 0, 0, True)
    return pairs


def _best_candidate_assignment(
    cands: list[_Prepared], ref: str, truth_pairs: dict[tuple[str, str], int]
) -> tuple[int, list[Genotype]] | None:
    """Search candidate genotypes (pruned by truth-haplotype prefixes) for the best-ranked exact match."""
    truth_haps = sorted({h for pair in truth_pairs for h in pair})
    unphased = [_unphased_genotypes(len(c.alleles)) for c in cands]
    next_start = [c.start for c in cands[1:]] + [len(ref)]
    best_score: tuple[int, int, int] | None = None
    best_gts: list[Genotype] = []
    chosen: list[Genotype] = []
    steps = 0

    def could_match(hap: str, cur: int, upto: int) -> bool:
        """True if this haplotype's settled prefix starts some truth haplotype."""
        prefix = hap + ref[cur:upto] if upto > cur else hap
        k = bisect.bisect_left(truth_haps, prefix)
        return k < len(truth_haps) and truth_haps[k].startswith(prefix)

    def walk(i: int, ha: str, ca: int, hb: str, cb: int, n_ref: int, n_alt: int, symmetric: bool) -> None:
        nonlocal steps, best_score, best_gts
        steps += 1
        if steps > MAX_SEARCH_STEPS:
            raise _SearchTooLarge
        if i == len(cands):
            a, b = ha + ref[ca:], hb + ref[cb:]
            dropped = truth_pairs.get((a, b) if a <= b else (b, a))
            if dropped is None:
                return
            # DeepVariant ranks by (truth alleles missed, candidates left 0/0); we then
            # prefer fewer alt copies, then the first found.
            score = (dropped, n_ref, n_alt)
            if best_score is None or score < best_score:
                best_score = score
                best_gts = [(min(g), max(g)) for g in chosen]
            return
        var = cands[i]
        for x, y in _phasings(unphased[i], symmetric):
            ra = _apply(ha, ca, var, x, ref)
            if ra is None or not could_match(ra[0], ra[1], next_start[i]):
                continue
            rb = _apply(hb, cb, var, y, ref)
            if rb is None or not could_match(rb[0], rb[1], next_start[i]):
                continue
            chosen.append((x, y))
            walk(
                i + 1, ra[0], ra[1], rb[0], rb[1],
                n_ref + (x == 0 and y == 0), n_alt + (x != 0) + (y != 0),
                symmetric and x == y,
            )
            chosen.pop()

    walk(0, "", 0, "", 0, 0, 0, True)
    if best_score is None:
        return None
    return best_score[0], best_gts


def _unphased_genotypes(n_alleles: int) -> list[Genotype]:
    """All unphased diploid genotypes in VCF order (0/0, 0/1, 1/1, 0/2, ...): genotypes.genotype_pairs."""
    return genotype_pairs(n_alleles)


def _prepare(var: Variant, ref: str, lo: int, what: str) -> _Prepared:
    """Window-relative variant after checking its REF against the reference, so haplotypes are sound."""
    start, end = var.start - lo, var.end - lo
    if ref[start:end] != var.ref.upper():
        raise InputError(
            f"{what} variant at 0-based position {var.start} has REF {var.ref!r} but the "
            f"reference there is {ref[start:end]!r}: the {what} variants and the reference FASTA "
            "disagree (different genome builds?)"
        )
    alleles: list[str | None] = [var.ref.upper()]
    for alt in var.alts:
        up = alt.upper()
        # '*' (spanning deletion) and symbolic alleles describe no local edit.
        alleles.append(None if not up or up == "*" or up.startswith("<") else up)
    return _Prepared(start, end, tuple(alleles))


# --------------------------------------------------------------------------------------
# Positional fallback
# --------------------------------------------------------------------------------------


def _label_group_by_position(
    cands: list[Variant], truths: list[Variant]
) -> tuple[list[Genotype], int]:
    """Fallback: a candidate alt equal to a truth alt at the same trimmed position takes that truth's copies."""
    copies: dict[tuple[int, str, str], int] = {}
    for t in truths:
        for g in t.genotype:
            if g != 0:
                key = _trim(t.start, t.ref, t.alts[g - 1])
                copies[key] = copies.get(key, 0) + 1
    used: set[tuple[int, str, str]] = set()
    genotypes: list[Genotype] = []
    for c in cands:
        alleles: list[int] = []
        for k, alt in enumerate(c.alts, start=1):
            key = _trim(c.start, c.ref, alt)
            if key in copies and key not in used:
                used.add(key)
                alleles.extend([k] * copies[key])
        alleles = sorted(alleles)[:2]
        alleles = [0] * (2 - len(alleles)) + alleles
        genotypes.append((alleles[0], alleles[1]))
    missed = sum(n for key, n in copies.items() if key not in used)
    return genotypes, missed


def _trim(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Strip the common suffix then prefix of REF/ALT so differently padded alleles compare equal."""
    ref, alt = ref.upper(), alt.upper()
    n = len(os.path.commonprefix([ref[::-1], alt[::-1]]))
    ref, alt = ref[: len(ref) - n], alt[: len(alt) - n]
    p = len(os.path.commonprefix([ref, alt]))
    return start + p, ref[p:], alt[p:]


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _diploid_genotype(gt: tuple[int | None, ...] | None, where: str) -> Genotype | None:
    """Diploid allele pair from a VCF GT (missing -> 0, haploid g -> g/g); None when no alt is present."""
    if not gt:
        return None
    alleles = diploid_alleles(gt)
    if len(alleles) != 2:
        raise InputError(
            f"truth VCF {where} has a {len(alleles)}-ploid genotype; "
            "only haploid or diploid truth is supported"
        )
    if alleles[0] == 0 and alleles[1] == 0:
        return None
    return (min(alleles), max(alleles))


def _n_genotypes(n_alleles: int) -> int:
    """Number of unphased diploid genotypes over n alleles, the enumeration cost per variant."""
    return n_alleles * (n_alleles + 1) // 2


def _n_alt_copies(genotype: tuple[int, int]) -> int:
    """Number of non-REF alleles in a genotype."""
    return sum(1 for g in genotype if g != 0)


def _product(values: Iterable[int]) -> int:
    """Product with early exit once it is past the enumeration bound."""
    out = 1
    for v in values:
        out *= v
        if out > MAX_GENOTYPE_PRODUCT:
            return out
    return out

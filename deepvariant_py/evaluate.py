"""Genotype-aware small-variant benchmarking ("hap.py-lite").

``evaluate()`` compares a query VCF (the calls) with a truth VCF over optional
regions and an optional BED, and counts true positives, false positives and
false negatives separately for SNPs and indels.

How a comparison works
----------------------
1. **Records taken.** From each VCF one sample is read (the first one unless
   ``sample_truth`` / ``sample_query`` name another). With ``pass_only`` (the
   default) only records whose FILTER is ``PASS`` or ``.`` are used, on *both*
   sides. A record contributes each ALT allele that its GT carries at least once;
   ``0/0``, ``./.`` and records without GT contribute nothing, and a missing
   allele in a GT (``1/.``) counts as reference. A haploid GT (``1``, a male's
   chrX in a truth set) counts as homozygous: two copies, as hap.py scores it, so
   it matches a ``1/1`` call (dvcall writes haploid calls diploid). Symbolic ALTs (``<DEL>``,
   ``<*>``, ``<NON_REF>``), ``*`` and breakends are ignored, so gVCFs work as
   queries.
2. **Normalisation** (the same for both sides) is ``bcftools norm -f REF -m -any
   -a --atom-overlaps .``, run by the bcftools that pysam bundles over a VCF of
   just the alleles each record's GT carries:

   * multi-allelic records are split: every ALT becomes its own allele that keeps
     its number of copies in the GT (``1/2`` gives each ALT one copy, ``1/1``
     gives two);
   * common suffix, then common prefix bases of REF and ALT are trimmed;
   * equal-length changes (SNPs, MNPs) become one SNP per differing base;
   * pure insertions / deletions are left-aligned against the reference
     and written VCF-style with the reference base before them as anchor;
   * complex changes (REF and ALT of different lengths) are atomised: the first
     ``min(len(REF), len(ALT))`` bases are compared base by base (one SNP per
     difference) and the rest becomes one insertion or deletion, left-aligned no
     further than the last of those SNPs, so the pieces spell the same haplotype.
     The ``*`` alleles bcftools would write for overlapping pieces are left out
     (``--atom-overlaps .``).

   (Before bcftools did this, dvcall had its own normaliser; on the development
   sets, freebayes calls and 14,700 random complex, multi-allelic and repeat
   records both gave the same alleles and copies, and the same scores.)

   Pieces of one side that come out identical (same contig, POS, REF, ALT) are
   merged by **adding** their copies: a ``1/2`` whose two ALTs share a base
   change yields that SNP with two copies, and a homozygous variant written as two
   ``0/1`` records counts as homozygous. (bcftools writes ``*`` alleles instead.)
   Every VCF REF is checked against the reference first (``N`` and IUPAC codes
   match anything), so a VCF made against another reference fails loudly instead
   of giving a silently wrong score.
3. **Regions.** ``regions`` are 0-based half-open ``(contig, start, end)``
   intervals; a normalised allele counts when its 1-based POS satisfies
   ``start < POS <= end`` (equivalently its 0-based position ``POS - 1`` lies in
   ``[start, end)``). A BED (0-based half-open too) is applied the same way; with
   both, an allele must lie in a region AND in a BED interval. The test is made on
   the *normalised* POS (after left-alignment and atomisation), identically for
   truth and query, so a variant written differently on the two sides cannot fall
   in on one side and out on the other. For an indel POS is its anchor base, the
   base before the inserted/deleted sequence.
4. **Matching** is exact first: a truth allele and a query allele match when contig,
   POS, REF, ALT are equal AND their copy numbers are equal (1 = heterozygous
   presence, 2 = homozygous). A query allele that is right but with the wrong
   zygosity (``0/1`` called, ``1/1`` true, or the reverse) counts as **one FP and
   one FN** (hap.py likewise counts such a genotype mismatch in both, reporting it
   as FP.gt). An allele is a SNP when its normalised REF and ALT are one base each,
   an INDEL otherwise.
5. **Haplotype matching** then takes the alleles left over (``haplotype_match``):
   each is clustered with the alleles of both sides within 25 bases of it (an
   indel reaching as far as it can slide along its repeat), and a
   cluster whose truth and query alleles can be placed on two haplotypes that read
   the same (genotypes taken as unphased, as vcfeval does by default) is matched as
   a whole: each of its truth alleles is a TP, none of its query alleles an FP.
   This credits an event written two ways, e.g. an insertion and a deletion ten
   bases apart in a tandem repeat called as the three base changes they amount to.
   TP = truth alleles matched, FN = truth alleles not matched, FP = query alleles
   not matched.

Known weakness
--------------
Clusters are judged on their own: an event whose two representations lie more
than 25 bases apart (beyond where either indel can slide) with no allele between
them, or a cluster with more than 12
one-copy alleles on a side, keeps its exact-match counts. ``genotyped_sites``
(calibration) compares each record with the truth alleles in its own span only;
``multiallelic_concordance`` judges sites by exact alleles.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import logging
import os
import tempfile
from dataclasses import astuple, dataclass, fields
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pysam
import pysam.bcftools

from deepvariant_py import haplotype_match
from deepvariant_py.errors import InputError
from deepvariant_py.filetypes import open_variant_file
from deepvariant_py.genotypes import diploid_alleles
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region, RegionSet, read_bed

# How far beyond a region records are read before normalisation: a record that
# starts after a region's end can left-shift into it (a deletion at the end of a
# homopolymer), and one that starts before it can move right by trimming a shared
# prefix. Repeats longer than this are not followed into the region.
_FETCH_PAD = 1000

_ACGT = frozenset("ACGT")

# (contig, POS 1-based, REF, ALT) of one normalised allele.
AlleleKey = Tuple[str, int, str, str]
Interval = Tuple[str, int, int]  # (contig, 0-based start, end) as callers pass regions

log = logging.getLogger("dvcall")


@dataclass
class TypeCounts:
    """Counts of one variant type; rates are 0.0 when their denominator is 0."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        called = self.tp + self.fp
        return self.tp / called if called else 0.0

    @property
    def recall(self) -> float:
        true = self.tp + self.fn
        return self.tp / true if true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass
class EvalResult:
    """SNP and INDEL counts of one truth-vs-query comparison."""

    snp: TypeCounts
    indel: TypeCounts

    def to_dict(self) -> dict:
        """``{"snp": {...}, "indel": {...}}`` with tp, fp, fn, precision, recall, f1."""
        return {"snp": self.snp.to_dict(), "indel": self.indel.to_dict()}

    def table(self) -> str:
        """A plain-text table, one row per type, rates with 4 decimals."""
        header = ("type", "TP", "FP", "FN", "precision", "recall", "F1")
        rows = [header]
        for name, c in (("SNP", self.snp), ("INDEL", self.indel)):
            rows.append(
                (name, str(c.tp), str(c.fp), str(c.fn),
                 f"{c.precision:.4f}", f"{c.recall:.4f}", f"{c.f1:.4f}")
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = []
        for r in rows:
            cells = [r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]
            lines.append("  ".join(cells))
        return "\n".join(lines) + "\n"


def evaluate(
    truth_vcf: str,
    query_vcf: str,
    ref_fasta: str,
    regions: Optional[List[Tuple[str, int, int]]] = None,
    bed: Optional[str] = None,
    pass_only: bool = True,
    sample_truth: Optional[str] = None,
    sample_query: Optional[str] = None,
) -> EvalResult:
    """Compare ``query_vcf`` with ``truth_vcf``; see the module docstring for the rules.

    ``truth_vcf`` / ``query_vcf``: VCF or BCF, plain or bgzipped, indexed or not
    (an index only makes ``regions`` / ``bed`` faster). ``ref_fasta``: FASTA,
    plain or bgzipped, with ``.fai`` (and ``.gzi`` when bgzipped). ``regions``:
    0-based half-open ``(contig, start, end)``; ``bed``: BED file (may be gzipped).
    Raises ``InputError`` for missing or malformed inputs.
    """
    result, _details = _compare_inputs(truth_vcf, query_vcf, ref_fasta, regions, bed,
                                       pass_only, sample_truth, sample_query)
    return result


CONTEXTS = ("homopolymer", "tandem_repeat", "other")
HOMOPOLYMER_MIN = 6  # GIAB's "homopolymer >= 6" stratification
REPEAT_MIN_LENGTH, REPEAT_MIN_COPIES = 10, 3  # a 2-6 bp unit repeated over >= 10 bp, >= 3 copies


def sequence_context(seq: str, pos: int, span: int) -> str:
    """'homopolymer', 'tandem_repeat' or 'other' for a variant whose changed bases are seq[pos:pos + span]
    (span >= 1; for an indel, the bases after its anchor). A repeat counts when it overlaps the changed bases
    or touches them (1 bp of slop on each side, as GIAB's stratifications are padded)."""
    lo, hi = max(0, pos - 1), min(len(seq), pos + span + 1)
    run_start = 0
    for i in range(1, len(seq) + 1):  # homopolymer runs
        if i == len(seq) or seq[i] != seq[run_start]:
            if i - run_start >= HOMOPOLYMER_MIN and run_start < hi and i > lo and seq[run_start] != "N":
                return "homopolymer"
            run_start = i
    for unit in range(2, 7):
        for start in range(max(0, lo - unit * REPEAT_MIN_COPIES * 4), hi):
            end = start + unit
            while end + unit <= len(seq) and seq[end:end + unit] == seq[start:start + unit]:
                end += unit
            if (end - start >= max(REPEAT_MIN_LENGTH, REPEAT_MIN_COPIES * unit) and start < hi and end > lo
                    and len(set(seq[start:start + unit])) > 1):
                return "tandem_repeat"
    return "other"


def evaluate_by_context(truth_vcf: str, query_vcf: str, ref_fasta: str, regions=None, bed=None,
                        pass_only: bool = True) -> Dict[str, EvalResult]:
    """evaluate(), split by the sequence context of each normalised allele (sequence_context): where the
    errors that remain are (homopolymers >= 6, tandem repeats, elsewhere)."""
    _, details = _compare_inputs(truth_vcf, query_vcf, ref_fasta, regions, bed, pass_only, None, None)
    out = {c: EvalResult(TypeCounts(), TypeCounts()) for c in CONTEXTS}
    fasta = Reference(ref_fasta)
    try:
        for kind, entries in details.items():
            for key, _t, _q in entries:
                counts = out[_context_of(fasta, key)]
                target = counts.snp if _is_snp(key) else counts.indel
                setattr(target, kind, getattr(target, kind) + 1)
    finally:
        fasta.close()
    return out


def _context_of(fasta: Reference, key: AlleleKey) -> str:
    """sequence_context of one normalised allele, from 60 bases of reference either side."""
    contig, pos, ref, alt = key
    start = max(0, pos - 1 - 60)
    seq = fasta.fetch(contig, start, pos - 1 + len(ref) + 60)
    snp = _is_snp(key)
    span = 1 if snp else max(1, len(ref) - 1, len(alt) - 1)
    return sequence_context(seq, pos - 1 - start + (0 if snp else 1), span)


@dataclass(frozen=True)
class ErrorAllele:
    """One normalised allele scored as an error: `error` FP (called, not true), FN (true, not called) or GT (true
    and called, with another number of copies: one FP and one FN in the counts); `truth` and `query` are its
    copies on each side (0, 1 heterozygous, 2 homozygous), `truth_pos` and `query_pos` the POS of each record it
    came from on each side (none where it is absent; two where one allele was written twice: the normalised `pos`
    is left-aligned, a record may lie to its right); `context` as sequence_context's."""

    error: str
    kind: str
    contig: str
    pos: int
    ref: str
    alt: str
    truth: int
    query: int
    context: str
    truth_pos: Tuple[int, ...] = ()
    query_pos: Tuple[int, ...] = ()

    def row(self) -> str:
        """The allele as one TSV line (without its newline) of the columns ERROR_FIELDS names; positions
        comma-separated, '.' for none."""
        return "\t".join((",".join(map(str, v)) or ".") if isinstance(v, tuple) else str(v) for v in astuple(self))


ERROR_FIELDS = tuple(f.name for f in fields(ErrorAllele))
"""The columns of ErrorAllele.row, in order: the header of `dvcall eval --errors`."""


def evaluate_errors(truth_vcf: str, query_vcf: str, ref_fasta: str, regions=None, bed=None, pass_only: bool = True,
                    sample_truth: Optional[str] = None, sample_query: Optional[str] = None
                    ) -> Tuple[EvalResult, List[ErrorAllele]]:
    """evaluate(), and each allele behind its FP and FN counts in reference order (a genotype error once, as GT):
    where to look in the calls. Alleles credited by haplotype matching are not errors."""
    origins: Tuple[Dict[AlleleKey, List[int]], Dict[AlleleKey, List[int]]] = ({}, {})
    result, details = _compare_inputs(truth_vcf, query_vcf, ref_fasta, regions, bed, pass_only,
                                      sample_truth, sample_query, origins)
    fps = {key: (t, q) for key, t, q in details["fp"]}
    fns = {key: (t, q) for key, t, q in details["fn"]}
    fasta = Reference(ref_fasta)
    try:
        errors, order = [], {name: i for i, name in enumerate(fasta.lengths)}
        for key in sorted(fps.keys() | fns.keys(), key=lambda k: (order[k[0]], k[1:])):
            t, q = fps.get(key) or fns[key]
            error = "GT" if key in fps and key in fns else "FP" if key in fps else "FN"
            errors.append(ErrorAllele(error, "SNP" if _is_snp(key) else "INDEL", *key, t, q, _context_of(fasta, key),
                                      tuple(origins[0].get(key, ())), tuple(origins[1].get(key, ()))))
    finally:
        fasta.close()
    return result, errors


def _compare_inputs(truth_vcf, query_vcf, ref_fasta, regions, bed, pass_only,
                    sample_truth, sample_query, origins=(None, None)):
    """Return (EvalResult, details); details holds the TP/FP/FN allele lists (for debugging). `origins`: two
    dicts (truth, query) to fill with the POS of the record each allele came from (_load_alleles)."""
    with _inputs(truth_vcf, query_vcf, ref_fasta, regions, bed) as (fasta, lengths, selector):
        truth = _load_alleles(truth_vcf, "truth VCF", sample_truth, fasta, lengths,
                              ref_fasta, selector, pass_only, origins[0])
        query = _load_alleles(query_vcf, "query VCF", sample_query, fasta, lengths,
                              ref_fasta, selector, pass_only, origins[1])
        return _match(truth, query, fasta.fetch)


@contextlib.contextmanager
def _inputs(truth_vcf, query_vcf, ref_fasta, regions, bed):
    """Checked inputs shared by every comparison: (open reference, contig lengths, region selector)."""
    _require_file(truth_vcf, "truth VCF")
    _require_file(query_vcf, "query VCF")
    fasta = Reference(ref_fasta)
    try:
        lengths = fasta.lengths
        for path, what in ((truth_vcf, "truth VCF"), (query_vcf, "query VCF")):
            _check_vcf_contigs(path, what, lengths, ref_fasta)
        region_ivs = _check_regions(regions, lengths, ref_fasta) if regions is not None else None
        bed_ivs = _read_bed(bed, lengths, ref_fasta) if bed is not None else None
        if bed_ivs is not None and (bed_ivs.size == 0 or (region_ivs is not None and not _share_a_base(region_ivs, bed_ivs))):
            where = " inside the regions" if bed_ivs.size else ""
            raise InputError(f"the confident BED {bed} holds no base{where}: nothing to evaluate (F1 would read 0); give "
                             "regions the BED covers")
        yield fasta, lengths, _Selector(region_ivs, bed_ivs)
    finally:
        fasta.close()


# --------------------------------------------------------------------------- matching


def _is_snp(key: AlleleKey) -> bool:
    return len(key[2]) == 1 and len(key[3]) == 1


def _match(truth: Dict[AlleleKey, int], query: Dict[AlleleKey, int], fetch=None):
    """Counts and (key, truth copies, query copies) lists. Exact matches first; then, with `fetch` (contig,
    start, end -> upper-case reference bases, e.g. Reference.fetch), clusters whose leftover alleles spell the same haplotypes on both sides
    (haplotype_match) count each of their truth alleles as a TP and none of their query alleles as an FP."""
    exact = {k for k in truth.keys() & query.keys() if truth[k] == query[k]}
    got_truth, got_query = haplotype_match.rescued(truth, query, exact, fetch) if fetch else (set(), set())
    snp, indel = TypeCounts(), TypeCounts()
    details = {"tp": [], "fp": [], "fn": []}
    for key in sorted(set(truth) | set(query)):
        counts = snp if _is_snp(key) else indel
        t, q = truth.get(key, 0), query.get(key, 0)
        if key in exact or (t and key in got_truth):
            counts.tp += 1
            details["tp"].append((key, t, q))
            continue
        if t:
            counts.fn += 1
            details["fn"].append((key, t, q))
        if q and key not in got_query:
            counts.fp += 1
            details["fp"].append((key, t, q))
    return EvalResult(snp=snp, indel=indel), details


# --------------------------------------------------------------------------- inputs


def _require_file(path: Optional[str], what: str) -> None:
    if not path:
        raise InputError(f"no {what} given")
    if not os.path.exists(path):
        raise InputError(f"{what} not found: {path}")
    if not os.path.isfile(path):
        raise InputError(f"{what} is not a file: {path}")


def _check_regions(regions: Sequence[Interval], lengths: Dict[str, int], ref_path: str) -> RegionSet:
    checked = []
    for region in regions:
        try:
            contig, start, end = region
            start, end = int(start), int(end)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"region {region!r} is not a (contig, start, end) triple"
            ) from exc
        if contig not in lengths:
            raise InputError(
                f"region contig {contig!r} is not in reference {ref_path} "
                f"(it has {_some_names(lengths)})"
            )
        if not 0 <= start < end:
            raise InputError(
                f"region {contig}:{start}-{end} is empty or negative "
                f"(0-based half-open start < end expected)"
            )
        checked.append(Region(contig, start, min(end, lengths[contig])))
    return RegionSet(checked)


def _read_bed(path: str, lengths: Dict[str, int], ref_path: str) -> RegionSet:
    _require_file(path, "BED file")
    return RegionSet(read_bed(path, lengths))


def _check_vcf_contigs(path: str, what: str, lengths: Dict[str, int], ref_path: str) -> None:
    """A VCF whose contigs (its header's and its first record's) are none of the reference's: one error. With
    --regions or --bed its records would all fall outside them and score F1 0 without a word (chr20 vs 20)."""
    try:
        with _open_vcf(path, what) as vcf:
            declared, first = list(vcf.header.contigs), [rec.chrom for rec in itertools.islice(vcf, 1)]
    except (OSError, ValueError):
        return  # a record htslib cannot parse: the loader names it
    names = declared or first
    if names and not set(names) & set(lengths) and not set(first) & set(lengths):
        raise InputError(f"{what} {path} names contigs {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}, none of "
                         f"which is in reference {ref_path} (it has {_some_names(lengths)}): wrong reference or naming "
                         "(chr20 vs 20)?")


def _some_names(lengths: Dict[str, int]) -> str:
    names = list(lengths)
    shown = ", ".join(names[:5])
    return shown + (f", ... ({len(names)} contigs)" if len(names) > 5 else "")


def _share_a_base(a: RegionSet, b: RegionSet) -> bool:
    return any(b.overlaps(c, s, e) for c, ivs in a.by_contig().items() for s, e in ivs)


class _Selector:
    """Which 0-based positions count (regions AND BED), and which windows to read."""

    def __init__(self, regions: Optional[RegionSet], bed: Optional[RegionSet]):
        self.sets = [s for s in (regions, bed) if s is not None]

    def contains(self, contig: str, pos0: int) -> bool:
        return all(s.contains(contig, pos0) for s in self.sets)

    def windows(self, lengths: Dict[str, int]) -> Optional[Dict[str, List[Tuple[int, int]]]]:
        """Padded intervals to read per contig, or None for the whole file."""
        if not self.sets:
            return None
        # Regions restrict more than a (possibly genome-wide) BED; read the smaller set.
        base = min(self.sets, key=lambda ivs: ivs.size)
        return RegionSet(Region(c, max(0, s - _FETCH_PAD), min(lengths[c], e + _FETCH_PAD))
                         for c, v in base.by_contig().items() for s, e in v).by_contig()


def _open_vcf(path: str, what: str) -> pysam.VariantFile:
    # htslib logs "[E::idx_find_and_load] Could not retrieve index file" for an
    # unindexed .vcf.gz, which is fine here (the file is then read sequentially).
    return open_variant_file(path, what)


def _pick_sample(vf: pysam.VariantFile, path: str, what: str, sample: Optional[str]) -> str:
    samples = list(vf.header.samples)
    if not samples:
        raise InputError(
            f"{what} {path} has no sample column: genotype-aware evaluation needs GT"
        )
    if sample is None:
        if len(samples) > 1:
            log.warning("%s %s holds %d samples (%s): scoring the first, %s (choose with --%s-sample)", what, path,
                        len(samples), ", ".join(samples[:5]) + (", ..." if len(samples) > 5 else ""), samples[0],
                        what.split()[0])
        return samples[0]
    if sample not in samples:
        raise InputError(
            f"sample {sample!r} is not in {what} {path} (it has {', '.join(samples[:10])})"
        )
    return sample


def _records(vf: pysam.VariantFile, windows) -> Iterator[pysam.VariantRecord]:
    """All records, or those overlapping ``windows`` (through the index if there is one)."""
    if windows is None:
        yield from vf
        return
    indexed = vf.index is not None
    if not indexed:
        for rec in vf:
            ivs = windows.get(rec.chrom)
            if ivs and any(rec.start < e and rec.stop > s for s, e in ivs):
                yield rec
        return
    for contig, ivs in windows.items():
        prev_end = None
        for s, e in ivs:
            try:
                it = vf.fetch(contig, s, e)
            except ValueError:  # contig absent from this VCF: no records there
                break
            for rec in it:
                # A record spanning two windows was already returned by the first.
                if prev_end is not None and rec.start < prev_end:
                    continue
                yield rec
            prev_end = e


@dataclass
class _Taken:
    """One VCF record taken for a comparison, with its normalised alleles inside the selection."""

    contig: str
    pos: int  # 1-based, as in the VCF
    ref: str
    carried: List[Tuple[str, int]]  # the sequence ALTs its GT carries, with their copies
    gq: Optional[int]
    gt: Tuple[int, ...]  # missing alleles as 0
    alleles: Dict[AlleleKey, int]  # normalised: {(contig, POS, REF, ALT): copies}


def _load_alleles(path, what, sample, fasta, lengths, ref_path, selector, pass_only,
                  origins: Optional[Dict[AlleleKey, List[int]]] = None):
    """Normalised alleles of one VCF as {(contig, POS, REF, ALT): copies}; with `origins`, also the POS of every
    record each came from (two, where a caller wrote one allele twice), there."""
    out: Dict[AlleleKey, int] = {}
    for taken in _take_records(path, what, sample, fasta, lengths, ref_path, selector, pass_only):
        for key, n in taken.alleles.items():
            out[key] = out.get(key, 0) + n
            if origins is not None and taken.pos not in origins.setdefault(key, []):
                origins[key].append(taken.pos)
    return out


def _take_records(path, what, sample, fasta, lengths, ref_path, selector, pass_only,
                  keep=lambda rec: True, reference_calls: bool = False) -> List[_Taken]:
    """The records of one VCF that count (FILTER, `keep`, a GT carrying an ALT unless `reference_calls`),
    checked against the reference, with their alleles normalised by bcftools norm (split, atomised,
    left-aligned) in one batch."""
    vf = _open_vcf(path, what)
    try:
        sample = _pick_sample(vf, path, what, sample)
        if "GT" not in vf.header.formats:
            raise InputError(f"{what} {path} has no GT FORMAT field: cannot compare genotypes")
        taken: List[_Taken] = []
        seen: set = set()
        try:
            for rec in _records(vf, selector.windows(lengths)):
                if (pass_only and not _passes(rec)) or not keep(rec):
                    continue
                call = rec.samples[sample]
                # the same record with the same GT again (a hom-alt split 0/1 + 1/0 is two halves, not a copy)
                ident = (rec.chrom, rec.pos, rec.ref, rec.alts, tuple(call.get("GT") or ()))
                if ident in seen:  # counted twice, a TP would read as an FP and an FN
                    raise InputError(f"{what} {path} holds the record {rec.chrom}:{rec.pos} {rec.ref}>{','.join(rec.alts or ())} "
                                     "twice (VCFs of overlapping shards concatenated?): remove the copies, e.g. "
                                     "`bcftools norm -d exact`")
                seen.add(ident)
                alts = _carried_alts(rec, call, what, path, fasta, lengths, ref_path)
                if alts is None and not reference_calls:
                    continue
                gq = call.get("GQ") if "GQ" in call else None
                gt = tuple(diploid_alleles(call.get("GT")) or (0, 0))
                taken.append(_Taken(rec.chrom, rec.pos, (rec.ref or "").upper(), alts or [], gq, gt, {}))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {what} {path}: {exc}") from exc
    finally:
        vf.close()
    for i, contig, pos0, ref, alt, copies in _normalised(taken, lengths, ref_path):
        if not selector.sets or selector.contains(contig, pos0):
            key = (contig, pos0 + 1, ref, alt)
            taken[i].alleles[key] = taken[i].alleles.get(key, 0) + copies
    return taken


def _passes(rec: pysam.VariantRecord) -> bool:
    keys = list(rec.filter.keys())
    return not keys or keys == ["PASS"]


def _carried_alts(rec, call, what, path, fasta, lengths, ref_path) -> Optional[List[Tuple[str, int]]]:
    """[(ALT, copies in GT)] of the sequence ALTs a record's GT carries (None when it carries none; symbolic
    ALTs, '*' and breakends are left out), after checking the record against the reference."""
    try:
        gt = call["GT"]
    except KeyError:
        return None
    copies: Dict[int, int] = {}
    for a in diploid_alleles(gt):  # '.' counts as reference; a haploid `1` as `1/1`, as hap.py scores it
        if a > 0:
            copies[a] = copies.get(a, 0) + 1
    if not copies:
        return None
    contig, alleles = rec.chrom, rec.alleles
    if contig not in lengths:
        raise InputError(
            f"{what} {path} has records on contig {contig!r}, which is not in reference "
            f"{ref_path} (it has {_some_names(lengths)}): wrong reference or naming (chr20 vs 20)?"
        )
    ref = (alleles[0] or "").upper()
    start = rec.pos - 1
    if start + len(ref) > lengths[contig]:
        raise InputError(
            f"{what} {path}: record {contig}:{rec.pos} runs past the end of the contig "
            f"in reference {ref_path}: wrong reference?"
        )
    ref_seq = fasta.fetch(contig, start, start + len(ref)).upper()
    for r, f in zip(ref, ref_seq):
        if r != f and r in _ACGT and f in _ACGT:
            raise InputError(
                f"{what} {path}: REF {alleles[0]!r} at {contig}:{rec.pos} does not match the "
                f"reference ({ref_seq!r} in {ref_path}): was it called against another reference?"
            )
    out = []
    for idx, n in sorted(copies.items()):
        if idx >= len(alleles):
            raise InputError(
                f"{what} {path}: GT of {contig}:{rec.pos} names allele {idx} but the "
                f"record has only {len(alleles) - 1} ALT"
            )
        alt = alleles[idx].upper()
        if alt and alt not in (".", "*") and not alt.startswith("<") and "[" not in alt and "]" not in alt and alt != ref:
            out.append((alt, n))
    return out or None


# --------------------------------------------------------------------------- normalisation


def _normalised(taken: Sequence[_Taken], lengths: Dict[str, int], ref_path: str):
    """(record index, contig, 0-based POS, REF, ALT, copies) of every normalised allele of the records, from
    `bcftools norm -f REF -m -any -a --atom-overlaps .` (the bcftools bundled with pysam) run over a VCF of
    just their carried ALTs and genotypes; each record's index travels as its ID."""
    if not taken:
        return
    header = pysam.VariantHeader()
    for contig, length in lengths.items():
        header.contigs.add(contig, length=length)
    header.add_line('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header.add_sample("S")
    with tempfile.TemporaryDirectory(prefix="dvcall-evaluate-") as tmp:
        raw, normed = os.path.join(tmp, "taken.vcf"), os.path.join(tmp, "normalised.vcf")
        with pysam.VariantFile(raw, "w", header=header) as out:
            for i, t in enumerate(taken):
                if not t.carried:
                    continue
                rec = out.new_record(contig=t.contig, start=t.pos - 1, alleles=[t.ref, *(a for a, _ in t.carried)], id=str(i))
                gt = [j for j, (_, n) in enumerate(t.carried, 1) for _ in range(n)]
                rec.samples["S"]["GT"] = tuple(gt + [0] * (len(t.gt) - len(gt)))
                out.write(rec)
        try:
            pysam.bcftools.norm("-f", ref_path, "-m", "-any", "-a", "--atom-overlaps", ".", "-c", "w", "--no-version",
                                "-o", normed, raw, catch_stdout=False)
        except pysam.utils.SamtoolsError as exc:
            raise InputError(f"bcftools norm could not normalise the records against {ref_path}: {exc}") from None
        with pysam.VariantFile(normed) as vf:
            for rec in vf:
                alt = (rec.alts or (".",))[0].upper()
                copies = sum(1 for a in rec.samples["S"]["GT"] or () if a == 1)
                if alt not in (".", "*") and copies:
                    yield int(rec.id), rec.chrom, rec.pos - 1, rec.ref.upper(), alt, copies


# --------------------------------------------------------------------------- multi-allelic sites


@dataclass
class GenotypedSite:
    """One record of a caller's VCF (any FILTER) and whether its genotype is right by the truth."""

    contig: str
    pos: int  # 1-based, as in the VCF
    gq: int
    called: Tuple[int, int]  # GT; a no-call RefCall ('./.') counts as the 0/0 it stands for
    correct: bool


def genotyped_sites(truth_vcf: str, query_vcf: str, ref_fasta: str,
                    regions: Optional[List[Tuple[str, int, int]]] = None, bed: Optional[str] = None) -> List[GenotypedSite]:
    """Every query record inside `regions` and `bed` with its GQ and whether its genotype matches the truth:
    its normalised alleles (none for 0/0) equal the truth's alleles, copies included, whose normalised
    position lies in the record's REF span (or from where its own alleles left-align to), or, as evaluate()
    credits them, the cluster of nearby alleles that holds the record's and those truth alleles
    (haplotype_match.clusters: the truth's and every record's) spells the same two haplotypes on both sides: a
    repeat expansion written as one record by the caller and as two by the truth is right in each of its
    records. For calibration: GQ says how likely that is."""
    with _inputs(truth_vcf, query_vcf, ref_fasta, regions, bed) as (fasta, lengths, selector):
        truth = _load_alleles(truth_vcf, "truth VCF", None, fasta, lengths, ref_fasta, selector, True)
        by_contig: Dict[str, List[Tuple[int, AlleleKey]]] = {}
        for key in truth:
            by_contig.setdefault(key[0], []).append((key[1], key))
        for v in by_contig.values():
            v.sort()

        def keep(rec) -> bool:
            return (not selector.sets or selector.contains(rec.chrom, rec.pos - 1)) and rec.samples[0].get("GQ") is not None

        sites = list(_take_records(query_vcf, "query VCF", None, fasta, lengths, ref_fasta, selector, False, keep,
                                   reference_calls=True))
        called: Dict[str, List[Tuple[int, AlleleKey, int]]] = {}  # every record's alleles, for the clusters
        for site in sites:
            for key, copies in site.alleles.items():
                called.setdefault(key[0], []).append((key[1], key, copies))
        for v in called.values():
            v.sort()
        positions_of = {contig: [p for p, _ in entries] for contig, entries in by_contig.items()}
        out: List[GenotypedSite] = []
        for site in sites:
            entries = by_contig.get(site.contig, [])
            positions = positions_of.get(site.contig, [])
            first = min([site.pos] + [k[1] for k in site.alleles])  # a left-aligned allele may start before POS
            lo = bisect.bisect_left(positions, first)
            hi = bisect.bisect_right(positions, site.pos + len(site.ref) - 1)
            expected = {key: truth[key] for _, key in entries[lo:hi]}
            correct = site.alleles == expected or haplotype_match.equivalent(expected, site.alleles, fasta.fetch) \
                or _cluster_matches(site, expected, entries, truth, called.get(site.contig, []), fasta.fetch)
            out.append(GenotypedSite(site.contig, site.pos, int(site.gq), site.gt, correct))
    return out


_CLUSTER_REACH = 200  # bases either side of a record searched for the alleles of its cluster


def _cluster_matches(site, expected: Dict[AlleleKey, int], truth_entries, truth: Dict[AlleleKey, int],
                     called_entries, fetch) -> bool:
    """Whether the haplotype_match cluster(s) holding the record's alleles and its expected truth alleles spell
    the same haplotypes in the truth as in all the calls."""
    mine = set(site.alleles) | set(expected)
    if not mine:
        return False
    lo, hi = min(k[1] for k in mine) - _CLUSTER_REACH, max(k[1] for k in mine) + _CLUSTER_REACH
    near_truth: Dict[AlleleKey, int] = {}
    for pos, key in truth_entries[bisect.bisect_left(truth_entries, (lo,)):]:
        if pos > hi:
            break
        near_truth[key] = truth[key]
    near_called: Dict[AlleleKey, int] = {}
    for pos, key, copies in called_entries[bisect.bisect_left(called_entries, (lo,)):]:
        if pos > hi:
            break
        near_called[key] = min(2, near_called.get(key, 0) + copies)
    t_keys, q_keys = set(), set()
    for t_cluster, q_cluster in haplotype_match.clusters(near_truth, near_called, fetch=fetch):
        if mine & (set(t_cluster) | set(q_cluster)):
            t_keys.update(t_cluster)
            q_keys.update(q_cluster)
    return haplotype_match.equivalent({k: near_truth[k] for k in t_keys}, {k: near_called[k] for k in q_keys}, fetch)


def multiallelic_concordance(truth_vcf: str, query_vcf: str, ref_fasta: str,
                             regions: Optional[List[Tuple[str, int, int]]] = None, bed: Optional[str] = None) -> Tuple[int, int]:
    """(concordant, total) over truth records with two or more ALT alleles (inside `regions` and `bed`).

    A site is concordant when every normalised allele of its truth genotype is in the query with the
    same number of copies (so a 1/2 called 1/1, 0/1 or with a wrong second allele is discordant).
    """
    with _inputs(truth_vcf, query_vcf, ref_fasta, regions, bed) as (fasta, lengths, selector):
        query = _load_alleles(query_vcf, "query VCF", None, fasta, lengths, ref_fasta, selector, True)
        sites = _take_records(truth_vcf, "truth VCF", None, fasta, lengths, ref_fasta, selector, True,
                              keep=lambda rec: len(rec.alts or ()) >= 2)
    sites = [site for site in sites if site.alleles]
    return sum(all(query.get(k, 0) == n for k, n in site.alleles.items()) for site in sites), len(sites)

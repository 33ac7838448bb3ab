"""Whether a sample's --reads files hold one individual's reads: each file's reads at the SNPs where another
file's reads (and where all the other files' reads) are homozygous ALT.

Several files are pooled and called as one sample (lanes, runs, a second technology), and one file often holds
several lanes as read groups. A file or a lane from another individual that names the same sample (a swapped
tube, a mislabelled or re-headered file, a lane demultiplexed into the wrong sample) would be pooled without a
word, and the calls would then be a mixture of two people's genotypes. The units compared are the files, and
within a file of several @RG lines of one sample its read groups. At a site where a file's reads
are all ALT, a file of the same individual shows the reference base only through errors and mismapping (under 2%
of its reads there); an unrelated individual is homozygous REF or heterozygous at many such sites and shows it in
roughly a third of its reads. Each file is set against every other file (several lanes from the wrong tube agree
with each other, and pooled they would hide each other) and against all the others pooled (low-coverage lanes).
Sites are chosen by the other side's reads alone, so a file's own errors cannot select them.

The reads are probed in windows spread over the calling regions (each interval widened to at least MIN_PIECE
first, so that a BED of exome targets or single sites is probed around them), round after round until enough
homozygous-ALT sites are seen.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .alignment_files import mapped_per_contig
from .candidates import count_alleles
from .read_events import encode_bases, extract_events
from .reads import ReadFilter, ReadSources, fetch_reads, read_groups
from .reference import Reference
from .regions import Region, merge_regions

log = logging.getLogger("dvcall")

PROBE_WINDOWS = 24  # windows a round, spread over the calling regions
PROBE_WIDTH = 5_000  # bp of calling regions (widened) each; a round of a human genome at 30x sees ~40 hom-ALT SNPs
PROBE_ROUNDS = 8  # at most this many rounds (960 kb) where sites are sparse (exomes, panels, low coverage)
ENOUGH_SITES = 60  # pooled homozygous-ALT sites after which no further round is read
MIN_PIECE = 1_000  # each calling interval is probed over at least this many bp around it
PROBE_READS_PER_KB = 600  # reads kept per kb of a piece (reservoir-sampled above: ~90x of short reads)
MIN_OTHER_DEPTH = 8  # reads on the other side at a site, to call it homozygous ALT
MIN_OTHER_ALT = 0.95  # their share that carries the ALT base (a het shows 8 of 8 ALT once in 256)
MIN_SITES = 15  # homozygous-ALT sites a file must cover to be judged
MIN_READS = 40  # and its reads there
WARN_REF_FRACTION = 0.08  # one individual's units: 0-10% (at few sites); another's whole lane: 40-71% (README)
MIN_OWN_SITES = 20  # a file's own variant sites (>= 8 reads, >= 20% ALT) needed to judge whether it looks haploid
HAPLOID_HET_SHARE = 0.1  # below this share of heterozygous-looking sites, a file holds one haplotype's reads
LINKED_SHORT_BP = 1_000  # sites closer than this count once: short reads' fragments link hets this far
LINKED_LONG_BP = 10_000  # and where the other side's reads are long (a long read spans many hets)
LONG_READ_MEAN = 1_000  # a unit whose probed reads average at least this many bases holds long reads
REF_SITE_SHARE = 0.25  # a site counts as showing REF when its REF reads are at least this share (and one)
MIN_REF_SITES = 3  # such sites needed to disagree
MIN_REF_SITE_SHARE = 0.15  # and this share of the sites judged (one individual: hets that a few reads of one haplotype
# made look homozygous, 3 of 29 sites at most in 230 HiFi splits; another: a third to half of them, and at 2x a lane
# one third another person's about a quarter)
MAX_PAIRWISE = 48  # units set against each other one by one (2,256 pairs); more (hundreds of read groups): pooled only


@dataclass(frozen=True)
class FileAgreement:
    """A file's reads at the sites where the other side's reads show homozygous ALT."""

    sites: int  # such sites the file has a REF or ALT read at
    reads: int  # its REF and ALT reads there
    ref_reads: int  # of them, REF
    ref_sites: int = 0  # sites where its REF reads are at least REF_SITE_SHARE of its reads (and one)

    @property
    def ref_fraction(self) -> float:
        return self.ref_reads / self.reads if self.reads else 0.0

    @property
    def judged(self) -> bool:
        return self.sites >= MIN_SITES and self.reads >= MIN_READS

    @property
    def disagrees(self) -> bool:
        """REF reads over WARN_REF_FRACTION, and spread over many sites: a few sites where a few reads of one
        haplotype looked homozygous by chance cannot carry it (another individual shows REF at a third to half
        of the sites)."""
        return (self.judged and self.ref_fraction >= WARN_REF_FRACTION
                and self.ref_sites >= max(MIN_REF_SITES, MIN_REF_SITE_SHARE * self.sites))


def agreement(own_ref: np.ndarray, own_sub: np.ndarray, other_ref: np.ndarray, other_sub: np.ndarray,
              pos: np.ndarray | None = None, linked_bp: int = 1) -> FileAgreement:
    """One unit's reads (`own_ref` [L] with the reference base, `own_sub` [L, 4] with each other base) at the
    positions where the other side's reads are homozygous ALT. With `pos` (each column's place on the genome laid
    end to end), sites within one `linked_bp` stretch count once, the first: a few reads that all come from one
    haplotype show every het they span as homozygous ALT together (long reads, duplicates), one stretch's worth
    of evidence that must not weigh as many independent sites."""
    alt = other_sub.argmax(axis=1)
    cols = np.arange(len(other_ref))
    other_alt = other_sub[cols, alt]
    other_depth = other_ref + other_sub.sum(axis=1)
    own_alt = own_sub[cols, alt]
    hom = (other_depth >= MIN_OTHER_DEPTH) & (other_alt >= MIN_OTHER_ALT * other_depth) & (own_ref + own_alt > 0)
    if pos is not None and linked_bp > 1 and hom.any():
        hom = _unlinked(hom, pos, linked_bp)
    own_reads = own_ref + own_alt
    ref_sites = int((hom & (own_ref >= 1) & (own_ref >= REF_SITE_SHARE * own_reads)).sum())
    return FileAgreement(int(hom.sum()), int(own_reads[hom].sum()), int(own_ref[hom].sum()), ref_sites)


def _unlinked(mask: np.ndarray, pos: np.ndarray, linked_bp: int) -> np.ndarray:
    """`mask` thinned so that no two kept columns lie within `linked_bp` of each other (the first of each run)."""
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(pos[idx], kind="stable")]
    keep, last = [], None
    for i, p in zip(idx.tolist(), pos[idx].tolist()):
        if last is None or p - last >= linked_bp:
            keep.append(i)
            last = p
    out = np.zeros_like(mask)
    out[keep] = True
    return out


def looks_haploid(ref: np.ndarray, sub: np.ndarray) -> bool:
    """Whether one unit's reads show (almost) no heterozygous site: one haplotype's reads (`whatshap split`, trio
    binning) or a haploid contig's, whose homozygous-looking sites are no evidence against another unit."""
    depth = ref + sub.sum(axis=1)
    top = sub.max(axis=1)
    vaf = top / np.maximum(depth, 1)
    variant = (depth >= MIN_OTHER_DEPTH) & (vaf >= 0.2)
    if variant.sum() < MIN_OWN_SITES:
        return False
    het = variant & (vaf >= 0.25) & (vaf <= 0.75)
    return het.sum() < HAPLOID_HET_SHARE * variant.sum()


@dataclass(frozen=True)
class ProbeCounts:
    """What the probe saw, per unit (reads_units) and probed column: `ref` [units, L] reads with the reference
    base, `sub` [units, L, 4] with each other base, `pos` [L] the column's place on the genome laid end to end,
    `long` [units] whether the unit's reads are long (their hets are linked over a read's length)."""

    ref: np.ndarray
    sub: np.ndarray
    pos: np.ndarray
    long: np.ndarray

    @staticmethod
    def of(ref: np.ndarray, sub: np.ndarray, long: Sequence[bool] | None = None, pos: np.ndarray | None = None
           ) -> "ProbeCounts":
        """Hand-built counts (tests): columns LINKED_LONG_BP apart unless `pos` says otherwise."""
        return ProbeCounts(ref, sub, np.arange(ref.shape[1]) * LINKED_LONG_BP if pos is None else pos,
                           np.zeros(len(ref), bool) if long is None else np.asarray(long, bool))


@dataclass(frozen=True)
class Finding:
    """The most discordant comparison: unit `own` against unit `other` (None: all the other units pooled)."""

    own: int
    other: int | None
    agreement: FileAgreement


def comparisons(counts: ProbeCounts) -> list[Finding]:
    """Every ordered pair of units (up to MAX_PAIRWISE of them), then every unit against the others pooled; none
    against a side that looks haploid (looks_haploid)."""
    ref, sub, pos = counts.ref, counts.sub, counts.pos
    units = len(ref)
    if units < 2:
        return []
    haploid = [looks_haploid(ref[i], sub[i]) for i in range(units)]

    def linked(others) -> int:
        return LINKED_LONG_BP if counts.long[others].any() else LINKED_SHORT_BP

    pairwise = range(units) if units <= MAX_PAIRWISE else range(0)
    out = [Finding(i, j, agreement(ref[i], sub[i], ref[j], sub[j], pos, linked([j])))
           for i in pairwise for j in pairwise if i != j and not haploid[j]]
    if units > 2:
        total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
        for i in range(units):
            other_ref, other_sub = total_ref - ref[i], total_sub - sub[i]
            if not looks_haploid(other_ref, other_sub):
                others = [j for j in range(units) if j != i]
                out.append(Finding(i, None, agreement(ref[i], sub[i], other_ref, other_sub, pos, linked(others))))
    return out


def worst_disagreement(counts: ProbeCounts, made: list[Finding] | None = None) -> Finding | None:
    """Of the comparisons (`made`, default all of them) that disagree, the one with the largest REF share, pairs
    before the pooled ones."""
    found = [f for f in (comparisons(counts) if made is None else made) if f.agreement.disagrees]
    pairs = [f for f in found if f.other is not None]
    return max(pairs or found, key=lambda f: f.agreement.ref_fraction) if found else None


def disagreement_warning(names: Sequence[str], counts: ProbeCounts, made: list[Finding] | None = None) -> str | None:
    """One line naming the units (reads_units: a file, or a read group of one) whose reads look like two
    individuals', if any do."""
    if len(names) < 2:
        return None
    made = comparisons(counts) if made is None else made
    finding = worst_disagreement(counts, made)
    if finding is None:
        return None
    a = finding.agreement
    own = names[finding.own]
    other = names[finding.other] if finding.other is not None else "the rest of the reads"
    seen = (f"where {other} {'are' if finding.other is None else 'is'} homozygous ALT ({a.sites} SNPs), "
            f"{a.ref_fraction:.0%} of the {a.reads:,} reads in {own} show the reference base (one individual's: a few %)")
    if finding.other is not None:
        partners = _partners(made)
        first, second = sorted((finding.own, finding.other), key=lambda u: -len(partners.get(u, ())))  # the stranger first
        return (f"{names[first]} and {names[second]} look like two individuals' reads: {seen}; they are pooled "
                "and called as one sample: check where each came from (a swapped or mislabelled sample or lane), or "
                "call them apart")
    return (f"{own} looks like another individual's reads: {seen}; they are pooled and called as one sample: check "
            "where they came from (a swapped or mislabelled sample or lane), or call them apart")


def _partners(made: Sequence[Finding]) -> dict[int, set[int]]:
    """For each unit in a disagreeing pair (either way), the units it disagrees with: a stranger among one
    person's lanes disagrees with all of them, each of those lanes with the stranger alone."""
    out: dict[int, set[int]] = {}
    for f in made:
        if f.other is not None and f.agreement.disagrees:
            out.setdefault(f.own, set()).add(f.other)
            out.setdefault(f.other, set()).add(f.own)
    return out


def probe_pieces(regions: Sequence[Region], lengths: dict[str, int]) -> list[Region]:
    """The calling regions, each interval widened to at least MIN_PIECE around its middle (within its contig),
    sorted and merged."""
    out = []
    for r in regions:
        if r.length < MIN_PIECE:
            start = max(0, (r.start + r.end) // 2 - MIN_PIECE // 2)
            r = Region(r.contig, start, min(lengths.get(r.contig, start + MIN_PIECE), start + MIN_PIECE))
        out.append(r)
    return merge_regions(out, list(lengths))


def _van_der_corput(i: int) -> float:
    """The i-th point (from 0) of the base-2 van der Corput sequence: 0.5, 0.25, 0.75, 0.125, ... (evenly spread
    at every prefix)."""
    x, f, i = 0.0, 0.5, i + 1
    while i:
        x += f * (i & 1)
        i >>= 1
        f /= 2
    return x


def probe_windows(pieces: Sequence[Region], width: int = PROBE_WIDTH, most: int = PROBE_WINDOWS * PROBE_ROUNDS
                  ) -> list[list[Region]]:
    """Windows of `width` bp of the pieces laid end to end (each a list of intervals), in an order that spreads
    every prefix evenly over them; at most `most`, none twice."""
    lengths = np.array([p.length for p in pieces], np.int64)
    total = int(lengths.sum())
    if total <= 0:
        return []
    slots = -(-total // width)
    ends = np.cumsum(lengths)
    order, seen = [], set()
    for i in range(4 * most):
        slot = int(_van_der_corput(i) * slots)
        if slot not in seen:
            seen.add(slot)
            order.append(slot)
        if len(order) >= min(most, slots):
            break
    windows = []
    for slot in order:
        lo, hi = slot * width, min(total, (slot + 1) * width)
        parts = []
        j = int(np.searchsorted(ends, lo, side="right"))
        while j < len(pieces) and lo < hi:
            p, p_start = pieces[j], int(ends[j]) - pieces[j].length
            take_lo, take_hi = lo - p_start, min(hi, int(ends[j])) - p_start
            parts.append(Region(p.contig, p.start + take_lo, p.start + take_hi))
            lo = int(ends[j])
            j += 1
        windows.append(parts)
    return windows


@dataclass(frozen=True)
class ReadsUnit:
    """What is compared: a --reads file (`read_group` None: all its reads), or one read group of a file that holds
    several of one sample (`read_group` "": its reads without a known RG tag)."""

    file: int
    path: str
    read_group: str | None = None

    @property
    def name(self) -> str:
        if self.read_group is None:
            return f"--reads {self.path}"
        return (f"read group {self.read_group} of {self.path}" if self.read_group
                else f"the reads of {self.path} without a known read group")


def reads_units(paths: Sequence[str], read_groups: Sequence[Sequence[tuple[str, str]]]) -> list[ReadsUnit]:
    """The units to compare: each file's read groups (`read_groups[i]`: its (@RG ID, SM) pairs) where it holds two
    or more of one sample (or of none named), else the file. A file of several samples' read groups is one unit: it
    is warned of as a pooled file already."""
    units = []
    for i, (path, groups) in enumerate(zip(paths, read_groups)):
        if len(groups) >= 2 and len({sm for _, sm in groups if sm}) <= 1:  # an @RG without SM: the file's sample
            units += [ReadsUnit(i, path, rg) for rg, _ in groups] + [ReadsUnit(i, path, "")]
        else:
            units.append(ReadsUnit(i, path))
    return units


def _fragment_key(read) -> tuple:
    return (read.reference_start, read.reference_end, read.is_reverse, read.next_reference_start, read.is_read2)


def _counts(reads: list, reference: Reference, window: Region, ref_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(ref counts, other-base counts) of `reads` over `window`, each fragment once (copies that no duplicate flag
    marks would otherwise vouch for one molecule many times), and (reads, their bases)."""
    if reads:
        seen: set = set()
        reads = [r for r in reads if not ((key := _fragment_key(r)) in seen or seen.add(key))]
    if not reads:
        return np.zeros(window.length, np.int64), np.zeros((window.length, 4), np.int64), 0, 0
    lo = max(0, min(r.reference_start for r in reads) - 1)
    hi = max(r.reference_end for r in reads) + 1
    events = extract_events(reads, reference.fetch(window.contig, lo, hi), lo)
    counts = count_alleles(events, ref_codes, window.start, window.end, indels=False)
    return counts.ref_count, counts.sub_counts, len(reads), int(events.length.sum())


def _unit_counts(source: ReadSources, units: Sequence[ReadsUnit], reference: Reference, window: Region,
                 ref_codes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """_counts of each of one file's units over `window`."""
    reads = fetch_reads(source, window, ReadFilter(max_reads_per_partition=max(200, window.length * PROBE_READS_PER_KB // 1000)))
    if len(units) == 1:
        return [_counts(reads, reference, window, ref_codes)]
    known = {u.read_group for u in units}
    groups: dict[str, list] = {}
    for r in reads:
        rg = str(r.get_tag("RG")) if r.has_tag("RG") else ""  # RG:i:0 names @RG ID:0 too
        groups.setdefault(rg if rg in known else "", []).append(r)
    return [_counts(groups.get(u.read_group, []), reference, window, ref_codes) for u in units]


def _pooled_hom_alt(ref: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """The columns where all units' reads together are homozygous ALT."""
    total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
    depth = total_ref + total_sub.sum(axis=1)
    return (depth >= MIN_OTHER_DEPTH) & (total_sub.max(axis=1) >= MIN_OTHER_ALT * depth)


def file_counts(sources: ReadSources, reference: Reference, windows: Sequence[Sequence[Region]],
                enough: int = ENOUGH_SITES, units: Sequence[ReadsUnit] | None = None) -> ProbeCounts:
    """Each unit's (default: each file's; file by file) counts at the probed positions where the reads show some
    other base (two reads of one, pooled). Windows are read a round (PROBE_WINDOWS) at a time until the pooled reads
    show `enough` homozygous-ALT sites and every unit with reads has MIN_READS reads there (or the windows run out:
    a unit without reads, such as the reads without a known read group, never holds the probe up)."""
    if units is None:
        units = [ReadsUnit(i, p) for i, p in enumerate(sources.paths)]
    if [u.file for u in units] != sorted(u.file for u in units):
        raise ValueError("units must come file by file, as reads_units gives them")
    singles = [ReadSources((p,), (h,), reference) for p, h in zip(sources.paths, sources.handles)]  # share the handles
    per_file = [[u for u in units if u.file == i] for i in range(len(singles))]
    lengths = reference.lengths  # a copy per access
    offsets = dict(zip(lengths, np.cumsum([0] + list(lengths.values()))[:-1].tolist()))
    refs, subs = [np.zeros((len(units), 0), np.int64)], [np.zeros((len(units), 0, 4), np.int64)]
    places = [np.zeros(0, np.int64)]
    reads, bases = np.zeros(len(units), np.int64), np.zeros(len(units), np.int64)
    hom_alt, at_hom = 0, np.zeros(len(units), np.int64)  # pooled hom-ALT sites; each unit's reads there
    for k, window in enumerate(windows):
        if k and k % PROBE_WINDOWS == 0 and hom_alt >= enough and at_hom[reads > 0].min(initial=MIN_READS) >= MIN_READS:
            break
        for part in window:
            codes = encode_bases(reference.fetch(part.contig, part.start, part.end))
            parts = [c for s, us in zip(singles, per_file) if us for c in _unit_counts(s, us, reference, part, codes)]
            ref, sub = np.stack([c[0] for c in parts]), np.stack([c[1] for c in parts])
            reads += [c[2] for c in parts]
            bases += [c[3] for c in parts]
            keep = np.flatnonzero(sub.sum(axis=0).max(axis=1) >= 2)  # a variant or an error: the rest tells nothing
            refs.append(ref[:, keep])
            subs.append(sub[:, keep])
            places.append(offsets[part.contig] + part.start + keep)
            hom = _pooled_hom_alt(refs[-1], subs[-1])
            hom_alt += int(hom.sum())
            at_hom += refs[-1][:, hom].sum(axis=1) + subs[-1][:, hom].sum(axis=(1, 2))
    long = bases >= LONG_READ_MEAN * np.maximum(reads, 1)
    return ProbeCounts(np.concatenate(refs, axis=1), np.concatenate(subs, axis=1), np.concatenate(places), long)


def _with_reads(sources: ReadSources, reference: Reference, regions: Sequence[Region]) -> list[Region]:
    """`regions` (the contigs shared by reads and reference when empty) on contigs the files' indexes say hold
    mapped reads (all of them for a CRAM, whose index does not say)."""
    if not regions:
        regions = [Region(c, 0, reference.length(c)) for c in sources.references if c in reference]
    counts = [mapped_per_contig(h) for h in sources.handles]
    if None in counts:
        return [r for r in regions if r.contig in sources.contig_set and r.contig in reference]
    held = {c for n in counts for c, k in n.items() if k}
    return [r for r in regions if r.contig in held and r.contig in reference]


def individuals_warning(sources: ReadSources, reference: Reference, regions: Sequence[Region]) -> str | None:
    """disagreement_warning over probe windows of the calling `regions` (every contig holding reads when empty),
    between the files and the read groups of reads_units; nothing for one file of one read group."""
    units = reads_units(sources.paths, [read_groups(h) for h in sources.handles])
    if len(units) < 2:
        return None
    pieces = probe_pieces(_with_reads(sources, reference, regions), reference.lengths)
    counts = file_counts(sources, reference, probe_windows(pieces), units=units)
    made = comparisons(counts)
    if not any(f.agreement.judged for f in made):
        named = [u for u in units if u.read_group != ""]
        log.info("whether the %d %s hold one individual's reads was not checked: too few homozygous-ALT SNPs under "
                 "the probed windows, or too few reads of each there", len(named),
                 "--reads files" if len(sources.paths) > 1 else "read groups")
        return None
    return disagreement_warning([u.name for u in units], counts, made)

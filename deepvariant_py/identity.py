"""Whether a sample's --reads files hold one individual's reads: each file's reads at the SNPs where another
file's reads (and where all the other files' reads) are homozygous ALT.

Several files are pooled and called as one sample (lanes, runs, a second technology). A file from another
individual that names the same sample (a swapped tube, a mislabelled or re-headered file) would be pooled
without a word, and the calls would then be a mixture of two people's genotypes. At a site where a file's reads
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

from .candidates import count_alleles
from .read_events import encode_bases, extract_events
from .reads import ReadFilter, ReadSources, fetch_reads, mapped_per_contig
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
WARN_REF_FRACTION = 0.08  # one individual's files: 0-1.4% on real and simulated lanes; another's: 14-48%
MIN_OWN_SITES = 20  # a file's own variant sites (>= 8 reads, >= 20% ALT) needed to judge whether it looks haploid
HAPLOID_HET_SHARE = 0.1  # below this share of heterozygous-looking sites, a file holds one haplotype's reads


@dataclass(frozen=True)
class FileAgreement:
    """A file's reads at the sites where the other side's reads show homozygous ALT."""

    sites: int  # such sites the file has a REF or ALT read at
    reads: int  # its REF and ALT reads there
    ref_reads: int  # of them, REF

    @property
    def ref_fraction(self) -> float:
        return self.ref_reads / self.reads if self.reads else 0.0

    @property
    def judged(self) -> bool:
        return self.sites >= MIN_SITES and self.reads >= MIN_READS

    @property
    def disagrees(self) -> bool:
        return self.judged and self.ref_fraction >= WARN_REF_FRACTION


def agreement(own_ref: np.ndarray, own_sub: np.ndarray, other_ref: np.ndarray, other_sub: np.ndarray) -> FileAgreement:
    """One file's reads (`own_ref` [L] with the reference base, `own_sub` [L, 4] with each other base) at the
    positions where the other side's reads are homozygous ALT."""
    alt = other_sub.argmax(axis=1)
    cols = np.arange(len(other_ref))
    other_alt = other_sub[cols, alt]
    other_depth = other_ref + other_sub.sum(axis=1)
    own_alt = own_sub[cols, alt]
    hom = (other_depth >= MIN_OTHER_DEPTH) & (other_alt >= MIN_OTHER_ALT * other_depth) & (own_ref + own_alt > 0)
    return FileAgreement(int(hom.sum()), int(own_ref[hom].sum() + own_alt[hom].sum()), int(own_ref[hom].sum()))


def looks_haploid(ref: np.ndarray, sub: np.ndarray) -> bool:
    """Whether one file's reads show (almost) no heterozygous site: one haplotype's reads (`whatshap split`,
    trio binning) or a haploid contig's, which another file of the same person contradicts by design."""
    depth = ref + sub.sum(axis=1)
    top = sub.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, top / np.maximum(depth, 1), 0.0)
    variant = (depth >= MIN_OTHER_DEPTH) & (vaf >= 0.2)
    if variant.sum() < MIN_OWN_SITES:
        return False
    het = variant & (vaf >= 0.25) & (vaf <= 0.75)
    return het.sum() < HAPLOID_HET_SHARE * variant.sum()


@dataclass(frozen=True)
class Finding:
    """The most discordant comparison: file `own` against file `other` (None: all the other files pooled)."""

    own: int
    other: int | None
    agreement: FileAgreement


def worst_disagreement(ref: np.ndarray, sub: np.ndarray) -> Finding | None:
    """Over every ordered pair of files and every file against the others pooled (`ref` [files, L], `sub` [files,
    L, 4]): the comparison with the largest REF share among those that disagree; pairs first."""
    files = len(ref)
    if files < 2:
        return None
    pairs = [Finding(i, j, agreement(ref[i], sub[i], ref[j], sub[j])) for i in range(files) for j in range(files) if i != j]
    found = [f for f in pairs if f.agreement.disagrees]
    if not found and files > 2:
        total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
        pooled = [Finding(i, None, agreement(ref[i], sub[i], total_ref - ref[i], total_sub - sub[i])) for i in range(files)]
        found = [f for f in pooled if f.agreement.disagrees]
    return max(found, key=lambda f: f.agreement.ref_fraction) if found else None


def disagreement_warning(paths: Sequence[str], ref: np.ndarray, sub: np.ndarray) -> str | None:
    """One line naming the files whose reads look like two individuals', if any do (nothing when a file looks
    haploid: its reads would contradict the other haplotype's by design)."""
    if len(paths) < 2 or any(looks_haploid(ref[i], sub[i]) for i in range(len(paths))):
        return None
    finding = worst_disagreement(ref, sub)
    if finding is None:
        return None
    a = finding.agreement
    own = paths[finding.own]
    shown = f"{own} shows the reference base in {a.ref_fraction:.0%} of its {a.reads:,} reads at {a.sites} SNPs"
    if finding.other is not None:
        other = paths[finding.other]
        return (f"--reads {own} and {other} look like two individuals' reads: {shown} where {other} is homozygous ALT "
                "(one individual's files: under 2%); they are pooled and called as one sample: check where each file "
                "came from (a swapped or mislabelled sample), or call them apart")
    return (f"--reads {shown} where the other --reads files are homozygous ALT (one individual's lanes: under 4%): it "
            "looks like another individual's reads, yet they are pooled and called as one sample: check where the file "
            "came from (a swapped or mislabelled sample), or call it on its own")


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


def _interval_counts(source: ReadSources, reference: Reference, window: Region, ref_codes: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    reads = fetch_reads(source, window, ReadFilter(max_reads_per_partition=max(200, window.length * PROBE_READS_PER_KB // 1000)))
    if not reads:
        return np.zeros(window.length, np.int64), np.zeros((window.length, 4), np.int64)
    lo = max(0, min(r.reference_start for r in reads) - 1)
    hi = max(r.reference_end for r in reads) + 1
    events = extract_events(reads, reference.fetch(window.contig, lo, hi), lo)
    counts = count_alleles(events, ref_codes, window.start, window.end, indels=False)
    return counts.ref_count, counts.sub_counts


def _pooled_hom_alt(ref: np.ndarray, sub: np.ndarray) -> int:
    total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
    depth = total_ref + total_sub.sum(axis=1)
    return int(((depth >= MIN_OTHER_DEPTH) & (total_sub.max(axis=1) >= MIN_OTHER_ALT * depth)).sum())


def file_counts(sources: ReadSources, reference: Reference, windows: Sequence[Sequence[Region]],
                enough: int = ENOUGH_SITES) -> tuple[np.ndarray, np.ndarray]:
    """Each file's reference-base and other-base read counts at the probed positions where the files' reads show
    some other base (two reads of one, pooled): ([files, P], [files, P, 4]). Windows are read a round
    (PROBE_WINDOWS) at a time until the pooled reads show `enough` homozygous-ALT sites."""
    singles = [ReadSources((p,), (h,), reference) for p, h in zip(sources.paths, sources.handles)]  # share the handles
    refs, subs = [np.zeros((len(singles), 0), np.int64)], [np.zeros((len(singles), 0, 4), np.int64)]
    hom_alt = 0
    for k, window in enumerate(windows):
        if k and k % PROBE_WINDOWS == 0 and hom_alt >= enough:
            break
        for part in window:
            codes = encode_bases(reference.fetch(part.contig, part.start, part.end))
            pairs = [_interval_counts(s, reference, part, codes) for s in singles]
            ref, sub = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
            keep = np.flatnonzero(sub.sum(axis=0).max(axis=1) >= 2)  # a variant or an error: the rest tells nothing
            refs.append(ref[:, keep])
            subs.append(sub[:, keep])
            hom_alt += _pooled_hom_alt(refs[-1], subs[-1])
    return np.concatenate(refs, axis=1), np.concatenate(subs, axis=1)


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
    """disagreement_warning over probe windows of the calling `regions` (every contig holding reads when empty);
    nothing for one file."""
    if len(sources.handles) < 2:
        return None
    pieces = probe_pieces(_with_reads(sources, reference, regions), reference.lengths)
    ref, sub = file_counts(sources, reference, probe_windows(pieces))
    return disagreement_warning(sources.paths, ref, sub)

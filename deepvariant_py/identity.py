"""Whether a sample's --reads files hold one individual's reads: each file's reads at the SNPs where the other
files' reads are homozygous ALT.

Several files are pooled and called as one sample (lanes, runs, a second technology). A file from another
individual that names the same sample (a swapped tube, a mislabelled or re-headered file) would be pooled
without a word, and the calls would then be a mixture of two people's genotypes. At a site where the other files'
reads are all ALT, a file of the same individual shows the reference base only through errors and mismapping
(about 1% of its reads there); an unrelated individual is homozygous REF or heterozygous at many such sites and
shows it in roughly a third of its reads. Sites are chosen by the other files' reads alone, so a file's own errors
cannot select them.
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
from .regions import Region

log = logging.getLogger("dvcall")

PROBE_WINDOWS = 24  # windows spread evenly over the calling regions
PROBE_WIDTH = 5_000  # bp each: ~40 homozygous-ALT SNPs over 24 windows of a human genome
PROBE_CHUNK = 50_000  # regions shorter than the windows are read whole, in pieces of this many bp (a long read spans
# several 5 kb windows: read once, not once a window)
PROBE_READS_PER_KB = 600  # reads kept per kb of a piece (reservoir-sampled above: ~90x of short reads)
MIN_OTHER_DEPTH = 12  # the other files' reads at a site, to call it homozygous ALT
MIN_OTHER_ALT = 0.95  # their share that carries the ALT base
MIN_SITES = 15  # homozygous-ALT sites a file must cover to be judged
MIN_READS = 40  # and its reads there
WARN_REF_FRACTION = 0.10  # one individual's files: 0-0.1% on real and simulated pairs; another's: 15-39%


@dataclass(frozen=True)
class FileAgreement:
    """One file's reads at the sites the other files' reads show homozygous ALT."""

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


def agreement(ref: np.ndarray, sub: np.ndarray, i: int) -> FileAgreement:
    """File i's reads at the positions where the other files' reads are homozygous ALT. `ref`: [files, L] reads
    with the reference base; `sub`: [files, L, 4] reads with each other base (count_alleles, no indels)."""
    others_ref = ref.sum(axis=0) - ref[i]
    others_sub = sub.sum(axis=0) - sub[i]
    alt = others_sub.argmax(axis=1)
    cols = np.arange(ref.shape[1])
    others_alt = others_sub[cols, alt]
    others_depth = others_ref + others_sub.sum(axis=1)
    own_ref, own_alt = ref[i], sub[i][cols, alt]
    hom = (others_depth >= MIN_OTHER_DEPTH) & (others_alt >= MIN_OTHER_ALT * others_depth) & (own_ref + own_alt > 0)
    return FileAgreement(int(hom.sum()), int(own_ref[hom].sum() + own_alt[hom].sum()), int(own_ref[hom].sum()))


def disagreement_warning(paths: Sequence[str], ref: np.ndarray, sub: np.ndarray) -> str | None:
    """One line naming the file whose reads disagree most with the others' homozygous-ALT SNPs, if any does."""
    if len(paths) < 2:
        return None
    found = [(a.ref_fraction, path, a) for i, path in enumerate(paths) if (a := agreement(ref, sub, i)).disagrees]
    if not found:
        return None
    _, path, a = max(found, key=lambda f: f[0])
    seen = (f"{path} shows the reference base in {a.ref_fraction:.0%} of its {a.reads:,} reads at {a.sites} SNPs where "
            f"{'the other file is' if len(paths) == 2 else 'the other files are'} homozygous ALT (files of one individual: "
            "about 1%)")
    if len(paths) == 2:  # either file may be the stranger
        return (f"--reads {paths[0]} and {paths[1]} look like two individuals' reads ({seen}), yet they are pooled and "
                "called as one sample; check where each file came from (a swapped or mislabelled sample), or call "
                "them apart")
    return (f"--reads {seen}: it looks like another individual's reads, yet they are pooled and called as one sample; "
            "check where the file came from (a swapped or mislabelled sample), or call it on its own")


def probe_windows(regions: Sequence[Region], n: int = PROBE_WINDOWS, width: int = PROBE_WIDTH) -> list[Region]:
    """Up to `n` windows of `width` bp spread evenly over `regions` (when they are shorter, all of them, in pieces
    of PROBE_CHUNK)."""
    total = sum(r.length for r in regions)
    if total <= 0:
        return []
    if total <= n * width:
        return [Region(r.contig, s, min(s + PROBE_CHUNK, r.end)) for r in regions for s in range(r.start, r.end, PROBE_CHUNK)]
    ends = np.cumsum([r.length for r in regions])
    out = []
    for k in range(n):
        at = int((k + 0.5) * total / n)
        j = int(np.searchsorted(ends, at, side="right"))
        r = regions[j]
        centre = r.start + at - (int(ends[j]) - r.length)
        start = max(r.start, min(centre - width // 2, r.end - width))
        out.append(Region(r.contig, start, min(start + width, r.end)))
    return out


def _window_counts(source: ReadSources, reference: Reference, window: Region, ref_codes: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    reads = fetch_reads(source, window, ReadFilter(max_reads_per_partition=max(1, window.length * PROBE_READS_PER_KB // 1000)))
    if not reads:
        return np.zeros(window.length, np.int64), np.zeros((window.length, 4), np.int64)
    lo = max(0, min(r.reference_start for r in reads) - 1)
    hi = max(r.reference_end for r in reads) + 1
    events = extract_events(reads, reference.fetch(window.contig, lo, hi), lo)
    counts = count_alleles(events, ref_codes, window.start, window.end, indels=False)
    return counts.ref_count, counts.sub_counts


def file_counts(sources: ReadSources, reference: Reference, windows: Sequence[Region]) -> tuple[np.ndarray, np.ndarray]:
    """Each file's reference-base and other-base read counts over `windows`, joined: ([files, L], [files, L, 4])."""
    singles = [ReadSources((p,), (h,), reference) for p, h in zip(sources.paths, sources.handles)]  # share the handles
    refs, subs = [], []
    for w in windows:
        codes = encode_bases(reference.fetch(w.contig, w.start, w.end))
        pairs = [_window_counts(s, reference, w, codes) for s in singles]
        refs.append(np.stack([p[0] for p in pairs]))
        subs.append(np.stack([p[1] for p in pairs]))
    if not refs:
        return np.zeros((len(singles), 0), np.int64), np.zeros((len(singles), 0, 4), np.int64)
    return np.concatenate(refs, axis=1), np.concatenate(subs, axis=1)


def _contigs_with_reads(sources: ReadSources, reference: Reference) -> list[Region]:
    """Whole contigs of the reference that the files' indexes say hold mapped reads (every shared one for a CRAM)."""
    shared = [c for c in sources.references if c in reference]
    counts = [mapped_per_contig(h) for h in sources.handles]
    if None not in counts:
        shared = [c for c in shared if any(n.get(c, 0) for n in counts)]
    return [Region(c, 0, reference.length(c)) for c in shared]


def individuals_warning(sources: ReadSources, reference: Reference, regions: Sequence[Region]) -> str | None:
    """disagreement_warning over probe windows of `regions` (the contigs holding reads when empty; nothing for one
    file)."""
    if len(sources.handles) < 2:
        return None
    regions = list(regions) or _contigs_with_reads(sources, reference)
    windows = [w for w in probe_windows(regions) if w.contig in sources.contig_set and w.contig in reference]
    ref, sub = file_counts(sources, reference, windows)
    return disagreement_warning(sources.paths, ref, sub)

"""One sample's reads: its BAM/CRAM files opened together (alignment_files checks each), and the reads of each region
fetched, filtered and counted."""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import re
import zlib
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Iterable, Iterator, Sequence

import numpy as np
import pysam

from .alignment_files import (SORT_FIX, check_contigs, check_distinct_reads, check_index_matches, check_same_contigs,
                              check_single_copies, close_alignments, ensure_open_files, htslib_said, mapped_reads,
                              open_indexed)
from .cigar import ALIGNED, DEL, HARD_CLIP, INS, SOFT_CLIP, fill_equals, has_skip, split_at_skips
from .crai import crai_path, load_span, read_crai
from .errors import InputError
from .htslib import htslib_error, quiet_htslib
from .outputs import repeated_file
from .read_events import LONG_READ_BASES, MIN_MAPPING_QUALITY, hp_tag
from .reference import Reference
from .regions import Region

log = logging.getLogger("dvcall")

RESERVOIR_SEED = 609314161


@dataclass(frozen=True)
class ReadFilter:
    """DeepVariant's reader defaults (docs/design.md §1)."""

    min_mapping_quality: int = MIN_MAPPING_QUALITY
    keep_duplicates: bool = False
    keep_secondary: bool = False
    keep_supplementary: bool = False
    max_reads_per_partition: int = 1500
    downsample_fraction: float = 0.0


def unreferenced_reads_warning(sources: "ReadSources", reference: Reference) -> str | None:
    """Reads on contigs the reference lacks are never called (calling covers the contigs both have): the line that
    says so when the index counts reads there (a BAM aligned to GRCh38's full analysis set, with its alts, decoys
    and HLA contigs, called against a no-alt reference), or cannot count them (CRAM)."""
    lengths = reference.lengths  # a copy per access: taken once (50,000 contigs made this loop quadratic)
    missing = [c for c in sources.references if c not in lengths]
    reads = sources.mapped_reads(set(missing)) if missing else 0
    if not reads:
        return None
    named = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    held = f"hold {reads:,} mapped reads, which are not called" if reads is not None else "are not called (reads on them, if any)"
    return (f"{len(missing):,} contigs of the reads are not in the reference ({named}) and {held}: to call them, use "
            f"the reference the reads were aligned to")


def uncalled_contigs_note(sources: "ReadSources", reference: Reference) -> str | None:
    """Reference contigs the reads' header lacks are not called, and a gVCF has no records for them: the line that
    says which (a BAM of the primary contigs against a reference with decoys, chrM missing from a header)."""
    missing = [c.name for c in reference.contigs if not has_contig(sources, c.name)]
    if not missing:
        return None
    named = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    some = f"{len(missing):,} reference contigs are" if len(missing) > 1 else "1 reference contig is"
    return f"{some} not in the reads' header ({named}): not called, and a gVCF has no records there"


def sample_name(handle: pysam.AlignmentFile, default: str = "SAMPLE") -> str:
    """The SM of the first @RG, as DeepVariant names the VCF sample."""
    samples = read_group_samples(handle)
    return samples[0] if samples else default


def reads_paths(reads: str | os.PathLike | Sequence[str]) -> tuple[str, ...]:
    """--reads as a tuple of paths: one file, or several files of one sample."""
    return (os.fspath(reads),) if isinstance(reads, (str, os.PathLike)) else tuple(os.fspath(p) for p in reads)


MERGE_KEY = attrgetter("reference_start", "is_reverse")
"""The order of `samtools merge` within a contig: position, forward before reverse, then the earlier file (heapq.merge
is stable), each file's own order kept."""


class ReadSources:
    """The reads of one sample in one or more BAM/CRAM files (lanes or runs), opened and checked against each other
    and the reference once; fetch() yields the reads of all files merged by position in the order `samtools merge`
    writes them, so calling the files gives the VCF that calling their merged BAM gives."""

    def __init__(self, paths: Sequence[str], handles: Sequence[pysam.AlignmentFile], reference: Reference | None = None):
        self.paths, self.handles = tuple(paths), tuple(handles)
        self.references = self.handles[0].references  # the same contigs in every file (check_same_contigs)
        self.contig_set = frozenset(self.references)  # membership in O(1): a draft assembly has 1e5+ contigs
        # each CRAM's slices (crai.py), for ReadAhead to read where they are; None for a BAM
        self.cram_slices = [read_crai(crai, h.references) if h.is_cram and (crai := crai_path(p)) else None
                            for p, h in zip(self.paths, self.handles)]
        # reads that store reference-matching bases as '=' (samtools calmd -e) get the bases back, whichever read
        # holds them (a file merged from parts may have them only past its first reads): with_reference_bases
        self._reference = reference
        # the files whose first reads show '=' (what whatshap, which reads the files itself, would read as they are)
        self.equals_paths = tuple(p for p, h in zip(self.paths, self.handles) if reference is not None and stores_equals(h))
        for path in set(self.equals_paths) - _SAID_EQUALS:  # once a process: a run opens its reads several times
            _SAID_EQUALS.add(path)
            log.info("%s stores bases that match the reference as '=' (samtools calmd -e): read with the "
                     "reference's bases there", path)

    def __enter__(self) -> "ReadSources":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __str__(self) -> str:
        return " + ".join(self.paths)

    def fetch(self, contig: str | None = None, start: int | None = None, stop: int | None = None) -> Iterator[pysam.AlignedSegment]:
        """Reads overlapping contig:start-stop of every file, merged by position (contig None: every contig)."""
        if contig is None and len(self.handles) > 1:
            return chain.from_iterable(self.fetch(c) for c in self.references)
        fetched = [h.fetch(contig, start, stop) for h in self.handles]
        merged = fetched[0] if len(fetched) == 1 else heapq.merge(*fetched, key=MERGE_KEY)
        return merged if self._reference is None else with_reference_bases(merged, self._reference)

    def failing(self, region: Region) -> tuple[str, bool]:
        """(path, is CRAM) of the file whose reads of `region` cannot be read (after fetch() failed)."""
        for path, handle in zip(self.paths, self.handles):
            try:
                with quiet_htslib():
                    for _ in handle.fetch(region.contig, region.start, region.end):
                        pass
            except (OSError, ValueError):
                return path, handle.is_cram
        return self.paths[0], self.handles[0].is_cram

    def file_samples(self) -> list[tuple[str, str]]:
        """(path, its first @RG SM) of each file that names a sample, as DeepVariant names the VCF sample."""
        return [(path, read_group_samples(h)[0]) for path, h in zip(self.paths, self.handles) if read_group_samples(h)]

    def sample(self, fix: str = "pass the reads of one sample, or --sample-name NAME if they are one sample") -> tuple[str, str]:
        """(the sample name, where it comes from): the first @RG SM of the first file that has one, else SAMPLE.
        Files that name different samples are refused (`fix`: what the message tells the user to do; the
        commands with --sample-name call such files one sample when it is given)."""
        named = self.file_samples()
        if not named:
            return "SAMPLE", "the default: no @RG SM in --reads"
        (first_path, first), other = named[0], next(((p, s) for p, s in named[1:] if s != named[0][1]), None)
        if other is not None:
            raise InputError(f"--reads files hold different samples: {first_path} is {first!r} and {other[0]} is {other[1]!r} "
                             f"(@RG SM): {fix}")
        return first, f"the first @RG SM of {first_path}"

    def mapped_reads(self, contigs: set[str]) -> int | None:
        """Mapped reads on `contigs` in all files, from the indexes (None when one does not say)."""
        counts = [mapped_reads(h, contigs) for h in self.handles]
        return None if None in counts else sum(counts)

    def close(self) -> None:
        """Close every file; the first that fails to close is reported (close_alignments)."""
        error = None
        for handle, path in zip(self.handles, self.paths):
            try:
                close_alignments(handle, path)
            except InputError as exc:
                error = error or exc
        if error is not None:
            raise error


_SAID_EQUALS: set[str] = set()  # files ReadSources has said store '=' (said once a process)


def stores_equals(handle: pysam.AlignmentFile, sample: int = 200) -> bool:
    """Whether the file's first mapped reads hold '=' for bases that match the reference (SAM allows it; `samtools
    calmd -e` writes it), which would otherwise read as N: every base on the reference lost (said once; every
    read holding one is filled, with_reference_bases)."""
    try:
        with quiet_htslib():
            reads = itertools.islice((r for r in handle.head(10 * sample) if not r.is_unmapped), sample)
            return any("=" in (r.query_sequence or "") for r in reads)
    except (OSError, ValueError):  # unreadable (a CRAM of another reference): the first fetch says why, in one line
        return False


def with_reference_bases(reads: Iterable[pysam.AlignedSegment], reference: Reference):
    """The reads with each '=' base replaced by the reference base it is aligned to (one on no reference base,
    in an insertion or a clip, stays '=' and reads as N). Every read is looked at (~0.25 us: pysam keeps the
    decoded sequence, which make_examples reads next), so a file with '=' only past its first reads is read
    right too (hostile21: 47 SNP FPs)."""
    for read in reads:
        # (fill_equals checks the read further; a contig the reference lacks: its reads are never called, verify45)
        if "=" in (read.query_sequence or "") and read.reference_end is not None and read.reference_name in reference:
            start = read.reference_start
            fill_equals(read, reference.fetch(read.reference_name, start, read.reference_end), start)
        yield read


def open_reads(reads: str | Sequence[str], reference: Reference) -> ReadSources:
    """Open --reads (one file or several of one sample): each as alignment_files.open_alignments does, and first
    the files' contigs against each other, so a mismatch names both files."""
    paths = reads_paths(reads)
    if not paths:
        raise InputError("no reads file given: pass an indexed BAM or CRAM with --reads")
    twice = repeated_file(paths)
    if twice is not None:
        raise InputError(f"--reads {twice} is given twice: give each file once")
    ensure_open_files(paths)
    handles: list[pysam.AlignmentFile] = []
    try:
        for path in paths:
            handles.append(open_indexed(path, reference))
        check_same_contigs(handles, paths, reference)
        for handle, path in zip(handles, paths):
            check_contigs(handle, reference, path)
            check_index_matches(handle, path)
        check_distinct_reads(handles, paths)
        for handle, path in zip(handles, paths):
            check_single_copies(handle, path)
    except BaseException:
        for handle, path in zip(handles, paths):
            try:
                close_alignments(handle, path)
            except InputError:
                pass  # the error that stopped the opening is the one to report
        raise
    return ReadSources(paths, handles, reference)


def sample_reads(handle: "pysam.AlignmentFile | ReadSources", regions: list[Region], limit: int = 2000):
    """The first `limit` primary mapped reads of `regions` (else of the file): enough to tell what kind of reads a
    file holds without reading it all."""
    seen = 0
    spans = [r for r in regions if has_contig(handle, r.contig)] if regions else [None]
    for region in spans:
        try:
            with quiet_htslib():
                fetched = handle.fetch(region.contig, region.start, region.end) if region else handle.fetch(None, None, None)
                reads = list(itertools.islice((r for r in fetched if not (r.is_unmapped or r.is_secondary or r.is_supplementary)),
                                              limit - seen))
        except (OSError, ValueError) as exc:  # e.g. a CRAM with another reference: said here, in seconds
            if region is None:
                raise
            raise read_failure(handle, region, exc) from None
        yield from reads
        seen += len(reads)
        if seen >= limit:
            return


def hp_tagged_fraction(handle: "pysam.AlignmentFile | ReadSources", regions: list[Region], limit: int = 2000) -> float:
    """Share of the sampled reads (sample_reads) that carry an HP tag: a haplotagged BAM or an untagged one."""
    tags = [hp_tag(read) > 0 for read in sample_reads(handle, regions, limit)]  # HP:i:0 is untagged, as make_examples reads it
    return sum(tags) / len(tags) if tags else 0.0


def read_lengths(handle: "pysam.AlignmentFile | ReadSources", regions: list[Region], limit: int = 2000) -> list[int]:
    """The lengths of the sampled reads (sample_reads), clipped bases counted, as they came off the sequencer."""
    return [read.infer_read_length() or read.query_length for read in sample_reads(handle, regions, limit)]


def count_long(lengths: Sequence[int], longer_than: int = LONG_READ_BASES) -> tuple[int, int]:
    """(reads, those longer than `longer_than`) of some read lengths: short reads (Illumina) or long ones (HiFi, ONT)."""
    return len(lengths), sum(n > longer_than for n in lengths)


def long_read_count(handle: "pysam.AlignmentFile | ReadSources", regions: list[Region], limit: int = 2000) -> tuple[int, int]:
    """count_long of the sampled reads (read_lengths)."""
    return count_long(read_lengths(handle, regions, limit))


@dataclass(frozen=True)
class LongReadProfile:
    """What the sampled long reads of a file look like (long_read_profile)."""

    indels_per_kb: float  # CIGAR I and D operations per 1,000 aligned bases
    mean_quality: float  # mean base quality (reads stored without qualities left out)


def long_read_profile(handle: "pysam.AlignmentFile | ReadSources", regions: list[Region], limit: int = 2000,
                      least: int = 20) -> LongReadProfile | None:
    """The indel rate and mean base quality of the sampled long reads (sample_reads): the indel rate tells PacBio
    HiFi reads (~0.8-1.8 per 1,000 aligned bases: simulated at error scales 1-3 and real Revio) from ONT R10 ones
    (~4) and R9 ones (tens); None with fewer than `least` long reads."""
    events = aligned = n = 0
    qual_sum = qual_n = 0
    for read in sample_reads(handle, regions, limit):
        if (read.infer_read_length() or read.query_length) <= LONG_READ_BASES:
            continue
        bases, blocks = read.get_cigar_stats()  # per CIGAR operation: bases, and how many times it occurs
        events += int(blocks[INS] + blocks[DEL])
        aligned += int(sum(bases[op] for op in ALIGNED))
        quals = read.query_qualities
        if quals is not None and len(quals) and quals[0] != 0xFF:
            qual_sum += int(np.asarray(quals, np.int64).sum())
            qual_n += len(quals)
        n += 1
    if n < least or not aligned:
        return None
    return LongReadProfile(1000 * events / aligned, qual_sum / qual_n if qual_n else float("nan"))


# Why a read is not used, in the order the filters test them (DeepVariant's reader defaults).
DROP_LABELS = {"unmapped": "unmapped", "qc_fail": "QC-fail", "low_mapq": "below --min-mapping-quality",
               "duplicate": "duplicates", "secondary": "secondary", "supplementary": "supplementary",
               "no_sequence": "without bases", "no_aligned_bases": "without an aligned base (CIGAR of only I/D/S)",
               "mate_on_other_contig": "mate on another contig",
               "downsampled": "downsampled", "over_read_cap": "over --max-reads-per-partition"}


def describe_drops(dropped: dict) -> str:
    """'38 below --min-mapping-quality, 10 unmapped', largest first."""
    return ", ".join(f"{n:,} {DROP_LABELS.get(r, r)}" for r, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class ReadCounts:
    """Reads seen in the regions called, kept, and dropped by reason; each read counted once however many
    partitions it spans."""

    seen: int = 0
    kept: int = 0
    dropped: dict = field(default_factory=dict)  # reason (a DROP_LABELS key) -> reads
    spliced: int = 0  # reads seen whose alignment skips reference (CIGAR N), used as their pieces (split_at_skips)

    def add(self, other: "ReadCounts | dict") -> None:
        other = other if isinstance(other, ReadCounts) else ReadCounts(**other)
        self.seen += other.seen
        self.kept += other.kept
        self.spliced += other.spliced
        for reason, n in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


_PAIRED, _PROPER_PAIR, _UNMAPPED, _MATE_UNMAPPED = 0x1, 0x2, 0x4, 0x8
_SECONDARY, _QC_FAIL, _DUPLICATE, _SUPPLEMENTARY = 0x100, 0x200, 0x400, 0x800


_ODD_CIGAR = re.compile(r"(?:^|[MIDNSHP=X])0[MIDNSHP=X]"  # a zero-length operation
                        r"|^(?:\d+[SH])*\d+[ID]|\d+[ID](?:\d+[SH])*$")  # an insertion or deletion at an end


def _clip_end(ops: list[list[int]], order) -> int:
    """Walking one end of a CIGAR (`order`: its indices from that end) past its clips: an insertion becomes a soft
    clip, a deletion is emptied; stops at the first other operation. Returns the reference bases deleted."""
    deleted = 0
    for i in order:
        op, length = ops[i]
        if op in (SOFT_CLIP, HARD_CLIP):
            continue
        if op == INS:
            ops[i][0] = SOFT_CLIP
        elif op == DEL:
            deleted, ops[i][1] = deleted + length, 0
        else:
            break
    return deleted


def normalise_cigar(read: pysam.AlignedSegment) -> None:
    """A read's CIGAR as htslib and GATK read it: zero-length operations dropped (legal SAM, no-ops: 74M0D74M
    became an indel candidate with no alt allele, a crash, and 74M0N74M a spliced read cut in two), neighbours
    they separated joined; an insertion at an end soft-clipped and a deletion at an end dropped (the read's start
    moved past it): nothing aligned anchors them, and they became PASS indel calls. In place: the read is served
    to later partitions as it now is (which reads a partition gets is decided from the file's positions first)."""
    ops = [[op, length] for op, length in read.cigartuples if length]
    start = read.reference_start + _clip_end(ops, range(len(ops)))
    _clip_end(ops, range(len(ops) - 1, -1, -1))
    kept: list[list[int]] = []
    for op, length in ops:
        if length and kept and kept[-1][0] == op:
            kept[-1][1] += length
        elif length:
            kept.append([op, length])
    if start != read.reference_start:
        read.reference_start = start
    read.cigartuples = [tuple(o) for o in kept]


def _drop_reason(read: pysam.AlignedSegment, flt: ReadFilter) -> str | None:
    """Why a read is not used (None: it is). A read it keeps with an odd CIGAR (zero-length operations, an
    insertion or deletion at an end) is normalised here (normalise_cigar): every read of every partition comes
    through, and its CIGAR string is at hand."""
    flag = read.flag  # one attribute read, then bit tests (every read of every partition comes through here)
    if flag & _UNMAPPED:
        return "unmapped"
    if flag & _QC_FAIL:
        return "qc_fail"
    if read.mapping_quality < flt.min_mapping_quality:
        return "low_mapq"
    if flag & _DUPLICATE and not flt.keep_duplicates:
        return "duplicate"
    if flag & _SECONDARY and not flt.keep_secondary:
        return "secondary"
    if flag & _SUPPLEMENTARY and not flt.keep_supplementary:
        return "supplementary"
    if read.query_length == 0:  # stored without bases ('*'): query_sequence is None
        return "no_sequence"
    cigar = read.cigarstring  # a string test: 6x cheaper than building cigartuples, for every read
    if not cigar or not ("M" in cigar or "=" in cigar or "X" in cigar):  # e.g. 20I or 10S10I: nowhere to put its bases
        return "no_aligned_bases"
    # a one-operation CIGAR (150M: the common case) is passed by the string test, the pattern decides for the others
    if not cigar[:-1].isdigit() and _ODD_CIGAR.search(cigar):
        normalise_cigar(read)  # kept, but as the alignment it means (74M0D74M is 148M, 3I145M is 3S145M)
        if not any(op in ALIGNED for op, _ in read.cigartuples):  # 0M20I
            return "no_aligned_bases"
    # "Improperly placed": paired, not proper, mate on another contig.
    if (flag & _PAIRED and not flag & (_PROPER_PAIR | _MATE_UNMAPPED) and read.next_reference_id >= 0
            and read.next_reference_id != read.reference_id):
        return "mate_on_other_contig"
    return None


class ReadAhead:
    """A reads handle that decodes a whole stretch of partitions in one fetch and serves each partition's reads
    from it: a fetch per 1 kb partition seeks and decompresses its BGZF blocks again (7x the cost of one pass).
    `plan(stretch)` names the next stretch; it is read on the first fetch inside it (so a read error surfaces
    in fetch_reads, for the partition that hit it). A fetch outside the planned stretch goes to the file.
    Each partition gets exactly the reads, in file order, that fetching it alone gives: htslib's overlap test,
    pos < stop and end > start, with end = pos + 1 for reads that cover no reference base."""

    def __init__(self, handle: "pysam.AlignmentFile | ReadSources"):
        self.handle = handle
        self.references = handle.references
        self.contig_set = frozenset(self.references)
        self._planned: Region | None = None
        self._loaded: Region | None = None
        self._reads: list[pysam.AlignedSegment] = []
        self._pos = self._end = np.zeros(0, np.int64)

    def plan(self, stretch: Region) -> None:
        self._planned = stretch

    def fetch(self, contig: str, start: int, stop: int):
        for span in (self._loaded, self._planned):
            if span is not None and span.contig == contig and span.start <= start and stop <= span.end:
                if span is not self._loaded:
                    self._load(span)
                hit = np.flatnonzero((self._pos < stop) & (self._end > start))
                return iter([self._reads[i] for i in hit.tolist()])
        return self.handle.fetch(contig, start, stop)

    def _load(self, span: Region) -> None:
        """Read the stretch's reads; from CRAMs, the slices it overlaps whole (or nothing where no slice is:
        crai.load_span), so each slice is decoded once, not once per stretch inside it."""
        self._reads, self._loaded = [], None
        indexes = getattr(self.handle, "cram_slices", None)
        wide = load_span(indexes, span.contig, span.start, span.end) if indexes and any(indexes) else (span.start, span.end)
        if wide is not None:
            span = Region(span.contig, *wide)
            self._reads = list(self.handle.fetch(span.contig, span.start, span.end))
        self._pos = np.fromiter((r.reference_start for r in self._reads), np.int64, len(self._reads))
        self._end = np.fromiter((r.reference_start + 1 if r.reference_end is None or r.reference_end <= r.reference_start
                                 else r.reference_end for r in self._reads), np.int64, len(self._reads))
        self._loaded = span

    def close(self) -> None:
        self.handle.close()


def has_contig(handle: "pysam.AlignmentFile | ReadSources | ReadAhead", contig: str) -> bool:
    """Whether the reads' header has `contig`, in O(1) (`contig in handle.references` scans a tuple: with a draft
    assembly's 50,000 scaffolds, once per partition, that was most of a run)."""
    contigs = getattr(handle, "contig_set", None)
    return contig in contigs if contigs is not None else handle.get_tid(contig) >= 0


def fetch_reads(handle: "pysam.AlignmentFile | ReadSources | ReadAhead", region: Region, flt: ReadFilter, counts: ReadCounts | None = None,
                count_from: int | None = None) -> list[pysam.AlignedSegment]:
    """Filtered reads overlapping the region, reservoir-sampled with a seed fixed per partition (deterministic output).
    With `counts`, reads starting at or after `count_from` (default: the region's start) are tallied there."""
    if not has_contig(handle, region.contig):
        return []
    count_from = region.start if count_from is None else count_from
    reads, filed = [], []
    try:
        with quiet_htslib():  # htslib's own lines would precede ours
            for r in handle.fetch(region.contig, region.start, region.end):
                start = r.reference_start  # as the file has it: _drop_reason may move it (normalise_cigar)
                reason = _drop_reason(r, flt)
                if counts is not None and start >= count_from:
                    counts.seen += 1
                    if reason:
                        counts.drop(reason)
                if reason is None:
                    reads.append(r)
                    filed.append(start)
    except (OSError, ValueError) as exc:
        raise read_failure(handle, region, exc) from None
    starts = np.asarray(filed, np.int64)  # each read counted in the one partition its filed start lies in
    counted = starts >= count_from  # the reads this partition tallies
    keep = np.ones(len(reads), bool)
    if flt.downsample_fraction > 0:
        # Hash the fragment name so both mates and every partition a read spans make the same choice.
        keep = names_below(reads, flt.downsample_fraction)
        _tally(counts, "downsampled", ~keep & counted)
    reads, starts, counted, keep, origin = _pieces_of_spliced(reads, starts, counted, keep, region, counts)
    order = np.flatnonzero(keep)
    capped = np.zeros(len(reads), bool)
    cap = flt.max_reads_per_partition
    if cap > 0 and len(order) > cap:
        sampled = np.array(reservoir_sample(list(order), cap, np.random.RandomState(RESERVOIR_SEED)))
        capped[order] = True
        capped[sampled] = False
        order = sampled[np.argsort(starts[sampled], kind="stable")]
    if counts is not None:
        kept = np.zeros(len(reads), bool)
        kept[order] = True
        if origin is None:  # one row per read
            counts.kept += int(np.count_nonzero(kept & counted))
            _tally(counts, "over_read_cap", capped & counted)
        else:  # a spliced read's pieces share their origin: kept if any piece is, capped only if none is
            kept_reads = set(origin[kept & counted].tolist())
            counts.kept += len(kept_reads)
            capped_only = set(origin[capped & counted].tolist()) - kept_reads
            if capped_only:
                counts.drop("over_read_cap", len(capped_only))
    return [reads[i] for i in order]


def _pieces_of_spliced(reads: list, starts: np.ndarray, counted: np.ndarray, keep: np.ndarray, region: Region,
                       counts: ReadCounts | None):
    """Spliced reads (CIGAR N, RNA-seq alignments) replaced by their pieces that overlap `region` (split_at_skips),
    in start order: a read that only skips the region adds nothing to it (it had filled the read cap and the
    pileups of sites it never covers, and stood for an allele there). Returns the reads, starts, counted and kept
    flags, and per piece the index of its read (None when no read is spliced: the common case, untouched)."""
    spliced = [i for i, r in enumerate(reads) if has_skip(r)]
    if not spliced:
        return reads, starts, counted, keep, None
    spliced_set = set(spliced)
    out, origin = [], []
    for i, r in enumerate(reads):
        pieces = [p for p in split_at_skips(r) if p.reference_start < region.end and p.reference_end > region.start] \
            if i in spliced_set else [r]
        out += pieces
        origin += [i] * len(pieces)
        if counts is not None and i in spliced_set and counted[i]:
            counts.spliced += 1
            if not pieces and keep[i]:  # it only skips this partition, which counts it (it starts before the
                counts.kept += 1        # stretch): kept, for its pieces elsewhere (a later exon of a BED) count it not
    origin = np.asarray(origin, np.int64)
    new_starts = np.fromiter((r.reference_start for r in out), np.int64, len(out))
    order = np.argsort(new_starts, kind="stable")
    return ([out[i] for i in order], new_starts[order], counted[origin][order], keep[origin][order], origin[order])


def read_failure(handle: "pysam.AlignmentFile | ReadSources | ReadAhead", region: Region, exc: Exception) -> InputError:
    """The one line for reads of `region` that htslib could not read: for a CRAM, the reference it needs."""
    handle = handle.handle if isinstance(handle, ReadAhead) else handle
    several = isinstance(handle, ReadSources) and len(handle.paths) > 1
    path, is_cram = handle.failing(region) if isinstance(handle, ReadSources) else (handle.filename.decode(), handle.is_cram)
    where = f" of {path}" if several else ""
    if is_cram:
        return InputError(f"cannot decode the CRAM reads of {region}{where}{htslib_said(exc)}: --ref is probably not "
                          "the reference the CRAM was written with (its @SQ M5 tags, where it has them, are that reference's checksums); "
                          "pass that reference")
    def read_again() -> None:
        with pysam.AlignmentFile(path) as fh:
            for _ in fh.fetch(region.contig, region.start, region.end):
                pass

    detail = htslib_error(read_again)
    if detail and "truncated" not in detail and "index" not in detail:  # a malformed record: sorting cannot mend it
        return InputError(f"cannot read {region} from the reads file{where}: htslib says \"{detail}\": the file holds a "
                          "malformed record; write the BAM again from its source (the aligner, or the tool that edited it)")
    return InputError(f"cannot read {region} from the reads file{where} ({detail or exc}): the BAM is truncated, unsorted "
                      f"or does not match its index: `{SORT_FIX.format(path=path)}`")


def _tally(counts: ReadCounts | None, reason: str, dropped: np.ndarray) -> None:
    n = int(dropped.sum())
    if counts is not None and n:
        counts.drop(reason, n)


CHOSEN_DROPS = ("downsampled", "over_read_cap")  # asked for (--downsample-fraction, the per-partition cap): not a problem


def reads_warning(counts: ReadCounts, flt: ReadFilter) -> str | None:
    """One line when no read, or under half of them, could be used for a reason other than the downsampling
    asked for, naming the main cause and what changes it; None otherwise."""
    if counts.seen == 0:
        return ("no read overlaps the regions called, so nothing can be called: check that --reads covers them "
                "(`samtools idxstats`) and that --regions names where the reads are")
    filtered = {k: v for k, v in counts.dropped.items() if k not in CHOSEN_DROPS and v}
    if counts.kept > 0 and sum(filtered.values()) <= 0.5 * counts.seen:
        return None
    flag_fix = {
        "low_mapq": f"below --min-mapping-quality {flt.min_mapping_quality}: lower it if these mappings are to be trusted",
        "duplicate": "marked duplicate: dvcall skips duplicates as DeepVariant does; clear the flag with "
                     "`samtools view -b --remove-flags 0x400` if they were marked wrongly",
        "qc_fail": "marked QC-fail (0x200): clear the flag if it was set wrongly",
        "secondary": "secondary alignments: each read's primary alignment is what is called",
        "supplementary": "supplementary alignments: each read's primary alignment is what is called",
        "unmapped": "unmapped: align the reads first",
        "no_sequence": "stored without bases (SEQ '*'): keep the sequence when writing the BAM",
        "no_aligned_bases": "without a single aligned base (CIGAR of only insertions, deletions or clips)",
        "mate_on_other_contig": "improperly paired with a mate on another contig (DeepVariant's rule too: such pairs "
                                "are usually chimeras or mis-mappings; realign the pairs if whole pairs were split)",
    }
    reason, n = max((filtered or counts.dropped).items(), key=lambda kv: kv[1])
    others = describe_drops({k: v for k, v in counts.dropped.items() if k != reason})
    if counts.kept == 0:
        head = f"all {counts.seen:,} reads in the regions were filtered out, so nothing can be called"
    else:
        head = (f"{counts.seen - counts.kept:,} of the {counts.seen:,} reads in the regions were filtered out "
                f"({1 - counts.kept / counts.seen:.1%}), so calls rest on {counts.kept:,} reads")
    return f"{head}: {n:,} are {flag_fix.get(reason, reason)}" + (f" (also: {others})" if others else "")


def log_read_counts(shard_counts: list[dict], flt: ReadFilter) -> ReadCounts:
    """Log the reads summary of a run (seen, kept, dropped by reason) and warn when none could be used."""
    counts = ReadCounts()
    for c in shard_counts:
        counts.add(c)
    dropped = describe_drops(counts.dropped)
    log.info("reads: %s seen, %s kept%s", f"{counts.seen:,}", f"{counts.kept:,}", f"; dropped: {dropped}" if dropped else "")
    for warning in (reads_warning(counts, flt), supplementary_warning(counts, flt), spliced_warning(counts)):
        if warning:
            log.warning(warning)
    return counts


SUPPLEMENTARY_WARN_SHARE = 0.1


def supplementary_warning(counts: ReadCounts, flt: ReadFilter) -> str | None:
    """One line when many reads are supplementary alignments, which are dropped unless --keep-supplementary: long
    reads split by the aligner (around structural variants, in repeats) then lose whole pieces. On simulated HiFi
    with half the reads split, dropping them took INDEL F1 from 0.9855 to 0.9599."""
    n = counts.dropped.get("supplementary", 0)
    if flt.keep_supplementary or not counts.seen or n < SUPPLEMENTARY_WARN_SHARE * counts.seen:
        return None
    return (f"{n:,} of the {counts.seen:,} reads ({100 * n / counts.seen:.0f}%) are supplementary alignments (pieces of "
            "reads the aligner split), which are not used: --keep-supplementary uses them")


def spliced_warning(counts: ReadCounts) -> str | None:
    """One line when reads are spliced alignments (CIGAR N): RNA-seq, which no dvcall model was trained on."""
    if not counts.spliced:
        return None
    return (f"{counts.spliced:,} of {counts.seen:,} reads are spliced alignments (CIGAR N, as RNA-seq aligners write): "
            "each aligned piece was used as a read of its own, but dvcall's models were trained and measured on DNA "
            "(whole-genome) reads only, so calls from RNA-seq are unmeasured")


def read_groups(handle: pysam.AlignmentFile) -> list[tuple[str, str]]:
    """(ID, SM) of each @RG line, in header order ("" where one is missing)."""
    return [(str(rg.get("ID", "")), str(rg.get("SM", ""))) for rg in handle.header.to_dict().get("RG", [])]


def read_group_samples(handle: pysam.AlignmentFile) -> list[str]:
    """Distinct SM values of the @RG lines, in header order."""
    out: list[str] = []
    for _, sm in read_groups(handle):
        if sm and sm not in out:
            out.append(sm)
    return out


def haplotagged_by_whatshap(paths: Sequence[str]) -> bool:
    """Whether every reads file's header says `whatshap haplotag` wrote it (its @PG): reads it left untagged sit where
    it had no heterozygous call to tag them by (a haploid contig, a sample with few hets), not a missing step."""
    def tagged(path: str) -> bool:
        try:
            with quiet_htslib(), pysam.AlignmentFile(path, check_sq=False) as fh:
                programs = fh.header.to_dict().get("PG", [])
        except (OSError, ValueError):
            return False
        return any(pg.get("PN") == "whatshap" and "haplotag" in pg.get("CL", "") for pg in programs)

    return bool(paths) and all(map(tagged, paths))


def read_group_platforms(handle: "pysam.AlignmentFile | ReadSources") -> set[str]:
    """The @RG PL values (upper case) of every file: what the sequencer was, where the header says."""
    handles = handle.handles if isinstance(handle, ReadSources) else (handle,)
    return {str(rg["PL"]).upper() for h in handles for rg in h.header.to_dict().get("RG", []) if rg.get("PL")}


def names_below(reads: list[pysam.AlignedSegment], fraction: float, salt: bytes = b"") -> np.ndarray:
    """A `fraction` of the reads picked by a hash of `salt` + name: the same choice for both mates, in every
    partition and run; a different salt picks independently."""
    limit = int(fraction * 0xFFFFFFFF)
    return np.fromiter((zlib.crc32(salt + r.query_name.encode()) <= limit for r in reads), bool, len(reads))


def hp_dropped(reads: list[pysam.AlignedSegment], fraction: float) -> np.ndarray:
    """Which reads to treat as untagged when dropping `fraction` of HP tags (independent of downsampling)."""
    return names_below(reads, fraction, b"hp:") if fraction > 0 else np.zeros(len(reads), bool)


def reservoir_sample(items: list, k: int, rng: np.random.RandomState) -> list:
    """Algorithm R, as DeepVariant caps reads per partition."""
    out = list(items[:k])
    for i in range(k, len(items)):
        j = rng.randint(0, i + 1)
        if j < k:
            out[j] = items[i]
    return out

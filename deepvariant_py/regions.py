"""Regions: parse user strings and BEDs, intersect with shared contigs, and cut into fixed partitions.

Coordinates are 0-based half-open everywhere inside dvcall; "chr20:1,000-2,000" strings are 1-based
inclusive as samtools writes them.
"""
from __future__ import annotations

import bisect
import gzip
import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

from .errors import InputError

PARTITION_SIZE = 1000


@dataclass(frozen=True, order=True)
class Region:
    contig: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.contig}:{self.start + 1}-{self.end}"

    @property
    def length(self) -> int:
        return self.end - self.start


_RANGE_RE = re.compile(r"^(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?$")


def _split_region(text: str, contig_lengths: dict[str, int]) -> tuple[str, str | None]:
    """(contig, range text or None) as htslib reads a region: '{NAME}' or '{NAME}:RANGE' for any name; else a
    name that is a contig as a whole (GRCh38's 'HLA-A*01:01:01:01'), else split at the last ':' (the caller
    checks the range)."""
    if text.startswith("{"):
        close = text.find("}")
        rest = text[close + 1:] if close > 0 else None
        if rest is None or (rest and not rest.startswith(":")):
            raise InputError(f"cannot parse region {text!r}: write {{CONTIG}} or {{CONTIG}}:START-END")
        return text[1:close], rest[1:] or None
    head, sep, tail = text.rpartition(":")
    ranged = bool(sep and head and _RANGE_RE.match(tail))
    if text in contig_lengths:
        if ranged and head in contig_lengths:
            raise InputError(f"region {text!r} is both a contig and {head!r} with a range: write {{{text}}} for the "
                             f"contig or {{{head}}}:{tail} for the range")
        return text, None
    return (head, tail) if sep and head else (text, None)


def parse_region_string(text: str, contig_lengths: dict[str, int]) -> Region:
    """Parse 'chr20', 'chr20:100' (one base) or 'chr20:10,000-20,000' (1-based, inclusive) into a Region; a contig
    whose name holds ':' is named as it is, or as '{NAME}:START-END' (htslib's rules)."""
    text = text.strip()
    contig, span = _split_region(text, contig_lengths)
    if not contig or any(c.isspace() for c in contig) or (span is not None and not _RANGE_RE.match(span)):
        raise InputError(f"cannot parse region {text!r}: write it as CONTIG, CONTIG:START-END or a BED file path")
    if contig not in contig_lengths:
        names = list(contig_lengths)
        hint = _contig_name_hint(contig, contig_lengths) or (
            f": use one of its contigs ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})")
        raise InputError(f"region {text!r} names contig {contig!r}, which is not in the reference{hint}")
    length = contig_lengths[contig]
    if span is None:
        return Region(contig, 0, length)
    m = _RANGE_RE.match(span)
    start = int(m.group("start").replace(",", "")) - 1
    end = int(m.group("end").replace(",", "")) if m.group("end") else start + 1
    if start < 0 or end <= start:
        raise InputError(f"region {text!r} is empty or reversed: START must be >= 1 and <= END")
    if end > length:
        raise InputError(f"region {text!r} ends past the end of {contig} (length {length:,}): shorten it")
    return Region(contig, start, end)


def toggle_chr_prefix(contig: str) -> str:
    """'chr20' <-> '20': the naming difference between UCSC and b37 builds that users hit most."""
    return contig[3:] if contig.startswith("chr") else "chr" + contig


def _contig_name_hint(contig: str, contig_lengths: dict[str, int]) -> str:
    alt = toggle_chr_prefix(contig)
    if alt in contig_lengths:
        return f" (the reference calls it {alt!r}: use that name)"
    return ""


def read_bed(path: str, contig_lengths: dict[str, int], absent: list[str] | None = None,
             empty: list[int] | None = None) -> list[Region]:
    """BED intervals as Regions; header/track lines are skipped. With `absent` (a list), lines on contigs the
    reference lacks are skipped and their contigs appended to it (a whole-genome blacklist on a partial reference),
    unless no line names a reference contig (a naming mismatch: the error, with its chr-prefix hint). Zero-length
    lines (START == END) hold no base and are skipped; with `empty` (a list), their line numbers are appended."""
    if not os.path.exists(path):
        raise InputError(f"BED file {path} does not exist")
    try:
        return _bed_lines(path, contig_lengths, absent, empty)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read BED file {path} ({exc}): is it a (gzipped) text BED?") from None


def _bed_lines(path: str, contig_lengths: dict[str, int], absent: list[str] | None = None,
               empty: list[int] | None = None) -> list[Region]:
    out, skipped, first_unknown = [], [], None
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"  # by content: .bed.bgz, .gz or a gzipped file named .bed
    opener = gzip.open if gzipped else open
    with opener(path, "rt") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            try:
                contig, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise InputError(f"{path} line {lineno} is not BED (CONTIG<tab>START<tab>END): {line.strip()[:60]!r}") from None
            where = f"{path} line {lineno} ({contig} {start} {end})"
            if contig not in contig_lengths:
                unknown = f"{path} line {lineno}: contig {contig!r} is not in the reference{_contig_name_hint(contig, contig_lengths)}"
                if absent is None:
                    raise InputError(unknown)
                first_unknown = first_unknown or unknown
                skipped.append(contig)
                continue
            if start < 0:
                raise InputError(f"{where}: the start is negative; BED starts are 0-based and at least 0: fix the line")
            if end < start:
                raise InputError(f"{where}: the end is before the start: fix the line (BED is CONTIG START END, 0-based, half-open)")
            if end > contig_lengths[contig]:
                raise InputError(f"{where}: the end is past the end of {contig} (length {contig_lengths[contig]:,}): "
                                 "the BED is for another reference build, or the line is wrong")
            if end > start:
                out.append(Region(contig, start, end))
            elif empty is not None:
                empty.append(lineno)
    if skipped and not out:
        raise InputError(first_unknown)
    if absent is not None:
        absent.extend(skipped)
    return out


_SPACED_SEPARATOR = re.compile(r"\s*([:-])\s*")


def region_files(specs: Iterable[str | None]) -> list[str]:
    """The region specs that are files (BEDs), not region strings."""
    return [spec for spec in specs if spec and os.path.isfile(spec)]


def region_file_inputs(specs_by_flag: Mapping[str, Iterable[str | None]]) -> dict[str, str]:
    """{"FLAG PATH": path} of each flag's region specs that are files: inputs an output must never overwrite
    (outputs.check_outputs), e.g. {"--regions": regions, "--par-regions": [par_regions]}."""
    return {f"{flag} {path}": path for flag, specs in specs_by_flag.items() for path in region_files(specs)}


def parse_regions(specs: Iterable[str], contig_lengths: dict[str, int], absent: list[str] | None = None) -> list[Region]:
    """Each spec is a region string or a BED path; result is sorted and merged. `absent`: as read_bed's (BED lines
    on contigs the reference lacks skipped and named there; --exclude-regions)."""
    regions: list[Region] = []
    for spec in specs:
        pieces = [spec]
        if not os.path.isfile(spec):  # "chr20: 10,000 - 20,000" is one region; "chr1 chr2" are two
            pieces = _SPACED_SEPARATOR.sub(r"\1", spec.strip()).split() or [spec]  # '' stays an error
        for piece in pieces:
            if piece.endswith((".bed", ".bed.gz")) or os.path.isfile(piece):
                regions.extend(read_bed(piece, contig_lengths, absent))
            else:
                regions.append(parse_region_string(piece, contig_lengths))
    return merge_regions(regions, list(contig_lengths))


class RegionSet:
    """Intervals per contig, merged (overlapping or touching) and sorted once, with membership by bisection:
    the one region model of calling (make_examples' confident regions), labelling and evaluation."""

    def __init__(self, regions: Iterable[Region]):
        regions = [r for r in regions if r.end > r.start]
        self._ivs: dict[str, list[tuple[int, int]]] = {}
        for r in merge_regions(regions, sorted({r.contig for r in regions})):
            self._ivs.setdefault(r.contig, []).append((r.start, r.end))
        self._starts = {c: [a for a, _ in v] for c, v in self._ivs.items()}

    def contains(self, contig: str, pos: int) -> bool:
        """Whether 0-based position `pos` of `contig` lies in an interval."""
        return self.overlaps(contig, pos, pos + 1)

    def overlaps(self, contig: str, start: int, end: int) -> bool:
        """Whether [start, end) shares a base with an interval."""
        starts = self._starts.get(contig)
        if not starts:
            return False
        i = bisect.bisect_left(starts, end) - 1  # the last interval starting before `end`
        return i >= 0 and self._ivs[contig][i][1] > start

    def clip(self, contig: str, start: int, end: int) -> list[tuple[int, int]]:
        """The intervals' pieces inside [start, end), in order."""
        starts = self._starts.get(contig)
        if not starts:
            return []
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        out = []
        for s, e in self._ivs[contig][i:]:
            if s >= end:
                break
            if e > start:
                out.append((max(s, start), min(e, end)))
        return out

    def by_contig(self) -> dict[str, list[tuple[int, int]]]:
        """{contig: [(start, end), ...]}, merged and sorted."""
        return {c: list(v) for c, v in self._ivs.items()}

    def triples(self) -> tuple[tuple[str, int, int], ...]:
        """Every interval as (contig, start, end), contig by contig (a JSON record's form: spans_from_json reads it)."""
        return tuple((c, s, e) for c, v in self._ivs.items() for s, e in v)

    @property
    def size(self) -> int:
        """Bases covered."""
        return sum(e - s for v in self._ivs.values() for s, e in v)


def merge_spans(spans: Iterable[tuple[str, int, int]]) -> tuple[tuple[str, int, int], ...]:
    """(contig, start, end) triples merged and sorted (RegionSet.triples of them)."""
    return RegionSet(Region(*t) for t in spans).triples()


def spans_from_json(value: object, what: str = "spans") -> tuple[tuple[str, int, int], ...]:
    """A JSON list of [contig, start, end] (0-based half-open) as a tuple of triples; a ValueError naming `what`
    otherwise (sidecars' and model_info.json's records of where examples were made)."""
    if not (isinstance(value, list) and all(
            isinstance(s, list) and len(s) == 3 and isinstance(s[0], str)
            and all(isinstance(x, int) and not isinstance(x, bool) for x in s[1:]) and 0 <= s[1] <= s[2] for s in value)):
        raise ValueError(f"{what} {str(value)[:60]!r} are not [contig, start, end] triples")
    return tuple((s[0], s[1], s[2]) for s in value)


def first_overlap(a: RegionSet, b: RegionSet) -> tuple[str, int, int, int] | None:
    """(contig, start, end, bases) of the first stretch where `a` meets `b` (bases: their whole overlap), or None."""
    shared = [(contig, s, e) for contig, start, end in b.triples() for s, e in a.clip(contig, start, end)]
    return (*min(shared), sum(e - s for _, s, e in shared)) if shared else None


def merge_regions(regions: list[Region], contig_order: list[str]) -> list[Region]:
    """Sort by reference contig order then start, and merge overlapping or touching intervals."""
    order = {c: i for i, c in enumerate(contig_order)}
    merged: list[Region] = []
    for r in sorted(regions, key=lambda r: (order.get(r.contig, len(order)), r.start, r.end)):
        if merged and merged[-1].contig == r.contig and r.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Region(last.contig, last.start, max(last.end, r.end))
        else:
            merged.append(r)
    return merged


def subtract_regions(regions: list[Region], exclude: Iterable[Region]) -> list[Region]:
    """`regions` (sorted, merged) less every base of `exclude` (`--exclude-regions`: a blacklist BED, centromeres,
    a contig): the pieces left, in the same order."""
    cut = RegionSet(exclude)
    out: list[Region] = []
    for r in regions:
        cur = r.start
        for s, e in cut.clip(r.contig, r.start, r.end):
            if s > cur:
                out.append(Region(r.contig, cur, s))
            cur = e
        if cur < r.end:
            out.append(Region(r.contig, cur, r.end))
    return out


def absent_contigs_note(flag: str, absent: list[str], consequence: str = "they leave nothing out") -> str | None:
    """One line for BED lines skipped on contigs the reference lacks (read_bed's `absent`)."""
    if not absent:
        return None
    names = sorted(set(absent))
    return (f"{flag}: {len(absent):,} BED line(s) name contigs the reference lacks ({', '.join(names[:3])}"
            f"{', ...' if len(names) > 3 else ''}): {consequence}")


def nothing_to_call_warning(regions: list[str], exclude_regions: list[str], n_called: int,
                            n_regions: int | None = None) -> str | None:
    """One line when the calling regions (`n_called` intervals: --regions, or every contig, less --exclude-regions)
    are empty because of what the user gave (the flags' texts; `n_regions`: the intervals --regions holds, when
    known); None otherwise."""
    if n_called or not (regions or exclude_regions):
        return None
    if exclude_regions and not (regions and n_regions == 0):
        what = f"all of --regions {' '.join(regions)}" if regions else "every contig the reads and reference share"
        return f"--exclude-regions {' '.join(exclude_regions)} cover {what}: nothing will be called"
    return f"--regions {' '.join(regions)} holds no interval: nothing will be called"


def calling_windows(regions: list[Region], gap: int) -> list[Region]:
    """Sorted, merged regions with those less than `gap` bp apart on a contig joined into one window, which is
    what gets partitioned: a BED of many small nearby intervals (known sites, amplicons) made one partition per
    interval, each fetching, realigning and counting the same reads again (42,572 one-base intervals over 300 kb:
    75 s, where calling the span took 5 s). make_examples keeps only the candidates and reference blocks inside
    the regions themselves."""
    out: list[Region] = []
    for r in regions:
        if out and out[-1].contig == r.contig and r.start - out[-1].end < gap:
            out[-1] = Region(r.contig, out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out


def partition(regions: list[Region], size: int = PARTITION_SIZE) -> list[Region]:
    """Cut regions into consecutive chunks aligned to multiples of `size`, so partitions never depend on how the work is sharded."""
    return [_nth_partition(r, k, size) for r in regions for k in range(_partition_count(r, size))]


def spread_partitions(regions: Sequence[Region], size: int, most: int) -> list[Region]:
    """At most `most` of partition(regions, size)'s partitions, spread evenly over them (the middle one of each of
    `most` equal runs), found by arithmetic: a genome's millions of partitions are never listed. The same for every
    shard of a run (make_examples measures the sample's base errors on them)."""
    counts = [_partition_count(r, size) for r in regions]
    total = sum(counts)
    if total == 0:
        return []
    picks = list(range(total)) if total <= most else [(2 * j + 1) * total // (2 * most) for j in range(most)]
    out, first, i = [], 0, 0
    for r, n in zip(regions, counts):
        while i < len(picks) and picks[i] < first + n:
            out.append(_nth_partition(r, picks[i] - first, size))
            i += 1
        first += n
    return out


def _partition_count(r: Region, size: int) -> int:
    return (r.end - 1) // size - r.start // size + 1 if r.end > r.start else 0


def _nth_partition(r: Region, k: int, size: int) -> Region:
    """Partition k (0-based) of region r: partition(regions, size)'s pieces of r, one by arithmetic."""
    first = r.start // size
    return Region(r.contig, r.start if k == 0 else (first + k) * size, min(r.end, (first + k + 1) * size))


def count_partitions(regions: list[Region], size: int = PARTITION_SIZE) -> int:
    """len(partition(regions, size)) without building them (a genome has millions)."""
    return sum(_partition_count(r, size) for r in regions)


SHARD_BLOCK = 10
"""Consecutive partitions a shard takes at a time. DeepVariant deals partitions out one by one (i % count);
dvcall deals blocks of 10, so each shard reads a stretch of the BAM once (reads.ReadAhead) instead of seeking
and decompressing for every 1 kb partition: 2.25 s -> 0.33 s of decoding per Mb of 30x Illumina."""


def require_every_shard(seen: Iterable[tuple[int, int]], files: str, fix: str) -> int | None:
    """The make-examples shards (index, count) some files record: refuse a set of one run that lacks a shard (a
    failed or forgotten shard would drop its part of the genome without a word), or that mixes runs of different
    shard counts. Returns the count (None when no file records a shard)."""
    seen = set(seen)
    counts = {n for _, n in seen}
    if len(counts) > 1:
        raise InputError(f"the {files} come from make-examples runs of different shard counts "
                         f"({', '.join(map(str, sorted(counts)))}): give one run's")
    if not counts:
        return None
    n = counts.pop()
    missing = sorted(set(range(n)) - {i for i, _ in seen})
    if missing:
        names = ", ".join(f"--shard {i}/{n}" for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(f"the {files} lack the make-examples shard(s) {names}: {fix}")
    return n


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` of the partitions of `regions` (sorted and merged, as calling_regions gives them):
    blocks of SHARD_BLOCK consecutive partitions dealt out in turn (fewer per block when there are too few
    partitions to keep every shard busy). Its partitions are made one by one as they are walked, never all of
    the run's: a genome has 3 million, and every worker would hold them (0.8 GB and 10 s each, measured)."""

    regions: tuple[Region, ...]
    index: int = 0
    count: int = 1
    size: int = PARTITION_SIZE

    @property
    def _layout(self) -> tuple[list[int], int, int]:
        """(global index of each region's first partition, partitions in all, block size)."""
        firsts, total = [], 0
        for r in self.regions:
            firsts.append(total)
            total += _partition_count(r, self.size)
        return firsts, total, max(1, min(SHARD_BLOCK, total // max(1, self.count)))

    def __len__(self) -> int:
        _, total, block = self._layout
        blocks = range(self.index, -(-total // block), self.count)
        return sum(min(block, total - b * block) for b in blocks)  # one step per block: 0.3 million for a genome

    def __iter__(self):
        firsts, total, block = self._layout
        for b in range(self.index, -(-total // block), self.count):
            for g in range(b * block, min(total, (b + 1) * block)):
                i = bisect.bisect_right(firsts, g) - 1  # an empty region shares its first index with the next: skipped
                yield _nth_partition(self.regions[i], g - firsts[i], self.size)

    def run_starts(self) -> dict[tuple[str, int], int]:
        """(contig, start) of the partitions that begin a stretch of consecutive partitions of the whole run (not
        only this shard's) -> where the reads they count start from: the end of the stretch before on the same
        contig (a read starting earlier that reaches this one crossed that stretch's end, and was counted there),
        else -1 (every read that reaches it). Nearby BED intervals then count a read once, not once each."""
        out: dict[tuple[str, int], int] = {}
        prev = None
        for r in self.regions:
            if r.end > r.start:
                if prev is None or prev.contig != r.contig or prev.end != r.start:
                    out[(r.contig, r.start)] = prev.end if prev is not None and prev.contig == r.contig else -1
                prev = r
        return out


def stretches(partitions: Iterable[Region], most: int = SHARD_BLOCK) -> Iterator[list[Region]]:
    """Partitions (in order) grouped into runs of at most `most` that touch end to end on one contig, one run at
    a time."""
    run: list[Region] = []
    for p in partitions:
        if run and len(run) < most and run[-1].contig == p.contig and run[-1].end == p.start:
            run.append(p)
        else:
            if run:
                yield run
            run = [p]
    if run:
        yield run

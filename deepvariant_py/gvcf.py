"""gVCF (docs/design.md §9.6): reference confidence per position from allele counts, GQ-binned reference blocks,
and their merge with the variant records into one gVCF that `bcftools merge --gvcf` accepts."""
from __future__ import annotations

import bisect
import gzip
import heapq
import itertools
import json
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .errors import DvcallError, InputError
from .outputs import GzipLines
from .regions import Region, RegionSet
from .vcf import VcfRecord

P_ERROR = 0.001
MAX_GQ = 50
GQ_BIN = 5
MAX_COUNT = 100  # counts above this are rescaled to it, as DeepVariant's precomputed table does
NON_REF = "<*>"
NON_REF_PL = 990  # GL -99 for every genotype with <*>, as DeepVariant writes


@dataclass(frozen=True)
class RefBlock:
    """[start, end) of positions that look like the reference with similar confidence (GQ, MIN_DP and each PL the
    least over them); `callable` False is one position where hom-ref is not the most likely genotype (./.);
    `haploid`: its confidence is one copy's (ploidy.haploid_block), never joined with a diploid block's."""

    contig: str
    start: int
    end: int
    gq: int
    min_dp: int
    pl: tuple[int, int, int]
    callable: bool = True
    haploid: bool = False


def reference_confidence(ref_count: np.ndarray, depth: np.ndarray, p_error: float = P_ERROR, max_gq: int = MAX_GQ
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw GQ, PL [L, 3], hom-ref is most likely) per position, from reads supporting the reference and all reads."""
    n_total = depth.astype(np.float64)
    n_ref = np.minimum(ref_count, depth).astype(np.float64)
    big = n_total > MAX_COUNT
    n_ref[big] = np.ceil(MAX_COUNT * n_ref[big] / n_total[big])
    n_total[big] = MAX_COUNT
    n_alt = n_total - n_ref
    le, lne = np.log10(p_error), np.log10(1 - p_error)
    gl = np.stack([n_ref * lne + n_alt * le, -n_total * np.log10(2.0), n_ref * le + n_alt * lne], axis=1)
    gl -= gl.max(axis=1, keepdims=True)
    prob = np.power(10.0, gl)
    prob /= prob.sum(axis=1, keepdims=True)
    p_not_rr = prob[:, 1] + prob[:, 2]  # no 1 - P(RR) cancellation
    with np.errstate(divide="ignore"):
        gq = np.floor(-10.0 * np.log10(p_not_rr))
    gq = np.where(p_not_rr <= 0, max_gq, np.minimum(gq, max_gq)).astype(np.int64)
    pl = np.trunc(-10.0 * gl).astype(np.int64)
    return gq, pl, gl.argmax(axis=1) == 0


def quantize_gq(gq: np.ndarray | int, binsize: int = GQ_BIN) -> np.ndarray:
    """Bins 0, 1-5, 6-10, ... (each labelled by its lowest GQ)."""
    return np.where(gq < 1, 0, ((gq - 1) // binsize) * binsize + 1)


def reference_blocks(contig: str, start: int, ref_codes: np.ndarray, ref_count: np.ndarray, depth: np.ndarray,
                     binsize: int = GQ_BIN, cuts: np.ndarray | None = None) -> list[RefBlock]:
    """Blocks over [start, start + len(ref_codes)): runs of equal GQ bin where hom-ref is most likely; other
    positions singly. Positions whose reference base is not A/C/G/T are skipped. `cuts`: offsets where a block
    must start (a candidate's first base and the one after it), so that the pieces postprocess leaves around a
    variant record carry only their own positions' GQ, MIN_DP and PL."""
    gq, pl, homref = reference_confidence(ref_count, depth)
    q = quantize_gq(gq, binsize)
    acgt = ref_codes < 4
    n = len(ref_codes)
    if n == 0:
        return []
    # a new block starts where the bin or the hom-ref flag changes, around every skipped base, and at every
    # position that is not hom-ref (those stand alone)
    breaks = np.ones(n, bool)
    breaks[1:] = (q[1:] != q[:-1]) | (homref[1:] != homref[:-1]) | ~acgt[:-1] | ~acgt[1:] | ~homref[1:]
    if cuts is not None and len(cuts):
        breaks[cuts[(cuts > 0) & (cuts < n)]] = True
    bounds = np.flatnonzero(breaks)
    blocks = []
    for s, e in zip(bounds.tolist(), np.append(bounds[1:], n).tolist()):
        if acgt[s]:
            blocks.append(RefBlock(contig, start + s, start + e, int(gq[s:e].min()), int(depth[s:e].min()),
                                   tuple(int(x) for x in pl[s:e].min(axis=0)), bool(homref[s])))
    return blocks


def clip_blocks(blocks: list[RefBlock], spans: list[tuple[int, int]]) -> list[RefBlock]:
    """The blocks' pieces inside the spans (sorted, disjoint): a window's blocks kept to the regions called in it.
    A piece keeps its block's GQ, MIN_DP and PL (the least over the block, so never more than its own bases')."""
    starts, ends = [s for s, _ in spans], [e for _, e in spans]
    out = []
    for b in blocks:  # only the spans that can overlap it: from the first ending after its start
        for i in range(bisect.bisect_right(ends, b.start), bisect.bisect_left(starts, b.end)):
            lo, hi = max(b.start, starts[i]), min(b.end, ends[i])
            if lo < hi:
                out.append(replace(b, start=lo, end=hi))
    return out


def uncovered_blocks(contig: str, start: int, ref_codes: np.ndarray) -> list[RefBlock]:
    """reference_blocks where no read covers: one block over each run of A/C/G/T bases, the confidence of depth 0
    (a partition without reads needs none of the per-position work: an exome BAM called without --regions
    has little else)."""
    acgt = ref_codes < 4
    if acgt.all():  # most partitions: one block (an empty partition has no run)
        runs = [(0, len(acgt))] if len(acgt) else []
    else:
        edges = np.flatnonzero(np.diff(acgt, prepend=False, append=False))  # starts and ends of the runs, alternating
        runs = zip(edges[0::2].tolist(), edges[1::2].tolist())
    gq, pl, homref = _UNCOVERED
    return [RefBlock(contig, start + s, start + e, gq, 0, pl, homref) for s, e in runs]


def _confidence_without_reads() -> tuple[int, tuple[int, int, int], bool]:
    gq, pl, homref = (x[0] for x in reference_confidence(np.zeros(1, np.int64), np.zeros(1, np.int64)))
    return int(gq), tuple(int(x) for x in pl), bool(homref)


_UNCOVERED = _confidence_without_reads()  # (GQ, PL, hom-ref most likely) at depth 0, as reference_confidence gives it


# --------------------------------------------------------------------------- storage between the stages


BLOCKS_FORMAT, BLOCKS_VERSION = "dvcall-gvcf-blocks", 2  # 1: a header line naming the make-examples shard; 2: and the
# regions the run called (`called`), when they are few enough to carry (MAX_CALLED_IN_HEADER intervals)
MAX_CALLED_IN_HEADER = 10_000  # a genome's contigs, or a panel's BED: ~30 bytes each; an exome BED's 200,000 are left out


class BlockWriter:
    """Reference blocks written as make_examples finishes each partition (a genome's are tens of millions: none
    is held), gzipped: a '#' header line (JSON: format, version, for a sharded run `shards`, [[index, count]]
    of the make-examples shard they belong to, so postprocess can tell that one is missing, and `called`, the
    whole run's calling regions, so it can check the gVCF covers them: check_tiling), then one tab-separated
    line each; under a temporary name until `close` renames the file into place; `abort` removes it."""

    def __init__(self, path: str, shard: tuple[int, int] | None = None, resume_at: int | None = None, keep: bool = False,
                 called: Sequence[tuple[str, int, int]] | None = None):
        """`resume_at`, `keep`: a checkpointed shard's (outputs.GzipLines); resumed, the file has its header.
        `called`: the run's calling regions, recorded when there are at most MAX_CALLED_IN_HEADER."""
        self.path = path
        self._out = GzipLines(path, compresslevel=4, resume_at=resume_at, keep=keep)
        if resume_at is None:
            header = {"format": BLOCKS_FORMAT, "version": BLOCKS_VERSION, **({"shards": [list(shard)]} if shard else {}),
                      **({"called": [list(r) for r in called]} if called is not None and len(called) <= MAX_CALLED_IN_HEADER
                         else {})}
            self._out.write("#" + json.dumps(header) + "\n")

    def write(self, blocks: Iterable[RefBlock]) -> None:
        self._out.write("".join(f"{b.contig}\t{b.start}\t{b.end}\t{b.gq}\t{b.min_dp}\t{b.pl[0]},{b.pl[1]},{b.pl[2]}\t"
                                f"{int(b.callable)}\n" for b in blocks))

    def checkpoint(self) -> tuple[int, str]:
        return self._out.checkpoint()

    def close(self) -> None:
        self._out.close()

    def abort(self) -> None:
        self._out.abort()


def write_blocks(path: str, blocks: Iterable[RefBlock], shard: tuple[int, int] | None = None) -> None:
    """All of `blocks` to `path` at once (BlockWriter)."""
    writer = BlockWriter(path, shard)
    try:
        writer.write(blocks)
    except BaseException:
        writer.abort()
        raise
    writer.close()


class UnsortedBlocks(Exception):
    """A blocks file is not in reference order (make_examples writes them in order; a concatenation of shards' files is not)."""


def read_blocks(paths: list[str], contig_order: dict[str, int], in_memory: bool = False) -> Iterator[RefBlock]:
    """Every file's blocks in reference order, one at a time: the files (make_examples' shards, each in reference
    order) merged as they are read; UnsortedBlocks as soon as one steps back, unless `in_memory`, which gathers
    and sorts them all first. InputError where two blocks overlap (a file given twice, or two runs' mixed)."""
    def key(b: RefBlock) -> tuple[int, str, int]:
        return contig_order.get(b.contig, 1 << 30), b.contig, b.start

    def parsed(path: str) -> Iterator[RefBlock]:
        last = None
        try:
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    if line.startswith("#"):
                        _check_blocks_header(path, line)
                        continue
                    contig, s, e, gq, dp, pl, ok = line.rstrip("\n").split("\t")
                    block = RefBlock(contig, int(s), int(e), int(gq), int(dp), tuple(map(int, pl.split(","))), ok == "1")
                    if not in_memory and last is not None and key(block) < last:
                        raise UnsortedBlocks(path)
                    last = key(block)
                    yield block
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"cannot read gVCF reference blocks from {path} ({exc}): rerun `dvcall make-examples --gvcf`") from None

    if in_memory:
        merged = sorted(itertools.chain(*map(parsed, paths)), key=key)
    else:
        merged = heapq.merge(*map(parsed, paths), key=key) if len(paths) > 1 else parsed(paths[0])
    prev = None
    for b in merged:  # shards' blocks tile the genome: an overlap is a file given twice
        if prev is not None and prev.contig == b.contig and b.start < prev.end:
            raise InputError(f"gVCF reference blocks overlap at {b.contig}:{b.start + 1}: a blocks file is given twice (or "
                             "a copy of one), or two runs' blocks are mixed; give each shard's blocks once")
        prev = b
        yield b


def is_blocks_file(path: str) -> bool:
    """Whether `path` is a gVCF blocks file make-examples wrote (its first line is a blocks header)."""
    try:
        return bool(_blocks_header(path))
    except (InputError, ValueError):  # not gzip, not a blocks header
        return False


def _blocks_header(path: str) -> dict:
    """A blocks file's header ({} for a file from before headers)."""
    try:
        with gzip.open(path, "rt") as fh:
            first = fh.readline()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read gVCF reference blocks from {path} ({exc}): rerun `dvcall make-examples --gvcf`") from None
    return _check_blocks_header(path, first) if first.startswith("#") else {}


def _check_blocks_header(path: str, line: str) -> dict:
    try:
        header = json.loads(line[1:])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != BLOCKS_FORMAT:
        raise InputError(f"{path} is not a dvcall gVCF blocks file: pass what `dvcall make-examples --gvcf` wrote")
    if int(header.get("version", 0)) > BLOCKS_VERSION:
        raise InputError(f"{path} was written by a newer dvcall (gVCF blocks version {header['version']}, this one reads "
                         f"up to {BLOCKS_VERSION}): upgrade dvcall or rerun `dvcall make-examples --gvcf` with this version")
    return header


def blocks_headers(paths: list[str]) -> list[dict]:
    """Each blocks file's header, read once for blocks_shards and blocks_called."""
    return [_blocks_header(path) for path in paths]


def blocks_called(headers: list[dict]) -> RegionSet | None:
    """The regions the blocks files' runs called (the union of their headers' `called`: shards of one run record
    the same, runs scattered by region their own), or None when one file does not record them."""
    distinct: set[tuple] = set()  # one run's shards record the same list: kept once (1,000 shards x 9,000 contigs)
    for header in headers:
        spans = header.get("called")
        if spans is None:
            return None
        distinct.add(tuple((str(c), int(s), int(e)) for c, s, e in spans))
    return RegionSet(Region(*span) for spans in distinct for span in spans) if headers else None


def blocks_shards(headers: list[dict]) -> set[tuple[int, int]]:
    """The make-examples shards (index, count) the blocks files' headers say they hold (regions.require_every_shard
    checks the set)."""
    return {(int(i), int(n)) for header in headers for i, n in header.get("shards") or []}


# --------------------------------------------------------------------------- the gVCF records


def _gq_bin(gq: int, binsize: int) -> int:
    """quantize_gq of one GQ, without numpy (~20x faster on a plain int)."""
    return 0 if gq < 1 else ((gq - 1) // binsize) * binsize + 1


def _min_pl(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    """A block's PL: each genotype's least over its positions, as GQ and MIN_DP are (GATK's reference blocks do the
    same), so no position claims more than it has (a block starting at a base with one read, then none)."""
    return tuple(min(x, y) for x, y in zip(a, b))


def _joinable(a: RefBlock, b: RefBlock, binsize: int) -> bool:
    """Touching pieces gvcf_records may join (cut by a partition boundary, or by a diploid GQ bin that haploid_block
    no longer tells apart): same contig, same GQ bin, both hom-ref, same ploidy."""
    return (a.callable and b.callable and a.contig == b.contig and a.end == b.start and a.haploid == b.haploid
            and _gq_bin(a.gq, binsize) == _gq_bin(b.gq, binsize))


def _joined(a: RefBlock, b: RefBlock) -> RefBlock:
    return RefBlock(a.contig, a.start, b.end, min(a.gq, b.gq), min(a.min_dp, b.min_dp), _min_pl(a.pl, b.pl), True, a.haploid)


def block_record(block: RefBlock, ref_base: str) -> VcfRecord:
    return VcfRecord(contig=block.contig, start=block.start, ref=ref_base, alts=[NON_REF], qual=0.0, filter=None,
                     genotype=(0, 0) if block.callable else None, gq=block.gq, depth=block.min_dp, allele_depths=[],
                     vafs=[], pl=list(block.pl), end=block.end, min_dp=block.min_dp)


def with_non_ref(rec: VcfRecord) -> VcfRecord:
    """A variant record as the gVCF carries it: `<*>` appended, PL 990 for every genotype that includes it."""
    n = len(rec.alts) + 1  # alleles before <*>
    pl = list(rec.pl) + [NON_REF_PL] * (n + 1)  # genotypes (j, n) for j = 0..n come last in VCF order
    return replace(rec, alts=list(rec.alts) + [NON_REF], allele_depths=list(rec.allele_depths) + [0],
                   vafs=list(rec.vafs) + [0.0], pl=pl)


def _cut_around(variants: Iterable[VcfRecord], blocks: Iterable[RefBlock], contig_order: dict[str, int]
                ) -> Iterator[VcfRecord | RefBlock]:
    """The variant records and the pieces of each block left around them, in reference order (a variant before
    a piece at its position): each piece keeps its own block's GQ, MIN_DP and PL."""
    def key(contig: str, pos: int) -> tuple[int, str, int]:
        return contig_order.get(contig, 1 << 30), contig, pos

    variants = iter(variants)
    nxt = next(variants, None)
    spans: list[tuple[int, int]] = []  # variants of the current contig that may still cut a block, by start
    span_contig = None
    for b in blocks:
        pulled = []
        while nxt is not None and key(nxt.contig, nxt.start) < key(b.contig, b.end):
            pulled.append(nxt)
            if nxt.contig != span_contig:
                spans, span_contig = [], nxt.contig
            spans.append((nxt.start, nxt.start + len(nxt.ref)))
            nxt = next(variants, None)
        if b.contig != span_contig:
            spans, span_contig = [], b.contig
        spans = [sp for sp in spans if sp[1] > b.start]  # later blocks start later still
        pieces = [b] if not spans else [replace(b, start=s, end=e) for s, e in _subtract(b.start, b.end, spans)]
        if pulled:
            both = [((key(v.contig, v.start), 0), v) for v in pulled] + [((key(p.contig, p.start), 1), p) for p in pieces]
            both.sort(key=lambda item: item[0])
            yield from (item for _, item in both)
        else:
            yield from pieces
    while nxt is not None:
        yield nxt
        nxt = next(variants, None)


def gvcf_records(variants: Iterable[VcfRecord], blocks: Iterable[RefBlock], contig_order: dict[str, int],
                 ref_fetch: Callable[[str, int, int], str], binsize: int = GQ_BIN
                 ) -> Iterator[tuple[VcfRecord | None, VcfRecord]]:
    """The gVCF in reference order: (variant, its gVCF record) for each variant record (every filter) and (None,
    block record) for each piece of a reference block cut around the variants, touching pieces joined again
    (_joinable); a variant comes before a block piece at its position. Blocks are cut before they are joined, so
    no piece takes another block's GQ, MIN_DP or PL from beyond a variant (and make_examples breaks its blocks at
    candidates, reference_blocks' `cuts`, so a piece's values are its own positions'). Both inputs are in
    reference order (blocks not overlapping) and are read once, a block's stretch at a time."""
    prev = None  # the block piece being joined
    for item in _cut_around(variants, blocks, contig_order):
        if isinstance(item, RefBlock):
            if prev is not None and _joinable(prev, item, binsize):
                prev = _joined(prev, item)
                continue
            if prev is not None:
                yield None, block_record(prev, ref_fetch(prev.contig, prev.start, prev.start + 1))
            prev = item
            continue
        if prev is not None:
            yield None, block_record(prev, ref_fetch(prev.contig, prev.start, prev.start + 1))
            prev = None
        yield item, with_non_ref(item)
    if prev is not None:
        yield None, block_record(prev, ref_fetch(prev.contig, prev.start, prev.start + 1))


class GvcfHole(DvcallError):
    """The gVCF would leave bases of the regions called without a record (reference blocks lost on the way)."""


def check_tiling(records: Iterable[tuple[VcfRecord | None, VcfRecord]], called: RegionSet, contigs: list[str],
                 ref_fetch: Callable[[str, int, int], str]) -> Iterator[tuple[VcfRecord | None, VcfRecord]]:
    """gvcf_records' pairs, passed on as they come, checking that their records leave no A/C/G/T base of the
    regions called uncovered (N and IUPAC positions have no block); GvcfHole at the first that does, before
    the records after it are written. `contigs`: the reference's, in its order. Only the stretches between
    records are looked up in the reference, so the check costs little besides one comparison a record."""
    spans = called.by_contig()
    order = [c for c in contigs if c in spans]
    index = {c: i for i, c in enumerate(order)}
    done = 0  # contigs of `order` finished

    def gaps(contig: str, start: int, end: int) -> None:
        for s, e in called.clip(contig, start, end):
            bases = ref_fetch(contig, s, e)
            if any(b in bases for b in "ACGT"):
                at = s + next(i for i, b in enumerate(bases) if b in "ACGT")
                raise GvcfHole(f"the gVCF would have no record at {contig}:{at + 1:,}, inside the regions called (the "
                               "reference blocks there are missing: a blocks file left out or from another make-examples "
                               "run, a damaged --intermediate-dir or blocks file, or a bug in dvcall); give each run's "
                               "every shard, rerun with a fresh --intermediate-dir, or make-examples --gvcf again")

    def finish(upto: int) -> int:  # the contigs before `upto` (in order) covered to their ends
        nonlocal covered
        for i in range(done, upto):
            gaps(order[i], covered if i == done else 0, spans[order[i]][-1][1])
            covered = 0
        return upto

    covered, contig = 0, None  # on `order[done]`: bases before `covered` have a record
    for variant, record in records:
        if record.contig != contig:
            contig = record.contig
            if contig in spans:
                if index[contig] < done:  # a contig already finished: not a stream gvcf_records makes
                    raise GvcfHole(f"the gVCF's records come back to {contig} after a later contig: they are not in "
                                   "reference order (a bug in dvcall: please report it)")
                done = finish(index[contig])
        if contig in spans:
            end = record.end if record.end is not None else record.start + len(record.ref)
            if record.start > covered:
                gaps(contig, covered, record.start)
            covered = max(covered, end)
        yield variant, record
    finish(len(order))


def _subtract(start: int, end: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) minus the spans (sorted by start)."""
    pieces, cur = [], start
    for s, e in spans:
        if s >= end:
            break
        if s > cur:
            pieces.append((cur, s))
        cur = max(cur, e)
    if cur < end:
        pieces.append((cur, end))
    return pieces

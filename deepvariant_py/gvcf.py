"""gVCF (docs/design.md §9.6): reference confidence per position from allele counts, GQ-binned reference blocks,
and their merge with the variant records into one gVCF that `bcftools merge --gvcf` accepts."""
from __future__ import annotations

import gzip
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

from .errors import InputError
from .outputs import atomic_output
from .vcf import VcfRecord

P_ERROR = 0.001
MAX_GQ = 50
GQ_BIN = 5
MAX_COUNT = 100  # counts above this are rescaled to it, as DeepVariant's precomputed table does
NON_REF = "<*>"
NON_REF_PL = 990  # GL -99 for every genotype with <*>, as DeepVariant writes


@dataclass(frozen=True)
class RefBlock:
    """[start, end) of positions that look like the reference with similar confidence; `callable` False is one
    position where hom-ref is not the most likely genotype (written as ./.)."""

    contig: str
    start: int
    end: int
    gq: int
    min_dp: int
    pl: tuple[int, int, int]
    callable: bool = True


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
                     binsize: int = GQ_BIN) -> list[RefBlock]:
    """Blocks over [start, start + len(ref_codes)): runs of equal GQ bin where hom-ref is most likely; other
    positions singly. Positions whose reference base is not A/C/G/T are skipped."""
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
    bounds = np.flatnonzero(breaks)
    blocks = []
    for s, e in zip(bounds.tolist(), np.append(bounds[1:], n).tolist()):
        if acgt[s]:
            blocks.append(RefBlock(contig, start + s, start + e, int(gq[s:e].min()), int(depth[s:e].min()),
                                   tuple(int(x) for x in pl[s]), bool(homref[s])))
    return blocks


# --------------------------------------------------------------------------- storage between the stages


def write_blocks(path: str, blocks: Iterable[RefBlock]) -> None:
    """One tab-separated line per block, gzipped; written to a temporary name and renamed when complete."""
    with atomic_output(path) as tmp, gzip.open(tmp, "wt", compresslevel=4) as fh:
        for b in blocks:
            fh.write(f"{b.contig}\t{b.start}\t{b.end}\t{b.gq}\t{b.min_dp}\t{b.pl[0]},{b.pl[1]},{b.pl[2]}\t{int(b.callable)}\n")


def read_blocks(paths: list[str]) -> list[RefBlock]:
    out = []
    for path in paths:
        try:
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    contig, s, e, gq, dp, pl, ok = line.rstrip("\n").split("\t")
                    out.append(RefBlock(contig, int(s), int(e), int(gq), int(dp), tuple(int(x) for x in pl.split(",")), ok == "1"))
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"cannot read gVCF reference blocks from {path} ({exc}): rerun `dvcall make-examples --gvcf`") from None
    ordered = sorted(out, key=lambda b: (b.contig, b.start))
    for a, b in zip(ordered, ordered[1:]):  # shards' blocks tile the genome: an overlap is a file given twice
        if a.contig == b.contig and b.start < a.end:
            raise InputError(f"gVCF reference blocks overlap at {b.contig}:{b.start + 1}: a blocks file is given twice (or "
                             "a copy of one), or two runs' blocks are mixed; give each shard's blocks once")
    return out


# --------------------------------------------------------------------------- the gVCF records


def _merge_adjacent(blocks: list[RefBlock], binsize: int) -> list[RefBlock]:
    """Join blocks cut only by partition boundaries (same contig, touching, same GQ bin, both hom-ref)."""
    out: list[RefBlock] = []
    for b in blocks:
        prev = out[-1] if out else None
        if (prev is not None and prev.callable and b.callable and prev.contig == b.contig and prev.end == b.start
                and quantize_gq(prev.gq, binsize) == quantize_gq(b.gq, binsize)):
            out[-1] = RefBlock(prev.contig, prev.start, b.end, min(prev.gq, b.gq), min(prev.min_dp, b.min_dp), prev.pl, True)
        else:
            out.append(b)
    return out


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


def gvcf_records(variants: list[VcfRecord], blocks: list[RefBlock], contig_order: dict[str, int],
                 ref_fetch: Callable[[str, int, int], str], binsize: int = GQ_BIN) -> list[VcfRecord]:
    """Variant records (every filter) and reference blocks in order, each block cut around the variants."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for v in variants:
        spans.setdefault(v.contig, []).append((v.start, v.start + len(v.ref)))
    reach = {}
    for contig, s in spans.items():
        s.sort()
        reach[contig] = np.maximum.accumulate(np.array([e for _, e in s], np.int64))
    out: list[VcfRecord] = [with_non_ref(v) for v in variants]
    none = np.zeros(0, np.int64)
    for b in _merge_adjacent(sorted(blocks, key=lambda b: (contig_order.get(b.contig, 1 << 30), b.start)), binsize):
        for s, e in _subtract(b.start, b.end, spans.get(b.contig, []), reach.get(b.contig, none)):
            piece = RefBlock(b.contig, s, e, b.gq, b.min_dp, b.pl, b.callable)
            out.append(block_record(piece, ref_fetch(b.contig, s, s + 1)))
    out.sort(key=lambda r: (contig_order.get(r.contig, 1 << 30), r.start, r.end is not None))  # a variant before a block at its position
    return out


def _subtract(start: int, end: int, spans: list[tuple[int, int]], reach: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) minus the spans (sorted by start; `reach[i]` is the furthest end among spans[:i + 1])."""
    pieces, cur = [], start
    for s, e in spans[int(np.searchsorted(reach, start, side="right")):]:
        if s >= end:
            break
        if s > cur:
            pieces.append((cur, s))
        cur = max(cur, e)
    if cur < end:
        pieces.append((cur, end))
    return pieces

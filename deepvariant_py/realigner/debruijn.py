"""Candidate haplotypes of a window from a de Bruijn graph of the reference and the reads (docs/design.md §3.2).

Vertices are k-mers, edges are the (k+1)-mers seen in the reference (flagged `is_ref`) or in reads, weighted
by how many read occurrences support them. k starts at dbg_min_k and grows until the reference has no
repeated k-mer and the whole graph (reference + every read k-mer, before pruning) is acyclic. Non-reference
edges with weight < dbg_min_edge_weight are pruned, then vertices not on some source -> sink route are
dropped, and the source -> sink paths are enumerated breadth-first, giving up past dbg_max_num_paths
(assemble returns [] then, and also when the reference is the only path or no acyclic k exists).

Differences from DeepVariant, on purpose:
* When the window's start on the reference is given, each read contributes only the bases aligned inside
  the window (its soft clips when they fall inside). Bases outside can only form dead ends that pruning
  removes anyway (every path starts at the window's first reference k-mer and ends at its last), but they
  can create cycles that force a larger k; trimming makes assembly cheaper and k smaller.
* Each haplotype carries its support (the weight of its weakest non-reference edge) so the aligner can keep
  the best-supported ones.
"""
from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pysam

from ..cigar import ALIGNED, AlignedBases
from ..read_events import MISSING_BASE_QUALITY
from .options import RealignerOptions

REF_SUPPORT = 1 << 30
"""Support given to the reference haplotype (it is never pruned)."""


@dataclass(frozen=True)
class Haplotype:
    sequence: str
    support: int  # weight of the weakest non-reference edge; REF_SUPPORT for the reference path
    is_ref: bool


def read_segments(reads: list[pysam.AlignedSegment], opts: RealignerOptions = RealignerOptions(),
                  ref_start: int | None = None, ref_end: int | None = None,
                  bases: Sequence[AlignedBases | None] | None = None) -> list[str]:
    """Maximal runs of usable read bases (ACGT, BQ >= dbg_min_base_quality) from reads with MAPQ >= dbg_min_mapq,
    keeping runs longer than dbg_min_k (shorter ones hold no edge at any k).

    With `ref_start`/`ref_end`, only the part of each read aligned inside [ref_start, ref_end) is used; `bases`:
    the reads' AlignedBases where the caller keeps them (a long read's thousands of CIGAR operations are then
    not walked again for each window).
    """
    run = re.compile("[ACGT]{%d,}" % (opts.dbg_min_k + 1))
    segments: list[str] = []
    for j, read in enumerate(reads):
        if read.mapping_quality < opts.dbg_min_mapq or read.query_sequence is None or not read.cigartuples:
            continue
        full = read.query_sequence
        q_lo, q_hi = 0, len(full)
        if ref_start is not None and ref_end is not None:
            where = bases[j] if bases is not None else None
            q_lo, q_hi = where.query_range(ref_start, ref_end) if where is not None else _query_range(read, ref_start, ref_end)
        if q_hi - q_lo <= opts.dbg_min_k:
            continue
        seq = full[q_lo:q_hi].upper()
        qual = read.query_qualities
        if qual is not None and len(qual) == len(full):
            qa = np.frombuffer(qual, np.uint8)[q_lo:q_hi]
            if qa.min() < opts.dbg_min_base_quality:  # mask low-quality bases as N
                codes = np.frombuffer(seq.encode("ascii"), np.uint8).copy()
                codes[qa < opts.dbg_min_base_quality] = ord("N")
                seq = codes.tobytes().decode("ascii")
        elif MISSING_BASE_QUALITY < opts.dbg_min_base_quality:
            continue
        segments.extend(run.findall(seq))
    return segments


def _query_range(read: pysam.AlignedSegment, ref_start: int, ref_end: int) -> tuple[int, int]:
    """Query interval of the bases aligned in [ref_start, ref_end); soft clips count as aligned next to their
    anchor (AlignedBases.query_range; one aligned block, most short reads, without building its arrays)."""
    pos = read.reference_start
    cigar = read.cigartuples
    if len(cigar) == 1 and cigar[0][0] in ALIGNED:
        q_lo, q_hi = max(ref_start, pos) - pos, min(ref_end, pos + cigar[0][1]) - pos
        return (q_lo, q_hi) if q_lo < q_hi else (0, 0)
    return AlignedBases(cigar, pos).query_range(ref_start, ref_end)


def _ref_has_repeat(ref: str, k: int) -> bool:
    n = len(ref) - k + 1
    return len({ref[i:i + k] for i in range(n)}) < n


def _has_cycle(edges) -> bool:
    """Kahn's algorithm over edges given as (k+1)-mers."""
    succ: dict[str, list[str]] = {}
    indeg: Counter = Counter()
    for e in edges:
        u, v = e[:-1], e[1:]
        succ.setdefault(u, []).append(v)
        succ.setdefault(v, [])
        indeg[v] += 1
    queue = [v for v in succ if indeg[v] == 0]
    seen = 0
    while queue:
        u = queue.pop()
        seen += 1
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    return seen < len(succ)


def _read_edges(segments: list[str], k: int) -> Counter:
    """(k+1)-mer counts of the segments (ACGT only). Up to 32 bases a k-mer is packed 2 bits a base into one
    uint64 and counted with np.unique (3x faster than counting strings); longer ones are counted as strings,
    with slicing driven by map() so that loop runs in C."""
    k1 = k + 1
    if k1 <= 32:
        return _packed_edges(segments, k1)
    counts: Counter = Counter()
    for s in segments:
        n = len(s) - k
        if n > 0:
            counts.update(map(s.__getitem__, map(slice, range(n), range(k1, n + k1))))
    return counts


_CODE2 = np.full(256, 4, np.uint64)
for _i, _b in enumerate(b"ACGT"):
    _CODE2[_b] = _i
_LETTERS = np.frombuffer(b"ACGT", np.uint8)


def _packed_edges(segments: list[str], k1: int) -> Counter:
    codes = _CODE2[np.frombuffer("N".join(segments).encode("ascii"), np.uint8)]  # N: between segments
    n = len(codes) - k1 + 1
    if n <= 0:
        return Counter()
    breaks = np.concatenate(([0], np.cumsum(codes == 4)))
    whole = breaks[k1:k1 + n] == breaks[:n]  # no segment boundary inside
    packed = np.zeros(n, np.uint64)
    for j in range(k1):
        packed <<= np.uint64(2)
        packed |= codes[j:j + n] & np.uint64(3)
    values, counts = np.unique(packed[whole], return_counts=True)
    shifts = np.arange(2 * (k1 - 1), -1, -2, dtype=np.uint64)
    letters = _LETTERS[((values[:, None] >> shifts) & np.uint64(3)).astype(np.intp)]
    names = letters.view(f"S{k1}").ravel().tolist()
    return Counter(dict(zip((b.decode("ascii") for b in names), counts.tolist())))


def assemble(ref_seq: str, reads: list[pysam.AlignedSegment], opts: RealignerOptions = RealignerOptions(),
             ref_start: int | None = None) -> list[Haplotype]:
    """Haplotypes of the window `ref_seq` (sorted by sequence), or [] when only the reference is found,
    no acyclic k exists, or the graph has too many paths. `ref_start` (the window's reference start)
    restricts reads to the window, see the module docstring."""
    segments = read_segments(reads, opts, ref_start, ref_start + len(ref_seq) if ref_start is not None else None)
    return assemble_segments(ref_seq, segments, opts)


def assemble_segments(ref_seq: str, segments: list[str], opts: RealignerOptions = RealignerOptions()) -> list[Haplotype]:
    """assemble, from the reads' segments (read_segments): the same segments always give the same haplotypes."""
    ref_seq = ref_seq.upper()
    max_k = min(opts.dbg_max_k, len(ref_seq) - 1)
    k = opts.dbg_min_k
    while k <= max_k and _ref_has_repeat(ref_seq, k):
        k += opts.dbg_step_k
    while k <= max_k:
        ref_edges = {ref_seq[i:i + k + 1] for i in range(len(ref_seq) - k)}
        weights = _read_edges(segments, k)
        if not _has_cycle(ref_edges.union(weights)):
            return _haplotypes(ref_seq, k, ref_edges, weights, opts)
        k += opts.dbg_step_k
    return []


def assemble_haplotypes(ref_seq: str, reads: list[pysam.AlignedSegment], opts: RealignerOptions = RealignerOptions(),
                        ref_start: int | None = None) -> list[str]:
    """Sorted haplotype sequences of the window (the reference among them), or [] when only the reference is found."""
    return [h.sequence for h in assemble(ref_seq, reads, opts, ref_start)]


def _haplotypes(ref_seq: str, k: int, ref_edges: set[str], weights: Counter, opts: RealignerOptions) -> list[Haplotype]:
    min_w = opts.dbg_min_edge_weight
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for e in ref_edges.union([e for e, w in weights.items() if w >= min_w]):
        u, v = e[:-1], e[1:]
        succ.setdefault(u, []).append(v)
        pred.setdefault(v, []).append(u)
    source, sink = ref_seq[:k], ref_seq[-k:]
    forward = _reachable(source, succ)
    backward = _reachable(sink, pred)
    alive = forward & backward
    # Deterministic successor order (set iteration order depends on string hashing).
    succ = {u: sorted(v for v in vs if v in alive) for u, vs in succ.items() if u in alive}

    def weight(u: str, v: str) -> int:
        e = u + v[-1]
        return REF_SUPPORT if e in ref_edges else weights[e]

    def walk(u: str, v: str) -> tuple[str, str, int]:
        """Follow u -> v and on through vertices with one successor: (stop vertex, bases added, weakest edge)."""
        bases = [v[-1]]
        low = weight(u, v)
        while v != sink and len(succ.get(v, ())) == 1:
            u, v = v, succ[v][0]
            bases.append(v[-1])
            low = min(low, weight(u, v))
        return v, "".join(bases), low

    # Breadth-first over branch points (linear stretches are walked in one step); the number of paths only
    # grows, so giving up as soon as it passes the limit is the same as DeepVariant's check.
    steps: dict[tuple[str, str], tuple[str, str, int]] = {}
    terminated: list[tuple[str, int]] = []
    open_paths = deque([(source, source, REF_SUPPORT)])  # (last vertex, sequence so far, weakest edge)
    while open_paths:
        if len(terminated) + len(open_paths) > opts.dbg_max_num_paths:
            return []
        last, seq, support = open_paths.popleft()
        for v in succ.get(last, ()):
            step = steps.get((last, v))
            if step is None:
                step = steps[(last, v)] = walk(last, v)
            end, bases, low = step
            item = (end, seq + bases, min(support, low))
            if end == sink or not succ.get(end):
                terminated.append(item[1:])
            else:
                open_paths.append(item)
    if len(terminated) > opts.dbg_max_num_paths:
        return []
    haps = sorted({s: w for s, w in terminated if s.endswith(sink)}.items())
    if not haps or [s for s, _ in haps] == [ref_seq]:
        return []
    return [Haplotype(s, w, s == ref_seq) for s, w in haps]


def _reachable(start: str, adjacency: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in adjacency.get(u, ()):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen

"""Haplotype-level matching: do two sets of alleles spell the same two haplotypes?

Exact allele matching (evaluate.py) counts an event written two ways as false positives plus false
negatives. In a tandem repeat a haplotype with a 2-bp insertion and, ten bases on, a 2-bp deletion reads the
same as that stretch with three base changes; left-alignment and atomisation cannot make the two records
agree. hap.py's vcfeval engine credits such calls by comparing the sequences the alleles spell; this module
does the same for the alleles exact matching leaves over:

1. ``clusters``: every truth and query allele, as an edit of the reference, chained with its neighbours when
   they lie within ``CLUSTER_GAP`` bases of each other;
2. ``haplotype_pairs``: every way to place a cluster's alleles on two haplotypes (an allele with two copies on
   both, one with one copy on either; alleles that overlap cannot share a haplotype), spelled over one
   window of the reference;
3. ``equivalent``: the truth and the query of a cluster match when some placement of each gives the same
   pair of sequences. Genotypes are taken as unphased, as vcfeval does by default.

A cluster with more than ``MAX_HETS`` one-copy alleles on a side is not judged (its exact-match counts stand).
Pure functions over normalised allele keys ``(contig, POS, REF, ALT)`` and a reference fetcher.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

AlleleKey = Tuple[str, int, str, str]  # (contig, POS 1-based, REF, ALT), normalised
Edit = Tuple[int, int, str]  # replace reference [start, end) (0-based) by this sequence
Fetch = Callable[[str, int, int], str]  # (contig, start, end) -> upper-case reference bases

CLUSTER_GAP = 25  # alleles this close (bases between their edits) are judged together
MAX_HETS = 12  # 2^(n-1) placements per side


def edit_of(key: AlleleKey) -> Edit:
    """The reference change an allele makes; an indel's shared anchor base is dropped, so an insertion is an
    empty span (it can sit next to a base change at its anchor)."""
    _, pos, ref, alt = key
    start = pos - 1
    if len(ref) != len(alt) and ref and alt and ref[0] == alt[0]:
        return start + 1, start + len(ref), alt[1:]
    return start, start + len(ref), alt


SLIDE_WINDOW = 150  # bases each side of an indel searched for the stretch it can slide along


def slide_span(key: AlleleKey, fetch: Fetch) -> Tuple[int, int]:
    """The reference stretch an indel can be written anywhere in (from its left-most to its right-most equal
    placement, at most SLIDE_WINDOW bases beyond it); a substitution's own span. In a tandem repeat a deletion
    of one unit near its start and an insertion near its end spell what small edits in its middle spell, so
    the alleles must be judged together however far apart they are written."""
    start, end, seq = edit_of(key)
    if len(seq) == end - start:  # a substitution (a pure indel has one side empty)
        return start, end
    contig = key[0]
    lo = max(0, start - SLIDE_WINDOW)
    ref = fetch(contig, lo, end + SLIDE_WINDOW)
    s, e = start - lo, end - lo
    if e > s and not seq:  # deletion of ref[s:e]
        a, b = s, e
        while a > 0 and ref[a - 1] == ref[b - 1]:
            a, b = a - 1, b - 1
        c, d = s, e
        while d < len(ref) and ref[c] == ref[d]:
            c, d = c + 1, d + 1
        return lo + a, lo + d
    if e == s and seq:  # insertion of seq before ref[s]
        left, a = seq, s
        while a > 0 and ref[a - 1] == left[-1]:
            left, a = left[-1] + left[:-1], a - 1
        right, b = seq, s
        while b < len(ref) and ref[b] == right[0]:
            right, b = right[1:] + right[0], b + 1
        return lo + a, lo + b
    return start, end  # a complex allele: its own span


def clusters(truth: Iterable[AlleleKey], query: Iterable[AlleleKey], gap: int = CLUSTER_GAP,
             fetch: Optional[Fetch] = None) -> List[Tuple[List[AlleleKey], List[AlleleKey]]]:
    """(truth alleles, query alleles) of each cluster, in reference order. With `fetch`, an indel reaches as far
    as it can slide (slide_span)."""
    def span(k: AlleleKey) -> Tuple[int, int]:
        return slide_span(k, fetch) if fetch is not None else edit_of(k)[:2]

    items = sorted([(k[0], *span(k), side, k) for side, keys in enumerate((truth, query)) for k in keys])
    out: List[Tuple[List[AlleleKey], List[AlleleKey]]] = []
    contig, end = None, 0
    for item_contig, start, stop, side, key in items:
        if not out or item_contig != contig or start > end + gap:
            out.append(([], []))
            contig, end = item_contig, stop
        out[-1][side].append(key)
        end = max(end, stop)
    return out


def spell(edits: Iterable[Edit], ref: str, offset: int) -> Optional[str]:
    """The sequence of reference window `ref` (starting at `offset`) with `edits` applied; None when two
    edits overlap or two insertions share a point (no single haplotype holds both)."""
    out, at, last_insertion = [], offset, None
    for start, end, seq in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < at or (start == end and last_insertion == start):
            return None
        out.append(ref[at - offset:start - offset])
        out.append(seq)
        at = end
        last_insertion = start if start == end else None
    out.append(ref[at - offset:])
    return "".join(out)


def haplotype_pairs(alleles: Dict[AlleleKey, int], ref: str, offset: int,
                    max_hets: int = MAX_HETS) -> Optional[Set[Tuple[str, str]]]:
    """Every (sorted) pair of haplotype sequences the alleles (with their copies) can make over the window;
    None when a side cannot be judged (copies other than 1 or 2, or too many one-copy alleles)."""
    if any(n not in (1, 2) for n in alleles.values()):
        return None
    both = [edit_of(k) for k, n in alleles.items() if n == 2]
    hets = [edit_of(k) for k, n in alleles.items() if n == 1]
    if len(hets) > max_hets:
        return None
    pairs: Set[Tuple[str, str]] = set()
    for mask in range(1 << max(0, len(hets) - 1)):  # the first one-copy allele stays on haplotype 1
        haplotypes: Tuple[List[Edit], List[Edit]] = (list(both), list(both))
        for i, e in enumerate(hets):
            haplotypes[(mask >> (i - 1)) & 1 if i else 0].append(e)
        first, second = (spell(h, ref, offset) for h in haplotypes)
        if first is not None and second is not None:
            pairs.add((first, second) if first <= second else (second, first))
    return pairs


def equivalent(truth: Dict[AlleleKey, int], query: Dict[AlleleKey, int], fetch: Fetch) -> bool:
    """Whether the two sets of alleles (of one cluster, one contig) can spell the same two haplotypes."""
    if not truth or not query:
        return False
    edits = [edit_of(k) for k in (*truth, *query)]
    contig = next(iter(truth))[0]
    lo = max(0, min(e[0] for e in edits) - 1)
    hi = max(e[1] for e in edits) + 1
    ref = fetch(contig, lo, hi)
    t = haplotype_pairs(truth, ref, lo)
    q = haplotype_pairs(query, ref, lo)
    return bool(t and q and t & q)


def rescued(truth: Dict[AlleleKey, int], query: Dict[AlleleKey, int], exact: Set[AlleleKey],
            fetch: Fetch) -> Tuple[Set[AlleleKey], Set[AlleleKey]]:
    """(truth alleles, query alleles) of the clusters that hold an allele without an exact match and whose
    two sides spell the same haplotypes."""
    got_truth: Set[AlleleKey] = set()
    got_query: Set[AlleleKey] = set()
    for t_keys, q_keys in clusters(truth, query, fetch=fetch):
        if all(k in exact for k in t_keys) and all(k in exact for k in q_keys):
            continue
        if equivalent({k: truth[k] for k in t_keys}, {k: query[k] for k in q_keys}, fetch):
            got_truth.update(t_keys)
            got_query.update(q_keys)
    return got_truth, got_query

"""Reads flattened into per-base events (aligned bases) and per-read events (indels, soft clips).

Allele counting and pileup drawing both consume these arrays, so each CIGAR is walked once per
partition and everything downstream is numpy over all reads at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pysam

from .cigar import ALIGNED, DEL, INS, REF_SKIP, SOFT_CLIP

# Base codes shared by counting and drawing.
A, C, G, T, N, STAR = 0, 1, 2, 3, 4, 5
BASES = "ACGT"
_CODE = np.full(256, N, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i

MIN_BASE_QUALITY = 10
"""Bases below this quality count for no allele and show no read in a pileup (candidates, pileup: one value)."""
MIN_MAPPING_QUALITY = 5
"""Reads below this MAPQ are not used (reads.ReadFilter) nor shown (pileup); presets may change it, for both."""
MISSING_BASE_QUALITY = 30
"""Quality assumed for reads stored without qualities ('*'): usable, but not trusted as Q40."""
N_BASE_QUALITY = 2
"""Most a read's N (or other non-ACGT) base is worth: sequencers write N at Q2, and an N of higher quality (a
masking tool that kept the qualities) was drawn as a confident base that differs from the reference, which
turned true SNPs under reads of many Ns into RefCalls (hostile18)."""

INSERTION, DELETION, CLIPPED = 1, 2, 3  # event kinds (a soft clip is an event anchored like an insertion)



def encode_bases(seq: str) -> np.ndarray:
    """ASCII bases to codes 0-3 (ACGT) and 4 (anything else)."""
    return _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def n_capped(codes: np.ndarray, quals: np.ndarray) -> np.ndarray:
    """Base qualities with each N (or other non-ACGT base: code 4) worth at most N_BASE_QUALITY."""
    return np.where(codes == 4, np.minimum(quals, N_BASE_QUALITY), quals).astype(quals.dtype, copy=False)


@dataclass
class ReadEvents:
    """All reads of a partition as flat arrays; row i of every per-read array is reads[i]."""

    n_reads: int
    start: np.ndarray  # per read: reference_start
    end: np.ndarray  # per read: reference_end
    mapq: np.ndarray
    reverse: np.ndarray  # bool
    read2: np.ndarray  # bool: the second read of its pair (with `reverse`, the pair orientation: damage.f1r2)
    hp: np.ndarray  # HP tag, 0 if absent
    ps: np.ndarray  # PS tag (the phase set HP is relative to) of a read with an HP tag, 0 if absent
    length: np.ndarray  # bases in the read (soft clips included)
    # aligned bases
    m_read: np.ndarray
    m_pos: np.ndarray
    m_base: np.ndarray
    m_qual: np.ndarray
    # indel / soft clip events, anchored at the reference base before the event
    e_read: np.ndarray
    e_pos: np.ndarray
    e_kind: np.ndarray
    e_bases: list[str]  # anchor base + inserted/deleted/clipped bases
    e_low_quality: np.ndarray  # bool: an insertion/soft clip whose mean base quality is below the extraction's threshold
    e_draw_qual: np.ndarray  # base quality drawn for the '*' pixel
    e_qual_sum: np.ndarray  # summed base quality of the inserted/clipped bases (0 for deletions): low_quality() at other thresholds
    no_qualities: int = 0  # reads stored without base qualities ('*'): each base taken as MISSING_BASE_QUALITY

    def hp_of(self, rows: np.ndarray) -> np.ndarray:
        """HP of the reads at `rows` (one pileup's), read in one phase set: HP 1 and 2 are relative to their read's
        PS (whatshap's phase block), and blocks are oriented independently, so the tagged reads of the phase set
        most of them share keep their HP and the others count as untagged (ties: the smaller PS). Without PS
        tags, or with one PS, HP as it is: a 5 kb phase-block tiling had turned hets near block ends 1/1."""
        hp = self.hp[rows]
        ps = self.ps[rows][hp > 0]
        if len(ps) == 0 or (ps == ps[0]).all():
            return hp
        values, counts = np.unique(ps, return_counts=True)
        return np.where(self.ps[rows] == values[np.argmax(counts)], hp, 0).astype(hp.dtype)

    @property
    def is_long(self) -> np.ndarray:
        """Per read: a long read (more than LONG_READ_BASES bases: HiFi, ONT), for the technology channel."""
        return self.length > LONG_READ_BASES

    def low_quality(self, min_base_quality: int) -> np.ndarray:
        """e_low_quality as if extracted with `min_base_quality` (window selection counts at a stricter one)."""
        lengths = np.fromiter((len(b) - 1 for b in self.e_bases), np.int64, len(self.e_bases))
        return (self.e_kind != DELETION) & (self.e_qual_sum < min_base_quality * lengths)


LONG_READ_BASES = 500
"""Reads longer than this are long reads (PacBio, ONT): never locally realigned (DeepVariant's rule, also its
hybrid model's) and drawn as such in the technology channel. Illumina reads are at most 2 x 300 bp."""


def hp_tag(read: pysam.AlignedSegment) -> int:
    """A read's haplotype tag, 0 for none (no HP, HP:i:0, or a value that is not a positive integer)."""
    if not read.has_tag("HP"):  # 4x cheaper than get_tag's KeyError on the untagged reads of most BAMs
        return 0
    try:
        value = int(read.get_tag("HP"))
    except (KeyError, ValueError, TypeError):
        return 0
    return value if value > 0 else 0


def _ps(read: pysam.AlignedSegment) -> int:
    try:
        return int(read.get_tag("PS"))
    except (KeyError, ValueError, TypeError):
        return 0


def _one_base_qualities(read: pysam.AlignedSegment) -> str | None:
    q = read.query_qualities
    return None if q is None else "".join(chr(x + 33) for x in q)


def _qualities(reads: list[pysam.AlignedSegment], seqs: list[str]) -> tuple[np.ndarray, int]:
    """(every read's base qualities joined in read order, reads stored without them): MISSING_BASE_QUALITY at each
    base of such a read; one string per read, decoded once."""
    # pysam 0.24's query_qualities_str reads past a 1-base read's qualities (garbage or a UnicodeDecodeError):
    # such reads' qualities come from the array instead
    texts = [r.query_qualities_str if len(s) > 1 else _one_base_qualities(r) for r, s in zip(reads, seqs)]
    missing, n_missing = chr(MISSING_BASE_QUALITY + 33), sum(t is None for t in texts)
    joined = "".join(t if t is not None and len(t) == len(s) else missing * len(s) for t, s in zip(texts, seqs))
    try:
        return np.frombuffer(joined.encode("latin-1"), dtype=np.uint8) - np.uint8(33), n_missing
    except UnicodeEncodeError:  # a quality above 222 has no one-byte character: take the arrays
        parts = [r.query_qualities for r in reads]
        return np.frombuffer(b"".join(bytes(q) if q is not None and len(q) == len(s) else bytes([MISSING_BASE_QUALITY]) * len(s)
                                      for q, s in zip(parts, seqs)), dtype=np.uint8), n_missing


def extract_events(reads: list[pysam.AlignedSegment], ref_seq: str, ref_offset: int,
                   min_base_quality: int = MIN_BASE_QUALITY) -> ReadEvents:
    """Walk every CIGAR once (per operation, not per base) and expand aligned blocks with numpy.

    `ref_seq` must cover every read's span (plus one base before) starting at `ref_offset`. Reads of one
    aligned block (most short reads) are taken as arrays; only the others are walked operation by operation.
    """
    n = len(reads)
    seqs = [r.query_sequence for r in reads]
    joined = "".join(seqs)
    cigars = [r.cigartuples for r in reads]
    lengths = np.fromiter(map(len, seqs), np.int64, n)
    starts = np.fromiter((r.reference_start for r in reads), np.int64, n)
    mapq = np.fromiter((r.mapping_quality for r in reads), np.int16, n)
    reverse = np.fromiter((r.is_reverse for r in reads), bool, n)
    read2 = np.fromiter((r.is_read2 for r in reads), bool, n)
    hp = np.fromiter(map(hp_tag, reads), np.int16, n)
    ps = np.zeros(n, np.int64)
    for i in np.flatnonzero(hp).tolist():  # only a tagged read's phase set matters
        ps[i] = _ps(reads[i])
    all_codes = _CODE[np.frombuffer(joined.encode("ascii"), dtype=np.uint8)]
    all_quals, no_qualities = _qualities(reads, seqs)
    all_quals = n_capped(all_codes, all_quals)
    q_starts = np.cumsum(lengths) - lengths
    one_block = np.fromiter((len(c) == 1 and c[0][0] in ALIGNED for c in cigars), bool, n)
    single = np.flatnonzero(one_block)
    single_len = np.fromiter((cigars[i][0][1] for i in single.tolist()), np.int64, len(single))
    ends = starts.copy()
    ends[single] += single_len
    b_read: list[int] = []
    b_ref: list[int] = []
    b_query: list[int] = []
    b_len: list[int] = []
    e_read: list[int] = []
    e_pos: list[int] = []
    e_kind: list[int] = []
    e_bases: list[str] = []
    e_low: list[bool] = []
    e_dq: list[int] = []
    e_qs: list[int] = []
    for i in np.flatnonzero(~one_block).tolist():
        seq, cigar = seqs[i], cigars[i]
        q_offset = int(q_starts[i])
        qarr = all_quals[q_offset:q_offset + len(seq)]
        pos = int(starts[i])
        q = 0
        aligned_before = False  # the operation before is an aligned one (not a clip, insertion, deletion or P)
        for op, length in cigar:
            if op in (INS, SOFT_CLIP, DEL):  # anchored on the base before: the read's where that base is aligned
                prev = seq[q - 1] if aligned_before and q > 0 else ref_seq[pos - 1 - ref_offset] if pos - 1 >= ref_offset else "N"
            if op in ALIGNED:
                b_read.append(i)
                b_ref.append(pos)
                b_query.append(q_offset + q)
                b_len.append(length)
                pos += length
                q += length
            elif op in (INS, SOFT_CLIP):
                inserted = seq[q:q + length]
                iq = qarr[q:q + length]
                e_read.append(i)
                e_pos.append(pos - 1)
                e_kind.append(INSERTION if op == INS else CLIPPED)
                e_bases.append((prev + inserted).upper())
                qsum = int(iq.sum())
                e_low.append(qsum < min_base_quality * length)
                e_dq.append(int(iq[0]) if length else 0)
                e_qs.append(qsum)
                q += length
            elif op == DEL:
                e_read.append(i)
                e_pos.append(pos - 1)
                e_kind.append(DELETION)
                e_bases.append(prev.upper() + ref_seq[pos - ref_offset:pos - ref_offset + length])
                e_low.append(False)
                e_dq.append(int(qarr[q - 1]) if q > 0 else int(qarr[0]) if len(qarr) else 0)
                e_qs.append(0)
                pos += length
            elif op == REF_SKIP:
                pos += length
            # H, P: nothing
            aligned_before = op in ALIGNED
        ends[i] = pos

    # blocks in read order (a read's own blocks in CIGAR order): the one-block reads', then the walked ones'
    blk_read = np.concatenate([single, np.asarray(b_read, np.int64)])
    order = np.argsort(blk_read, kind="stable")
    blk_read = blk_read[order]
    blk_ref = np.concatenate([starts[single], np.asarray(b_ref, np.int64)])[order]
    blk_query = np.concatenate([q_starts[single], np.asarray(b_query, np.int64)])[order]
    b_len_a = np.concatenate([single_len, np.asarray(b_len, np.int64)])[order]
    total = int(b_len_a.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(b_len_a) - b_len_a, b_len_a)
    m_read = np.repeat(blk_read, b_len_a)
    m_pos = np.repeat(blk_ref, b_len_a) + within
    q_idx = np.repeat(blk_query, b_len_a) + within
    return ReadEvents(
        n_reads=n, start=starts, end=ends, mapq=mapq, reverse=reverse, read2=read2, hp=hp, ps=ps, length=lengths,
        m_read=m_read, m_pos=m_pos, m_base=all_codes[q_idx], m_qual=all_quals[q_idx],
        e_read=np.asarray(e_read, np.int64), e_pos=np.asarray(e_pos, np.int64), e_kind=np.asarray(e_kind, np.int8),
        e_bases=e_bases, e_low_quality=np.asarray(e_low, bool), e_draw_qual=np.asarray(e_dq, np.uint8),
        e_qual_sum=np.asarray(e_qs, np.int64), no_qualities=no_qualities,
    )


_PER_READ = ("start", "end", "mapq", "reverse", "read2", "hp", "ps", "length")
_PER_BASE = ("m_read", "m_pos", "m_base", "m_qual")
_PER_EVENT = ("e_read", "e_pos", "e_kind", "e_low_quality", "e_draw_qual", "e_qual_sum")


def replace_reads(events: ReadEvents, rows: np.ndarray, new: ReadEvents) -> ReadEvents:
    """`events` with the reads at `rows` replaced by `new` (row j of `new` is read rows[j]), as if every read had
    been extracted again: make_examples extracts a partition once, then again only the reads realignment moved.
    Every array stays ordered read by read, each read's own rows in extraction order."""
    rows = np.asarray(rows, np.int64)
    if len(rows) != new.n_reads:
        raise ValueError(f"{len(rows)} rows to replace but {new.n_reads} reads given")
    replaced = np.zeros(events.n_reads, bool)
    replaced[rows] = True
    per_read = {}
    for name in _PER_READ:
        values = getattr(events, name).copy()
        values[rows] = getattr(new, name)
        per_read[name] = values

    def spliced(names, read_col):
        keep = ~replaced[getattr(events, read_col)]
        new_read = rows[getattr(new, read_col)]
        read = np.concatenate([getattr(events, read_col)[keep], new_read])
        order = np.argsort(read, kind="stable")
        out = {read_col: read[order]}
        for name in names:
            if name != read_col:
                out[name] = np.concatenate([getattr(events, name)[keep], getattr(new, name)])[order]
        return out, keep, order

    per_base, _, _ = spliced(_PER_BASE, "m_read")
    per_event, keep_e, order_e = spliced(_PER_EVENT, "e_read")
    bases = [b for b, k in zip(events.e_bases, keep_e.tolist()) if k] + list(new.e_bases)
    return ReadEvents(n_reads=events.n_reads, **per_read, **per_base, **per_event,
                      e_bases=[bases[i] for i in order_e.tolist()], no_qualities=events.no_qualities)


def valid_event_mask(events: ReadEvents) -> np.ndarray:
    """Events whose read-given bases are all ACGT; others are ignored like DeepVariant's allele counter does. A
    deletion's bases after its anchor are the reference's: an IUPAC code or N there (written N in REF) no longer
    drops a deletion that 29 reads carry."""
    if not events.e_bases:
        return np.zeros(0, bool)
    return np.array([(b[0] in _ACGT) if kind == DELETION else (set(b) <= _ACGT)
                     for b, kind in zip(events.e_bases, events.e_kind.tolist())], dtype=bool)


_ACGT = set("ACGT")


def anchor_overridden(events: ReadEvents, valid: np.ndarray) -> np.ndarray:
    """Aligned-base events replaced by an indel/soft-clip of the same read at the same anchor (one allele per read per position)."""
    if not valid.any() or len(events.m_pos) == 0:
        return np.zeros(len(events.m_pos), bool)
    span = int(max(events.m_pos.max(), events.e_pos.max()) + 2)
    base = int(min(events.m_pos.min(), events.e_pos.min()))
    m_key = events.m_read * span + (events.m_pos - base)
    e_key = events.e_read[valid] * span + (events.e_pos[valid] - base)
    if len(m_key) > 1 and not (m_key[1:] > m_key[:-1]).all():
        return np.isin(m_key, e_key)
    # extract_events appends each read's aligned bases in reference order, read after read, so m_key is sorted:
    # look each event up (E log M) instead of np.isin's sort of every aligned base (M log M; 27% of long-read
    # make_examples).
    at = np.searchsorted(m_key, e_key)
    inside = at < len(m_key)
    at = at[inside][m_key[at[inside]] == e_key[inside]]
    overridden = np.zeros(len(m_key), bool)
    overridden[at] = True
    return overridden

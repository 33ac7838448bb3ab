"""Pileup tensors (docs/design.md §4): 100 rows x 221 columns x 6 channels, DeepVariant's exact pixel values.

Every read of a partition is drawn once onto a canvas (reads x reference columns); an image is then a
row selection and a column slice of it, so building an example costs numpy slicing, not a CIGAR walk.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np

from .candidates import NO_ALT, Candidate, distinguishing_span
from .errors import DvcallError
from .read_events import DELETION, INSERTION, MIN_BASE_QUALITY, MIN_MAPPING_QUALITY, N, STAR, ReadEvents, encode_bases

MAX_PIXEL = 254.0
PILEUP_SEED = 2101079370
CHANNELS = ("read_base", "base_quality", "mapping_quality", "strand", "read_supports_variant", "base_differs_from_ref")
CHANNEL_ENUMS = (1, 2, 3, 4, 5, 6)
ALT_ALIGNED_MODES = ("none", "diff_channels", "rows")
INDEL_READS = ("overlapping", "spanning")
SUPPORT_CHANNELS = ("binary", "other_alts")
DIFF_CHANNEL_ENUMS = (9, 10)  # CH_DIFF_CHANNELS_ALTERNATE_ALLELE_1/2 (docs/design.md §5)
HP_CHANNEL_ENUM = 7  # CH_HAPLOTYPE_TAG (docs/design.md §4.5)
TECHNOLOGY_CHANNEL_ENUM = 30  # dvcall's own (DeepVariant has none): short read 127, long read 254 (docs/design.md §4.5)
TECHNOLOGY_VALUES = (127, 254)  # pixel of a short read, of a long read (read_events.LONG_READ_BASES)


@dataclass(frozen=True)
class PileupOptions:
    height: int = 100
    width: int = 221
    ref_rows: int = 5
    read_overlap_buffer: int = 5
    min_base_quality: int = MIN_BASE_QUALITY
    min_mapping_quality: int = MIN_MAPPING_QUALITY
    sort_by_haplotypes: bool = False
    """docs/design.md §6: rows grouped by HP tag, HP=1 reads first, then HP=2, then untagged; by start within a group."""
    hp_channel: bool = False
    """docs/design.md §4.5: a channel after the six carrying the read's HP tag: 0 (none or not 1/2), 127 (1), 254 (2)."""
    technology_channel: bool = False
    """docs/design.md §4.5: a channel after the HP one telling short reads (127) from long ones (254), for pileups that
    mix technologies (--model-type hybrid); with it, at most half the read rows go to either kind while both have more."""
    indel_reads: str = "overlapping"
    """Reads an indel candidate shows: "overlapping", every read within read_overlap_buffer of it (DeepVariant's); or
    "spanning", reads that carry no alt there only when they cover candidates.distinguishing_span (a read that ends
    inside the repeat an indel lies in cannot tell the alleles apart, and showed as reference support)."""
    support_channel: str = "binary"
    """The 'read supports variant' channel of a multi-allelic candidate's alt-subset images: "binary", a read
    carrying one of the subset's alts is SUPPORTS_ALT and every other read SUPPORTS_OTHER (DeepVariant's), so the
    reads of the site's other alt look like reference reads; or "other_alts", those reads get their own value,
    SUPPORTS_OTHER_ALT. Candidates with one alt give the same images either way."""
    alt_aligned_pileup: str = "none"
    """docs/design.md §5: "diff_channels" appends the 'differs from ref' channel of the reads realigned to alt 1 and
    alt 2 (8 channels); "rows" stacks [ref; alt1; alt2] images (3 x height rows). Only indels are realigned."""

    def __post_init__(self) -> None:
        if self.indel_reads not in INDEL_READS:
            raise DvcallError(f"indel_reads {self.indel_reads!r} is not supported: use one of {', '.join(INDEL_READS)}")
        if self.support_channel not in SUPPORT_CHANNELS:
            raise DvcallError(f"support_channel {self.support_channel!r} is not supported: use one of {', '.join(SUPPORT_CHANNELS)}")
        if self.alt_aligned_pileup not in ALT_ALIGNED_MODES:
            raise DvcallError(f"alt_aligned_pileup {self.alt_aligned_pileup!r} is not supported: use one of {', '.join(ALT_ALIGNED_MODES)}")

    @property
    def half_width(self) -> int:
        return (self.width - 1) // 2

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the images build_images returns (the alt-aligned mode included)."""
        rows = 3 if self.alt_aligned_pileup == "rows" else 1
        return (self.height * rows, self.width, len(channel_enums(self)))


def channel_enums(opts: PileupOptions) -> list[int]:
    """DeepVariant channel enums of the images build_images returns, in channel order (for the sidecar):
    the six base channels, the HP channel, dvcall's technology channel, then the ALT-aligned ones."""
    hp = (HP_CHANNEL_ENUM,) if opts.hp_channel else ()
    technology = (TECHNOLOGY_CHANNEL_ENUM,) if opts.technology_channel else ()
    diff = DIFF_CHANNEL_ENUMS if opts.alt_aligned_pileup == "diff_channels" else ()
    return list(CHANNEL_ENUMS + hp + technology + diff)


def hp_groups(hp: np.ndarray) -> np.ndarray:
    """Row sort group of an HP tag: 1 -> 0, 2 -> 1, anything else (untagged) -> 2."""
    return np.where(hp == 1, 0, np.where(hp == 2, 1, 2))


def hp_values(hp: np.ndarray) -> np.ndarray:
    """HP channel pixel of an HP tag, int(254 * HP / 2): 1 -> 127, 2 -> 254, anything else -> 0."""
    return np.where(hp == 1, 127, np.where(hp == 2, 254, 0)).astype(np.uint8)


# Lookup tables from base code (0-3 ACGT, 4 N, 5 '*') to pixel values.
_BASE_VALUE = np.array([250, 30, 180, 100, 0, 0], np.uint8)  # A C G T N *
_QUAL_VALUE = (np.minimum(np.arange(256), 40) * MAX_PIXEL / 40).astype(np.uint8)
_MAPQ_VALUE = (np.minimum(np.arange(256), 60) * MAX_PIXEL / 60).astype(np.uint8)
BASE_PIXELS = tuple(int(v) for v in _BASE_VALUE[:4])  # A C G T
STRAND_FORWARD, STRAND_REVERSE = 70, 240
SUPPORTS_ALT, SUPPORTS_OTHER = int(MAX_PIXEL * 1.0), int(MAX_PIXEL * 0.6)
SUPPORTS_OTHER_ALT = int(MAX_PIXEL * 0.3)  # support_channel "other_alts": a read carrying an alt outside the subset
MATCHES_REF, DIFFERS_FROM_REF = int(MAX_PIXEL * 0.2), int(MAX_PIXEL * 1.0)
UNDRAWN = 255  # canvas code for "no pixel"


class Canvas:
    """Every read drawn over reference columns [col_start, col_end): base codes and base qualities.

    `reads` (row i of the canvas is reads[i], the list `events` was extracted from) and the reference
    `ref_seq` starting at `ref_offset` are kept for ALT-aligned pileups, which realign the shown reads.
    """

    def __init__(self, events: ReadEvents, ref_seq: str, ref_offset: int, col_start: int, col_end: int,
                 reads: Sequence | None = None):
        self.events = events
        self.reads = reads
        self.read_layouts: dict = {}  # row -> alt_aligned.ReadLayout, decoded once for every candidate of the partition
        self.ref_seq, self.ref_offset = ref_seq, ref_offset
        self.col_start, self.col_end = col_start, col_end
        width = col_end - col_start
        self.ref_codes = np.full(width, N, np.uint8)
        lo, hi = max(col_start, ref_offset), min(col_end, ref_offset + len(ref_seq))
        if hi > lo:
            self.ref_codes[lo - col_start:hi - col_start] = encode_bases(ref_seq[lo - ref_offset:hi - ref_offset])
        code = np.full(events.n_reads * width, UNDRAWN, np.uint8)
        qual = np.zeros(events.n_reads * width, np.uint8)
        # flat pixel index of every aligned base (row * width + column), those outside the columns dropped
        cols = events.m_pos - col_start
        m_in = np.flatnonzero(cols.astype(np.uint64) < np.uint64(width))
        flat = events.m_read[m_in] * width + cols[m_in]
        code[flat] = events.m_base[m_in]
        qual[flat] = events.m_qual[m_in]
        # Insertions and deletions: one '*' pixel at the anchor column, overwriting the anchor base.
        e_cols = events.e_pos - col_start
        drawn = np.flatnonzero(((events.e_kind == INSERTION) | (events.e_kind == DELETION)) & (e_cols.astype(np.uint64) < np.uint64(width)))
        flat = events.e_read[drawn] * width + e_cols[drawn]
        code[flat] = STAR
        qual[flat] = events.e_draw_qual[drawn]
        self.code = code.reshape(events.n_reads, width)
        self.qual = qual.reshape(events.n_reads, width)


def alt_subsets(n_alts: int) -> list[tuple[int, ...]]:
    """{a1}, {a2}, ..., then pairs {a1,a2}, ... : one example per subset (docs/design.md §4.6)."""
    return [(i,) for i in range(n_alts)] + list(combinations(range(n_alts), 2))


def select_rows(canvas: Canvas, candidate: Candidate, opts: PileupOptions) -> np.ndarray:
    """Reads shown for a candidate: overlap start-5..end+5, usable base at the start, with opts.indel_reads
    "spanning" also telling an indel candidate's alleles apart, at most height-ref_rows, sorted."""
    ev = canvas.events
    lo, hi = candidate.start - opts.read_overlap_buffer, candidate.end + opts.read_overlap_buffer
    overlap = (ev.start < hi) & (ev.end > lo) & (ev.mapq >= opts.min_mapping_quality)
    col = candidate.start - canvas.col_start
    drawn_at = canvas.code[:, col] != UNDRAWN
    low_q = drawn_at & (canvas.qual[:, col] < opts.min_base_quality)
    keep = overlap & ~low_q
    if opts.indel_reads == "spanning" and candidate.is_indel:
        first, last = distinguishing_span(candidate, canvas.ref_seq, canvas.ref_offset)
        keep &= (candidate.support != NO_ALT) | ((ev.start <= first) & (ev.end > last))
    rows = np.flatnonzero(keep)
    max_reads = opts.height - opts.ref_rows
    if len(rows) > max_reads:
        rng = np.random.RandomState((PILEUP_SEED + candidate.start) % (1 << 32))  # seeded by position: same rows in any shard
        rows = rows.copy()
        rng.shuffle(rows)
        if opts.technology_channel:  # short reads (often 2-3x as many) must not crowd the long ones out
            rows = _technology_quota(rows, ev.is_long[rows], max_reads)
        rows = rows[:max_reads]
    group = hp_groups(ev.hp_of(rows)) if opts.sort_by_haplotypes else np.zeros(len(rows), np.int16)
    order = np.lexsort((ev.start[rows], group))
    return rows[order]


def _technology_quota(shuffled: np.ndarray, is_long: np.ndarray, max_reads: int) -> np.ndarray:
    """The first `max_reads` of shuffled rows with at most half of them of one kind (short or long) while the other
    kind has rows left: each kind keeps min(its rows, max(half, what the other leaves))."""
    n_long = int(is_long.sum())
    n_short = len(shuffled) - n_long
    half = max_reads // 2
    keep_long = min(n_long, max(half, max_reads - n_short))
    keep_short = min(n_short, max_reads - keep_long)
    return np.concatenate([shuffled[is_long][:keep_long], shuffled[~is_long][:keep_short]])


def paint_reads(ref: np.ndarray, code: np.ndarray, qual: np.ndarray, mapq: np.ndarray, reverse: np.ndarray,
                hp: np.ndarray, is_long: np.ndarray, opts: PileupOptions) -> tuple[np.ndarray, np.ndarray]:
    """(height x width x opts.shape[2] image with every channel but 'supports variant' and the ALT-aligned
    ones, drawn mask of the reads).

    `ref`: base codes of the reference row; `code`/`qual`: per shown read and column, canvas codes (UNDRAWN
    where nothing is drawn) and base qualities; `mapq`/`reverse`/`hp`/`is_long`: per shown read. The ALT-aligned
    channels are left 0 (filling them in place is much cheaper than concatenating along the channel axis)."""
    base = np.zeros((opts.height, opts.width, opts.shape[2]), np.uint8)
    band = base[:opts.ref_rows]
    band[..., 0] = _BASE_VALUE[ref]
    band[..., 1] = int(MAX_PIXEL)  # reference rows are drawn as Q60, MAPQ60, forward strand
    band[..., 2] = int(MAX_PIXEL)
    band[..., 3] = STRAND_FORWARD
    band[..., 4] = SUPPORTS_OTHER
    band[..., 5] = MATCHES_REF
    n = len(code)
    drawn = code != UNDRAWN
    safe = np.where(drawn, code, N)
    reads = base[opts.ref_rows:opts.ref_rows + n]
    reads[..., 0] = _BASE_VALUE[safe]
    reads[..., 1] = _QUAL_VALUE[qual]
    reads[..., 2] = _MAPQ_VALUE[np.minimum(mapq, 255)][:, None]
    reads[..., 3] = np.where(reverse, STRAND_REVERSE, STRAND_FORWARD)[:, None]
    reads[..., 5] = np.where((safe == ref[None, :]) & (safe < N), MATCHES_REF, DIFFERS_FROM_REF)
    if opts.hp_channel:  # reference rows stay 0
        reads[..., channel_enums(opts).index(HP_CHANNEL_ENUM)] = hp_values(hp)[:, None]
    if opts.technology_channel:  # reference rows stay 0
        reads[..., channel_enums(opts).index(TECHNOLOGY_CHANNEL_ENUM)] = np.where(is_long, *TECHNOLOGY_VALUES[::-1])[:, None]
    reads[~drawn] = 0
    return base, drawn


def with_support(base: np.ndarray, drawn: np.ndarray, support: np.ndarray, subset: tuple[int, ...],
                 opts: PileupOptions) -> np.ndarray:
    """A copy of `base` with the 'read supports variant' channel of the read rows set for one alt subset
    (`support`: each read's alt index, or NO_ALT / UNCALLED, both negative; opts.support_channel)."""
    img = base.copy()
    value = np.where(np.isin(support, subset), SUPPORTS_ALT, SUPPORTS_OTHER)
    if opts.support_channel == "other_alts":
        value[(support >= 0) & (value != SUPPORTS_ALT)] = SUPPORTS_OTHER_ALT
    img[opts.ref_rows:opts.ref_rows + len(drawn), :, 4] = np.where(drawn, value[:, None], 0)
    return img

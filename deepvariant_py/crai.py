"""A CRAM's index (.crai) read as the reference spans of its slices, so reads are fetched where slices are.

A CRAM fetch decodes every slice that overlaps the region asked for and checks the MD5 of the slice's whole
reference span. Where reads are sparse (a panel or exome, decoy reads, a contig with reads in a few spots) one
slice can span megabases, and fetching it 10 kb at a time decoded it again for every stretch: a 100 Mb contig
with reads in three spots took ~22 minutes where its BAM took 5 s. With the slices' spans, reads.ReadAhead skips
stretches no slice overlaps and loads the slices a stretch overlaps once, whole.

The .crai is gzipped text, one line per slice (per reference of a multi-reference slice): reference id (-1:
unmapped reads), alignment start (1-based), alignment span, container offset, slice offset, slice size in bytes.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Slices:
    """One reference's slices in a CRAM: 0-based half-open spans and their sizes in bytes, by start."""

    starts: np.ndarray
    ends: np.ndarray
    sizes: np.ndarray

    def overlapping(self, start: int, end: int) -> np.ndarray:
        """Indices of the slices that overlap [start, end)."""
        return np.flatnonzero((self.starts < end) & (self.ends > start))


def crai_path(cram_path: str) -> str | None:
    """The index beside a CRAM (x.cram.crai, else x.crai), or None."""
    for path in (cram_path + ".crai", os.path.splitext(cram_path)[0] + ".crai"):
        if os.path.isfile(path):
            return path
    return None


def crai_lines(path: str) -> list[tuple[int, ...]] | None:
    """A .crai's lines as integers (reference id, 1-based start, span, container offset, slice offset, slice
    size), or None when it cannot be read as one."""
    try:
        with gzip.open(path, "rt") as fh:
            rows = [tuple(int(x) for x in line.split("\t")[:6]) for line in fh if line.strip()]
    except (OSError, EOFError, ValueError, UnicodeDecodeError):
        return None
    return rows if all(len(r) == 6 for r in rows) else None


def read_crai(path: str, references: tuple[str, ...]) -> dict[str, Slices] | None:
    """Per reference name, its slices (crai lines with a reference id); None when the file cannot be read as a
    .crai (the caller then fetches as before: this is an optimisation, never a source of errors)."""
    rows: dict[int, list[tuple[int, int, int]]] = {}
    lines = crai_lines(path)
    if lines is None:
        return None
    for tid, start, span, _container, _slice, size in lines:
        if tid < -1 or tid >= len(references):  # a multi-reference slice listed as one (-2), or a stray id:
            return None  # where its reads lie is not said, so nothing may be skipped
        if tid >= 0:
            rows.setdefault(tid, []).append((max(start - 1, 0), max(start - 1, 0) + max(span, 1), size))
    out = {}
    for tid, spans in rows.items():
        arr = np.array(sorted(spans), dtype=np.int64).reshape(-1, 3)
        out[references[tid]] = Slices(arr[:, 0], arr[:, 1], arr[:, 2])
    return out


def crai_is_stale(path: str, cram_path: str) -> bool:
    """Whether a .crai is older than its CRAM: a place it lists is no container of the CRAM, a container it lists
    holds reads past the span its lines give (the container's own header says where its reads lie), or
    containers follow the last one it lists (more than the EOF container). Either way a fetch never sees those reads (a stale .crai lost 20 PASS calls of
    50 kb, exit 0). False when either file cannot be read: nothing is claimed then."""
    listed: dict[int, list[tuple[int, int, int]]] = {}  # container offset -> (reference id, start, end) of its lines
    for tid, start, span, container, _slice, _size in crai_lines(path) or ():
        listed.setdefault(container, []).append((tid, start, start + span))
    try:
        if not listed:
            return False
        size = os.path.getsize(cram_path)
        with open(cram_path, "rb") as fh:
            major = fh.read(6)[4]
            if major not in (2, 3):  # container headers as read here: CRAM 2.1 and 3.x
                return False
            for offset, lines in listed.items():
                fh.seek(offset)
                header = _container_header(fh.read(256), offset, major)
                if header is None or header[3] > size or header[0] < -2:  # no container of this file starts there
                    return True
                tid, start, stop, end = header
                same = [e for t, _, e in lines if t == tid]
                if tid >= 0 and same and stop > max(same):  # reads past what the index says the container spans
                    return True
                if offset == max(listed) and size - end > EOF_CONTAINER_BYTES:
                    return True
    except (OSError, EOFError, ValueError, UnicodeDecodeError, IndexError, TypeError):
        return False
    return False


def _itf8(data: bytes, at: int) -> tuple[int, int]:
    """(value, next offset) of an ITF8 integer (CRAM's variable-length int: leading 1 bits count extra bytes)."""
    first = data[at]
    extra = 0 if first < 0x80 else 1 if first < 0xC0 else 2 if first < 0xE0 else 3 if first < 0xF0 else 4
    value = first & (0xFF >> (extra + 1)) if extra < 4 else first & 0x0F
    for k in range(1, extra + 1):
        value = (value << (4 if extra == 4 and k == 4 else 8)) | (data[at + k] & (0x0F if extra == 4 and k == 4 else 0xFF))
    return (value - (1 << 32) if value >= 1 << 31 else value), at + extra + 1  # signed 32-bit (-1: unmapped)


def _ltf8(data: bytes, at: int) -> int:
    """The offset after an LTF8 integer (leading 1 bits count extra bytes, up to 8)."""
    first, extra = data[at], 0
    while extra < 8 and first & (0x80 >> extra):
        extra += 1
    return at + extra + 1


def _container_header(head: bytes, offset: int, major: int) -> tuple[int, int, int, int] | None:
    """(reference id, 1-based start, end of its reads' span, file offset where the container ends) of the container
    whose header `head` holds (read at file `offset`); its length (int32) counts the bytes after the header, which
    ends with a CRC32 in CRAM 3 and later. None when the bytes are not a container header."""
    try:
        length = int.from_bytes(head[:4], "little", signed=True)
        tid, at = _itf8(head, 4)
        start, at = _itf8(head, at)
        span, at = _itf8(head, at)
        _, at = _itf8(head, at)  # records
        at = _ltf8(head, at)  # record counter
        at = _ltf8(head, at)  # bases
        _, at = _itf8(head, at)  # blocks
        n_landmarks, at = _itf8(head, at)
        for _ in range(n_landmarks):
            _, at = _itf8(head, at)
        at += 4 if major >= 3 else 0  # CRC32
    except IndexError:
        return None
    if length < 0:
        return None
    return tid, start, start + span, offset + at + length


EOF_CONTAINER_BYTES = 38  # CRAM 3's end-of-file container (2.1's is 15)


MAX_LOAD_BYTES = 16 << 20
"""At most this many bytes of CRAM slices are loaded whole for one stretch (decoded, ~10x in memory): a few
slices of 30x short reads (~0.5 MB each), or a sparse region's one wide slice."""


def load_span(indexes: list[dict[str, Slices] | None], contig: str, start: int, end: int) -> tuple[int, int] | None:
    """The span to read for the stretch [start, end) of `contig`, given each reads file's CRAM slices (None for a
    file that is not a CRAM or has no readable index): None when every file is an indexed CRAM and no slice
    overlaps the stretch (no read can: nothing to fetch); else the stretch widened to the slices it overlaps, so
    those are decoded once for every stretch inside them, unless they are too many bytes to hold
    (MAX_LOAD_BYTES): then the stretch as it is."""
    lo, hi, size, any_slice = start, end, 0, False
    for index in indexes:
        if index is None:
            return start, end  # a BAM (or a CRAM without a usable index): fetched as asked, no widening
        slices = index.get(contig)
        hit = slices.overlapping(start, end) if slices is not None else np.zeros(0, np.int64)
        if len(hit):
            any_slice = True
            lo, hi = min(lo, int(slices.starts[hit].min())), max(hi, int(slices.ends[hit].max()))
            size += int(slices.sizes[hit].sum())
    if not any_slice:
        return None
    return (lo, hi) if size <= MAX_LOAD_BYTES else (start, end)

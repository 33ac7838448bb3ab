"""Reference FASTA access (plain or bgzipped) with the checks a user needs before a long run."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pysam

from .errors import InputError
from .filetypes import describe, sniff
from .htslib import quiet_htslib


@dataclass(frozen=True)
class Contig:
    name: str
    length: int


def contig_lengths(handle) -> dict[str, int]:
    """{contig: length} of an open pysam FASTA, BAM or CRAM, in file order: the one place this is built."""
    return dict(zip(handle.references, handle.lengths))


FIRST_BASES_CHECKED = 200  # more than a FASTA line: a .fai whose offsets are off reads a line end or header text


class Reference:
    """An indexed FASTA; fetches are uppercase and clipped to the contig so callers never see an exception for edges."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise InputError(f"reference {path} does not exist: pass an existing FASTA with --ref")
        kind = sniff(path)
        if kind != "fasta":
            fix = ("the reads go to --reads; pass the reference FASTA with --ref" if kind in ("bam", "cram", "sam", "fastq")
                   else "pass the FASTA file inside it" if kind == "directory"
                   else "a FASTA starts with a '>' header line: pass the reference FASTA (plain or bgzipped) with --ref")
            raise InputError(f"reference {path} is {describe(kind)}, not a FASTA: {fix}")
        if not os.path.exists(path + ".fai"):
            fix = f"`samtools faidx {path}`"
            if path.endswith(".gz"):
                fix += " (a gzipped FASTA must be bgzip-compressed: `zcat X.gz | bgzip > Y.gz` first if it is not)"
            raise InputError(f"reference {path} has no .fai index: run {fix}")
        if path.endswith(".gz") and not os.path.exists(path + ".gzi"):
            raise InputError(f"reference {path} is gzipped but has no .gzi index: run `samtools faidx {path}`, which writes it "
                             "for a bgzipped FASTA (one gzipped otherwise must be recompressed first: `zcat X.gz | bgzip > Y.gz`)")
        try:
            self._fasta = pysam.FastaFile(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot open reference {path} ({exc}): check it is a FASTA with a matching .fai index") from None
        self.path = path
        self._lengths = contig_lengths(self._fasta)
        self.contigs = [Contig(n, length) for n, length in self._lengths.items()]
        self._check_index()

    def _check_index(self) -> None:
        """Read the first bases and the last base of every contig: an index made for another FASTA, or before a
        header line was edited, fails here, not mid-run (such an index reads header text or line ends as bases)."""
        with quiet_htslib():  # htslib would print its own line before ours
            self._check_contig_ends()

    def _check_contig_ends(self) -> None:
        for c in self.contigs:
            if not c.length:
                continue
            head = min(c.length, FIRST_BASES_CHECKED)
            try:
                first = self._fasta.fetch(c.name, 0, head)
                last = self._fasta.fetch(c.name, c.length - 1, c.length)
            except (OSError, ValueError, KeyError):
                first = last = None
            if first is None or len(last) != 1 or not last.isalpha():
                raise InputError(f"reference {self.path} does not match its .fai index (contig {c.name!r} cannot be read to its end): "
                                 f"re-create the index with `samtools faidx {self.path}`")
            if len(first) != head or not first.isalpha():
                raise InputError(f"reference {self.path} does not match its .fai index (contig {c.name!r} starts with "
                                 f"{first[:20]!r}, not bases: was the FASTA edited after indexing?): re-create the index "
                                 f"with `samtools faidx {self.path}`")

    @property
    def lengths(self) -> dict[str, int]:
        """{contig: length} in the reference's order."""
        return dict(self._lengths)

    def length(self, contig: str) -> int:
        try:
            return self._lengths[contig]
        except KeyError:
            raise InputError(f"contig {contig!r} is not in the reference {self.path}") from None

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Uppercase bases of [start, end), clipped to the contig."""
        length = self.length(contig)
        start, end = max(0, start), min(length, end)
        if end <= start:
            return ""
        return self._fasta.fetch(contig, start, end).upper()

    def __contains__(self, contig: str) -> bool:
        return contig in self._lengths

    def close(self) -> None:
        self._fasta.close()


_NOT_ACGT_AS_N = {c: ord("N") for c in range(256) if chr(c) not in "ACGT"}


_AMBIGUOUS = np.ones(256, bool)
_AMBIGUOUS[np.frombuffer(b"ACGTN", np.uint8)] = False


def ambiguous_bases(bases: str) -> np.ndarray:
    """Per uppercase base: whether it is an IUPAC ambiguity code (R, Y, ...: neither A, C, G, T nor N)."""
    return _AMBIGUOUS[np.frombuffer(bases.encode("ascii"), np.uint8)]


def as_acgtn(bases: str) -> str:
    """Uppercase bases with anything but A, C, G, T (IUPAC codes such as R or Y, which some references hold)
    written N, as VCF REF allows."""
    return bases.translate(_NOT_ACGT_AS_N)

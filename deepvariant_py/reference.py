"""Reference FASTA access (plain or bgzipped) with the checks a user needs before a long run."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pysam

from .errors import InputError


@dataclass(frozen=True)
class Contig:
    name: str
    length: int


class Reference:
    """An indexed FASTA; fetches are uppercase and clipped to the contig so callers never see an exception for edges."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise InputError(f"reference {path} does not exist: pass an existing FASTA with --ref")
        if not os.path.exists(path + ".fai"):
            fix = f"bgzip -r {path} && samtools faidx {path}" if path.endswith(".gz") else f"samtools faidx {path}"
            if path.endswith(".gz") and not os.path.exists(path + ".gzi"):
                fix = f"samtools faidx {path} (the file must be bgzip-compressed)"
            raise InputError(f"reference {path} has no .fai index: run `{fix}`")
        if path.endswith(".gz") and not os.path.exists(path + ".gzi"):
            raise InputError(f"reference {path} is gzipped but has no .gzi index: recompress with `bgzip` and run `samtools faidx {path}`")
        try:
            self._fasta = pysam.FastaFile(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot open reference {path} ({exc}): check it is a FASTA with a matching .fai index") from None
        self.path = path
        self.contigs = [Contig(n, l) for n, l in zip(self._fasta.references, self._fasta.lengths)]
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))

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

"""What a file is, read off its first bytes, so a wrong file gets the fix that works.

"Run samtools index" cannot help a SAM file, a name-sorted BAM or a folder; "run samtools faidx" cannot
help a BAM given as the reference. `sniff` tells them apart before any index is looked for.
"""
from __future__ import annotations

import os
import zlib

import pysam

from .errors import InputError
from .htslib import quiet_htslib

GZIP_MAGIC = b"\x1f\x8b"
KINDS = ("directory", "empty", "bam", "cram", "sam", "fasta", "fastq", "vcf", "gzip", "unknown")
_DESCRIPTIONS = {"directory": "a folder", "empty": "an empty file", "bam": "a BAM file", "cram": "a CRAM file",
                 "sam": "a SAM text file", "fasta": "a FASTA file", "fastq": "a FASTQ file of unaligned reads",
                 "vcf": "a VCF file", "gzip": "a gzip file of unknown content", "unknown": "not a format dvcall knows"}
SAM_HEADER_TAGS = (b"@HD\t", b"@SQ\t", b"@RG\t", b"@PG\t", b"@CO\t")


def describe(kind: str) -> str:
    return _DESCRIPTIONS[kind]


def open_variant_file(path: str, what: str = "VCF"):
    """pysam.VariantFile for reading, or one line saying what the file is instead (a BAM, a folder, ...)."""
    if not os.path.exists(path):
        raise InputError(f"{what} {path} does not exist")
    kind = sniff(path)
    if kind not in ("vcf", "gzip", "unknown"):  # BCF is binary: 'unknown' to sniff, known to htslib
        raise InputError(f"{what} {path} is {describe(kind)}, not a VCF: pass a VCF (plain or bgzipped)")
    try:
        with quiet_htslib():  # an unindexed .vcf.gz draws an index warning; GIAB headers draw PS-type warnings
            return pysam.VariantFile(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} {path} as VCF/BCF ({exc}): is it truncated?") from None


def sniff(path: str) -> str:
    """One of KINDS. Gzip and BGZF content (bgzipped FASTA, BAM, VCF) is named by what it holds."""
    if os.path.isdir(path):
        return "directory"
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror}): check the path and its permissions") from None
    if not head:
        return "empty"
    if head.startswith(b"CRAM"):
        return "cram"
    if head.startswith(GZIP_MAGIC):
        try:
            inner = zlib.decompressobj(31).decompress(head, 1 << 16)
        except zlib.error:
            return "gzip"
        kind = _plain_kind(inner)
        return "gzip" if kind in ("unknown", "empty") else kind
    return _plain_kind(head)


def _plain_kind(data: bytes) -> str:
    if not data:
        return "empty"
    if data.startswith(b"BAM\x01"):
        return "bam"
    if data.startswith(b"##fileformat=VCF"):
        return "vcf"
    if data.startswith(b">"):
        return "fasta"
    if data.startswith(SAM_HEADER_TAGS):
        return "sam"
    if data.startswith(b"@"):
        return "fastq"
    first = data.split(b"\n", 1)[0]
    if first.count(b"\t") >= 10:  # a headerless SAM: 11 mandatory tab-separated fields
        return "sam"
    return "unknown"

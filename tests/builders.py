"""Build pysam reads for tests from readable input: a CIGAR string, or an ASCII pileup drawn under the reference.

ASCII pileup notation (`pileup_reads`): each row is written under the reference string, one column per
reference base; column 0 of the row is reference position `offset`.

    ref   =  "ACGTACGTACGT"
    rows  = ["ACGTACGTACGT",      # full-length match                                  -> 12M
             "  GTTCGT",          # starts at column 2; T at column 4 is a SNP       -> 6M
             "  GT.CGT",          # '.' copies the reference base (a match)           -> 6M
             "ACG--CGTA",         # '-' deletes the reference base of that column     -> 3M2D4M
             "ACG[TT]TACG",       # [..] inserts bases between columns 2 and 3         -> 3M2I4M
             "  ccACGTA",         # lowercase before the first aligned base: soft clip -> 2S5M (starts at column 4)
             "ACGTACgg"]          # lowercase after the last aligned base: soft clip  -> 6M2S

Rules: leading spaces only move the start; leading lowercase bases are soft-clipped and drawn in the
columns they would have occupied (so the alignment starts after them); uppercase letters and '.' are
aligned (M) bases; '-' is a deleted reference base (D); `[BASES]` is an insertion (I) and takes no
column; trailing lowercase bases are a trailing soft clip; trailing spaces are ignored. Anything else
is an error. A row may be a plain string or `(string, {make_read keyword arguments})` to set qualities,
MAPQ, strand, HP, ... for that read; the extra keyword `col_quals={column: quality}` sets the quality of
the aligned base drawn in that column (other bases keep `quals`).
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import pysam

from deepvariant_py.htslib import index_bam

DEFAULT_QUALITY = 30


def header_for(contig: str = "chr1", length: int = 1000, more: Iterable[tuple[str, int]] = (),
               sample: str | None = None) -> pysam.AlignmentHeader:
    """A coordinate-sorted header with one contig (plus `more` (name, length) pairs) and an optional read group."""
    sq = [{"SN": contig, "LN": length}] + [{"SN": n, "LN": ln} for n, ln in more]
    d: dict[str, Any] = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": sq}
    if sample is not None:
        d["RG"] = [{"ID": "rg1", "SM": sample}]
    return pysam.AlignmentHeader.from_dict(d)


def _query_length(cigar: str) -> int:
    tuples = pysam.AlignedSegment(header_for())
    tuples.cigarstring = cigar
    return sum(n for op, n in tuples.cigartuples if op in (0, 1, 4, 7, 8))


def make_read(name: str, start: int, cigar: str = "10M", seq: str | None = None,
              quals: int | Sequence[int] | None = DEFAULT_QUALITY, mapq: int = 60, reverse: bool = False,
              hp: int | None = None, header: pysam.AlignmentHeader | None = None, contig: str | None = None,
              flag: int = 0, tags: Sequence[tuple[str, Any]] = ()) -> pysam.AlignedSegment:
    """One mapped read at 0-based `start`.

    `seq` defaults to all 'A' of the CIGAR's query length. `quals`: an int gives every base that quality,
    a list gives each base its own, None leaves the read without qualities (SAM '*'). `flag` bits are
    OR-ed in (e.g. 0x400 duplicate); `reverse` sets 0x10; `hp` adds an HP:i tag.
    """
    header = header or header_for()
    qlen = _query_length(cigar)
    if seq is None:
        seq = "A" * qlen
    if len(seq) != qlen:
        raise ValueError(f"{name}: sequence has {len(seq)} bases but CIGAR {cigar} needs {qlen}")
    read = pysam.AlignedSegment(header)
    read.query_name = name
    read.flag = flag | (0x10 if reverse else 0)
    read.reference_id = header.get_tid(contig) if contig else 0
    read.reference_start = start
    read.mapping_quality = mapq
    read.cigarstring = cigar
    read.query_sequence = seq
    if quals is None:
        read.query_qualities = None
    else:
        q = [quals] * qlen if isinstance(quals, int) else list(quals)
        if len(q) != qlen:
            raise ValueError(f"{name}: {len(q)} qualities for {qlen} bases")
        read.query_qualities = pysam.qualitystring_to_array("".join(chr(33 + v) for v in q))
    read.next_reference_id = -1
    read.next_reference_start = -1
    for tag, value in tags:
        read.set_tag(tag, value)
    if hp is not None:
        read.set_tag("HP", hp, "i")
    return read


def parse_row(ref: str, row: str) -> tuple[int, str, str]:
    """(start column, CIGAR, read sequence) of one ASCII pileup row (see the module docstring)."""
    return _parse_row(ref, row)[:3]


def _parse_row(ref: str, row: str) -> tuple[int, str, str, list[int | None]]:
    """parse_row plus, per query base, the reference column it is aligned to (None for I and S)."""
    ops: list[list] = []  # [op, length]
    cols: list[int | None] = []

    def push(op: str, n: int = 1) -> None:
        if ops and ops[-1][0] == op:
            ops[-1][1] += n
        else:
            ops.append([op, n])

    col, start, seq, i = 0, None, [], 0
    lead_clip = 0
    text = row.rstrip()
    while i < len(text):
        ch = text[i]
        if ch == " " and start is None and lead_clip == 0:
            col += 1
        elif ch == "[":
            close = text.index("]", i)
            bases = text[i + 1:close].upper()
            if not bases or start is None and lead_clip:
                raise ValueError(f"bad insertion in row {row!r}")
            if start is None:
                start = col
            push("I", len(bases))
            seq.append(bases)
            cols.extend([None] * len(bases))
            i = close + 1
            continue
        elif ch.islower():
            if start is None:  # leading soft clip, drawn in the columns before the alignment
                lead_clip += 1
                col += 1
            else:  # trailing soft clip
                push("S")
            seq.append(ch.upper())
            cols.append(None)
        elif ch in "-." or ch.isupper():
            if ops and ops[-1][0] == "S" and start is not None:
                raise ValueError(f"aligned base after a trailing soft clip in row {row!r}")
            if start is None:
                start = col
            if col >= len(ref):
                raise ValueError(f"row {row!r} runs past the reference")
            if ch == "-":
                push("D")
            else:
                push("M")
                seq.append(ref[col] if ch == "." else ch)
                cols.append(col)
            col += 1
        else:
            raise ValueError(f"unexpected {ch!r} in row {row!r}")
        i += 1
    if start is None:
        raise ValueError(f"row {row!r} has no aligned base")
    if lead_clip:
        ops.insert(0, ["S", lead_clip])
    return start, "".join(f"{n}{op}" for op, n in ops), "".join(seq), cols


def pileup_reads(ref: str, rows: Sequence[str | tuple[str, dict]], offset: int = 0,
                 header: pysam.AlignmentHeader | None = None, name_prefix: str = "read",
                 **defaults: Any) -> list[pysam.AlignedSegment]:
    """Reads drawn as ASCII rows under `ref` (which starts at reference position `offset`).

    Read i is named f"{name_prefix}{i}"; keyword arguments are make_read defaults, overridden per row by
    `(row, {...})`.
    """
    header = header or header_for(length=max(offset + len(ref), 1000))
    reads = []
    for i, item in enumerate(rows):
        row, kwargs = (item, {}) if isinstance(item, str) else item
        start, cigar, seq, cols = _parse_row(ref, row)
        opts = {**defaults, **kwargs}
        col_quals = opts.pop("col_quals", None)
        if col_quals:
            base_q = opts.get("quals", DEFAULT_QUALITY)
            q = [base_q] * len(seq) if isinstance(base_q, int) else list(base_q)
            for k, c in enumerate(cols):
                if c in col_quals:
                    q[k] = col_quals[c]
            opts["quals"] = q
        reads.append(make_read(opts.pop("name", f"{name_prefix}{i}"), offset + start, cigar, seq, header=header, **opts))
    return reads


def write_bam(path: str | os.PathLike, reads: list[pysam.AlignedSegment], header: pysam.AlignmentHeader,
              index: bool = True) -> str:
    """Write reads to a coordinate-sorted BAM (and .bai when `index`)."""
    path = str(path)
    unsorted = path + ".unsorted.bam"
    with pysam.AlignmentFile(unsorted, "wb", header=header) as out:
        for r in reads:
            out.write(r)
    pysam.sort("-o", path, unsorted)
    os.remove(unsorted)
    if index:
        index_bam(path)  # .bai, or .csi for a contig too long for a .bai
    return path


def write_fasta(path: str | os.PathLike, contigs: dict[str, str]) -> str:
    """A FASTA with a .fai beside it; keys may carry a description after a space ('chr1 first')."""
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n{seq}\n")
    pysam.faidx(str(path))
    return str(path)


def write_sparse_fasta(path: str | os.PathLike, name: str, length: int, offset: int, seq: str) -> str:
    """A FASTA of one contig of `length` bases that holds `seq` at `offset` (a multiple of 60) and Ns on its first
    five lines and its last (what reference.py checks when it opens a FASTA); the rest is a hole in the file (no disk used;
    never read), and the .fai is written by hand: a 600 Mb contig costs a few kB."""
    assert offset % 60 == 0 and length % 60 == 0 and len(seq) % 60 == 0 and offset >= 300
    path = str(path)
    head = f">{name}\n".encode()
    with open(path, "wb") as fh:
        fh.truncate(len(head) + length // 60 * 61)
        fh.write(head)
        fh.write((b"N" * 60 + b"\n") * 5)  # more than the bases reference.py reads at a contig's start
        fh.seek(len(head) + offset // 60 * 61)
        fh.write("".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)).encode())
        fh.seek(len(head) + (length // 60 - 1) * 61)
        fh.write(b"N" * 60 + b"\n")
    with open(path + ".fai", "w") as fh:
        fh.write(f"{name}\t{length}\t{len(head)}\t60\t61\n")
    return path


def two_haplotype_sample(tmp_path, length: int = 24_000, read_length: int = 4_000, step: int = 250,
                         seed: int = 11) -> tuple[str, str, dict[int, int]]:
    """A random contig, het SNPs every 300 bp alternating between the haplotypes, and error-light long reads
    (0.2% substitutions) from each haplotype every `step` bp (about 16x per haplotype), untagged, named
    h<haplotype>-<i>; returns (fasta, bam, {snp pos0: haplotype})."""
    import numpy as np
    rng = np.random.default_rng(seed)
    ref = "".join(rng.choice(list("ACGT"), length))
    snps = {int(p): i % 2 for i, p in enumerate(range(1_000, length - 1_000, 300))}
    haps = [list(ref), list(ref)]
    for pos, hap in snps.items():
        haps[hap][pos] = "ACGT"[("ACGT".index(ref[pos]) + 1) % 4]
    reads, header = [], header_for("chr1", length)
    for hap, seq in enumerate(haps):
        for i, start in enumerate(range(0, length - read_length + 1, step)):
            bases = seq[start:start + read_length]
            for e in rng.choice(read_length, read_length // 500, replace=False):
                bases[e] = "ACGT"[("ACGT".index(bases[e]) + 2) % 4]
            reads.append(make_read(f"h{hap}-{i}", start, f"{read_length}M", "".join(bases), quals=30, mapq=60,
                                   reverse=bool(i % 2), header=header))
    fasta = write_fasta(os.path.join(tmp_path, "ref.fa"), {"chr1": ref})
    bam = write_bam(os.path.join(tmp_path, "reads.bam"), reads, header)
    return fasta, bam, snps

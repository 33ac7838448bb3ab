"""Open BAM/CRAM with clear errors, check it against the reference, and fetch filtered reads per region."""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import numpy as np
import pysam

from .errors import InputError
from .reference import Reference
from .regions import Region, toggle_chr_prefix

RESERVOIR_SEED = 609314161


@dataclass(frozen=True)
class ReadFilter:
    """DeepVariant's reader defaults (DESIGN §1)."""

    min_mapping_quality: int = 5
    keep_duplicates: bool = False
    keep_secondary: bool = False
    keep_supplementary: bool = False
    max_reads_per_partition: int = 1500
    downsample_fraction: float = 0.0


def open_alignments(path: str, reference: Reference) -> pysam.AlignmentFile:
    """Open reads, checking the index and that the contigs agree with the reference in name and length."""
    if not os.path.exists(path):
        raise InputError(f"reads file {path} does not exist: pass an existing BAM or CRAM with --reads")
    is_cram = path.endswith(".cram")
    index_candidates = [path + ".crai", path[:-5] + ".crai"] if is_cram else [path + ".bai", path[:-4] + ".bai", path + ".csi"]
    if not any(os.path.exists(p) for p in index_candidates):
        raise InputError(f"reads file {path} has no index: run `samtools index {path}`")
    save = pysam.set_verbosity(0)
    try:
        handle = pysam.AlignmentFile(path, "rc" if is_cram else "rb", reference_filename=reference.path if is_cram else None)
    except (OSError, ValueError) as exc:
        kind = "CRAM" if is_cram else "BAM"
        raise InputError(f"cannot read {path} as {kind} ({exc}): is the file truncated or not a {kind}?") from None
    finally:
        pysam.set_verbosity(save)
    check_contigs(handle, reference, path)
    return handle


def check_contigs(handle: pysam.AlignmentFile, reference: Reference, path: str) -> None:
    """Refuse a BAM whose contigs differ from the reference (chr20 vs 20, or another build)."""
    bam = dict(zip(handle.references, handle.lengths))
    ref = {c.name: c.length for c in reference.contigs}
    shared = [c for c in bam if c in ref]
    if not shared:
        example = next((c for c in bam if toggle_chr_prefix(c) in ref), None)
        if example is not None:
            raise InputError(
                f"contig names differ between {path} and the reference (reads use {example!r}, reference uses "
                f"{toggle_chr_prefix(example)!r}): use the reference the reads were aligned to")
        raise InputError(f"{path} shares no contig with the reference {reference.path}: use the reference the reads were aligned to")
    mismatched = [c for c in shared if bam[c] != ref[c]]
    if mismatched:
        c = mismatched[0]
        raise InputError(f"contig {c} has length {bam[c]:,} in {path} but {ref[c]:,} in the reference: use the reference the reads were aligned to")


def sample_name(handle: pysam.AlignmentFile, default: str = "SAMPLE") -> str:
    """The SM of the first @RG, as DeepVariant names the VCF sample."""
    for rg in handle.header.to_dict().get("RG", []):
        if rg.get("SM"):
            return str(rg["SM"])
    return default


def hp_tagged_fraction(handle: pysam.AlignmentFile, regions: list[Region], limit: int = 2000) -> float:
    """Share of the first `limit` primary mapped reads (of `regions`, else of the file) that carry an HP tag:
    enough to tell a haplotagged BAM from an untagged one without reading it all."""
    seen = tagged = 0
    spans = [(r.contig, r.start, r.end) for r in regions if r.contig in handle.references] if regions else [(None, None, None)]
    for contig, start, end in spans:
        for read in handle.fetch(contig, start, end):
            if read.is_unmapped or read.is_secondary or read.is_supplementary:
                continue
            seen += 1
            tagged += read.has_tag("HP")
            if seen >= limit:
                return tagged / seen
    return tagged / seen if seen else 0.0


def _passes(read: pysam.AlignedSegment, flt: ReadFilter) -> bool:
    if read.is_unmapped or read.is_qcfail or read.mapping_quality < flt.min_mapping_quality:
        return False
    if read.is_duplicate and not flt.keep_duplicates:
        return False
    if read.is_secondary and not flt.keep_secondary:
        return False
    if read.is_supplementary and not flt.keep_supplementary:
        return False
    if read.query_sequence is None or read.cigartuples is None:
        return False
    # "Improperly placed": paired, not proper, mate on another contig.
    if (read.is_paired and not read.is_proper_pair and not read.mate_is_unmapped and read.next_reference_id >= 0
            and read.next_reference_id != read.reference_id):
        return False
    return True


def fetch_reads(handle: pysam.AlignmentFile, region: Region, flt: ReadFilter) -> list[pysam.AlignedSegment]:
    """Filtered reads overlapping the region, reservoir-sampled with a seed fixed per partition (deterministic output)."""
    if region.contig not in handle.references:
        return []
    save = pysam.set_verbosity(0) if handle.is_cram else None  # htslib's own lines would precede ours
    try:
        reads = [r for r in handle.fetch(region.contig, region.start, region.end) if _passes(r, flt)]
    except (OSError, ValueError) as exc:
        if handle.is_cram:
            raise InputError(f"cannot decode the CRAM reads of {region} ({exc}): --ref is probably not the reference the "
                             "CRAM was written with (see its @SQ M5 tags); pass that reference") from None
        raise InputError(f"cannot read {region} from the reads file ({exc}): is the file truncated?") from None
    finally:
        if save is not None:
            pysam.set_verbosity(save)
    if flt.downsample_fraction > 0:
        # Hash the fragment name so both mates and every partition a read spans make the same choice.
        reads = [r for r, keep in zip(reads, names_below(reads, flt.downsample_fraction)) if keep]
    cap = flt.max_reads_per_partition
    if cap > 0 and len(reads) > cap:
        reads = reservoir_sample(reads, cap, np.random.RandomState(RESERVOIR_SEED))
        reads.sort(key=lambda r: r.reference_start)
    return reads


def names_below(reads: list[pysam.AlignedSegment], fraction: float, salt: bytes = b"") -> np.ndarray:
    """A `fraction` of the reads picked by a hash of `salt` + name: the same choice for both mates, in every
    partition and run; a different salt picks independently."""
    limit = int(fraction * 0xFFFFFFFF)
    return np.fromiter((zlib.crc32(salt + r.query_name.encode()) <= limit for r in reads), bool, len(reads))


def hp_dropped(reads: list[pysam.AlignedSegment], fraction: float) -> np.ndarray:
    """Which reads to treat as untagged when dropping `fraction` of HP tags (independent of downsampling)."""
    return names_below(reads, fraction, b"hp:") if fraction > 0 else np.zeros(len(reads), bool)


def reservoir_sample(items: list, k: int, rng: np.random.RandomState) -> list:
    """Algorithm R, as DeepVariant caps reads per partition."""
    out = list(items[:k])
    for i in range(k, len(items)):
        j = rng.randint(0, i + 1)
        if j < k:
            out[j] = items[i]
    return out

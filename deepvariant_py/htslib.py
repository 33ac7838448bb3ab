"""htslib's own stderr lines ("[E::bgzf_read] ..."), silenced where dvcall explains the failure itself in one line;
and which index a file of htslib's needs."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Callable, Iterable, Iterator

import pysam

# A .tbi or .bai index holds positions below 2^29 (536,870,912 bp); a file with a longer contig (wheat, maize,
# axolotl chromosomes) needs a .csi index, which most tools read but some (htsjdk: GATK, Picard) do not.
LINEAR_INDEX_LIMIT = 1 << 29


def needs_csi(contig_lengths: Iterable[int]) -> bool:
    """Does a file over contigs of these lengths need a .csi index (instead of .tbi / .bai)?"""
    return max(contig_lengths, default=0) >= LINEAR_INDEX_LIMIT


def index_suffix(contig_lengths: Iterable[int], linear: str) -> str:
    """The index a file over contigs of these lengths gets: `linear` (".tbi" or ".bai") or, where a contig is too
    long for that, ".csi"."""
    return ".csi" if needs_csi(contig_lengths) else linear


BAM_INDEXES = (".bai", ".csi")  # the index files a BAM dvcall writes may have (AtomicFile companions)


def index_bam(path: str) -> str:
    """`samtools index` of `path`: a .bai, or a .csi where a contig of its header is too long for one; returns
    the suffix written."""
    with pysam.AlignmentFile(path, check_sq=False) as reads:
        suffix = index_suffix(reads.lengths, ".bai")
    pysam.index(*(["-c"] if suffix == ".csi" else []), path)
    return suffix


@contextlib.contextmanager
def quiet_htslib() -> Iterator[None]:
    saved = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(saved)


def htslib_error(action: Callable[[], object]) -> str | None:
    """Run `action` (which failed once with htslib silenced) again with htslib's messages on and the process's
    stderr captured: its last error line ("CIGAR and query sequence lengths differ for READ"), to put in ours."""
    sys.stderr.flush()
    saved_fd, saved = os.dup(2), pysam.set_verbosity(3)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                action()
            except Exception:
                pass
            finally:
                os.dup2(saved_fd, 2)
            captured.seek(0)
            lines = [line.strip() for line in captured.read().decode(errors="replace").splitlines() if line.startswith("[E::")]
    finally:
        os.close(saved_fd)
        pysam.set_verbosity(saved)
    return lines[-1].split("] ", 1)[-1] if lines else None


def rewrite_reads(path: str, output: str, edit: Callable[[pysam.AlignedSegment], None]) -> None:
    """Write the BAM `output` (indexed: index_bam) with `edit` applied to every read of the BAM `path`, in place
    on each read; atomically, never over the input (the robustness scripts' BAM transforms). InputError for a
    missing or unreadable input, OutputError for an output that cannot be written or is the input."""
    from .errors import InputError
    from .outputs import atomic_output, check_outputs

    if not os.path.isfile(path):
        raise InputError(f"input {path} does not exist: pass an existing BAM")
    check_outputs({"OUT.bam": output, "OUT.bam's index": output + ".bai"}, inputs={"IN.bam": path, "IN.bam's index": path + ".bai"})
    try:
        src = pysam.AlignmentFile(path, "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} as a BAM ({exc}): pass a BAM file") from None
    with src, atomic_output(output, ".bam", companions=BAM_INDEXES) as tmp:
        with pysam.AlignmentFile(tmp, "wb", template=src) as out:
            for read in src:
                edit(read)
                out.write(read)
        index_bam(tmp)

"""BAM and CRAM files as inputs, checked before any read is called: what the file is (one-line errors with the fix
for a SAM, FASTQ, an unaligned or unsorted BAM), its index (missing, unreadable, made for another file, stale),
its contigs against the reference, and several files of one sample against each other (same contigs, no read
twice, room to open them all)."""
from __future__ import annotations

import contextlib
import os
from typing import Sequence

import pysam

from .bam_index import indexed_end
from .crai import crai_is_stale
from .errors import InputError
from .filetypes import describe, sniff
from .htslib import quiet_htslib
from .reference import Reference, contig_lengths
from .regions import toggle_chr_prefix


SORT_FIX = "samtools sort -o sorted.bam {path} && samtools index sorted.bam"


def _check_reads_kind(path: str) -> bool:
    """Refuse anything but a BAM or CRAM with the fix that works for what it is; True for CRAM."""
    if not os.path.exists(path):
        raise InputError(f"reads file {path} does not exist: pass an existing BAM or CRAM with --reads")
    kind = sniff(path)
    if kind in ("bam", "cram"):
        return kind == "cram"
    fixes = {
        "directory": "pass the BAM or CRAM file inside it",
        "sam": f"convert it to an indexed BAM: `{SORT_FIX.format(path=path)}`",
        "fasta": "the reference goes to --ref; pass the aligned reads (BAM or CRAM) with --reads",
        "fastq": "align them first (bwa mem or minimap2), then sort and index the BAM",
        "vcf": "pass the aligned reads (BAM or CRAM) with --reads",
        "empty": "the file holds nothing: regenerate it",
    }
    if kind not in fixes:
        raise InputError(f"reads file {path} is not a BAM or CRAM (it starts with neither's magic bytes): is it truncated, "
                         "or another format? pass an indexed BAM or CRAM")
    raise InputError(f"reads file {path} is {describe(kind)}, not a BAM or CRAM: {fixes[kind]}")


def open_alignments(path: str, reference: Reference) -> pysam.AlignmentFile:
    """Open reads, checking what the file is, its sort order and index, and that its contigs agree with the
    reference in name and length."""
    handle = open_indexed(path, reference)
    try:
        check_contigs(handle, reference, path)
        check_index_matches(handle, path)
    except BaseException:
        with contextlib.suppress(InputError):  # the first error is the one to tell, not the close's that follows it
            close_alignments(handle, path)
        raise
    return handle


def open_indexed(path: str, reference: Reference) -> pysam.AlignmentFile:
    """Open a BAM or CRAM, checking what the file is, its sort order and its index (not yet its contigs)."""
    is_cram = _check_reads_kind(path)
    kind = "CRAM" if is_cram else "BAM"
    try:
        with quiet_htslib():
            handle = pysam.AlignmentFile(path, "rc" if is_cram else "rb", reference_filename=reference.path if is_cram else None,
                                         require_index=False)
    except (OSError, ValueError) as exc:
        if "no sequences defined" in str(exc):  # no @SQ line: the unaligned BAM a sequencer or basecaller delivers
            raise InputError(f"reads file {path} is unaligned (its header has no @SQ reference sequences, as the BAMs "
                             "PacBio and ONT basecallers deliver): align it to --ref first (e.g. `pbmm2 align --sort` or "
                             "`minimap2 -ax map-hifi|map-ont`, then `samtools sort` and `samtools index`)") from None
        raise InputError(f"cannot read {path} as {kind} ({exc}): is the file truncated or not a {kind}?") from None
    try:
        order = (handle.header.to_dict().get("HD") or {}).get("SO", "")
        if order in ("unsorted", "queryname"):
            raise InputError(f"reads file {path} is sorted by {'read name' if order == 'queryname' else 'nothing'} "
                             f"(@HD SO:{order}); dvcall needs a coordinate-sorted, indexed {kind}: `{SORT_FIX.format(path=path)}`")
        _open_index(handle, path, is_cram)
    except BaseException:
        close_alignments(handle, path)
        raise
    return handle


def alignment_index_paths(path: str) -> list[str]:
    """Where htslib looks for the index of a BAM or CRAM, in its order (a .csi before a .bai: verify44 found a
    stale x.csi read before a fresh x.bam.bai)."""
    stem = os.path.splitext(path)[0]
    if path.endswith(".cram"):
        return [path + ".crai", stem + ".crai"]
    return [path + ".csi", stem + ".csi", path + ".bai", stem + ".bai"]


def reads_inputs(paths: Sequence[str]) -> dict[str, str]:
    """{label: path} of the --reads files and the places of their indexes, for outputs.check_outputs."""
    labels = ["--reads"] if len(paths) == 1 else [f"--reads #{i}" for i in range(1, len(paths) + 1)]
    inputs = {}
    for label, path in zip(labels, paths):
        inputs[label] = path
        inputs.update({f"the index {p} of {label}": p for p in alignment_index_paths(path)})
    return inputs


def mapped_per_contig(handle: pysam.AlignmentFile) -> dict[str, int] | None:
    """{contig: mapped reads} from the index (None when the index does not say, e.g. CRAM)."""
    if handle.is_cram:  # a .crai holds no per-contig counts: pysam answers zeros, not an error
        return None
    try:
        return {s.contig: s.mapped for s in handle.get_index_statistics()}
    except (AttributeError, ValueError, OSError):
        return None


def mapped_reads(handle: pysam.AlignmentFile, contigs: set[str]) -> int | None:
    """Mapped reads on `contigs`, from the index (None when the index does not say, e.g. CRAM)."""
    counts = mapped_per_contig(handle)
    return None if counts is None else sum(n for c, n in counts.items() if c in contigs)


def _starts_in_order(handle: pysam.AlignmentFile, n: int = 10_000) -> bool:
    """Whether the file's first `n` records are in coordinate order (read from the start, no index needed): a BAM
    without @HD (`bwa mem | samtools view -b`) says nothing of its order, and `samtools index` refuses an unsorted one."""
    last = (-1, -1)
    try:
        with quiet_htslib():
            for i, read in enumerate(handle.fetch(until_eof=True)):
                if i >= n or read.reference_id < 0:  # unplaced reads come last in a sorted file
                    break
                key = (read.reference_id, read.reference_start)
                if key < last:
                    return False
                last = key
    except (OSError, ValueError):
        return True  # unreadable: let the index step say so
    return True


def _open_index(handle: pysam.AlignmentFile, path: str, is_cram: bool) -> None:
    if not any(os.path.exists(p) for p in alignment_index_paths(path)):
        if not _starts_in_order(handle):
            raise InputError(f"reads file {path} is not sorted by position and has no index: `{SORT_FIX.format(path=path)}`")
        raise InputError(f"reads file {path} has no index: run `samtools index {path}`")
    try:
        with quiet_htslib():
            handle.check_index()
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"the index of {path} cannot be read ({exc}): re-create it with `samtools index {path}`") from None


def check_index_matches(handle: pysam.AlignmentFile, path: str, n: int = 200) -> None:
    """Read the first reads through the index: an index made for another file (an unsorted BAM with a stale
    .bai, a BAM rewritten after indexing) gives errors or reads out of order here, not hours into a run."""
    if handle.is_cram:
        if (stale := stale_index(path, is_cram=True)):
            raise InputError(f"reads file {path} holds reads its index {stale} does not list (the CRAM was written again "
                             f"after it was indexed: they would be left out): {_reindex(path, stale)}")
        return
    try:
        with quiet_htslib():
            stats = [s for s in handle.get_index_statistics() if s.mapped > 0][:1]
            for s in stats:
                last = -1
                for i, read in enumerate(handle.fetch(s.contig)):
                    if i >= n:
                        break
                    if read.reference_name != s.contig or read.reference_start < last:
                        raise ValueError("reads out of order")
                    last = read.reference_start
    except (OSError, ValueError) as exc:
        raise InputError(f"reads file {path} does not match its index{htslib_said(exc)}: the BAM is unsorted or was "
                         f"rewritten after indexing: `{SORT_FIX.format(path=path)}`") from None
    if (stale := stale_index(path)):
        raise InputError(f"reads file {path} holds mapped reads its index {stale} does not know of (the BAM was written "
                         f"again after it was indexed: they would be left out): {_reindex(path, stale)}")


def htslib_said(exc: Exception) -> str:
    """htslib's own words for an error, in parentheses, unless they are its "truncated file", which misleads where
    an index or reference does not match the file."""
    return "" if "truncated" in str(exc) else f" ({exc})"


def _reindex(path: str, index: str) -> str:
    """How to replace a stale index where htslib will find it (a fresh .bai beside an old .csi is never read)."""
    if index == path + ".bai" or index == path + ".crai":
        return f"re-index it with `samtools index {path}`"
    flag = "-c " if index.endswith(".csi") else ""
    return f"re-index it with `samtools index {flag}{path} -o {index}`"


def _index_used(path: str) -> str | None:
    return next((p for p in alignment_index_paths(path) if os.path.exists(p)), None)


def stale_index(path: str, is_cram: bool = False) -> str | None:
    """The index htslib reads (alignment_index_paths' first) when it is older than its file, else None (also
    when it cannot be read): for a BAM, a mapped read follows the last read it covers (bam_index.indexed_end)
    or that place is not a read boundary; for a CRAM, crai.crai_is_stale."""
    index = _index_used(path)
    if is_cram:
        return index if index and crai_is_stale(index, path) else None
    end = indexed_end(index) if index else None
    if end is None:
        return None
    with quiet_htslib():
        probe = pysam.AlignmentFile(path, "rb", require_index=False, check_sq=False)
        try:
            if end:  # an index of no read (made while the BAM had none): the first record must not be a mapped one
                probe.seek(end)
            after = next(probe, None)
        except (OSError, ValueError):
            return index
        finally:
            try:
                probe.close()
            except OSError:
                pass
    return index if after is not None and after.reference_id >= 0 else None


def close_alignments(handle: pysam.AlignmentFile, path: str) -> None:
    """Close; htslib reports a BAM it could not decode only here ("Closing failed")."""
    try:
        with quiet_htslib():
            handle.close()
    except OSError:
        raise InputError(f"reads file {path} could not be decoded (htslib failed on close): the BAM is truncated, unsorted "
                         f"or does not match its index: `{SORT_FIX.format(path=path)}`") from None


def check_contigs(handle: pysam.AlignmentFile, reference: Reference, path: str) -> None:
    """Refuse a BAM whose contigs differ from the reference (chr20 vs 20, or another build)."""
    bam = contig_lengths(handle)
    ref = reference.lengths
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


def check_same_contigs(handles: Sequence[pysam.AlignmentFile], paths: Sequence[str], reference: Reference) -> None:
    """Refuse --reads files whose contigs differ (in name or length) from the first file's: one sample's lanes or
    runs aligned to one reference have the same @SQ lines."""
    first = contig_lengths(handles[0])
    for handle, path in zip(handles[1:], paths[1:]):
        other = contig_lengths(handle)
        if other != first:
            raise InputError(_contig_difference(paths[0], first, path, other, reference) + ": the --reads files must "
                             "be aligned to the same reference (the one given with --ref)")


def _contig_difference(path_a: str, a: dict, path_b: str, b: dict, reference: Reference) -> str:
    """What differs between two files' contigs, naming both files."""
    differ = [c for c in a if c in b and a[c] != b[c]]
    if differ:
        c = differ[0]
        ref = f" and {reference.lengths[c]:,} in the reference" if c in reference.lengths else ""
        return f"contig {c} has length {a[c]:,} in {path_a} but {b[c]:,} in {path_b}{ref}"
    only_a, only_b = [c for c in a if c not in b], [c for c in b if c not in a]
    renamed = next((c for c in only_a if toggle_chr_prefix(c) in b), None)
    if renamed is not None:
        return f"contig names differ between {path_a} and {path_b} (one calls it {renamed!r}, the other {toggle_chr_prefix(renamed)!r})"
    missing, has, lacks = (only_b, path_b, path_a) if only_b else (only_a, path_a, path_b)
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return f"{has} has contig {missing[0]}{more}, which {lacks} lacks"


def copy_key(read: pysam.AlignedSegment) -> tuple[str, int, int]:
    """What two stored copies of one read share: name, strand and mate bits (0xD0), place. Mates, and R1/R2
    aligned apart as single-end reads, share the name but not the rest."""
    return read.query_name, read.flag & 0xD0, read.reference_start


def _first_keys(handle: pysam.AlignmentFile, n: int, distinct: bool = True) -> list[tuple[str, int, int]]:
    """The copy_key of the first primary mapped reads of a file (from its first indexed contig with reads): `n`
    distinct keys, or with `distinct=False` the keys of the first `n` reads, repeats kept."""
    keys: list[tuple[str, int, int]] = []
    seen: set[tuple[str, int, int]] = set()
    for contig in handle.references:
        for read in handle.fetch(contig):
            if not (read.is_secondary or read.is_supplementary or read.is_unmapped):
                key = copy_key(read)
                if distinct and key in seen:
                    continue
                seen.add(key)
                keys.append(key)
                if len(keys) >= n:
                    return keys
        if keys:
            return keys
    return keys


def _first_names(handle: pysam.AlignmentFile, n: int) -> set[tuple[str, int, int]]:
    """The copy_key of the first n primary mapped reads of a file (distinct)."""
    return set(_first_keys(handle, n))


SHARED_READS_WARNING = 0.05  # lanes or runs of one sample share no read name: a few percent shared is worth a line


def check_distinct_reads(handles: Sequence[pysam.AlignmentFile], paths: Sequence[str], n: int = 200) -> None:
    """Refuse two --reads files that hold the same reads (a BAM and its CRAM, a file and a copy): lanes and runs of
    one sample never share read names (nor does a file of first mates with one of second mates share a read), so half
    of the first reads in common means the reads would count twice."""
    if len(handles) < 2:
        return
    try:
        firsts = [_first_names(h, n) for h in handles]
    except (OSError, ValueError):  # an undecodable file: the partition that reads it says which and why
        return
    for i in range(len(handles)):
        for j in range(i + 1, len(handles)):
            shared = len(firsts[i] & firsts[j])
            if firsts[i] and firsts[j] and shared >= min(len(firsts[i]), len(firsts[j])) / 2:
                raise InputError(f"--reads {paths[i]} and {paths[j]} hold the same reads ({shared} of their first "
                                 f"{min(len(firsts[i]), len(firsts[j]))} reads agree, by name, strand and place): give "
                                 "each read once, not the same data twice (e.g. a BAM and its CRAM)")
    for i, shared, n in _shared_with_others(firsts):  # a merged file beside its lanes: a part with each, all with all
        if shared >= n / 2:
            raise InputError(f"--reads {paths[i]} holds reads the other --reads files hold too ({shared} of its first "
                             f"{n} reads): give each read once (is it the merge of the others, picked up by a glob?)")


def _shared_with_others(firsts: list[set]) -> list[tuple[int, int, int]]:
    """(file index, names shared with the union of the other files, names sampled) for files that share any."""
    out = []
    for i, names in enumerate(firsts):
        shared = len(names & set().union(*(f for j, f in enumerate(firsts) if j != i)))
        if names and shared:
            out.append((i, shared, len(names)))
    return out


def shared_reads_warning(sources, n: int = 200) -> str | None:
    """One line when --reads files (a reads.ReadSources: its handles and paths) share some reads (fewer than
    check_distinct_reads refuses): they count twice."""
    if len(sources.handles) < 2:
        return None
    try:
        firsts = [_first_names(h, n) for h in sources.handles]
    except (OSError, ValueError):
        return None
    for i, shared, sampled in _shared_with_others(firsts):
        if shared >= sampled * SHARED_READS_WARNING:
            return (f"--reads {sources.paths[i]} shares {shared} of its first {sampled} reads with the other --reads "
                    "files: those reads count twice; give each read once")
    return None


def check_single_copies(handle: pysam.AlignmentFile, path: str, n: int = 200) -> None:
    """Refuse a file that stores its reads twice (a `samtools merge` of a BAM with itself): half of its first n
    primary mapped reads found again under the same name, mate bits, place and strand. Every read would count
    twice (hostile18: genotypes and alleles moved, no warning). Mates, and R1/R2 aligned apart as single-end reads,
    differ in place or strand, so they are not copies."""
    try:
        keys = _first_keys(handle, n, distinct=False)
    except (OSError, ValueError):  # an undecodable file: the partition that reads it says which and why
        return
    copies = len(keys) - len(set(keys))
    if keys and copies >= len(keys) / 4:  # a quarter of the reads read are copies: half the reads are stored twice
        raise InputError(f"reads file {path} holds its reads twice ({copies} of its first {len(keys)} primary "
                         "reads are copies of another: same name, mate, place and strand): every read would count twice; "
                         "keep one copy of each (was it merged with itself?)")


FILES_PER_BAM, FILES_PER_CRAM = 1, 2  # open descriptors per reads file in a process (measured; a CRAM also holds its reference)


SPARE_FILES = 64  # the reference, outputs, Python's own


def ensure_open_files(paths: Sequence[str]) -> None:
    """Room to open these reads files at once (every worker process opens them all): the soft limit on
    open files is raised towards the hard one when it is short (often 1,024 of 4,096 or more); when even the hard
    limit is short, one line says so. Without it, a sample of ~1,000 per-lane BAMs failed at the 300-somethingth
    with a message blaming that file's index."""
    import resource

    n_reads_files = len(paths)
    need = sum(FILES_PER_CRAM if p.endswith(".cram") else FILES_PER_BAM for p in paths) + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or need <= soft:
        return
    if hard == resource.RLIM_INFINITY or need <= hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))  # soft < need <= hard here
            return
        except (ValueError, OSError):
            pass
    raise InputError(f"{n_reads_files:,} --reads files need about {need:,} open files, but this process may open {soft:,} "
                     f"(hard limit {'unlimited' if hard == resource.RLIM_INFINITY else f'{hard:,}'}): merge them first "
                     "(`samtools merge -o merged.bam FILES...`, then index it) or raise the limit (`ulimit -n`)")

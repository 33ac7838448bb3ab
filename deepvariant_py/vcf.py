"""VCF writing: DeepVariant's header and fields, bgzip + tabix (.tbi, or .csi for a contig too long for a .tbi), and no
half-written file at the output path."""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import pysam

from . import __version__
from .errors import InputError, OutputError
from .htslib import htslib_error, needs_csi, quiet_htslib
from .outputs import atomic_outputs, check_outputs, disk_error, final_name, free_space
from .reference import Contig

# The index files a VCF may have: the one written moves into place with it, and any other at that path (an
# earlier run's) is removed, or a reader would pick the stale one (htslib looks for a .csi first).
VCF_INDEXES = (".tbi", ".csi")



def vcf_index_outputs(label: str, path: str) -> dict[str, str]:
    """check_outputs entries for the index files a VCF output may get (or replace) at `path`."""
    return {f"{label}'s {ext} index": path + ext for ext in VCF_INDEXES}


FILTERS = {
    "RefCall": "Genotyping model thinks this site is reference.",
    "LowQual": "Confidence in this variant being real is below calling threshold.",
    "NoCall": "Site has depth=0 resulting in no call.",
}


@dataclass(kw_only=True)
class VcfRecord:
    """One line of the VCF or gVCF, built by keyword (postprocess.site_record, gvcf.block_record)."""

    contig: str
    start: int
    ref: str
    alts: list[str]
    qual: float
    filter: str
    genotype: tuple[int, int] | None  # None = ./.
    gq: int
    depth: int
    allele_depths: list[int]
    vafs: list[float]
    pl: list[int]
    end: int | None = None  # gVCF reference block: INFO END (1-based, inclusive = this 0-based exclusive end)
    min_dp: int | None = None  # gVCF reference block: MIN_DP instead of DP/AD/VAF


def check_sample_name(name: str, source: str = "--sample-name") -> str:
    """A name a VCF can hold as its one sample column: not empty, no tab, newline or other control character."""
    bad = sorted({repr(ch) for ch in name if ch in "\t\n\r" or not ch.isprintable()})
    if not name.strip() or bad:
        what = f"contains {', '.join(bad)}" if bad else "is empty"
        raise InputError(f"sample name {name!r} (from {source}) {what}, which a VCF sample column cannot hold: "
                         "pass --sample-name with a plain name")
    return name


def make_header(contigs: list[Contig], sample: str, command: str | None, gvcf: bool = False,
                model: str | None = None) -> pysam.VariantHeader:
    """The header of dvcall's VCF (and, `gvcf`, gVCF): `model` (model_info.model_description) names the model
    whose calls these are."""
    header = pysam.VariantHeader()
    if gvcf:
        header.add_line('##ALT=<ID=*,Description="Represents any possible alternative allele at this location">')
    for name, desc in FILTERS.items():
        header.filters.add(name, None, None, desc)
    header.info.add("END", 1, "Integer", "End position (for use with symbolic alleles)")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("GQ", 1, "Integer", "Conditional genotype quality")
    header.formats.add("DP", 1, "Integer", "Read depth")
    if gvcf:
        header.formats.add("MIN_DP", 1, "Integer", "Minimum DP observed within the GVCF block.")
    header.formats.add("AD", "R", "Integer", "Read depth for each allele")
    header.formats.add("VAF", "A", "Float", "Variant allele fractions.")
    header.formats.add("PL", "G", "Integer", "Phred-scaled genotype likelihoods rounded to the closest integer")
    # The contig lines go in as text parsed once: pysam re-syncs the whole header on every line added, so adding
    # them one by one takes time quadratic in their number (17 s for 60,000 contigs of a draft assembly).
    lines = str(header).splitlines()[:-1]  # without its #CHROM line
    lines += [f"##contig=<ID={c.name},length={c.length}>" for c in contigs]
    lines.append(f"##dvcall_version={__version__}")
    if model:
        lines.append(f"##dvcall_model={model}")
    if command:  # one header line, whatever the arguments hold
        lines.append("##dvcall_command=" + command.replace("\r", "\\r").replace("\n", "\\n"))
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample]))
    return _parsed_header("\n".join(lines) + "\n")


def _parsed_header(text: str) -> pysam.VariantHeader:
    """A VCF header from its text, parsed by htslib in one pass (from a temporary file: pysam reads no other way)."""
    fd, path = tempfile.mkstemp(suffix=".vcf")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        with pysam.VariantFile(path) as vcf:
            return vcf.header.copy()
    finally:
        os.remove(path)


def qual_one_decimal(qual: float) -> float:
    """QUAL as DeepVariant writes it: floor(10q + 0.5) / 10 (halves round up; Python's round() would go to even)."""
    return math.floor(qual * 10 + 0.5) / 10


def write_vcf(path: str, header: pysam.VariantHeader, records: Iterable[VcfRecord]) -> None:
    """Write bgzipped + tabix-indexed VCF (records may be a generator); the file only appears at `path` once
    complete."""
    with vcf_writers([(path, header)]) as (write,):
        for r in records:
            write(r)


@contextlib.contextmanager
def vcf_writers(outputs: Sequence[tuple[str, pysam.VariantHeader]]) -> Iterator[list[Callable[[VcfRecord], None]]]:
    """Bgzipped, tabix-indexed VCFs (path, header) written in one pass, a record at a time to any of them (a
    `write(record)` each); they appear at their paths together once all are complete and indexed, or not at all
    (a bad record, a full disk, Ctrl-C)."""
    for path, _ in outputs:
        check_outputs({"VCF": path, **vcf_index_outputs("the VCF", path)})
    with atomic_outputs([(path, ".vcf.gz", VCF_INDEXES) for path, _ in outputs]) as tmps:
        with quiet_htslib():  # a failed write is our one line (disk_error), not htslib's as well
            with contextlib.ExitStack() as files:
                opened = [files.enter_context(_bgzf_writer(tmp)) for tmp in tmps]
                for out, (_, header) in zip(opened, outputs):
                    out.write(str(header).encode())
                yield [lambda r, out=out, header=header: out.write(_line(header, r).encode())
                       for out, (_, header) in zip(opened, outputs)]
            for tmp, (path, header) in zip(tmps, outputs):
                _index(tmp, path, needs_csi(c.length or 0 for c in header.contigs.values()))


@contextlib.contextmanager
def _bgzf_writer(path: str) -> Iterator[pysam.BGZFile]:
    """pysam.BGZFile for writing, closed at the end; one whose write or close fails (a full disk) is closed again
    here, quietly, or its deallocation would try and print a traceback after dvcall's one-line error."""
    try:
        open(path, "wb").close()  # pysam 0.24's BGZFile segfaults when it cannot create the file: fail here, in one line
    except OSError as exc:
        raise disk_error(path, exc) from None
    out = pysam.BGZFile(path, "wb")
    try:
        yield out
        out.close()
    except BaseException:
        for _ in range(2):  # a failed flush leaves the file open; the second close frees it, failing or not
            try:
                out.close()
                break
            except OSError:
                pass
        raise


def _index(tmp: str, path: str, csi: bool) -> None:
    """`tmp` + .tbi, or + .csi where a contig is too long for a .tbi."""
    try:
        pysam.tabix_index(tmp, preset="vcf", force=True, csi=csi)
    except OSError as exc:
        if exc.errno is not None:
            raise
        # pysam says only "building of index for <temporary name> failed": htslib's reason, and the space left
        why = htslib_error(lambda: pysam.tabix_index(tmp, preset="vcf", force=True, csi=csi))
        details = "; ".join(filter(None, [why and f"htslib: {why}", free_space(path)]))
        raise OutputError(f"cannot write the index of {final_name(path)}{f' ({details})' if details else ''}: free some "
                          "space or pick a folder you can write to") from None


def _line(header: pysam.VariantHeader, r: VcfRecord) -> str:
    """A record's VCF line: a gVCF reference block formatted here (most of a gVCF's lines: 15x faster than
    pysam's record), anything else as pysam formats it."""
    if r.min_dp is not None and r.alts == ["<*>"] and r.qual == 0 and r.filter is None:
        gt = "0/0" if r.genotype == (0, 0) else "./." if r.genotype is None else None
        if gt is not None:
            return (f"{r.contig}\t{r.start + 1}\t.\t{r.ref}\t<*>\t0\t.\tEND={r.end}\tGT:GQ:MIN_DP:PL\t"
                    f"{gt}:{r.gq}:{r.min_dp}:{','.join(map(str, r.pl))}\n")
    return str(_record(header, r))


def _record(header: pysam.VariantHeader, r: VcfRecord) -> pysam.VariantRecord:
    stop = r.end if r.end is not None else r.start + len(r.ref)  # explicit: pysam writes END=0 for <*> otherwise
    rec = header.new_record(contig=r.contig, start=r.start, stop=stop, alleles=[r.ref] + list(r.alts),
                         qual=qual_one_decimal(r.qual), filter=r.filter)
    s = rec.samples[0]
    s["GT"] = r.genotype if r.genotype is not None else (None, None)
    s["GQ"] = r.gq
    if r.min_dp is not None:
        s["MIN_DP"] = r.min_dp
    else:
        s["DP"] = r.depth
        s["AD"] = r.allele_depths
        s["VAF"] = [round(v, 6) for v in r.vafs]
    s["PL"] = r.pl
    return rec

"""Odd but valid input gives a valid VCF; broken input gives one line, exit 1 and no output file."""
from __future__ import annotations

import itertools
import json
import os
import random
import shutil

import pysam
import pytest
from click.testing import CliRunner

from builders import header_for, make_read, write_bam, write_fasta, write_sparse_fasta
from deepvariant_py.cli.main import main
from deepvariant_py.model import default_model_dir

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REAL_REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
REAL_BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
LENGTH = 3000
SNP_AT = 1500  # 0-based; every read covering it carries 'alt'


def _ref() -> str:
    rng = random.Random(11)
    return "".join(rng.choice("ACGT") for _ in range(LENGTH))


def _alt_base(ref: str) -> str:
    return "A" if ref[SNP_AT] != "A" else "C"


def _sample(tmp_path, reads_for) -> tuple[str, str]:
    ref = _ref()
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": ref})
    header = header_for("chr1", LENGTH, sample="odd")
    hap = ref[:SNP_AT] + _alt_base(ref) + ref[SNP_AT + 1:]
    bam = write_bam(tmp_path / "reads.bam", reads_for(ref, hap, header), header)
    return fasta, bam


def _call(tmp_path, fasta, bam, region="chr1:1-3000", *extra):
    out = tmp_path / "out.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", fasta, "--reads", bam, "--output-vcf", str(out), "--regions", region,
                                       "--num-shards", "1", "--quiet", *extra])
    return result, out


def _records(path) -> list[pysam.VariantRecord]:
    with pysam.VariantFile(str(path)) as fh:
        return list(fh)


def _het_reads(ref, hap, header, n=40, **kw):
    reads = []
    for i in range(n):
        start = SNP_AT - 90 + (i * 4) % 80
        seq = (hap if i % 2 else ref)[start:start + 100]
        reads.append(make_read(f"r{i}", start, "100M", seq, header=header, reverse=bool(i % 3 == 0), **kw))
    return reads


def test_reads_without_base_qualities(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h, quals=None))
    result, out = _call(tmp_path, fasta, bam)
    assert result.exit_code == 0, result.output
    assert [(r.pos, r.alts[0]) for r in _records(out) if r.filter.keys() == ["PASS"]] == [(SNP_AT + 1, _alt_base(_ref()))]


def test_hard_clips_n_skips_and_long_soft_clips(tmp_path):
    def reads(ref, hap, h):
        out = _het_reads(ref, hap, h)
        for i in range(10):  # hard-clipped, spliced and heavily soft-clipped reads around the site
            s = SNP_AT - 30 - i
            out.append(make_read(f"hard{i}", s, "5H60M", hap[s:s + 60], header=h))
            out.append(make_read(f"skip{i}", s - 440, "40M400N60M", ref[s - 440:s - 400] + hap[s:s + 60], header=h))
            out.append(make_read(f"soft{i}", s, "70S30M", "".join("ACGT"[(j * 7) % 4] for j in range(70)) + hap[s:s + 30], header=h))
        return out
    fasta, bam = _sample(tmp_path, reads)
    result, out = _call(tmp_path, fasta, bam)
    assert result.exit_code == 0, result.output
    passing = [r for r in _records(out) if r.filter.keys() == ["PASS"]]
    assert [r.pos for r in passing] == [SNP_AT + 1]


def test_five_thousand_reads_at_one_site_are_downsampled(tmp_path):
    def reads(ref, hap, h):
        return [make_read(f"p{i}", SNP_AT - 50, "100M", (hap if i % 2 else ref)[SNP_AT - 50:SNP_AT + 50], header=h)
                for i in range(5000)]
    fasta, bam = _sample(tmp_path, reads)
    result, out = _call(tmp_path, fasta, bam)
    assert result.exit_code == 0, result.output
    (rec,) = _records(out)
    assert rec.pos == SNP_AT + 1 and rec.samples[0]["DP"] <= 1500  # a reservoir of 1,500 reads per partition
    assert sum(rec.samples[0]["AD"]) == rec.samples[0]["DP"] and 1 in rec.samples[0]["GT"]


def test_region_without_reads_gives_a_header_only_vcf(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    result, out = _call(tmp_path, fasta, bam, "chr1:2501-3000")
    assert result.exit_code == 0, result.output
    assert _records(out) == [] and os.path.exists(str(out) + ".tbi")


# --------------------------------------------------------------------------- broken input


def _one_line_error(result, out, needle):
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dvcall: error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output and not os.path.exists(out)


def test_fasta_index_that_belongs_to_another_fasta(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    with open(fasta + ".fai", "w") as fh:  # line width and offsets of a different layout
        fh.write(f"chr1\t{LENGTH}\t6000\t60\t61\n")
    _one_line_error(*_call(tmp_path, fasta, bam), "does not match its .fai index")


def test_contig_lengths_that_differ(tmp_path):
    ref = _ref()
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": ref})
    header = header_for("chr1", LENGTH + 100)
    bam = write_bam(tmp_path / "reads.bam", _het_reads(ref, ref, header), header)
    _one_line_error(*_call(tmp_path, fasta, bam), "has length 3,100")


def test_truncated_and_non_bam_reads(tmp_path):
    truncated = tmp_path / "cut.bam"
    with open(REAL_BAM, "rb") as src:
        truncated.write_bytes(src.read(200_000))
    shutil.copy(REAL_BAM + ".bai", str(truncated) + ".bai")
    _one_line_error(*_call(tmp_path, REAL_REF, str(truncated), "chr20:10,000,001-10,002,000"), "truncated")
    text = tmp_path / "text.bam"
    text.write_text("not a BAM at all\n")
    shutil.copy(REAL_BAM + ".bai", str(text) + ".bai")
    _one_line_error(*_call(tmp_path, REAL_REF, str(text), "chr20:10,000,001-10,002,000"), "not a BAM")


def test_model_with_the_wrong_shape(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    info = json.loads((model / "model_info.json").read_text())
    info["settings"]["alt_aligned_pileup"] = "none"  # its examples would have fewer channels than its weights take
    (model / "model_info.json").write_text(json.dumps(info))
    result, out = _call(tmp_path, REAL_REF, REAL_BAM, "chr20:10,002,001-10,003,000", "--model", str(model))
    _one_line_error(result, out, "expects examples of shape")


def test_cram_with_a_reference_it_was_not_written_with(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    cram = str(tmp_path / "reads.cram")
    pysam.view("-C", "-T", fasta, "-o", cram, bam, catch_stdout=False)
    pysam.index(cram)
    rng = random.Random(5)
    (tmp_path / "other").mkdir()
    other = write_fasta(tmp_path / "other" / "ref.fa", {"chr1": "".join(rng.choice("ACGT") for _ in range(LENGTH))})
    _one_line_error(*_call(tmp_path, other, cram), "not the reference the CRAM was written with")


def test_fasta_without_index(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    os.remove(fasta + ".fai")
    _one_line_error(*_call(tmp_path, fasta, bam), "has no .fai index: run `samtools faidx")


def test_region_on_an_unknown_contig(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    result, out = _call(tmp_path, fasta, bam, "chrZ:1-100")
    _one_line_error(result, out, "use one of its contigs (chr1)")


def test_reads_and_reference_name_the_contig_differently(tmp_path):
    ref = _ref()
    fasta = write_fasta(tmp_path / "ref.fa", {"1": ref})  # b37 style
    header = header_for("chr1", LENGTH)  # UCSC style
    bam = write_bam(tmp_path / "reads.bam", _het_reads(ref, ref, header), header)
    _one_line_error(*_call(tmp_path, fasta, bam, "1:1-3000"), "reads use 'chr1', reference uses '1'")


def test_unwritable_report_leaves_nothing(tmp_path):
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    result, out = _call(tmp_path, fasta, bam, "chr1:1-3000", "--report", str(tmp_path / "no" / "dir" / "r.html"))
    _one_line_error(result, out, "does not exist (create it first)")


def test_a_site_whose_reads_are_all_below_the_base_quality_threshold_is_a_no_call(tmp_path):
    """A deletion is counted whatever its reads' base qualities, but a read is shown in a pileup only where its
    base is at least Q10: with quality 2 under the whole deletion (or everywhere) the pileup is empty. The run
    used to stop there (the network's first layer could not reshape zero reads); the site is now a NoCall."""
    for name, low_at in (("column", lambda rpos: 10_004_765 <= rpos <= 10_004_771), ("all", lambda rpos: True)):
        low = str(tmp_path / f"{name}.bam")
        with pysam.AlignmentFile(REAL_BAM) as src, pysam.AlignmentFile(low + ".u.bam", "wb", template=src) as out:
            for read in src.fetch("chr20", 10_004_600, 10_004_900):
                quals = read.query_qualities
                for qpos, rpos in read.get_aligned_pairs(matches_only=True):
                    if low_at(rpos):
                        quals[qpos] = 2
                read.query_qualities = quals
                out.write(read)
        pysam.sort("-o", low, low + ".u.bam")
        pysam.index(low)
        result, out = _call(tmp_path, REAL_REF, low, "chr20:10004769" if name == "column" else "chr20:10004700-10004800")
        assert result.exit_code == 0, result.output
        (site,) = [r for r in _records(out) if r.pos == 10_004_769]
        assert site.ref == "TAAAACTATGC" and site.filter.keys() == ["NoCall"] and site.samples[0]["GT"] == (None, None)
        assert site.samples[0]["DP"] == 0


def _write_equals(src: str, dst: str) -> None:
    """`samtools calmd -e`: every read base equal to the reference base it is aligned to written '=' (pysam 0.23's
    calmd overwrote its input: pysam issue 1403, hostile26)."""
    with pysam.FastaFile(REAL_REF) as ref, pysam.AlignmentFile(src) as a, pysam.AlignmentFile(dst, "wb", template=a) as out:
        for read in a:
            seq, quals = read.query_sequence, read.query_qualities
            if seq is not None and not read.is_unmapped:
                ref_seq = ref.fetch(read.reference_name, read.reference_start, read.reference_end).upper()
                bases = list(seq)
                for q, r in read.get_aligned_pairs(matches_only=True):
                    if bases[q].upper() == ref_seq[r - read.reference_start]:
                        bases[q] = "="
                read.query_sequence = "".join(bases)
                read.query_qualities = quals
            out.write(read)


@pytest.mark.parametrize("late", [False, True])
def test_reads_that_store_reference_bases_as_equals_give_the_same_calls(tmp_path, late):
    """SAM allows '=' for a base that matches the reference (`samtools calmd -e` writes it); read as N, every
    reference base was lost (hets called hom-alt, indels gone, exit 0). Such a file's reads get the reference's
    bases back where they are aligned. `late`: only reads past 10,005,000 hold '=' (a file merged from parts), which
    the file's first reads do not show (hostile21: 47 SNP FPs)."""
    region = "chr20:10000000-10011000"
    plain = tmp_path / "plain.bam"
    with pysam.AlignmentFile(REAL_BAM) as src, pysam.AlignmentFile(str(plain), "wb", template=src) as out:
        for read in src.fetch("chr20", 9_999_000, 10_012_000):
            out.write(read)
    equals = str(tmp_path / "equals.bam")
    _write_equals(str(plain), equals)
    if late:
        early_late = str(tmp_path / "early_late.bam")
        with pysam.AlignmentFile(str(plain)) as a, pysam.AlignmentFile(equals) as b, \
                pysam.AlignmentFile(early_late, "wb", template=a) as out:
            for read in a:
                if read.reference_start < 10_005_000:
                    out.write(read)
            for read in b:
                if read.reference_start >= 10_005_000:
                    out.write(read)
        equals = early_late
    pysam.index(equals)
    with pysam.AlignmentFile(equals) as fh:
        first = sum("=" in (r.query_sequence or "") for r in itertools.islice(fh, 100))
        assert first == 0 if late else first > 90
        assert not late or sum("=" in (r.query_sequence or "") for r in fh) > 1000
    from deepvariant_py.phasing import equals_warning
    from deepvariant_py.reads import open_reads, with_reference_bases
    from deepvariant_py.reference import Reference
    with open_reads(equals, Reference(REAL_REF)) as sources:  # what whatshap would be warned of: the first reads'
        assert sources.equals_paths == (() if late else (equals,))
        assert (equals_warning(sources.equals_paths) is None) == late
    other = make_read("elsewhere", 10, "4M", "A==T", header=header_for("chrUn", 100))  # a contig the reference lacks
    assert [r.query_sequence for r in with_reference_bases([other], Reference(REAL_REF))] == ["A==T"]
    pysam.index(str(plain))
    want, got = tmp_path / "want", tmp_path / "got"
    want.mkdir()
    got.mkdir()
    result, plain_vcf = _call(want, REAL_REF, str(plain), region)
    assert result.exit_code == 0, result.output
    result, equals_vcf = _call(got, REAL_REF, equals, region)
    assert result.exit_code == 0, result.output
    calls = [str(r) for r in _records(plain_vcf)]
    assert len(calls) > 50 and [str(r) for r in _records(equals_vcf)] == calls


def test_a_malformed_record_is_named_not_blamed_on_sorting(tmp_path):
    """A record whose CIGAR does not match its sequence (90M on 101 bases) cannot be read; the one line used to
    say "truncated, unsorted or does not match its index: samtools sort", which fails on it too. It now carries
    htslib's own reason, naming the read."""
    with pysam.AlignmentFile(REAL_BAM) as src:
        header = src.header
        reads = [pysam.AlignedSegment.fromstring(r.to_string(), header) for r in src.fetch("chr20", 10_007_000, 10_012_000)]
    paths = {}
    for name, broken in (("twin", False), ("broken", True)):
        paths[name] = str(tmp_path / f"{name}.bam")
        with pysam.AlignmentFile(paths[name], "wb0", header=header) as out:  # uncompressed: same offsets in both
            for r in reads:
                r = pysam.AlignedSegment.fromstring(r.to_string(), header)
                if broken and r.cigartuples == [(0, 101)] and 10 <= 10_003_000 + 5_000 - r.reference_start <= 90:
                    r.cigartuples = [(0, 90)]
                out.write(r)
    pysam.index(paths["twin"])
    shutil.copy(paths["twin"] + ".bai", paths["broken"] + ".bai")  # htslib will not index the broken one itself
    result, out = _call(tmp_path, REAL_REF, paths["broken"], "chr20:10008000-10011000")
    assert result.exit_code == 1 and not out.exists()
    assert "CIGAR and query sequence lengths differ for" in result.output and "samtools sort" not in result.output
    assert "Traceback" not in result.output


def test_a_contig_too_long_for_a_tbi_gets_csi_indexes(tmp_path):
    """A contig of 600 Mb (wheat, maize): a .tbi cannot hold positions past 2^29, so the VCF and gVCF get a .csi;
    before, the index step failed after all the calling, the outputs were removed and the error blamed the disk."""
    length, offset = 600_000_000, 550_000_020
    ref = _ref()
    fasta = write_sparse_fasta(tmp_path / "big.fa", "big", length, offset, ref)
    header = header_for("big", length, sample="big")
    hap = ref[:SNP_AT] + _alt_base(ref) + ref[SNP_AT + 1:]
    reads = [make_read(r.query_name, offset + r.reference_start, "100M", r.query_sequence, header=header,
                       reverse=r.is_reverse) for r in _het_reads(ref, hap, header)]
    bam = write_bam(tmp_path / "big.bam", reads, header)
    out, gvcf = tmp_path / "out.vcf.gz", tmp_path / "out.g.vcf.gz"
    (tmp_path / "out.vcf.gz.tbi").write_text("an earlier run's index")  # would describe the new file wrongly
    result, _ = _call(tmp_path, fasta, bam, f"big:{offset + 1}-{offset + LENGTH}", "--output-gvcf", str(gvcf))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("out.*")) == ["out.g.vcf.gz", "out.g.vcf.gz.csi", "out.vcf.gz", "out.vcf.gz.csi"]
    with pysam.VariantFile(str(out)) as vcf:
        assert [(r.pos, r.alts[0]) for r in vcf.fetch("big", offset + SNP_AT - 10, offset + SNP_AT + 10)] == \
            [(offset + SNP_AT + 1, _alt_base(ref))]
    with pysam.VariantFile(str(gvcf)) as blocks:
        assert len(list(blocks.fetch("big", offset + 100, offset + 200))) >= 1


def test_a_tmpdir_that_cannot_be_used_is_named(tmp_path, monkeypatch, caplog):
    """Python's tempfile silently skips a TMPDIR it cannot write (on a cluster, /tmp is often small): said."""
    fasta, bam = _sample(tmp_path, lambda ref, hap, h: _het_reads(ref, hap, h))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "no-such-folder"))
    with caplog.at_level("WARNING", logger="dvcall"):
        result, out = _call(tmp_path, fasta, bam)
    assert result.exit_code == 0, result.output
    assert f"TMPDIR {tmp_path / 'no-such-folder'} does not exist or cannot be written: temporary files go to" in caplog.text

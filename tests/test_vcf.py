"""VCF output (docs/design.md §9.3, §9.7): header, records read back with pysam, index, errors, and site filters."""
from __future__ import annotations

import gzip
import os

import pysam
import pytest

from builders import write_fasta
from deepvariant_py.errors import OutputError
from deepvariant_py.examples_io import VariantInfo
from deepvariant_py.postprocess import site_genotypes, site_record
from deepvariant_py.reference import Reference
from deepvariant_py.vcf import VcfRecord, make_header, qual_one_decimal, write_vcf

CHR1 = "GATTACACGTTAGCCATGCAGTCAAGTCGACCTGAACGTGACGTACGTAAACCCGGGTTT"  # 60 bp
CHR2 = "ACGT" * 9  # 36 bp
COMMAND = "dvcall call --ref ref.fa --reads x.bam --output out.vcf.gz"


@pytest.fixture
def reference(tmp_path):
    ref = Reference(write_fasta(tmp_path / "ref.fa", {"chr1 first": CHR1, "chr2": CHR2}))
    yield ref
    ref.close()


def records():
    return [
        VcfRecord(contig="chr1", start=10, ref="T", alts=["C"], qual=10.0, filter="PASS",
                  genotype=(0, 1), gq=8, depth=10, allele_depths=[6, 4], vafs=[0.4], pl=[9, 0, 12]),
        VcfRecord(contig="chr1", start=10 + 10, ref="G", alts=["A"], qual=0.2227639, filter="RefCall",
                  genotype=None, gq=13, depth=9, allele_depths=[9, 0], vafs=[0.0], pl=[0, 13, 19]),
        VcfRecord(contig="chr1", start=40, ref="TA", alts=["CA", "T"], qual=15.44, filter="PASS",
                  genotype=(1, 2), gq=3, depth=14, allele_depths=[5, 3, 2], vafs=[3 / 14, 2 / 14], pl=[31, 24, 19, 24, 0, 17]),
        VcfRecord(contig="chr2", start=3, ref="T", alts=["G"], qual=0.0, filter="NoCall",
                  genotype=None, gq=0, depth=0, allele_depths=[0, 0], vafs=[0.0], pl=[0, 0, 0]),
    ]


def write(tmp_path, reference, recs=None, sample="NA12878", command=COMMAND):
    out = str(tmp_path / "out.vcf.gz")
    write_vcf(out, make_header(reference.contigs, sample, command), records() if recs is None else recs)
    return out


def header_lines(path):
    with gzip.open(path, "rt") as fh:
        return [line.rstrip("\n") for line in fh if line.startswith("#")]


def test_header(tmp_path, reference):
    lines = header_lines(write(tmp_path, reference))
    assert lines[0] == "##fileformat=VCFv4.2"
    text = "\n".join(lines)
    assert '##FILTER=<ID=PASS,Description="All filters passed">' in text
    assert '##FILTER=<ID=RefCall,Description="Genotyping model thinks this site is reference.">' in text
    assert '##FILTER=<ID=LowQual,Description="Confidence in this variant being real is below calling threshold.">' in text
    assert '##FILTER=<ID=NoCall,Description="Site has depth=0 resulting in no call.">' in text
    formats = [line for line in lines if line.startswith("##FORMAT=")]
    assert [f.split("ID=")[1].split(",")[0] for f in formats] == ["GT", "GQ", "DP", "AD", "VAF", "PL"]
    fmt = {f.split("ID=")[1].split(",")[0]: f for f in formats}
    assert "Number=1,Type=String" in fmt["GT"]
    assert "Number=1,Type=Integer" in fmt["GQ"] and "Number=1,Type=Integer" in fmt["DP"]
    assert "Number=R,Type=Integer" in fmt["AD"]
    assert "Number=A,Type=Float" in fmt["VAF"]
    assert "Number=G,Type=Integer" in fmt["PL"]
    assert "##contig=<ID=chr1,length=60>" in lines and "##contig=<ID=chr2,length=36>" in lines
    assert lines.index("##contig=<ID=chr1,length=60>") < lines.index("##contig=<ID=chr2,length=36>")
    assert any(line.startswith("##dvcall_version=") for line in lines)
    assert f"##dvcall_command={COMMAND}" in lines
    assert lines[-1].split("\t") == ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "NA12878"]


def test_header_without_command(tmp_path, reference):
    lines = header_lines(write(tmp_path, reference, command=None))
    assert not any(line.startswith("##dvcall_command") for line in lines)


def test_records_round_trip(tmp_path, reference):
    out = write(tmp_path, reference)
    assert os.path.exists(out + ".tbi")
    assert sorted(os.listdir(tmp_path)) == sorted(["ref.fa", "ref.fa.fai", "out.vcf.gz", "out.vcf.gz.tbi"])
    with pysam.VariantFile(out) as vf:
        assert list(vf.header.samples) == ["NA12878"]
        recs = list(vf)
    assert [(r.contig, r.pos, r.ref, r.alts) for r in recs] == [
        ("chr1", 11, "T", ("C",)), ("chr1", 21, "G", ("A",)), ("chr1", 41, "TA", ("CA", "T")), ("chr2", 4, "T", ("G",)),
    ]
    assert [list(r.filter.keys()) for r in recs] == [["PASS"], ["RefCall"], ["PASS"], ["NoCall"]]
    assert [round(r.qual, 4) for r in recs] == [10.0, 0.2, 15.4, 0.0]
    s = recs[0].samples["NA12878"]
    assert s["GT"] == (0, 1) and s["GQ"] == 8 and s["DP"] == 10 and s["AD"] == (6, 4) and s["PL"] == (9, 0, 12)
    assert s["VAF"][0] == pytest.approx(0.4)
    s = recs[1].samples["NA12878"]
    assert s["GT"] == (None, None) and s["GQ"] == 13 and s["AD"] == (9, 0)
    s = recs[2].samples["NA12878"]
    assert s["GT"] == (1, 2) and s["AD"] == (5, 3, 2) and len(s["PL"]) == 6
    assert s["VAF"] == pytest.approx((3 / 14, 2 / 14), abs=1e-6)
    # The index answers region queries.
    with pysam.VariantFile(out) as vf:
        assert [r.pos for r in vf.fetch("chr1", 15, 45)] == [21, 41]
        assert [r.pos for r in vf.fetch("chr2")] == [4]


def test_data_lines_text(tmp_path, reference):
    with gzip.open(write(tmp_path, reference), "rt") as fh:
        body = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    assert body[0] == ["chr1", "11", ".", "T", "C", "10", "PASS", ".", "GT:GQ:DP:AD:VAF:PL", "0/1:8:10:6,4:0.4:9,0,12"]
    assert body[1][9].startswith("./.:13:9:9,0:")


@pytest.mark.parametrize("qual, written", [(0.15, 0.2), (0.25, 0.3), (12.25, 12.3), (12.24999, 12.2), (3.0103, 3.0),
                                           (99.0308995, 99.0), (0.0, 0.0)])
def test_qual_written_to_one_decimal_half_up(qual, written):
    assert qual_one_decimal(qual) == pytest.approx(written)


def test_qual_half_up_in_file(tmp_path, reference):
    recs = [VcfRecord(contig="chr1", start=10, ref="T", alts=["C"], qual=0.25, filter="LowQual",
                      genotype=(0, 1), gq=0, depth=4, allele_depths=[2, 2], vafs=[0.5], pl=[0, 0, 0])]
    with pysam.VariantFile(write(tmp_path, reference, recs)) as vf:
        (rec,) = list(vf)
    assert rec.qual == pytest.approx(0.3)


def test_empty_vcf(tmp_path, reference):
    out = write(tmp_path, reference, recs=[])
    with pysam.VariantFile(out) as vf:
        assert list(vf) == []
    assert os.path.exists(out + ".tbi")


def test_missing_directory_raises_output_error(tmp_path, reference):
    out = tmp_path / "no" / "such" / "dir" / "out.vcf.gz"
    with pytest.raises(OutputError, match="does not exist"):
        write_vcf(str(out), make_header(reference.contigs, "S", None), records())
    assert not (tmp_path / "no").exists()


def test_directory_that_is_a_file_raises_output_error(tmp_path, reference):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_vcf(str(blocker / "out.vcf.gz"), make_header(reference.contigs, "S", None), records())
    assert sorted(os.listdir(tmp_path)) == ["blocker", "ref.fa", "ref.fa.fai"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_read_only_directory_raises_output_error(tmp_path, reference):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError):
            write_vcf(str(ro / "out.vcf.gz"), make_header(reference.contigs, "S", None), records())
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o700)


def test_failed_write_leaves_no_partial_file(tmp_path, reference):
    bad = records() + [VcfRecord(contig="chrX", start=1, ref="A", alts=["C"], qual=1.0, filter="PASS",
                                 genotype=(0, 1), gq=1, depth=2, allele_depths=[1, 1], vafs=[0.5], pl=[0, 0, 0])]
    with pytest.raises(Exception):
        write_vcf(str(tmp_path / "out.vcf.gz"), make_header(reference.contigs, "S", None), bad)
    assert sorted(os.listdir(tmp_path)) == ["ref.fa", "ref.fa.fai"]


# --- site_record: genotype + filters from per-image probabilities (docs/design.md §9.3) --------------------------

def snp(depth=10, ad=(6, 4)):
    return VariantInfo("chr1", 10, "T", ("C",), depth, ad)


def test_site_record_pass_het():
    rec = site_record(site_genotypes(snp(), {(0,): (0.10, 0.85, 0.05)}))
    assert rec.filter == "PASS" and rec.genotype == (0, 1)
    assert rec.gq == 8 and rec.qual == 10.0 and rec.pl == [9, 0, 12]
    assert rec.depth == 10 and rec.allele_depths == [6, 4] and rec.vafs == [0.4]
    assert (rec.contig, rec.start, rec.ref, rec.alts) == ("chr1", 10, "T", ["C"])


def test_site_record_refcall_low_gq_is_no_call():
    rec = site_record(site_genotypes(snp(), {(0,): (0.95, 0.04, 0.01)}))  # GQ = round(13.01) = 13 < 20
    assert rec.filter == "RefCall" and rec.genotype is None and rec.gq == 13


def test_site_record_refcall_confident_keeps_genotype():
    rec = site_record(site_genotypes(snp(), {(0,): (0.995, 0.004, 0.001)}))  # GQ = round(23.01) = 23
    assert rec.filter == "RefCall" and rec.genotype == (0, 0) and rec.gq == 23


def test_site_record_refcall_gq_boundary():
    p = 1 - 10 ** -2.0  # GQ exactly 20: not below 20, genotype kept
    rec = site_record(site_genotypes(snp(), {(0,): (p, (1 - p) / 2, (1 - p) / 2)}))
    assert rec.gq == 20 and rec.genotype == (0, 0)
    p = 1 - 10 ** -1.9  # GQ 19
    rec = site_record(site_genotypes(snp(), {(0,): (p, (1 - p) / 2, (1 - p) / 2)}))
    assert rec.gq == 19 and rec.genotype is None


def test_site_record_zero_ad_is_nocall():
    rec = site_record(site_genotypes(snp(depth=3, ad=(0, 0)), {(0,): (0.0, 0.1, 0.9)}))
    assert rec.filter == "NoCall" and rec.genotype is None and rec.gq == 0
    assert rec.pl == [0, 0, 0] and rec.allele_depths == [0, 0]


def test_site_record_low_qual():
    # Un-normalised probabilities (used directly for bi-allelic sites): GT 0/1 but QUAL = -10 log10 .8 = 0.97 < 1
    rec = site_record(site_genotypes(snp(), {(0,): (0.1, 0.2, 0.0)}))
    assert rec.genotype == (0, 1) and rec.filter == "LowQual"
    assert rec.qual == pytest.approx(0.9691001)


def test_site_record_multiallelic_prunes_reindexes_and_simplifies():
    variant = VariantInfo("chr1", 10, "TAG", ("CAG", "T", "TG"), 14, (5, 3, 4, 2))
    images = {
        (0,): (0.10, 0.60, 0.30),
        (1,): (0.95, 0.04, 0.01),  # QUAL 0.22 < 1: alt "T" is pruned
        (2,): (0.20, 0.50, 0.30),
        (0, 1): (0.0, 0.0, 1.0),
        (0, 2): (0.05, 0.15, 0.80),
        (1, 2): (0.0, 0.0, 1.0),
    }
    rec = site_record(site_genotypes(variant, images))
    # kept alts CAG, TG share the suffix G with TAG -> TA / CA, T
    assert rec.ref == "TA" and rec.alts == ["CA", "T"]
    assert rec.allele_depths == [5, 3, 2] and rec.depth == 14
    assert rec.vafs == pytest.approx([3 / 14, 2 / 14])
    # min rule over {0}, {2}, {0,2}: [.05, .15, .30, .15, .80, .30] / 1.75 -> GT 1/2
    assert rec.genotype == (1, 2) and rec.filter == "PASS"
    assert rec.gq == 3  # round(-10 log10(1 - .8/1.75)) = round(2.65)
    assert rec.qual == pytest.approx(15.4406804, abs=1e-6)  # -10 log10(.05/1.75)
    assert len(rec.pl) == 6 and rec.pl[4] == 0


def test_an_earlier_index_of_the_other_kind_is_removed(tmp_path, reference):
    """htslib looks for a .csi before a .tbi: a .csi left by an earlier run would answer queries of the new file."""
    (tmp_path / "out.vcf.gz.csi").write_text("an earlier run's index")
    out = write(tmp_path, reference)
    assert os.path.exists(out + ".tbi") and not os.path.exists(out + ".csi")
    with pysam.VariantFile(out) as vf:
        assert [r.pos for r in vf.fetch("chr1", 15, 45)] == [21, 41]


def test_a_command_with_a_line_break_stays_one_header_line(tmp_path, reference):
    lines = header_lines(write(tmp_path, reference, command="dvcall run --sample-name 'a\nb'"))
    assert "##dvcall_command=dvcall run --sample-name 'a\\nb'" in lines


def test_a_file_whose_flush_fails_is_closed_again(tmp_path, monkeypatch):
    """A full disk fails the last flush in BGZFile.close(), which then leaves the file open; its deallocation would
    close it again and print a traceback after dvcall's one-line error (seen on a full tmpfs). The writer closes it
    a second time itself, quietly, and the OutputError names the output."""
    made = []

    class FlushFails:  # pysam.BGZFile on a full disk: the first close fails in its flush, the next frees the file
        def __init__(self, path, mode):
            self.closes, self.freed = 0, False
            made.append(self)

        def write(self, data):
            return len(data)

        def close(self):
            if self.freed:
                return
            self.closes += 1
            if self.closes == 1:
                raise OSError("Error flushing BGZFile object")
            self.freed = True
            raise OSError("Error closing BGZFile object")

    monkeypatch.setattr(pysam, "BGZFile", FlushFails)
    with pytest.raises(OutputError, match=r"cannot write .*out\.vcf\.gz: Error flushing BGZFile object"):
        write(tmp_path, Reference(write_fasta(tmp_path / "r.fa", {"chr1": CHR1, "chr2": CHR2})))
    assert len(made) == 1 and made[0].freed and not os.path.exists(tmp_path / "out.vcf.gz")


def test_a_header_of_many_contigs_keeps_their_order_names_and_lengths():
    """Draft assemblies have 10^5 scaffolds: the contig lines go in as parsed text (pysam's one-by-one adds took
    quadratic time), with names as GRCh38's alts and HLA alleles spell them and a sample name outside ASCII."""
    from deepvariant_py.reference import Contig
    contigs = [Contig(f"scaffold_{i}", 1000 + i) for i in range(5000)] + [Contig("HLA-A*01:01:01:01", 3503)]
    header = make_header(contigs, "Échantillon 1", None, gvcf=True)
    assert [(name, c.length) for name, c in header.contigs.items()] == [(c.name, c.length) for c in contigs]
    assert list(header.samples) == ["Échantillon 1"] and "MIN_DP" in header.formats
    rec = header.new_record(contig="HLA-A*01:01:01:01", start=10, stop=11, alleles=["A", "G"])
    assert str(rec).startswith("HLA-A*01:01:01:01\t11\t")


def test_a_vcf_that_cannot_be_created_is_one_error_not_a_segfault(tmp_path):
    """hostile18: pysam.BGZFile segfaults (exit 139, every stage's work lost) when it cannot create its file,
    which happens after the up-front checks pass (root on /proc, a quota or inode limit hit at open time)."""
    from deepvariant_py.errors import OutputError
    from deepvariant_py.vcf import _bgzf_writer
    with pytest.raises(OutputError, match=r"cannot write .*x\.vcf\.gz: .*pick a path you can write to"):
        with _bgzf_writer(str(tmp_path / "gone" / "x.vcf.gz")):
            pass

"""The HTML report: counts and Ti/Tv from a hand-built VCF, a self-contained page from `run --report`, and the
page rendered by headless Chromium when it is installed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pysam
import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main
from deepvariant_py.report import summarize, variant_type, write_report

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
TITLES = ["Variant types", "QUAL", "Genotype quality (GQ)", "Variant allele fraction (VAF)",
          "Indel length (deletions &lt; 0, clipped at 30)", "Depth (DP)"]


def test_variant_types():
    assert [variant_type(r, a) for r, a in [("A", "G"), ("A", "AT"), ("AT", "A"), ("AC", "GT"), ("ACG", "T")]] == \
        ["SNP", "insertion", "deletion", "MNP", "complex"]
    # a multi-allelic record's alleles padded to its longest REF (hostile13: TAG>AAG read as an MNP)
    assert [variant_type(r, a) for r, a in [("TAG", "AAG"), ("TAG", "T"), ("ACGT", "AGGA")]] == ["SNP", "deletion", "MNP"]


def test_summary_counts_pass_alleles_and_ti_tv(tmp_path):
    header = pysam.VariantHeader()
    header.contigs.add("c", length=1000)
    header.filters.add("RefCall", None, None, "ref")
    for key, number, kind in (("GT", 1, "String"), ("GQ", 1, "Integer"), ("DP", 1, "Integer"), ("VAF", "A", "Float")):
        header.formats.add(key, number, kind, key)
    header.add_sample("S")
    path = str(tmp_path / "v.vcf")
    rows = [(10, ("A", "G"), (0, 1), "PASS"), (20, ("C", "T"), (1, 1), "PASS"), (30, ("A", "C"), (0, 1), "PASS"),
            (40, ("A", "AT", "ATT"), (1, 2), "PASS"), (50, ("GT", "G"), (0, 1), "PASS"), (60, ("A", "G"), (0, 0), "RefCall")]
    with pysam.VariantFile(path, "w", header=header) as out:
        for pos, alleles, gt, flt in rows:
            rec = out.new_record(contig="c", start=pos, alleles=alleles, qual=30, filter=flt)
            rec.samples[0]["GT"], rec.samples[0]["GQ"], rec.samples[0]["DP"] = gt, 30, 40
            rec.samples[0]["VAF"] = [0.5] * (len(alleles) - 1)
            out.write(rec)
    s = summarize(path)
    assert s.records == 6 and s.by_filter == {"PASS": 5, "RefCall": 1}
    assert dict(s.by_type) == {"SNP": 3, "insertion": 2, "deletion": 1}
    assert (s.transitions, s.transversions) == (2, 1) and s.ti_tv == 2.0
    assert sorted(s.indel_lengths) == [-1, 1, 2] and len(s.gq) == 5


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    page = tmp / "report.html"
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(tmp / "o.vcf.gz"),
                                       "--regions", "chr20:10,000,001-10,010,000", "--report", str(page), "--quiet"])
    assert result.exit_code == 0, result.output
    return page


def test_report_is_one_self_contained_page_with_every_plot(report):
    text = report.read_text()
    assert text.count("<svg") == len(TITLES) and all(t in text for t in TITLES)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched from the network
    assert "<script" not in text and "Ti/Tv" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0
    figures = re.findall(r'<figure class="plot" data-title="([^"]+)">(.*?)</figure>', dom.stdout, re.S)
    assert [t for t, _ in figures] == TITLES
    assert all(body.count("<path") >= 3 for _, body in figures)  # each plot drew bars and axes
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1400", report.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_a_sites_only_vcf_is_one_line_error(tmp_path):
    header = pysam.VariantHeader()
    header.contigs.add("chr20", length=1000)
    path = str(tmp_path / "sites.vcf.gz")
    with pysam.VariantFile(path, "wz", header=header) as out:
        out.write(out.new_record(contig="chr20", start=10, stop=11, alleles=["A", "G"]))
    result = CliRunner().invoke(main, ["report", "--vcf", path, "--output", str(tmp_path / "r.html")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "has no sample column" in lines[0], result.output
    assert not (tmp_path / "r.html").exists()


def test_a_vcf_of_several_samples_reports_the_one_asked_for(tmp_path, caplog):
    """A merged VCF (bcftools merge): the first sample by default, with a warning naming the others; --sample picks."""
    header = pysam.VariantHeader()
    header.contigs.add("c", length=1000)
    header.formats.add("GT", 1, "String", "GT")
    for name in ("A", "B"):
        header.add_sample(name)
    path = str(tmp_path / "two.vcf")
    with pysam.VariantFile(path, "w", header=header) as out:
        for pos, gts in ((10, ((0, 1), (0, 0))), (20, ((0, 0), (1, 1))), (30, ((0, 0), (0, 1)))):
            rec = out.new_record(contig="c", start=pos, alleles=("A", "G"), qual=30, filter="PASS")
            rec.samples["A"]["GT"], rec.samples["B"]["GT"] = gts
            out.write(rec)
    with caplog.at_level("WARNING", logger="dvcall"):
        first = summarize(path)
    assert first.sample == "A" and first.by_type["SNP"] == 1 and "holds 2 samples (A, B)" in caplog.text
    second = summarize(path, "B")
    assert second.sample == "B" and second.by_type["SNP"] == 2
    result = CliRunner().invoke(main, ["report", "--vcf", path, "--sample", "C", "--output", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "--sample 'C' is not in" in result.output and not (tmp_path / "r.html").exists()
    result = CliRunner().invoke(main, ["report", "--vcf", path, "--sample", "B", "--output", str(tmp_path / "b.html")])
    assert result.exit_code == 0 and "report of sample B (3 records, 3 PASS) -> " in result.output
    quiet = CliRunner().invoke(main, ["report", "--vcf", path, "--sample", "B", "--output", str(tmp_path / "q.html"), "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == "" and (tmp_path / "q.html").exists()


def test_star_alleles_and_infinite_qual_are_left_out(tmp_path):
    """hostile13: a `*` allele counted as a SNP (in Ti/Tv too), and QUAL `inf` crashed the QUAL plot."""
    header = pysam.VariantHeader()
    header.contigs.add("c", length=1000)
    header.formats.add("GT", 1, "String", "GT")
    header.add_sample("S")
    path = str(tmp_path / "v.vcf")
    with pysam.VariantFile(path, "w", header=header) as out:
        for pos, alleles, qual in ((10, ("TAG", "T", "AAG"), 50.0), (20, ("A", "C", "*"), float("inf"))):
            rec = out.new_record(contig="c", start=pos, alleles=alleles, qual=qual, filter="PASS")
            rec.samples[0]["GT"] = (1, 2)
            out.write(rec)
    s = summarize(path)
    assert dict(s.by_type) == {"deletion": 1, "SNP": 2}  # T>A (padded) and A>C; no '*'
    assert (s.transitions, s.transversions) == (0, 2) and list(s.qual) == [50.0]
    write_report(path, str(tmp_path / "r.html"))  # the plots draw


def test_an_unparsable_record_names_the_file(tmp_path):
    """hostile13: a GT of letters ended in "dvcall: error: truncated file", no file named."""
    from deepvariant_py.errors import InputError
    bad = tmp_path / "bad.vcf"
    bad.write_text("##fileformat=VCFv4.2\n##contig=<ID=c,length=1000>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\nc\t10\t.\tA\tG\t50\tPASS\t.\tGT\tA/B\n")
    with pytest.raises(InputError, match="cannot read .*bad.vcf"):
        summarize(str(bad))

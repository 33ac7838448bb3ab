"""Several --reads files of one sample (lanes, runs): read merged by position in `samtools merge`'s order, so
calling them gives the VCF of calling their merged BAM; files that disagree on contigs or sample are refused
with one line naming both."""
from __future__ import annotations

import gzip
import re
import os
import zlib

import pysam
import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main
from deepvariant_py.errors import InputError
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.workflow import reads_args, sample_reads

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
REGION = "chr20:10,000,000-10,006,000"


def split_by_name(src: str, out_dir, names=("A", "B")) -> list[str]:
    """The reads of `src` in len(names) indexed BAMs, picked by a hash of the read name (mates stay together)."""
    paths = [os.path.join(str(out_dir), f"{n}.bam") for n in names]
    with pysam.AlignmentFile(src) as f:
        outs = [pysam.AlignmentFile(p, "wb", template=f) for p in paths]
        for read in f:
            outs[zlib.crc32(read.query_name.encode()) % len(outs)].write(read)
        for out in outs:
            out.close()
    for p in paths:
        pysam.index(p)
    return paths


def rewrite_header(src: str, dst: str, edit) -> str:
    """A copy of `src` (indexed) whose header dict `edit` changed in place; the reads are left as they are."""
    with pysam.AlignmentFile(src) as f:
        header = f.header.to_dict()
        edit(header)
        with pysam.AlignmentFile(dst, "wb", header=header) as out:
            for read in f:
                out.write(read)
    pysam.index(dst)
    return dst


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    """(A, B, their `samtools merge`), all indexed."""
    work = tmp_path_factory.mktemp("halves")
    a, b = split_by_name(BAM, work)
    merged = str(work / "merged.bam")
    pysam.merge("-f", "-o", merged, a, b)
    pysam.index(merged)
    return a, b, merged


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def _run(tmp_path, reads: list[str], name: str, extra=(), region=REGION):
    out = str(tmp_path / name)
    args = ["run", "--ref", REF, *[x for r in reads for x in ("--reads", r)], "--output-vcf", out, "--regions", region,
            "--num-shards", "1", "--quiet", *extra]
    return CliRunner().invoke(main, args), out


def test_fetch_merges_files_in_samtools_merge_order(halves):
    a, b, merged = halves
    reference = Reference(REF)
    with open_reads([a, b], reference) as sources, pysam.AlignmentFile(merged) as m:
        assert sources.paths == (a, b) and "chr20" in sources.references
        for region in [("chr20", 9_999_000, 10_021_000), ("chr20", 10_005_000, 10_005_200)]:
            ours = [(r.query_name, r.flag, r.reference_start) for r in sources.fetch(*region)]
            theirs = [(r.query_name, r.flag, r.reference_start) for r in m.fetch(*region)]
            assert len(ours) > 100 and ours == theirs
        assert sources.mapped_reads({"chr20"}) == pysam.AlignmentFile(merged).mapped
    reference.close()


def test_two_files_give_the_vcf_of_their_merged_bam(tmp_path, halves, caplog):
    """With a read cap that bites (~560 reads per 1 kb partition at 52x), the reservoir sample depends on read
    order: equal VCFs mean the two files are read exactly as the merged BAM is."""
    a, b, merged = halves
    cap = ("--max-reads-per-partition", "300")
    with caplog.at_level("WARNING", logger="dvcall"):
        result, two = _run(tmp_path, [a, b], "two.vcf.gz", cap)
    assert result.exit_code == 0, result.output
    assert caplog.text == ""  # halves of one BAM: nothing to say (identity.py finds one individual's reads)
    result, one = _run(tmp_path, [merged], "merged.vcf.gz", cap)
    assert result.exit_code == 0, result.output
    body = _body(two)
    assert sum(1 for line in body if not line.startswith("#")) > 20
    assert body == _body(one)


def test_make_examples_reads_several_files_as_their_merge(tmp_path, halves):
    a, b, merged = halves
    outputs = []
    for name, reads in (("two", [a, b]), ("one", [merged])):
        out = str(tmp_path / f"{name}.tfrecord.gz")
        args = ["make-examples", "--ref", REF, *[x for r in reads for x in ("--reads", r)], "--examples", out,
                "--regions", "chr20:10,000,000-10,002,000", "--quiet"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        with gzip.open(out, "rb") as fh:
            outputs.append(fh.read())
    assert len(outputs[0]) > 1000 and outputs[0] == outputs[1]


def _other_sample(h):
    h["RG"] = [{**rg, "SM": "NA12891"} for rg in h["RG"]]


def _other_length(h):
    h["SQ"] = [{**sq, "LN": 64_000_000} if sq["SN"] == "chr20" else sq for sq in h["SQ"]]


def _extra_contig(h):
    h["SQ"] = h["SQ"] + [{"SN": "chrUn_extra", "LN": 5_000}]


@pytest.mark.parametrize("edit, needles", [
    (_other_sample, ["different samples", "'NA12878'", "'NA12891'", "--sample-name"]),
    (_other_length, ["contig chr20 has length 63,025,520", "but 64,000,000", "same reference"]),
    (_extra_contig, ["has contig chrUn_extra", "lacks", "same reference"]),
])
def test_files_that_disagree_are_refused_with_one_line(tmp_path, halves, edit, needles):
    a = halves[0]
    b = rewrite_header(halves[1], str(tmp_path / "B.other.bam"), edit)
    result, out = _run(tmp_path, [a, b], "out.vcf.gz", region="chr20:10,000,000-10,001,000")
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dvcall: error: "), result.output
    assert a in lines[0] and b in lines[0], lines[0]
    assert all(n in lines[0] for n in needles), lines[0]
    assert "Traceback" not in result.output and not os.path.exists(out)


def test_the_same_file_twice_is_refused(tmp_path, halves):
    result, out = _run(tmp_path, [halves[0], halves[0]], "out.vcf.gz")
    assert result.exit_code == 1 and "given twice" in result.output and not os.path.exists(out)


def test_the_same_reads_in_two_files_are_refused(tmp_path, halves):
    """A BAM and its CRAM (or a copy) hold the same reads: they would count twice."""
    result, out = _run(tmp_path, [BAM, os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.cram")], "out.vcf.gz")
    assert result.exit_code == 1 and "hold the same reads" in result.output and not os.path.exists(out)
    assert len(result.output.strip().splitlines()) == 1


def test_files_split_by_mate_are_two_halves_not_the_same_reads(tmp_path, halves):
    """First mates in one file, second mates in another: the names agree, the reads do not; called as their merge."""
    paths = [str(tmp_path / "R1.bam"), str(tmp_path / "R2.bam")]
    with pysam.AlignmentFile(BAM) as f:
        outs = [pysam.AlignmentFile(p, "wb", template=f) for p in paths]
        for read in f:
            outs[0 if read.is_read1 else 1].write(read)
        for out in outs:
            out.close()
    for p in paths:
        pysam.index(p)
    region = "chr20:10,000,000-10,002,000"
    split, out = _run(tmp_path, paths, "mates.vcf.gz", region=region)
    whole, whole_out = _run(tmp_path, [BAM], "whole.vcf.gz", region=region)
    assert split.exit_code == 0 and whole.exit_code == 0, split.output
    assert _body(out) == _body(whole_out) and len([x for x in _body(out) if not x.startswith("#")]) > 3


def test_sample_name_calls_files_of_different_samples_as_one(tmp_path, halves):
    b = rewrite_header(halves[1], str(tmp_path / "B.other.bam"), _other_sample)
    result, out = _run(tmp_path, [halves[0], b], "named.vcf.gz", ("--sample-name", "TRIO_CHILD"),
                       region="chr20:10,000,000-10,001,000")
    assert result.exit_code == 0, result.output
    with pysam.VariantFile(out) as vcf:
        assert list(vcf.header.samples) == ["TRIO_CHILD"]


def test_make_examples_refuses_files_of_different_samples_unless_named(tmp_path, halves):
    """The stage command checks as `run` does: merged, two samples' reads would be written as one (the sidecar
    recorded no sample and the VCF's column read SAMPLE, exit 0); --sample-name records the name given."""
    b = rewrite_header(halves[1], str(tmp_path / "B.other.bam"), _other_sample)
    base = ["make-examples", "--ref", REF, "--reads", halves[0], "--reads", b, "--regions", "chr20:10,000,000-10,001,000",
            "--quiet"]
    refused = str(tmp_path / "refused.tfrecord.gz")
    result = CliRunner().invoke(main, base + ["--examples", refused])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert result.output.startswith("dvcall: error: --reads files hold different samples") and "--sample-name" in result.output
    assert not os.path.exists(refused)
    examples, calls, vcf = (str(tmp_path / n) for n in ("ex.tfrecord.gz", "calls.jsonl.gz", "named.vcf.gz"))
    assert CliRunner().invoke(main, base + ["--examples", examples, "--sample-name", "TRIO_CHILD"]).exit_code == 0
    assert CliRunner().invoke(main, ["call-variants", "--examples", examples, "--output", calls, "--quiet"]).exit_code == 0
    result = CliRunner().invoke(main, ["postprocess", "--ref", REF, "--calls", calls, "--output-vcf", vcf, "--quiet"])
    assert result.exit_code == 0, result.output
    with pysam.VariantFile(vcf) as out:
        assert list(out.header.samples) == ["TRIO_CHILD"]
    bad = CliRunner().invoke(main, base + ["--examples", str(tmp_path / "tab.tfrecord.gz"), "--sample-name", "A\tB"])
    assert bad.exit_code == 1 and "cannot hold" in bad.output and not os.path.exists(str(tmp_path / "tab.tfrecord.gz"))


def test_haplotag_refuses_files_of_different_samples(tmp_path, halves):
    """whatshap ignores read groups: two samples' reads would be phased and tagged as one."""
    pytest.importorskip("whatshap")
    b = rewrite_header(halves[1], str(tmp_path / "B.other.bam"), _other_sample)
    out = str(tmp_path / "tagged.bam")
    result = CliRunner().invoke(main, ["haplotag", "--ref", REF, "--reads", halves[0], "--reads", b, "--calls",
                                       os.path.join(TESTDATA, "HG001.truth.chr20_10.00-10.02Mb.vcf.gz"), "--output", out])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "different samples" in result.output and "--sample-name" not in result.output and not os.path.exists(out)


def test_files_without_a_sample_take_the_other_files_sample(tmp_path, halves):
    b = rewrite_header(halves[1], str(tmp_path / "B.norg.bam"), lambda h: h.pop("RG"))
    reference = Reference(REF)
    with open_reads([b, halves[0]], reference) as sources:
        assert sources.sample()[0] == "NA12878"
    with open_reads([b], reference) as sources:
        assert sources.sample()[0] == "SAMPLE"
    reference.close()


def test_open_reads_refuses_no_files():
    with pytest.raises(InputError, match="no reads file"):
        open_reads([], None)


def test_workflow_config_takes_a_path_or_a_list_per_sample():
    assert sample_reads({"S1": "a.bam", "S2": ["b1.bam", "b2.cram"], 7: ["c.bam"]}) == {
        "S1": ["a.bam"], "S2": ["b1.bam", "b2.cram"], "7": ["c.bam"]}
    assert reads_args(["a b.bam", "c.bam"]) == "--reads 'a b.bam' --reads c.bam"
    for bad in ({"S1": []}, {"S1": None}, {"S1": ["a.bam", 3]}, {}, None):
        with pytest.raises(InputError):
            sample_reads(bad)


def test_many_reads_files_raise_the_open_file_limit_or_say_it_is_short(monkeypatch):
    """hostile14: ~1,000 per-lane BAMs against the usual 1,024 open files failed on one file, blaming its index."""
    import resource

    from deepvariant_py.alignment_files import ensure_open_files
    asked = []
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", lambda kind, limits: asked.append(limits))
    ensure_open_files([f"lane{i}.bam" for i in range(900)])  # 964 needed (one per BAM): nothing to do
    ensure_open_files([f"lane{i}.bam" for i in range(1500)])
    assert asked == [(1564, 4096)]
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (64, 256))
    with pytest.raises(InputError, match=r"100 --reads files need about 264 open files, but this process may open 64 "
                                         r"\(hard limit 256\): merge them first"):
        ensure_open_files([f"lane{i}.cram" for i in range(100)])  # two per CRAM


def test_reads_without_a_sample_say_what_the_vcf_calls_it(tmp_path, halves, caplog):
    """hostile14: reads whose @RG lines have no SM named the VCF's sample SAMPLE without a word."""
    b = rewrite_header(halves[1], str(tmp_path / "B.norg.bam"), lambda h: h.pop("RG"))
    with caplog.at_level("INFO", logger="dvcall"):
        result, out = _run(tmp_path, [b], "norg.vcf.gz", region="chr20:10,000,000-10,001,000")
    assert result.exit_code == 0 and "the reads name no sample (no @RG SM): the VCF's sample is 'SAMPLE'" in caplog.text


def test_lanes_beside_their_merge_are_refused_and_a_partial_overlap_is_said(tmp_path, halves):
    """hostile19: `--reads *.bam` over three lanes and their merged file counted every read twice, silently (each
    lane shares under half of its names with the merge); lanes sharing 30% of their reads passed without a word."""
    from deepvariant_py.alignment_files import shared_reads_warning
    a, b, merged = halves
    c_dir = tmp_path / "split"
    os.makedirs(c_dir)
    lanes = split_by_name(a, c_dir, names=("A1", "A2", "A3")) + split_by_name(b, c_dir, names=("B1", "B2", "B3"))
    reference = Reference(REF)
    with pytest.raises(InputError, match=r"--reads .*merged\.bam holds reads the other --reads files hold too"):
        open_reads([merged, *lanes], reference)
    with open_reads([a, b], reference) as sources:
        assert shared_reads_warning(sources) is None  # lanes of one sample share no read
    some = str(tmp_path / "some_of_a.bam")  # B plus a fifth of A's reads
    with pysam.AlignmentFile(a) as fa, pysam.AlignmentFile(some, "wb", template=fa) as out:
        for i, read in enumerate(fa):
            if zlib.crc32(read.query_name.encode()) % 5 == 0:
                out.write(read)
    pysam.index(some)
    b_and_some = str(tmp_path / "b_and_some_of_a.bam")
    pysam.merge("-f", "-o", b_and_some, b, some)
    pysam.index(b_and_some)
    with open_reads([a, b_and_some], reference) as sources:
        assert re.match(r"--reads .* shares \d+ of its first \d+ reads with the other --reads files", shared_reads_warning(sources) or "")

"""dvcall under bad input and faults: each case asserts three things.

1. the exit code (1 for a refused input, 2 for a bad flag value, 0 for odd but valid input);
2. one line on stderr saying what is wrong (or, for valid input, the one warning that says why the VCF is
   empty), and no traceback;
3. the file system afterwards: every input byte-identical, no partial or half-written output, nothing
   left in TMPDIR.

The cases run in-process (CliRunner) so the suite stays fast; the ones about signals and processes are in
test_run_signals.py.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pysam
import pytest
from click.testing import CliRunner

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.cli.main import main
from deepvariant_py.model import default_model_dir

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
REF = str(TESTDATA / "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = str(TESTDATA / "NA12878.chr20_10.00-10.02Mb.bam")
TRUTH = str(TESTDATA / "HG001.truth.chr20_10.00-10.02Mb.vcf.gz")
REGION = "chr20:10,002,001-10,003,000"
LENGTH = 3000
SNP_AT = 1500


@dataclass
class Sandbox:
    """A folder for one case: inputs registered here must come out byte-identical, TMPDIR must end empty."""

    root: Path
    tmp: Path
    inputs: dict = field(default_factory=dict)

    def path(self, name: str) -> str:
        return str(self.root / name)

    def watch(self, *paths: str) -> None:
        for p in paths:
            self.inputs[p] = _digest(p)

    def dvcall(self, *args: str):
        return CliRunner().invoke(main, [str(a) for a in args])

    def run(self, *args: str, out: str = "out.vcf.gz", region: str = REGION, ref: str = REF, reads: str = BAM):
        argv = ["run", "--ref", ref, "--reads", reads, "--output-vcf", self.path(out), "--num-shards", "1", "--quiet"]
        return self.dvcall(*argv, *(["--regions", region] if region else []), *args)

    def check(self, result, code: int, needle: str, absent=(), present=()) -> None:
        text = result.output
        assert result.exit_code == code, text
        assert "Traceback" not in text and not (result.exception and not isinstance(result.exception, SystemExit)), text
        if code:
            lines = [l for l in text.splitlines() if l.strip()]
            errors = [l for l in lines if l.startswith("dvcall: error: ")]
            assert len(errors) == 1 and errors[0] == lines[-1], text
            assert needle in errors[0], text
        for p, digest in self.inputs.items():
            assert _digest(p) == digest, f"input {p} changed"
        for p in absent:
            assert not os.path.exists(p), f"{p} was written"
        for p in present:
            assert os.path.exists(p), f"{p} is missing"
        assert list(self.tmp.iterdir()) == [], f"left in TMPDIR: {list(self.tmp.iterdir())}"
        partial = [str(p) for p in self.root.rglob("*") if ".partial" in p.name]
        assert partial == [], f"partial files left: {partial}"


def _digest(path: str) -> str:
    if os.path.isdir(path):
        return "dir:" + ",".join(sorted(os.listdir(path)))
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def sb(tmp_path, monkeypatch):
    tmp = tmp_path / "TMPDIR"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    box = Sandbox(tmp_path, tmp)
    box.watch(REF, BAM, BAM + ".bai")
    return box


def _ref_seq(length=LENGTH, seed=11) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


def _het_sample(sb: Sandbox, contigs=None, reads_for=None, sample="odd", name="reads.bam", header=None):
    """A 3 kb contig with a het SNP at SNP_AT and 40 reads over it; returns (fasta, bam)."""
    ref = _ref_seq()
    fasta = write_fasta(sb.root / "ref.fa", contigs or {"chr1": ref})
    header = header or header_for("chr1", LENGTH, sample=sample)
    alt = "A" if ref[SNP_AT] != "A" else "C"
    hap = ref[:SNP_AT] + alt + ref[SNP_AT + 1:]
    if reads_for is None:
        reads = [make_read(f"r{i}", SNP_AT - 90 + (i * 4) % 80, "100M",
                           (hap if i % 2 else ref)[SNP_AT - 90 + (i * 4) % 80:][:100], header=header) for i in range(40)]
    else:
        reads = reads_for(ref, hap, header)
    bam = write_bam(sb.root / name, reads, header)
    sb.watch(fasta, bam, bam + ".bai")
    return fasta, bam


def _records(path: str) -> list:
    with pysam.VariantFile(path) as fh:
        return list(fh)


# ------------------------------------------------------------------ outputs that would destroy data


def test_report_named_like_the_vcf(sb):
    out = sb.path("x.vcf.gz")
    sb.check(sb.run("--report", out, out="x.vcf.gz"), 1, "are the same file", absent=[out, out + ".tbi"])


def test_gvcf_named_like_the_vcf(sb):
    out = sb.path("x.vcf.gz")
    sb.check(sb.run("--output-gvcf", out, out="x.vcf.gz"), 1, "are the same file", absent=[out])


def test_input_bam_named_like_the_output(sb):
    reads = sb.path("s.vcf.gz")
    shutil.copy(BAM, reads)
    shutil.copy(BAM + ".bai", reads + ".bai")
    sb.watch(reads, reads + ".bai")
    sb.check(sb.run(out="s.vcf.gz", reads=reads), 1, "is the input --reads", absent=[reads + ".tbi"])


def test_output_hard_linked_to_the_input(sb):
    reads = sb.path("reads.bam")
    shutil.copy(BAM, reads)
    shutil.copy(BAM + ".bai", reads + ".bai")
    os.link(reads, sb.path("linked.vcf.gz"))
    sb.watch(reads)
    sb.check(sb.run(out="linked.vcf.gz", reads=reads), 1, "is the input --reads")


def test_output_symlinked_to_the_reference_index(sb):
    os.symlink(REF + ".fai", sb.path("fai.vcf.gz"))
    sb.watch(REF + ".fai")
    sb.check(sb.run(out="fai.vcf.gz"), 1, "is the input the .fai of --ref")


def test_report_over_the_reads(sb):
    reads = sb.path("reads.bam")
    shutil.copy(BAM, reads)
    shutil.copy(BAM + ".bai", reads + ".bai")
    sb.watch(reads)
    sb.check(sb.run("--report", reads, reads=reads), 1, "is the input --reads", absent=[sb.path("out.vcf.gz")])


def test_intermediate_dir_that_is_the_output(sb):
    sb.check(sb.run("--intermediate-dir", sb.path("out.vcf.gz")), 1, "is also --output-vcf", absent=[sb.path("out.vcf.gz")])


def test_intermediate_dir_that_is_a_file(sb):
    existing = sb.path("work")
    Path(existing).write_text("keep me\n")
    sb.watch(existing)
    sb.check(sb.run("--intermediate-dir", existing), 1, "is an existing file, not a folder", absent=[sb.path("out.vcf.gz")])


def test_output_that_is_an_existing_folder(sb):
    folder = sb.path("x.vcf.gz")
    os.mkdir(folder)
    sb.check(sb.run(out="x.vcf.gz"), 1, "is an existing folder", absent=[folder + ".tbi"])
    assert os.listdir(folder) == []


def test_report_command_over_its_own_vcf(sb):
    vcf = sb.path("in.vcf.gz")
    shutil.copy(TRUTH, vcf)
    sb.watch(vcf)
    sb.check(sb.dvcall("report", "--vcf", vcf, "--output", vcf), 1, "is the input --vcf")


def test_make_examples_over_its_reads(sb):
    reads = sb.path("reads.bam")
    shutil.copy(BAM, reads)
    shutil.copy(BAM + ".bai", reads + ".bai")
    sb.watch(reads)
    sb.check(sb.dvcall("make-examples", "--ref", REF, "--reads", reads, "--examples", reads, "--regions", REGION), 1,
             "is the input --reads")


def test_eval_json_over_the_truth(sb):
    truth = sb.path("truth.vcf.gz")
    shutil.copy(TRUTH, truth)
    sb.watch(truth)
    sb.check(sb.dvcall("eval", "--truth", truth, "--query", truth, "--ref", REF, "--json", truth), 1, "is the input --truth")


# ------------------------------------------------------------------ flag values refused at parse time


@pytest.mark.parametrize("flag, value", [
    ("--partition-size", "-5"), ("--partition-size", "0"), ("--num-shards", "0"), ("--num-shards", "-1"),
    ("--threads", "0"), ("--vsc-min-fraction-snps", "-1"), ("--vsc-min-fraction-snps", "2"),
    ("--vsc-min-fraction-indels", "1.5"), ("--min-mapping-quality", "-3"), ("--max-reads-per-partition", "-1"),
    ("--pileup-width", "0"),
])
def test_out_of_range_values(sb, flag, value):
    sb.check(sb.run(flag, value), 2, "is not in the range", absent=[sb.path("out.vcf.gz")])


def test_out_of_range_values_of_other_commands(sb):
    sb.check(sb.dvcall("call-variants", "--examples", BAM, "--output", sb.path("c.jsonl.gz"), "--batch-size", "0"), 2,
             "is not in the range")
    sb.check(sb.dvcall("make-examples", "--ref", REF, "--reads", BAM, "--examples", sb.path("e.tfrecord.gz"),
                       "--downsample-fraction", "1.5"), 2, "is not in the range")


# ------------------------------------------------------------------ inputs that are not what they claim


def test_sam_text_as_reads(sb):
    sam = sb.path("reads.sam")
    pysam.view("-h", "-o", sam, BAM, catch_stdout=False)
    sb.watch(sam)
    sb.check(sb.run(reads=sam), 1, "is a SAM text file, not a BAM or CRAM: convert it")


def test_name_sorted_bam(sb):
    bam = sb.path("byname.bam")
    pysam.sort("-n", "-o", bam, BAM)
    shutil.copy(BAM + ".bai", bam + ".bai")  # an index cannot fix it
    sb.watch(bam)
    sb.check(sb.run(reads=bam), 1, "sorted by read name (@HD SO:queryname)")


def test_unsorted_bam_with_a_stale_index(sb):
    bam = sb.path("shuffled.bam")
    with pysam.AlignmentFile(BAM) as src:
        reads = list(src)
        random.Random(1).shuffle(reads)
        with pysam.AlignmentFile(bam, "wb", template=src) as out:
            for r in reads:
                out.write(r)
    shutil.copy(BAM + ".bai", bam + ".bai")
    sb.watch(bam)
    sb.check(sb.run(reads=bam), 1, "samtools sort", absent=[sb.path("out.vcf.gz")])


def test_folder_as_reads(sb):
    sb.check(sb.run(reads=str(sb.root)), 1, "is a folder, not a BAM or CRAM")


def test_empty_file_as_reads(sb):
    empty = sb.path("empty.bam")
    Path(empty).write_bytes(b"")
    sb.check(sb.run(reads=empty), 1, "is an empty file")


def test_fastq_as_reads(sb):
    fq = sb.path("reads.fq.gz")
    with gzip.open(fq, "wt") as fh:
        fh.write("@r1\nACGT\n+\nIIII\n")
    sb.check(sb.run(reads=fq), 1, "align them first")


def test_reference_as_reads(sb):
    sb.check(sb.run(reads=REF), 1, "the reference goes to --ref")


def test_bam_as_reference(sb):
    sb.check(sb.run(ref=BAM), 1, "is a BAM file, not a FASTA")


def test_folder_as_reference(sb):
    sb.check(sb.run(ref=str(sb.root)), 1, "is a folder, not a FASTA")


def test_bam_without_index(sb):
    bam = sb.path("noindex.bam")
    shutil.copy(BAM, bam)
    sb.check(sb.run(reads=bam), 1, f"has no index: run `samtools index {bam}`")


def test_garbage_index(sb):
    bam = sb.path("badindex.bam")
    shutil.copy(BAM, bam)
    Path(bam + ".bai").write_bytes(os.urandom(300))
    sb.watch(bam + ".bai")
    sb.check(sb.run(reads=bam), 1, "samtools index")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_bam_header(sb, seed):
    """A few bytes of the BAM header changed at random: refused with one line, or (if the change is harmless)
    called; never a traceback."""
    data = bytearray(gzip.decompress(Path(BAM).read_bytes()))
    rng = random.Random(seed)
    for _ in range(4):
        data[rng.randrange(4, 200)] = rng.randrange(256)
    bam = sb.path("fuzzed.bam")
    with pysam.BGZFile(bam, "wb") as out:
        out.write(bytes(data))
    shutil.copy(BAM + ".bai", bam + ".bai")
    sb.watch(bam)
    result = sb.run(reads=bam)
    sb.check(result, result.exit_code if result.exit_code in (0, 1) else 1, "")


def test_model_file_given_as_model(sb):
    model = os.path.join(default_model_dir(), "model.keras")
    sb.check(sb.run("--model", model), 1, "is a file; pass the model folder")


def test_damaged_model_fails_before_make_examples(sb):
    model = sb.root / "model"
    shutil.copytree(default_model_dir(), model)
    weights = model / "model.keras"
    weights.write_bytes(weights.read_bytes()[:5000])
    sb.check(sb.run("--model", str(model), "--intermediate-dir", sb.path("work")), 1, "cannot load",
             absent=[sb.path("work")])


def test_model_with_a_flipped_byte_in_its_weights_fails_before_make_examples(sb):
    model = sb.root / "model"
    shutil.copytree(default_model_dir(), model)
    weights = model / "model.keras"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored weights: the archive's checksum catches it
    weights.write_bytes(bytes(data))
    sb.check(sb.run("--model", str(model), "--intermediate-dir", sb.path("work")), 1, "cannot load",
             absent=[sb.path("work")])


def test_model_info_of_another_model(sb):
    model = sb.root / "model"
    shutil.copytree(default_model_dir(), model)
    info = json.loads((model / "model_info.json").read_text())
    info["shape"] = [info["shape"][0], info["shape"][1] + 2, info["shape"][2]]
    (model / "model_info.json").write_text(json.dumps(info))
    sb.check(sb.run("--model", str(model)), 1, "the two files belong to different models")


def test_unreadable_model_info(sb):
    model = sb.root / "model"
    shutil.copytree(default_model_dir(), model)
    (model / "model_info.json").write_text("{ not json")
    sb.check(sb.run("--model", str(model)), 1, "model_info.json is unreadable")


def test_phase_reads_with_a_short_read_model(sb):
    sb.check(sb.run("--phase-reads"), 1, "this model has no HP channel")


# ------------------------------------------------------------------ regions and names


def _bed(sb: Sandbox, text: str, name="r.bed") -> str:
    path = sb.path(name)
    Path(path).write_text(text)
    sb.watch(path)
    return path


def test_bed_line_with_start_after_end(sb):
    sb.check(sb.run(region=_bed(sb, "chr20\t10002200\t10002100\n")), 1, "line 1 (chr20 10002200 10002100): the end is before the start")


def test_bed_line_past_the_contig_end(sb):
    sb.check(sb.run(region=_bed(sb, "chr20\t63025000\t63025600\n")), 1, "past the end of chr20")


def test_bed_line_with_a_negative_start(sb):
    sb.check(sb.run(region=_bed(sb, "chr20\t-5\t100\n")), 1, "the start is negative")


def test_bed_gz_that_is_not_gzip(sb):
    """Read by its first bytes, not its name: a plain BED named .gz is a BED."""
    out = sb.path("out.vcf.gz")
    sb.check(sb.run(region=_bed(sb, "chr20\t10002000\t10003000\n", name="r.bed.gz")), 0, "", present=[out, out + ".tbi"])


def test_missing_bed(sb):
    sb.check(sb.run(region=sb.path("missing.bed")), 1, "does not exist")


def test_region_with_spaces_is_one_region(sb):
    out = sb.path("out.vcf.gz")
    sb.check(sb.run(region="chr20: 10,002,001 - 10,003,000"), 0, "", present=[out, out + ".tbi"])
    assert _records(out)


@pytest.mark.parametrize("name, needle", [("my\tsample", "contains '\\t'"), ("my\nsample", "contains '\\n'"), ("", "is empty")])
def test_sample_names_a_vcf_cannot_hold(sb, name, needle):
    sb.check(sb.run("--sample-name", name), 1, needle, absent=[sb.path("out.vcf.gz")])


def test_postprocess_refuses_a_bad_sample_name(sb):
    calls = sb.path("calls.jsonl.gz")
    with gzip.open(calls, "wt") as fh:
        fh.write(json.dumps({"v": ["chr20", 10002100, "A", ["G"], 30, [15, 15]], "i": [0], "p": [0.0, 1.0, 0.0]}) + "\n")
    sb.watch(calls)
    sb.check(sb.dvcall("postprocess", "--ref", REF, "--calls", calls, "--output-vcf", sb.path("o.vcf.gz"),
                       "--sample-name", "a\tb"), 1, "contains '\\t'", absent=[sb.path("o.vcf.gz")])


# ------------------------------------------------------------------ damaged stage files


def test_truncated_calls_file(sb):
    calls = sb.path("calls.jsonl.gz")
    with pysam.FastaFile(REF) as fa:
        bases = fa.fetch("chr20", 10002100, 10004100).upper()
    with gzip.open(calls, "wt") as fh:
        for i, ref in enumerate(bases):
            alt = "G" if ref != "G" else "A"
            fh.write(json.dumps({"v": ["chr20", 10002100 + i, ref, [alt], 30, [15, 15]], "i": [0], "p": [0.0, 1.0, 0.0]}) + "\n")
    Path(calls).write_bytes(Path(calls).read_bytes()[:-200])
    sb.watch(calls)
    sb.check(sb.dvcall("postprocess", "--ref", REF, "--calls", calls, "--output-vcf", sb.path("o.vcf.gz")), 1,
             "cannot read calls", absent=[sb.path("o.vcf.gz")])


def test_examples_without_their_sidecar(sb):
    examples = sb.path("e.tfrecord.gz")
    with gzip.open(examples, "wb") as fh:
        fh.write(b"")
    sb.check(sb.dvcall("call-variants", "--examples", examples, "--output", sb.path("c.jsonl.gz")), 1, "has no sidecar",
             absent=[sb.path("c.jsonl.gz")])


def test_eval_with_a_malformed_truth_line(sb):
    truth = sb.path("truth.vcf")
    with gzip.open(TRUTH, "rt") as fh:
        lines = fh.readlines()
    body = [i for i, l in enumerate(lines) if not l.startswith("#")]
    lines[body[3]] = "chr20\tnot_a_position\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\n"
    Path(truth).write_text("".join(lines))
    sb.watch(truth)
    sb.check(sb.dvcall("eval", "--truth", truth, "--query", TRUTH, "--ref", REF), 1, truth)


# ------------------------------------------------------------------ valid but odd: exit 0, and a warning saying why


def _warned(caplog, needle: str) -> None:
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(needle in w for w in warnings), warnings


def test_every_read_filtered_out(sb, caplog):
    out = sb.path("out.vcf.gz")
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run("--min-mapping-quality", "255"), 0, "", present=[out])
    _warned(caplog, "below --min-mapping-quality 255: lower it")
    assert _records(out) == []


def test_every_read_a_duplicate(sb, caplog):
    fasta, bam = _het_sample(sb, reads_for=lambda ref, hap, h: [
        make_read(f"d{i}", SNP_AT - 50, "100M", ref[SNP_AT - 50:SNP_AT + 50], header=h, flag=0x400) for i in range(20)])
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 0, "", present=[sb.path("out.vcf.gz")])
    _warned(caplog, "20 are marked duplicate")


def test_every_base_quality_recoded_to_2(sb, caplog):
    fasta, bam = _het_sample(sb, reads_for=lambda ref, hap, h: [
        make_read(f"q{i}", SNP_AT - 50, "100M", (hap if i % 2 else ref)[SNP_AT - 50:SNP_AT + 50], header=h, quals=2)
        for i in range(20)])
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 0, "", present=[sb.path("out.vcf.gz")])
    _warned(caplog, "100% of the reads' aligned bases are below base quality 10")
    # review46: a floor the user raised is named, not the BAM
    from types import SimpleNamespace

    from deepvariant_py.make_examples import base_quality_warning
    stats = [SimpleNamespace(bases=5_000, low_quality_bases=5_000)]
    assert base_quality_warning(stats, 93).startswith("100% of the reads' aligned bases are below --min-base-quality 93")
    assert "lower it" in base_quality_warning(stats, 93) and "recoded" in base_quality_warning(stats, 10)
    # a floor of 0 (the ont preset) counts every base, but a BAM of Q2 bases is still no BAM a model was trained on
    at0 = base_quality_warning(stats, 0)
    assert at0.startswith("100% of the reads' aligned bases are below base quality 10") and "floor still counts them" in at0
    assert "recoded" in at0 and "count for no allele" not in at0


def test_empty_bam(sb, caplog):
    header = header_for("chr1", LENGTH, sample="empty")
    fasta, bam = _het_sample(sb, reads_for=lambda ref, hap, h: [], header=header)
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run(ref=fasta, reads=bam, region=None), 0, "", present=[sb.path("out.vcf.gz")])
    _warned(caplog, "no read overlaps the regions called, so nothing can be called")


def test_empty_bed(sb, caplog):
    bed = _bed(sb, "# nothing here\n")
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run(region=bed), 0, "", present=[sb.path("out.vcf.gz")])
    _warned(caplog, "holds no interval")


def test_two_samples_in_one_bam(sb, caplog):
    header = pysam.AlignmentHeader.from_dict({
        "HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": LENGTH}],
        "RG": [{"ID": "a", "SM": "alice"}, {"ID": "b", "SM": "bob"}]})
    fasta, bam = _het_sample(sb, header=header)
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 0, "", present=[sb.path("out.vcf.gz")])
    _warned(caplog, "reads of 2 samples (alice, bob)")


def test_fasta_with_iupac_codes(sb, caplog):
    ref = list(_ref_seq())
    for i in range(100, 2900, 23):
        if abs(i - SNP_AT) > 20:
            ref[i] = "RYKMSWN"[i % 7]
    fasta, bam = _het_sample(sb, contigs={"chr1": "".join(ref)})
    out = sb.path("out.vcf.gz")
    with caplog.at_level(logging.INFO, logger="dvcall"):
        sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 0, "", present=[out])
    assert [r.pos for r in _records(out) if "PASS" in r.filter.keys()] == [SNP_AT + 1]
    with pysam.AlignmentFile(bam) as fh:  # the codes that reads cover (N is no IUPAC code to warn of)
        covered = {p for read in fh for p in read.get_reference_positions()}
    n = sum(1 for p in covered if ref[p] in "RYKMSW")
    assert n >= 1 and f"{n:,} reference position(s) under the reads hold IUPAC ambiguity codes" in caplog.text


def test_reads_longer_than_the_pileup(sb):
    def long_reads(ref, hap, h):
        return [make_read(f"l{i}", 200 + i * 20, "1500M", (hap if i % 2 else ref)[200 + i * 20:1700 + i * 20], header=h)
                for i in range(40)]
    fasta, bam = _het_sample(sb, reads_for=long_reads)
    out = sb.path("out.vcf.gz")
    # the default model type on long reads is refused (nobody chose it); named, the short-read model calls them
    sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 1, "no --model-type was given: illumina is only the default")
    sb.check(sb.run("--model-type", "illumina", ref=fasta, reads=bam, region="chr1"), 0, "", present=[out])
    assert [r.pos for r in _records(out) if "PASS" in r.filter.keys()] == [SNP_AT + 1]


def test_contig_of_length_one(sb):
    ref = _ref_seq()
    header = header_for("chr1", LENGTH, more=[("chrT", 1)], sample="odd")
    fasta, bam = _het_sample(sb, contigs={"chr1": ref, "chrT": "A"}, header=header)
    out = sb.path("out.vcf.gz")
    sb.check(sb.run(ref=fasta, reads=bam, region=None), 0, "", present=[out])
    assert [r.pos for r in _records(out) if "PASS" in r.filter.keys()] == [SNP_AT + 1]


def test_cigars_with_only_insertions_or_clips(sb):
    def odd_reads(ref, hap, h):
        reads = [make_read(f"r{i}", SNP_AT - 50, "100M", (hap if i % 2 else ref)[SNP_AT - 50:SNP_AT + 50], header=h)
                 for i in range(30)]
        reads += [make_read(f"ins{i}", SNP_AT - 10, "20I", "ACGTACGTACGTACGTACGT", header=h) for i in range(5)]
        reads += [make_read(f"clip{i}", SNP_AT - 10, "10S10I", "ACGTACGTACGTACGTACGT", header=h) for i in range(5)]
        return reads
    fasta, bam = _het_sample(sb, reads_for=odd_reads)
    out = sb.path("out.vcf.gz")
    sb.check(sb.run(ref=fasta, reads=bam, region="chr1"), 0, "", present=[out])
    assert [r.pos for r in _records(out) if "PASS" in r.filter.keys()] == [SNP_AT + 1]


# ------------------------------------------------------------------ full and read-only disks (a small tmpfs)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB tmpfs (root or an unprivileged user namespace is needed to mount one; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    (folder / "filler").write_bytes(b"\0" * 53536)  # leaves ~12 kB of 64: room to start, not to finish


def test_full_tmpdir_in_a_worker(sb, small_disk, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    _fill(small_disk)
    out = sb.path("out.vcf.gz")
    result = sb.run("--num-shards", "2", "--regions", "chr20:10,000,001-10,006,000")
    sb.check(result, 1, "the disk is full", absent=[out])
    assert "kB free in" in result.output and "make_examples shard" in result.output
    assert sorted(os.listdir(small_disk)) == ["filler"]


def test_full_intermediate_dir(sb, small_disk):
    _fill(small_disk)
    work = small_disk / "work"
    sb.check(sb.run("--intermediate-dir", str(work)), 1, "the disk is full", absent=[sb.path("out.vcf.gz")])
    assert not any(".partial" in p.name for p in small_disk.rglob("*"))


def test_read_only_intermediate_dir(sb, small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    sb.check(sb.run("--intermediate-dir", str(small_disk / "work")), 1, "cannot be written", absent=[sb.path("out.vcf.gz")])


# ------------------------------------------------------------------ a second run on the same intermediate folder


def test_second_run_on_a_locked_intermediate_dir(sb):
    from deepvariant_py.resume import DirectoryLock

    work = sb.root / "work"
    work.mkdir()
    with DirectoryLock(str(work), "dvcall run --the-first-one"):
        sb.check(sb.run("--intermediate-dir", str(work)), 1, "is in use by another dvcall run", absent=[sb.path("out.vcf.gz")])
        assert "--the-first-one" in sb.run("--intermediate-dir", str(work)).output
    sb.check(sb.run("--intermediate-dir", str(work)), 0, "", present=[sb.path("out.vcf.gz")])


def test_bgzf_magic_is_not_enough_to_be_a_bam(sb):
    """A bgzipped text file named .bam: refused as what it is."""
    fake = sb.path("text.bam")
    with pysam.BGZFile(fake, "wb") as out:
        out.write(b"hello, I am not a BAM\n")
    shutil.copy(BAM + ".bai", fake + ".bai")
    sb.check(sb.run(reads=fake), 1, "not a BAM or CRAM")


def test_calibrate_on_unlabelled_examples(sb):
    examples = sb.path("e.tfrecord.gz")
    assert sb.dvcall("make-examples", "--ref", REF, "--reads", BAM, "--examples", examples, "--regions", REGION,
                     "--quiet").exit_code == 0
    model = sb.root / "model"
    shutil.copytree(default_model_dir(), model)
    sb.watch(str(model / "model_info.json"), examples)
    sb.check(sb.dvcall("calibrate", "--model", str(model), "--examples", examples), 1, "carry no labels")

"""The VCF does not depend on the shard count or the run (header lines with the date/command aside)."""
from __future__ import annotations

import gzip
import logging
import os
import re

from click.testing import CliRunner

from deepvariant_py.cli.main import main

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def _run(tmp_path, name: str, shards: str, *extra: str):
    out = str(tmp_path / f"{name}.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--regions",
                                       "chr20:10,002,000-10,006,000", "--num-shards", shards, *extra])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_same_vcf_for_any_shard_count_and_any_run(tmp_path):
    # three separate runs: the same bytes from each is run-to-run determinism too (test_rerun_... reruns 2 shards)
    bodies = {name: _body(_run(tmp_path, name, shards, "--quiet")[0]) for name, shards in [("s1", "1"), ("s2", "2"), ("s4", "4")]}
    assert len(bodies["s1"]) > 20
    assert bodies["s1"] == bodies["s2"] == bodies["s4"]


def test_rerun_redoes_only_missing_or_damaged_shards(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dvcall")
    work = tmp_path / "work"

    def run(name, *extra):
        caplog.clear()
        out, _ = _run(tmp_path, name, *extra)
        return out, caplog.text

    first, log = run("first", "2", "--intermediate-dir", str(work))
    assert "reused" not in log
    # the recurrent-error gate: each shard measured the same partitions, and between them dropped the two candidates
    # (RefCall with the gate off) that the one-process golden run drops (testdata/golden)
    assert "base errors measured on" in log and "the recurrent-error gate dropped 2)" in log
    markers = sorted(work.glob("*.done.json"))
    assert len(markers) == 2  # two shards, each calling its own examples
    # a kill during shard 2 leaves it without its marker; shard 1's calls got damaged on disk
    (work / "calls-00001-of-00002.jsonl.gz.done.json").unlink()
    with open(work / "calls-00000-of-00002.jsonl.gz", "r+b") as fh:
        fh.truncate(100)
    second, log = run("second", "2", "--intermediate-dir", str(work))
    assert "shard 1/2: finished in an earlier run" not in log and "shard 2/2: finished in an earlier run" not in log
    assert _body(second) == _body(first)
    third, log = run("third", "2", "--intermediate-dir", str(work))
    assert "shard 1/2: finished in an earlier run, reused" in log and "shard 2/2: finished in an earlier run, reused" in log
    assert _body(third) == _body(first)
    # the stage times count only this run's work (the reused shards' model time made make_examples' negative)
    assert float(re.search(r"make_examples: .* examples in (-?[\d.]+) s", log).group(1)) >= 0
    assert "call_variants (in the same processes): 0 examples in 0.0 s (0/s) (2 shard(s) reused from an earlier run)" in log
    # another shard count (the default follows the CPUs: a job requeued on another node) cannot reuse them: said
    fourth, log = run("fourth", "1", "--intermediate-dir", str(work))
    assert _body(fourth) == _body(first)
    assert "holds 2 finished shard(s) of an earlier run with --num-shards 2, which this run (--num-shards 1) cannot " \
           "reuse: rerun with --num-shards 2 to reuse them" in log
    # other inputs (here a different region) never reuse stale work
    caplog.clear()
    out = str(tmp_path / "other.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--regions",
                                       "chr20:10,006,000-10,008,000", "--num-shards", "2", "--intermediate-dir", str(work)])
    assert result.exit_code == 0 and "reused" not in caplog.text
    # the fingerprint holds the parsed regions: a BED of the same interval reuses that work, an edited one does not
    bed = tmp_path / "regions.bed"
    bed.write_text("chr20\t10005999\t10008000\n")
    for content, reused in (("chr20\t10005999\t10008000\n", True), ("chr20\t10006999\t10008000\n", False)):
        bed.write_text(content)
        caplog.clear()
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(tmp_path / f"bed{reused}.vcf.gz"),
                                           "--regions", str(bed), "--num-shards", "2", "--intermediate-dir", str(work)])
        assert result.exit_code == 0, result.output
        assert ("shard 1/2: finished in an earlier run, reused" in caplog.text) is reused


def test_make_examples_writes_the_same_bytes_every_run(tmp_path, monkeypatch):
    """hostile21: two runs' examples and gVCF blocks differed only in the gzip header (the time, and the temporary
    file's name): a pipeline that checksums its intermediates saw a change each run (without checkpoints, whose
    gzip members end at times of their own, the bytes are the same)."""
    import time
    outputs = []
    for name, now in (("a", 1_700_000_000.0), ("b", 1_800_000_000.0)):
        monkeypatch.setattr(time, "time", lambda now=now: now)  # runs at two different times
        (tmp_path / name).mkdir()
        examples, blocks = tmp_path / name / "ex.tfrecord.gz", tmp_path / name / "blocks.tsv.gz"
        result = CliRunner().invoke(main, ["make-examples", "--ref", REF, "--reads", BAM, "--examples", str(examples),
                                           "--gvcf", str(blocks), "--regions", "chr20:10,002,000-10,004,000", "--quiet"])
        assert result.exit_code == 0, result.output
        outputs.append((examples.read_bytes(), blocks.read_bytes()))
    assert outputs[0] == outputs[1] and len(outputs[0][0]) > 1000

"""Checkpoints inside a shard: a resumable run stopped mid-shard goes on from the last checkpoint, and the VCF and
gVCF are those of a run never stopped."""
from __future__ import annotations

import gzip
import json
import logging
import os

import pytest

import deepvariant_py.make_examples as me
from deepvariant_py.make_examples import restorable
from deepvariant_py.checkpoint import (ShardCheckpoint, checkpoint_path, checkpointed_files, load_checkpoint,
                                       save_checkpoint)
from deepvariant_py.outputs import GzipLines, partial_path
from deepvariant_py.pipeline import RunOptions, run_pipeline
from deepvariant_py.resume import DirectoryLock

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
REGION = "chr20:10,001,001-10,009,000"  # eight partitions of 1 kb


def test_gzip_lines_go_on_from_a_checkpoint_after_an_abort(tmp_path):
    path = str(tmp_path / "out.txt.gz")
    out = GzipLines(path, keep=True)
    out.write("one\ntwo\n")
    length = out.checkpoint()
    out.write("lost\n")  # written after the checkpoint: a rerun drops it
    out.abort()
    assert not os.path.exists(path) and os.path.getsize(partial_path(path)) > length
    with gzip.open(partial_path(path), "rt") as fh:  # what is up to the checkpoint is a whole gzip file
        fh.read(8)
    resumed = GzipLines(path, resume_at=length)
    resumed.write("three\n")
    resumed.checkpoint()
    resumed.write("four\n")
    resumed.close()
    with gzip.open(path, "rt") as fh:
        assert fh.read() == "one\ntwo\nthree\nfour\n"
    assert not os.path.exists(partial_path(path))


def test_gzip_lines_without_keep_remove_their_file_on_abort(tmp_path):
    path = str(tmp_path / "out.txt.gz")
    out = GzipLines(path)
    out.write("one\n")
    out.checkpoint()
    out.abort()
    assert not os.path.exists(partial_path(path)) and not os.path.exists(path)


def test_a_checkpoint_is_used_only_with_its_inputs_and_its_files(tmp_path):
    output = str(tmp_path / "calls.jsonl.gz")
    with open(partial_path(output), "wb") as fh:
        fh.write(b"x" * 50)
    save_checkpoint(output, ShardCheckpoint("abc", 3, {"calls.jsonl.gz": 40}, {"partitions": 3}, {}))
    assert load_checkpoint(output, "abc", [output]).partitions == 3
    assert restorable(load_checkpoint(output, "abc", [output]))
    assert load_checkpoint(output, "other inputs", [output]) is None
    assert load_checkpoint(output, "abc", [output, str(tmp_path / "blocks.tsv.gz")]) is None  # a file it does not name
    save_checkpoint(output, ShardCheckpoint("abc", 3, {"calls.jsonl.gz": 40}, {"partitions": 3, "renamed_field": 1}, {}))
    assert not restorable(load_checkpoint(output, "abc", [output]))  # counts another version wrote
    save_checkpoint(output, ShardCheckpoint("abc", 3, {"calls.jsonl.gz": 60}, {}, {}))  # file shorter than recorded
    assert load_checkpoint(output, "abc", [output]) is None
    with open(checkpoint_path(output), "w") as fh:
        fh.write('{"format": "something else", "version": 1}')
    assert load_checkpoint(output, "abc", [output]) is None
    with open(checkpoint_path(output), "w") as fh:
        fh.write("[1, 2")  # cut short
    assert load_checkpoint(output, "abc", [output]) is None


def test_leftovers_spare_the_files_a_checkpoint_goes_on_from(tmp_path):
    kept, stray = str(tmp_path / "calls.jsonl.gz"), str(tmp_path / "other.jsonl.gz")
    for path in (kept, stray):
        open(partial_path(path), "wb").close()
    save_checkpoint(kept, ShardCheckpoint("abc", 1, {"calls.jsonl.gz": 0}))
    assert checkpointed_files(str(tmp_path)) == {partial_path(kept)}
    with DirectoryLock(str(tmp_path)) as lock:
        assert lock.remove_leftovers() == 1
    assert os.path.exists(partial_path(kept)) and not os.path.exists(partial_path(stray))


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def _options(tmp_path, name: str, **extra) -> RunOptions:
    return RunOptions(ref=REF, reads=BAM, output_vcf=str(tmp_path / f"{name}.vcf.gz"),
                      output_gvcf=str(tmp_path / f"{name}.g.vcf.gz"), regions=[REGION], num_shards=1, **extra)


def test_a_run_stopped_mid_shard_goes_on_from_its_checkpoint(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="dvcall")
    plain = _options(tmp_path, "plain")
    run_pipeline(plain)
    work = tmp_path / "work"
    real = me.process_partition
    calls = []

    def stop_at_the_sixth(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(me, "process_partition", stop_at_the_sixth)
    # one shard in this process, so the patch reaches it; a checkpoint after every partition
    stopped = _options(tmp_path, "resumed", intermediate_dir=str(work), checkpoint_seconds=0.0)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(stopped)
    assert not os.path.exists(stopped.output_vcf)
    with open(work / "calls-00000-of-00001.jsonl.gz.checkpoint.json") as fh:
        assert json.load(fh)["partitions"] == 5
    calls.clear()
    monkeypatch.setattr(me, "process_partition", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    caplog.clear()
    run_pipeline(stopped)
    assert "make_examples: going on from an earlier run's checkpoint (5 partitions done)" in caplog.text
    assert [(r.start, r.end) for r in calls] == [(10_006_000, 10_007_000), (10_007_000, 10_008_000), (10_008_000, 10_009_000)]
    assert _body(stopped.output_vcf) == _body(plain.output_vcf)
    assert _body(stopped.output_gvcf) == _body(plain.output_gvcf)
    assert not list(work.glob("*.checkpoint.json")) and not list(work.glob("*.partial*"))  # done: nothing left but the shard

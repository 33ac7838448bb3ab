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
from deepvariant_py.checkpoint import (DAMAGED, OTHER_INPUTS, ShardCheckpoint, checkpoint_path, checkpointed_files,
                                       load_checkpoint, prefix_digest, save_checkpoint)
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
    out.write("one\n")
    first = out.checkpoint()
    out.write("two\n")
    length, digest = out.checkpoint()
    assert digest == prefix_digest(partial_path(path), length) and first[0] < length  # the digest of all bytes so far
    out.write("lost\n")  # written after the checkpoint: a rerun drops it
    out.abort()
    assert not os.path.exists(path) and os.path.getsize(partial_path(path)) > length
    with gzip.open(partial_path(path), "rt") as fh:  # what is up to the checkpoint is a whole gzip file
        fh.read(8)
    resumed = GzipLines(path, resume_at=length)
    resumed.write("three\n")
    again = resumed.checkpoint()
    assert again[1] == prefix_digest(partial_path(path), again[0])  # the digest goes on over the earlier bytes
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


def _saved(tmp_path, **change):
    """A checkpoint of 'calls.jsonl.gz' (40 of its 50 bytes), with `change`s to its fields."""
    output = str(tmp_path / "calls.jsonl.gz")
    with open(partial_path(output), "wb") as fh:
        fh.write(bytes(range(50)))
    fields = dict(inputs="abc", partitions=3, lengths={"calls.jsonl.gz": 40},
                  digests={"calls.jsonl.gz": prefix_digest(partial_path(output), 40)}, stats={"partitions": 3}, read_counts={})
    save_checkpoint(output, ShardCheckpoint(**{**fields, **change}))
    return output


def test_a_checkpoint_is_used_only_with_its_inputs_and_intact_files(tmp_path):
    output = _saved(tmp_path)
    checkpoint, why = load_checkpoint(output, "abc", [output])
    assert checkpoint.partitions == 3 and why is None and restorable(checkpoint)
    assert load_checkpoint(output, "other inputs", [output]) == (None, OTHER_INPUTS)
    assert load_checkpoint(output, "abc", [output, str(tmp_path / "blocks.tsv.gz")]) == (None, DAMAGED)  # a file it lacks
    assert load_checkpoint(str(tmp_path / "none.jsonl.gz"), "abc", [output]) == (None, None)  # no checkpoint: no word
    with open(partial_path(output), "r+b") as fh:  # one byte of the file's recorded part changed
        fh.seek(7)
        fh.write(b"X")
    assert load_checkpoint(output, "abc", [output]) == (None, DAMAGED)
    output = _saved(tmp_path, lengths={"calls.jsonl.gz": 60})  # the file is shorter than recorded
    assert load_checkpoint(output, "abc", [output]) == (None, DAMAGED)
    for change in ({"stats": {"partitions": 3, "renamed_field": 1}}, {"stats": {"partitions": 4}}):
        output = _saved(tmp_path, **change)  # counts of another dvcall, counts that disagree with the partitions
        assert not restorable(load_checkpoint(output, "abc", [output])[0])
    for change in ({"partitions": "3"}, {"partitions": 0}, {"lengths": {}}, {"lengths": {"calls.jsonl.gz": -1}}):
        output = _saved(tmp_path, **change)  # well-formed JSON, nonsense inside: never a crash
        assert load_checkpoint(output, "abc", [output]) == (None, DAMAGED)


def test_a_checkpoint_edited_by_hand_or_by_a_bit_flip_is_refused(tmp_path):
    output = _saved(tmp_path)
    path = checkpoint_path(output)
    text = open(path).read()
    for before, after in (('"partitions": 3', '"partitions": 2'), ('"format": "dvcall-shard-checkpoint"', '"format": "x"')):
        with open(path, "w") as fh:
            fh.write(text.replace(before, after))
        assert load_checkpoint(output, "abc", [output]) == (None, DAMAGED)
    for content in ('{"format": "something else", "version": 1}', "[1, 2", "[1, 2]", ""):
        with open(path, "w") as fh:
            fh.write(content)
        assert load_checkpoint(output, "abc", [output]) == (None, DAMAGED)


def test_leftovers_spare_the_files_a_checkpoint_goes_on_from(tmp_path):
    kept = _saved(tmp_path)
    stray = str(tmp_path / "other.jsonl.gz")
    open(partial_path(stray), "wb").close()
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


def _stop_at_the_sixth_partition(tmp_path, monkeypatch, caplog, calls: list) -> tuple[RunOptions, RunOptions]:
    """(a run never stopped, a resumable run stopped at its sixth partition: one shard, in this process, so the
    patch reaches it, with a checkpoint after every partition); the patch then counts the partitions processed."""
    caplog.set_level(logging.INFO, logger="dvcall")
    plain = _options(tmp_path, "plain")
    run_pipeline(plain)
    real = me.process_partition

    def stop(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(me, "process_partition", stop)
    stopped = _options(tmp_path, "resumed", intermediate_dir=str(tmp_path / "work"), checkpoint_seconds=0.0)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(stopped)
    assert not os.path.exists(stopped.output_vcf)
    calls.clear()
    monkeypatch.setattr(me, "process_partition", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    caplog.clear()
    return plain, stopped


def test_a_run_stopped_mid_shard_goes_on_from_its_checkpoint(tmp_path, monkeypatch, caplog):
    calls = []
    plain, stopped = _stop_at_the_sixth_partition(tmp_path, monkeypatch, caplog, calls)
    work = tmp_path / "work"
    with open(work / "calls-00000-of-00001.jsonl.gz.checkpoint.json") as fh:
        assert json.load(fh)["partitions"] == 5
    run_pipeline(stopped)
    assert "make_examples: going on from an earlier run's checkpoint (5 partitions done)" in caplog.text
    assert "(1 shard(s) went on from an earlier run's checkpoint: their examples before it not counted)" in caplog.text
    assert [(r.start, r.end) for r in calls] == [(10_006_000, 10_007_000), (10_007_000, 10_008_000), (10_008_000, 10_009_000)]
    assert _body(stopped.output_vcf) == _body(plain.output_vcf)
    assert _body(stopped.output_gvcf) == _body(plain.output_gvcf)
    assert not list(work.glob("*.checkpoint.json")) and not list(work.glob("*.partial*"))  # done: nothing left but the shard


def test_a_damaged_partial_file_starts_the_shard_over_and_says_so(tmp_path, monkeypatch, caplog):
    calls = []
    plain, stopped = _stop_at_the_sixth_partition(tmp_path, monkeypatch, caplog, calls)
    with open(tmp_path / "work" / "gvcf-00000-of-00001.tsv.gz.partial", "r+b") as fh:
        fh.seek(30)
        byte = fh.read(1)
        fh.seek(30)
        fh.write(bytes([byte[0] ^ 1]))
    run_pipeline(stopped)
    assert "make_examples: the checkpoint an earlier run left in" in caplog.text
    assert "is damaged, or its files are: this shard starts over" in caplog.text
    assert len(calls) == 8
    assert _body(stopped.output_vcf) == _body(plain.output_vcf) and _body(stopped.output_gvcf) == _body(plain.output_gvcf)


def test_a_moved_intermediate_folder_still_resumes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dvcall")
    first = _options(tmp_path, "first", intermediate_dir=str(tmp_path / "work"))
    run_pipeline(first)
    os.rename(tmp_path / "work", tmp_path / "moved")
    caplog.clear()
    again = _options(tmp_path, "again", intermediate_dir=str(tmp_path / "moved"))
    run_pipeline(again)
    assert "make_examples shard 1/1: finished in an earlier run, reused" in caplog.text
    assert _body(again.output_vcf) == _body(first.output_vcf)


def test_shards_made_by_other_code_are_made_again(tmp_path, monkeypatch, caplog):
    """review45: the workflow reruns jobs whose code changed (code_digest), while run's resume keyed its shards on
    __version__ alone: an edited checkout reused shards the old code made, and a release that changed nothing did
    not. Both now key on the code run imports."""
    from deepvariant_py import pipeline

    caplog.set_level(logging.INFO, logger="dvcall")
    run_pipeline(_options(tmp_path, "first", intermediate_dir=str(tmp_path / "work")))
    monkeypatch.setattr(pipeline, "code_digest", lambda commands: "other-code")
    caplog.clear()
    run_pipeline(_options(tmp_path, "again", intermediate_dir=str(tmp_path / "work")))
    assert "reused" not in caplog.text
    caplog.clear()
    run_pipeline(_options(tmp_path, "third", intermediate_dir=str(tmp_path / "work")))
    assert "make_examples shard 1/1: finished in an earlier run, reused" in caplog.text

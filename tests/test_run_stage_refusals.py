"""The stage commands never replace a file that is not of their output's kind (a model's weights, a sidecar, a
truth VCF that a mistyped name points at); they warn where examples and model disagree."""
from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
MODEL = os.path.join(ROOT, "models", "illumina-wgs")


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ex")
    path = str(tmp / "ex.tfrecord.gz")
    result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", path, "--regions", "chr20:10,000,000-10,003,000",
                     "--quiet")
    assert result.exit_code == 0, result.output
    return path


def test_call_variants_never_replaces_a_models_weights(tmp_path, examples):
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    before = (model / "model.keras").read_bytes()
    result = _invoke("call-variants", "--examples", examples, "--model", str(model), "--output", str(model / "model.keras"))
    assert result.exit_code == 1
    assert "model.keras exists and is not a calls file: writing it would destroy that file" in result.output
    assert (model / "model.keras").read_bytes() == before
    calls = str(tmp_path / "calls.jsonl.gz")
    for _ in range(2):  # an earlier run's calls are replaced
        result = _invoke("call-variants", "--examples", examples, "--model", str(model), "--output", calls, "--quiet")
        assert result.exit_code == 0, result.output


def test_make_examples_never_replaces_a_sidecar_or_a_vcf(tmp_path, examples):
    vcf = tmp_path / "truth.vcf.gz"
    shutil.copyfile(os.path.join(TESTDATA, "HG001.truth.chr20_10.00-10.02Mb.vcf.gz"), vcf)
    sidecar = examples + ".example_info.json"
    for target in (str(vcf), sidecar):
        before = open(target, "rb").read()
        result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", target, "--regions", "chr20:10,000,000-10,001,000")
        assert result.exit_code == 1 and "exists and is not examples that make-examples wrote" in result.output, result.output
        assert open(target, "rb").read() == before
    result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", str(tmp_path / "g.tfrecord.gz"), "--regions",
                     "chr20:10,000,000-10,001,000", "--gvcf", str(vcf))
    assert result.exit_code == 1 and "exists and is not a gVCF blocks file" in result.output, result.output


def test_call_variants_warns_about_examples_made_with_other_settings(tmp_path, caplog):
    odd = str(tmp_path / "odd.tfrecord.gz")
    result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", odd, "--regions", "chr20:10,000,000-10,003,000",
                     "--indel-reads", "overlapping", "--quiet")
    assert result.exit_code == 0, result.output
    result = _invoke("call-variants", "--examples", odd, "--output", str(tmp_path / "c.jsonl.gz"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "were made with indel_reads=overlapping, but the model in" in caplog.text
    assert "the model's accuracy was measured only on examples made with its own settings" in caplog.text


def test_ensemble_never_writes_into_a_folder_of_other_files(tmp_path, examples):
    folder = os.path.dirname(examples)
    result = _invoke("ensemble", "--member", MODEL, "--member", os.path.join(ROOT, "models", "illumina-wgs-realign"),
                     "--output", folder)
    assert result.exit_code == 1 and "is a folder that holds other files" in result.output, result.output
    assert sorted(os.listdir(folder)) == ["ex.tfrecord.gz", "ex.tfrecord.gz.example_info.json"]


def test_train_seed_is_checked_as_a_usage_error(tmp_path, examples):
    result = _invoke("train", "--examples", examples, "--output", str(tmp_path / "m"), "--seed", str(2**32))
    assert result.exit_code == 2 and "4294967296 is not in the range 0<=x<=4294967295" in result.output


def test_train_channels_are_distinct_numbers(tmp_path, examples):
    for value, words in (("a,b", "is not a comma-separated list of channel numbers"), ("1,1,2", "names a channel twice")):
        result = _invoke("train", "--examples", examples, "--output", str(tmp_path / "m"), "--channels", value)
        assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "m").exists()


def test_train_merger_checks_its_folder_before_training(tmp_path, examples, monkeypatch):
    import deepvariant_py.merger as merger
    import deepvariant_py.outputs as outputs

    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    real = os.access  # the model folder as if read-only (root writes anywhere)
    monkeypatch.setattr(outputs.os, "access", lambda path, mode, **kw: real(path, mode, **kw) and not (
        mode & os.W_OK and os.path.realpath(path) == os.path.realpath(model)))
    monkeypatch.setattr(merger, "collect_multiallelic_sites", lambda *a, **k: pytest.fail("trained before the check"))
    result = _invoke("train-merger", "--examples", examples, "--model", str(model))
    assert result.exit_code == 1 and "--model" in result.output and "cannot be written" in result.output, result.output


@pytest.mark.parametrize("command", [["calibrate"], ["train-merger"], ["train-merger", "--output", MODEL]])
def test_tools_that_refit_a_model_in_place_refuse_a_shipped_one(tmp_path, examples, command):
    """hostile17: `calibrate` on 54 examples replaced the shipped temperature and dropped its GQ map, `train-merger`
    on one site replaced the shipped merger (exit 0): every later `dvcall run` used them."""
    before = {name: open(os.path.join(MODEL, name), "rb").read() for name in os.listdir(MODEL)}
    args = command[:1] + ["--examples", examples, "--model", MODEL] + command[1:]
    result = _invoke(*args)
    assert result.exit_code == 1 and "is the shipped model illumina-wgs" in result.output and "work on a copy" in result.output
    assert {name: open(os.path.join(MODEL, name), "rb").read() for name in os.listdir(MODEL)} == before


def test_a_shipped_model_is_known_by_its_own_folder_through_symlinks_and_no_other_is(tmp_path):
    """review40: a symlink to models/ont passed (calibrate wrote into it), and every folder under models/ (a user's
    models/my-ont, one not made yet) was refused as shipped."""
    from deepvariant_py.model import SHIPPED_MODEL_NAMES, shipped_model_problem
    from deepvariant_py.presets import SHIPPED_MODELS

    models = os.path.join(ROOT, "models")
    assert set(SHIPPED_MODELS.values()) <= set(SHIPPED_MODEL_NAMES)
    assert all(os.path.isfile(os.path.join(models, name, "model_info.json")) for name in SHIPPED_MODEL_NAMES)
    link = tmp_path / "ontlink"
    link.symlink_to(os.path.join(models, "ont"))
    assert "is the shipped model ont" in shipped_model_problem(str(link))
    assert shipped_model_problem(os.path.join(models, "ont") + "/") is not None
    assert shipped_model_problem(os.path.join(models, "my-ont")) is None
    assert shipped_model_problem(str(tmp_path / "ont")) is None  # a folder of one's own that happens to be named so


def test_make_examples_leaves_out_excluded_regions_and_says_when_nothing_is_left(tmp_path, caplog):
    import logging

    from deepvariant_py.examples_io import example_digests
    out = str(tmp_path / "ex.tfrecord.gz")
    result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", out, "--regions", "chr20:10,000,000-10,003,000",
                     "--exclude-regions", "chr20:10,001,001-10,002,000", "--quiet")
    assert result.exit_code == 0, result.output
    positions = [int(line.split("\t")[0].split(":")[1].split("-")[0]) for line in example_digests(out)]
    assert positions and not any(10_001_001 <= p <= 10_002_000 for p in positions)
    assert any(p < 10_001_001 for p in positions) and any(p > 10_002_000 for p in positions)
    empty = str(tmp_path / "none.tfrecord.gz")
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = _invoke("make-examples", "--ref", REF, "--reads", BAM, "--examples", empty, "--exclude-regions", "chr20")
    assert result.exit_code == 0 and "--exclude-regions chr20 cover every contig the reads and reference share" in caplog.text
    assert "fewer partitions than there are shards" not in caplog.text + result.output and example_digests(empty) == []

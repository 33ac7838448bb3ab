"""TensorFlow and Keras are an optional install (`dvcall[train]`): calling never needs them, and the commands that
do say how to install them in one line."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepvariant_py.errors import DependencyError

TESTDATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
# dvcall's command line in a process where neither can be imported, as after a plain `pip install dvcall`
WITHOUT_TF = ("import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None; "
              "sys.argv[0] = 'dvcall'; from deepvariant_py.cli.entry import main; sys.exit(main())")


def _dvcall_without_tensorflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_TF, *args], capture_output=True, text=True)


def test_dvcall_run_needs_neither_tensorflow_nor_keras(tmp_path):
    vcf, gvcf = tmp_path / "calls.vcf.gz", tmp_path / "calls.g.vcf.gz"
    proc = _dvcall_without_tensorflow("run", "--ref", REF, "--reads", BAM, "--regions", "chr20:10,000,000-10,006,000",
                                      "--output-vcf", str(vcf), "--output-gvcf", str(gvcf), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert vcf.stat().st_size > 0 and gvcf.stat().st_size > 0


def test_training_without_tensorflow_is_one_line_naming_the_extra(tmp_path):
    from test_train import _examples

    examples, out = tmp_path / "ex.tfrecord.gz", tmp_path / "model"
    _examples(examples)
    proc = _dvcall_without_tensorflow("train", "--examples", str(examples), "--output", str(out))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "TensorFlow is not installed" in lines[0] and "dvcall[train]" in lines[0], proc.stderr
    assert not out.exists()


def test_train_check_install_is_one_line_and_exit_1_without_tensorflow():
    """The training recipes ask dvcall itself before their long steps (review45: guessing its Python from the
    launcher's shebang failed for pip's /bin/sh launchers)."""
    proc = _dvcall_without_tensorflow("train", "--check-install")  # no --examples or --output needed
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "pip install 'dvcall[train]'" in proc.stderr


def test_a_missing_module_names_the_extra_and_a_broken_one_names_itself(monkeypatch):
    from deepvariant_py import tf_runtime

    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(DependencyError, match=r"Keras is not installed.*dvcall\[train\]"):
        tf_runtime._quiet_import("keras")
    monkeypatch.delitem(sys.modules, "keras")
    broken = ModuleNotFoundError("No module named 'absl_missing_part'", name="absl_missing_part")
    monkeypatch.setattr(tf_runtime, "_import", lambda name: (_ for _ in ()).throw(broken))
    with pytest.raises(DependencyError, match=r"keras is installed but fails to import .*absl_missing_part.*reinstall it, e\.g\. "
                                              r"pip install --force-reinstall --no-deps keras$"):
        tf_runtime._quiet_import("keras")  # installed but broken inside: named, not "install it"


def test_a_tensorflow_that_fails_to_import_is_named_not_called_a_bug_in_dvcall(monkeypatch):
    from deepvariant_py import tf_runtime

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    broken = TypeError("Descriptors cannot be created directly")  # a protobuf of another version
    monkeypatch.setattr(tf_runtime, "_import", lambda name: (_ for _ in ()).throw(broken))
    with pytest.raises(DependencyError, match=r"tensorflow is installed but fails to import \(TypeError: Descriptors"):
        tf_runtime._quiet_import("tensorflow")


def test_a_merger_of_the_old_format_without_keras_names_the_extra(tmp_path, monkeypatch):
    """hostile25: a merger saved before its weights went into merger_info.json needs Keras; a plain install said
    only 'retrain it'."""
    import json
    import shutil

    from deepvariant_py.merger import MERGER_INFO_FILE, MergerNetwork
    from deepvariant_py.model import default_model_dir

    model = tmp_path / "m"
    shutil.copytree(default_model_dir("illumina-wgs"), model)
    info = json.loads((model / MERGER_INFO_FILE).read_text())
    del info["weights"]
    (model / MERGER_INFO_FILE).write_text(json.dumps(info))
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(DependencyError, match=r"older format .* only Keras loads.*dvcall\[train\].*--multiallelic-merge min"):
        MergerNetwork.load(str(model))

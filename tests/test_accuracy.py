"""benchmarks/accuracy.py and benchmarks/calibration.py: bad flags and missing data end the run in one line before
any calling, a failed caller ends it in one line, and a run that measures nothing fails instead of printing an
empty table."""
import importlib.util
import json
import math
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

_benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
_spec = importlib.util.spec_from_file_location("accuracy", _benchmarks / "accuracy.py")
acc = importlib.util.module_from_spec(_spec)
sys.modules["accuracy"] = acc  # its dataclass looks its module up
_spec.loader.exec_module(acc)


def _args(tmp_path, **kw):
    values = {"shared": str(tmp_path), "model": None}
    values.update(kw)
    return Namespace(**values)


def test_unknown_or_empty_caller_list_is_a_usage_error(capsys):
    for spec in ("dvcall,gatk", ","):
        with pytest.raises(SystemExit) as exc:
            acc.caller_names(spec, "accuracy.py")
        assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "'gatk'" in err[0] and "empty" in err[1]


def test_caller_not_installed_is_left_out_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(acc.shutil, "which", lambda name: None if name == "freebayes" else f"/usr/bin/{name}")
    assert acc.caller_names("dvcall, bcftools,freebayes", "accuracy.py") == ["dvcall", "bcftools"]
    assert "apt-get install freebayes" in capsys.readouterr().err


def test_check_run_refuses_missing_shared_folder_bad_model_and_unwritable_outputs(tmp_path, capsys):
    missing = tmp_path / "no_such_folder"
    cases = [
        (_args(tmp_path, shared=str(missing)), {}, True, "--shared"),
        (_args(tmp_path, model=str(tmp_path)), {}, False, "--model"),
        (_args(tmp_path, also_model=[str(tmp_path)]), {}, False, "--also-model"),
        (_args(tmp_path), {"--json": str(tmp_path)}, False, "existing folder"),
        (_args(tmp_path), {"--json": str(missing / "rows.json")}, False, "does not exist"),
    ]
    for args, outputs, wants_shared, words in cases:
        with pytest.raises(SystemExit) as exc:
            acc.check_run(args, "accuracy.py", outputs, wants_shared)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0]
    # the shared folder only matters when its real rows are wanted
    acc.check_run(_args(tmp_path, shared=str(missing)), "accuracy.py", {"--json": str(tmp_path / "rows.json")}, False)


def test_a_failed_caller_ends_the_run_in_one_line():
    def broken(ds, out, tmp):
        raise subprocess.CalledProcessError(3, ["dvcall", "run"])

    ds = acc.Dataset("simulated x", "ref.fa", "reads.bam", "truth.vcf.gz", "20:1-10")
    with pytest.raises(SystemExit) as exc:
        acc.run_or_exit(broken, ds, "dvcall", "accuracy.py", "out.vcf.gz", "tmp")
    assert "dvcall failed on simulated x (exit 3" in exc.value.code


def _script(name, *flags, cwd):
    return subprocess.run([sys.executable, str(_benchmarks / name), *flags], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_scripts_measuring_nothing_fail_without_a_table_or_files(tmp_path):
    old = tmp_path / "rows.json"
    old.write_text("old rows")
    # no dataset at all: a failure, no table, the existing --json untouched
    res = _script("accuracy.py", "--no-real", "--sim-sample", str(tmp_path / "none"), "--json", str(old), cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == ""
    assert "nothing was measured" in res.stderr.splitlines()[-1]
    assert old.read_text() == "old rows"
    # a missing shared folder: one line, exit 2, before anything is called
    res = _script("calibration.py", "--shared", str(tmp_path / "nope"), cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "calibration.png").exists()


def test_calibration_plot_marks_bins_without_errors_as_bounds(tmp_path):
    spec = importlib.util.spec_from_file_location("calibration_benchmark", _benchmarks / "calibration.py")
    cal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cal)
    site = type("Site", (), {})
    sites = []
    for gq, n, wrong in ((15, 40, 4), (35, 50, 0)):  # one bin with errors, one without
        for i in range(n):
            s = site()
            s.gq, s.correct = gq, i >= wrong
            sites.append(s)
    rows = cal.bin_rows(sites)
    by_bin = {r["bin"]: r for r in rows}
    assert by_bin["10-20"]["errors"] == 4 and by_bin["30-40"]["errors"] == 0
    # log-likelihood: 4 wrong and 36 right at P(wrong) 10^-1.5, 50 right at 10^-3.5
    p15, p35 = 10 ** -1.5, 10 ** -3.5
    expected = 4 * math.log(p15) + 36 * math.log1p(-p15) + 50 * math.log1p(-p35)
    assert cal.gq_log_likelihood(sites) == round(expected, 1)
    assert cal.gq_log_likelihood(sites) < cal.gq_log_likelihood([s for s in sites if s.correct])
    png = tmp_path / "cal.png"
    png.write_bytes(b"previous plot")
    cal.plot({"illumina": rows}, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in tmp_path.iterdir()] == ["cal.png"]
    import matplotlib.pyplot as plt

    ax = plt.gcf().axes[0]
    markers = {(line.get_marker(), len(line.get_xdata())) for line in ax.lines}
    assert ("o", 1) in markers and ("^", 1) in markers  # the measured bin a dot, the bin without errors a bound
    plt.close("all")


def test_also_model_rows_run_on_long_read_samples_and_the_ablation_only_on_illumina():
    # --also-model on ONT/HiFi samples used to be dropped silently with the Illumina ablation rows
    def call(ds, out, tmp):
        return None

    ablation = [("dvcall baseline", call)]
    callers = [("dvcall", call), ("dvcall model_b", call), ("bcftools", call)]
    assert [c for c, _ in acc.callers_for("ont", ablation, callers)] == ["dvcall", "dvcall model_b", "bcftools"]
    assert [c for c, _ in acc.callers_for("illumina", ablation, callers)] == ["dvcall baseline", "dvcall", "dvcall model_b",
                                                                          "bcftools"]


def test_datasets_lists_a_samples_rows_with_its_transformed_copies(tmp_path):
    sample = tmp_path / "test_x"
    sample.mkdir()
    (sample / "sample.json").write_text('{"parameters": {"ref": "ref.fa", "region": "chr20:1-1000"}}')
    for label in ("novaseq_bins", "qual_minus8", "ffpe", "err1", "bad_cycles"):  # made already: no script runs
        (sample / f"reads.{label}.bam.bai").write_text("")
    names = [d.name for d in acc.datasets([str(sample)])]
    assert names == ["simulated test_x"]
    names = [d.name for d in acc.datasets([str(sample)], robustness=True, damage=True)]
    assert names == ["simulated test_x"] + [f"simulated test_x {label}" for label in
                                            ("novaseq_bins", "qual_minus8", "ffpe", "err1", "bad_cycles")]
    assert acc.datasets([str(tmp_path / "missing")]) == []
    ont = tmp_path / "test_ont"  # long reads: qualities shifted both ways, no Illumina damage rows
    ont.mkdir()
    (ont / "sample.json").write_text('{"parameters": {"ref": "ref.fa", "region": "chr20:1-100000", "platform": "ont"},'
                                     ' "confident_bed": {"span": ["chr20", 20000, 80000]}}')
    for label in ("qual_minus6", "qual_plus10"):
        (ont / f"reads.{label}.bam.bai").write_text("")
    rows = acc.datasets([str(ont)], robustness=True, damage=True)
    assert [(d.name, d.platform, d.region) for d in rows] == [
        (f"simulated test_ont{label}", "ont", "chr20:20001-80000") for label in ("", " qual_minus6", " qual_plus10")]


def test_every_script_that_shares_datasets_calls_it_with_its_parameters():
    """fit_gq_calibration.py, pick_epoch.py and calibration.py call accuracy.datasets; a call that names a parameter
    it lacks (or built a namespace missing one: how --damage broke the GQ-map fit) fails only after hours of work."""
    import ast
    import inspect

    signature = inspect.signature(acc.datasets)
    root = Path(__file__).resolve().parent.parent
    calls = 0
    for path in (root / "scripts" / "fit_gq_calibration.py", root / "scripts" / "pick_epoch.py",
                 _benchmarks / "calibration.py", _benchmarks / "accuracy.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("datasets", "accuracy_datasets"):
                signature.bind(*node.args, **{k.arg: None for k in node.keywords})  # TypeError if it does not fit
                assert not any("Namespace" in ast.unparse(a) for a in node.args), f"{path.name}: pass the values, not a namespace"
                calls += 1
    assert calls >= 4


def test_the_gq_map_fit_refuses_a_sample_given_twice_and_a_shipped_model(tmp_path):
    """hostile17: one sample given twice counted its calls twice; the fit wrote into a shipped model's folder."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    script = str(root / "scripts" / "fit_gq_calibration.py")
    mine = tmp_path / "mine"
    shutil.copytree(root / "models" / "illumina-wgs-realign", mine)
    for args, message in (([str(mine), "--sample", "s1", "--sample", "s1/"], "a calibration sample is given twice"),
                          ([str(root / "models" / "ont"), "--sample", "s1"], "is the shipped model ont"),
                          ([str(mine), "--sample", "s1", "--prior-calls", "-5"], "--prior-calls -5: give 0"),
                          ([str(mine), "--sample", "s1", "--prior-calls", "nan"], "--prior-calls nan: give 0"),
                          ([str(mine), "--sample", "s1", "--cluster-distance", "-1"], "--cluster-distance -1: give 0")):
        proc = subprocess.run([sys.executable, script, "--model", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_the_gq_map_fit_warns_on_samples_from_where_the_model_was_trained(tmp_path):
    """hostile17: a GQ map fitted on the model's own training loci went unnoticed (the model now records them)."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    mine = tmp_path / "mine"
    shutil.copytree(root / "models" / "illumina-wgs-realign", mine)
    info = json.loads((mine / "model_info.json").read_text())
    (mine / "model_info.json").write_text(json.dumps({**info, "training_spans": [["chr20", 0, 5_000]]}))
    sample = tmp_path / "calib_1"
    sample.mkdir()  # a sample whose call then fails (no reference): the warning comes before any calling
    (sample / "sample.json").write_text(json.dumps({"parameters": {"ref": str(tmp_path / "no.fa"), "region": "chr20:1001-9000"}}))
    proc = subprocess.run([sys.executable, str(root / "scripts" / "fit_gq_calibration.py"), "--model", str(mine),
                           "--sample", str(sample)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert f"warning: the calibration samples come from where model {mine} was trained (chr20:1,001-5,000, 4,000 bp" \
        in proc.stderr, proc.stderr


def test_the_gq_map_fit_cache_key_changes_with_the_candidate_filter(tmp_path, monkeypatch):
    """A model's calls depend on its candidate pre-filter: adding one, or retraining it, must not reuse the calls
    cached for the model without it (the key once held only the networks, temperature and settings); a model
    without a filter keeps the key it had, so its cached calls stay usable."""
    import hashlib
    import shutil

    from deepvariant_py.model_info import load_model_info

    root = Path(__file__).resolve().parent.parent
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ first: undone after the test
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    spec = importlib.util.spec_from_file_location("fit_gq_calibration", root / "scripts" / "fit_gq_calibration.py")
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)

    mine = tmp_path / "mine"
    shutil.copytree(root / "models" / "illumina-wgs-realign", mine)
    info = load_model_info(str(mine))
    old = hashlib.sha256((mine / "model.keras").read_bytes())  # the key's formula before filters counted
    old.update(json.dumps([info.calibration.temperature, info.settings, info.channels], sort_keys=True).encode())
    keys = [fit._model_key(str(mine), info)]
    assert keys[0] == "model-" + old.hexdigest()[:12]
    shutil.copy(root / "models" / "ont" / "candidate_filter.json", mine)
    keys.append(fit._model_key(str(mine), load_model_info(str(mine))))
    text = (mine / "candidate_filter.json").read_text()
    (mine / "candidate_filter.json").write_text(text.replace('"threshold": ', '"threshold": 0.5, "old": ', 1))
    keys.append(fit._model_key(str(mine), load_model_info(str(mine))))
    assert len(set(keys)) == 3, keys

"""scripts/model_install.sh: where the training scripts put a retrained model (sourced bash functions)."""
import subprocess
from pathlib import Path

HELPER = Path(__file__).resolve().parent.parent / "scripts" / "model_install.sh"


def _bash(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {HELPER}; {script}"], capture_output=True, text=True,
                          timeout=60)


def _trained(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "model").mkdir(parents=True)
    (work / "model_seed2").mkdir()
    (work / "model" / "model.keras").write_text("new weights")
    (work / "model" / "model_info.json").write_text("new info")
    (work / "model_seed2" / "training_log.csv").write_text("epoch,acc")
    return work


def test_install_replaces_the_network_keeps_the_notes_and_drops_the_old_networks_merger(tmp_path):
    """The old merger was trained on the old network's outputs: beside the new one it would merge wrongly."""
    work, dest = _trained(tmp_path), tmp_path / "models" / "x"
    dest.mkdir(parents=True)
    for name, text in (("model.keras", "old weights"), ("MODEL_CARD.md", "card"), ("merger.keras", "old merger"),
                       ("merger_info.json", "old"), ("training_log_seed3.csv", "old log"), ("candidate_filter.json", "f")):
        (dest / name).write_text(text)
    res = _bash(f"install_model {work} {dest} model/model.keras model/model_info.json "
                "model_seed2/training_log.csv=training_log_seed2.csv")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["MODEL_CARD.md", "candidate_filter.json", "model.keras",
                                                      "model_info.json", "training_log_seed2.csv"]
    assert (dest / "model.keras").read_text() == "new weights" and (dest / "MODEL_CARD.md").read_text() == "card"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["x"]  # no staging folder left


def test_a_failed_copy_leaves_the_old_model_whole_and_no_new_folder(tmp_path):
    work, dest = _trained(tmp_path), tmp_path / "x"
    dest.mkdir()
    (dest / "model.keras").write_text("old weights")
    res = _bash(f"install_model {work} {dest} model/model.keras model/merger.keras")  # no merger was trained
    assert res.returncode == 1 and "unchanged" in res.stderr
    assert [p.name for p in dest.iterdir()] == ["model.keras"] and (dest / "model.keras").read_text() == "old weights"
    fresh = tmp_path / "fresh"
    assert _bash(f"install_model {work} {fresh} model/merger.keras").returncode == 1 and not fresh.exists()


def test_check_model_dest_refuses_a_file_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    res = _bash(f"check_model_dest {tmp_path / 'file'}; echo reached")
    assert res.returncode == 2 and "reached" not in res.stdout and len(res.stderr.strip().splitlines()) == 1
    assert _bash(f"check_model_dest {tmp_path / 'new' / 'deeper'}").returncode == 0
    assert not (tmp_path / "new").exists()  # checking makes nothing


def test_a_checkout_calls_with_its_own_models():
    """With another tree installed, a checkout's code used the installed models, not a model retrained in its own
    models/ folder (the recipes write there)."""
    import os

    from deepvariant_py.model import default_model_dir
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert default_model_dir("ont") == os.path.join(checkout, "models", "ont")


def test_run_on_its_own_it_installs_a_model_folder_and_refuses_what_is_not_one(tmp_path):
    """`dvcall train`'s refusal and the guide point to `scripts/model_install.sh`: run, it copied nothing (rc 0)."""
    work, dest = _trained(tmp_path), tmp_path / "installed"
    (work / "model" / "merger.keras").write_text("merger")
    (work / "model" / "resume").mkdir()
    res = subprocess.run(["bash", str(HELPER), str(work / "model"), str(dest)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unfinished training run" in res.stderr and not dest.exists()
    (work / "model" / "resume").rmdir()
    res = subprocess.run(["bash", str(HELPER), str(work / "model"), str(dest)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["merger.keras", "model.keras", "model_info.json"]
    res = subprocess.run(["bash", str(HELPER), str(work / "model_seed2"), str(tmp_path / "other")], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "holds no model" in res.stderr and not (tmp_path / "other").exists()
    res = subprocess.run(["bash", str(HELPER)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "usage:" in res.stderr


def test_run_on_its_own_it_never_replaces_a_folder_that_is_not_a_model_nor_one_holding_src(tmp_path):
    """review40: any writable DEST was swapped out whole (its subfolders deleted, exit 0), and DEST holding SRC
    (a run folder and its epoch-3) deleted SRC and the other epochs."""
    work = _trained(tmp_path)
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "results.txt").write_text("precious")
    run = lambda src, dest: subprocess.run(["bash", str(HELPER), str(src), str(dest)], capture_output=True, text=True,  # noqa: E731
                                           timeout=60)
    res = run(work / "model", project)
    assert res.returncode == 2 and "not a model folder" in res.stderr and (project / "data" / "results.txt").exists()
    (project / "model_info.json").write_text("{}")
    res = run(work / "model", project)
    assert res.returncode == 2 and "holds a folder (data)" in res.stderr and (project / "data" / "results.txt").exists()
    res = run(work / "model", work)
    assert res.returncode == 2 and "is SRC or holds it" in res.stderr and (work / "model" / "model.keras").exists()
    (project / "data" / "results.txt").unlink()
    (project / "data").rmdir()
    (project / ".git").mkdir()  # verify41: hidden folders went too
    res = run(work / "model", project)
    assert res.returncode == 2 and "holds a folder (.git)" in res.stderr and (project / ".git").is_dir()
    (project / ".git").rmdir()
    (project / ".notes").write_text("mine")  # hidden files are carried over, as MODEL_CARD.md is
    res = run(work / "model", project)
    assert res.returncode == 0 and (project / ".notes").read_text() == "mine", res.stderr
    old = tmp_path / "old"  # a model folder with another network's training records: they go with it
    old.mkdir()
    for name in ("model.keras", "model_info.json", "best.json", "training_run.json", "training_summary.json", "MODEL_CARD.md"):
        (old / name).write_text("old")
    res = run(work / "model", old)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in old.iterdir()) == ["MODEL_CARD.md", "model.keras", "model_info.json"]

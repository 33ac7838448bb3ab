"""scripts/pick_epoch.py: which epoch folders it sees and which epoch it picks."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # the script imports benchmarks/accuracy.py as its recipes do
_spec = importlib.util.spec_from_file_location("pick_epoch", ROOT / "scripts" / "pick_epoch.py")
pick_epoch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pick_epoch)


def test_epoch_dirs_are_the_keep_epochs_folders_in_epoch_order(tmp_path):
    for name in ("epoch-2", "epoch-10", "epoch-1", "epoch-x", "resume"):
        (tmp_path / name).mkdir()
    (tmp_path / "epoch-3").write_text("a file, not a model folder")
    found = pick_epoch.epoch_dirs(str(tmp_path))
    assert list(found) == [1, 2, 10]
    assert found[10] == str(tmp_path / "epoch-10")


def test_fewest_errors_wins_and_a_tie_goes_to_the_later_epoch():
    assert pick_epoch.choose({1: 443, 2: 400, 3: 329}) == 3
    assert pick_epoch.choose({1: 300, 2: 329, 3: 329}) == 1
    assert pick_epoch.choose({1: 329, 2: 340, 3: 329}) == 3

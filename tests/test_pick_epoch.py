"""scripts/pick_epoch.py: which epoch it picks, and which --output it may replace."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # the script imports benchmarks/accuracy.py as its recipes do
_spec = importlib.util.spec_from_file_location("pick_epoch", ROOT / "scripts" / "pick_epoch.py")
pick_epoch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pick_epoch)


def test_fewest_errors_wins_and_a_tie_goes_to_the_later_epoch():
    assert pick_epoch.choose({1: 443, 2: 400, 3: 329}) == 3
    assert pick_epoch.choose({1: 300, 2: 329, 3: 329}) == 1
    assert pick_epoch.choose({1: 329, 2: 340, 3: 329}) == 3


def test_output_is_replaced_only_when_it_is_a_model_folder_outside_the_training_run(tmp_path):
    run = tmp_path / "run"
    (run / "epoch-1").mkdir(parents=True)
    assert "holds the training folder" in pick_epoch.output_problem(str(run), str(run))
    assert "holds the training folder" in pick_epoch.output_problem(str(tmp_path), str(run))
    assert pick_epoch.output_problem(str(tmp_path / "new"), str(run)) is None
    (tmp_path / "notes").mkdir()
    assert "not a model folder" in pick_epoch.output_problem(str(tmp_path / "notes"), str(run))
    (tmp_path / "notes" / "model_info.json").write_text("{}")
    assert pick_epoch.output_problem(str(tmp_path / "notes"), str(run)) is None
    (tmp_path / "notes" / "MODEL_CARD.md").write_text("a finished model")  # hostile17: deleted with its merger, exit 0
    assert "holds a model with more than a pick writes (MODEL_CARD.md)" in pick_epoch.output_problem(str(tmp_path / "notes"), str(run))
    shipped = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "ont")
    assert "is the shipped model ont" in pick_epoch.output_problem(shipped, str(run))

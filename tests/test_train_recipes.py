"""The training recipes refuse a bad setting in one line, exit 2, before they simulate or write anything."""
import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "train_illumina_model.sh")


@pytest.mark.parametrize("name,value", [("PICK_EPOCH", "best"), ("COLUMN_FEATURES", "abc"), ("COLUMN_FEATURES", "4"),
                                        ("COLUMN_FEATURES", "2000")])
def test_illumina_recipe_refuses_a_bad_setting_before_making_anything(tmp_path, name, value):
    work, model = tmp_path / "work", tmp_path / "model"
    env = {**os.environ, name: value, "DVCALL_DATA": str(tmp_path / "no-data")}
    proc = subprocess.run(["bash", SCRIPT, str(work), str(model)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and f"'{value}'" in lines[0]
    assert not work.exists() and not model.exists()


LONG_READ_SCRIPT = os.path.join(os.path.dirname(SCRIPT), "train_long_read_model.sh")


@pytest.mark.parametrize("name,value", [("REALIGN", "yes"), ("PICK_EPOCH", "best")])
def test_long_read_recipe_refuses_a_bad_setting_before_making_anything(tmp_path, name, value):
    work, model = tmp_path / "work", tmp_path / "model"
    env = {**os.environ, name: value, "DVCALL_DATA": str(tmp_path / "no-data")}
    proc = subprocess.run(["bash", LONG_READ_SCRIPT, "hifi", str(work), str(model)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and f"'{value}'" in lines[0]
    assert not work.exists() and not model.exists()

"""scripts/simulate_sample.py: the parts of the training-data simulator that are plain functions."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_scripts = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(_scripts))  # simulate_sample imports its neighbour long_read_errors
_path = _scripts / "simulate_sample.py"
_spec = importlib.util.spec_from_file_location("simulate_sample", _path)
sim = importlib.util.module_from_spec(_spec)
sys.modules["simulate_sample"] = sim
_spec.loader.exec_module(sim)


def _write_pairs(tmp_path: Path, n: int) -> tuple[Path, Path]:
    fqs = []
    for mate in ("1", "2"):
        fq = tmp_path / f"all_{mate}.fq"
        fq.write_text("".join(f"@h1-{i}/{mate}\n{'ACGT'[i % 4] * 10}\n+\n{'I' * 10}\n" for i in range(n)))
        fqs.append(fq)
    return fqs[0], fqs[1]


def _records(fq: Path) -> list[tuple[str, str]]:
    lines = fq.read_text().splitlines()
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 4)]


def test_duplicates_reach_the_asked_share_and_copy_both_mates(tmp_path):
    fq1, fq2 = _write_pairs(tmp_path, 2000)
    added = sim.add_duplicates(fq1, fq2, 0.2, np.random.default_rng(1))
    r1, r2 = _records(fq1), _records(fq2)
    assert len(r1) == len(r2) == 2000 + added
    assert added / len(r1) == pytest.approx(0.2, abs=0.01)
    originals = dict(r1[:2000])
    for (name1, seq1), (name2, _) in zip(r1[2000:], r2[2000:]):
        head, _, mate = name1.partition("/")
        assert mate == "1" and name2 == f"{head}/2"  # mates stay paired, in the same order
        base = head.rsplit("_dup", 1)[0]
        assert originals[f"{base}/1"] == seq1  # a copy of a real fragment
    names = [n for n, _ in r1]
    assert len(set(names)) == len(names)  # unique names, or bwa would pair them wrongly
    assert any(n.endswith("_dup2/1") for n in names)  # some fragments have several copies


def test_no_duplicates_leaves_the_files_alone(tmp_path):
    fq1, fq2 = _write_pairs(tmp_path, 10)
    before = fq1.read_text(), fq2.read_text()
    assert sim.add_duplicates(fq1, fq2, 0.0, np.random.default_rng(1)) == 0
    assert (fq1.read_text(), fq2.read_text()) == before


def test_duplicate_fraction_is_checked():
    with pytest.raises(SystemExit, match="duplicate-fraction"):
        sim.main(["--ref", "x.fa", "--region", "chr1:1-100", "--out", "/nonexistent", "--duplicate-fraction", "1.0"])


def test_a_region_of_ns_is_refused_in_one_line(tmp_path):
    """A whole-chromosome FASTA masked to N outside a few Mb made samples with no variant and no mapped read, exit 0."""
    import pysam
    fa = tmp_path / "ref.fa"
    rng = np.random.default_rng(3)
    fa.write_text(">chr1\n" + "N" * 6000 + "".join(rng.choice(list("ACGT"), 6000)) + "\n")
    pysam.faidx(str(fa))
    with pytest.raises(SystemExit, match=r"--region chr1:1001-5000 is N for 100% of its bases"):
        sim.main(["--ref", str(fa), "--region", "chr1:1001-5000", "--out", str(tmp_path / "out"), "--confident-margin", "100"])
    assert not (tmp_path / "out").exists()
    sim.check_real_sequence("ACGTN" * 10, "x")  # a few Ns pass


def test_neat_is_checked_for_and_takes_no_art_profile(monkeypatch, capsys):
    real_which = sim.shutil.which
    monkeypatch.setattr(sim.shutil, "which", lambda tool: None if tool == "neat" else real_which(tool) or f"/bin/{tool}")
    with pytest.raises(SystemExit):
        sim.check_tools("illumina", "neat")
    out = capsys.readouterr().out
    assert out.startswith("missing neat: ") and "pip install neat-genreads" in out and "art_illumina" not in out
    monkeypatch.setattr(sim.shutil, "which", lambda tool: f"/bin/{tool}")
    with pytest.raises(SystemExit, match="--profile is ART's"):
        sim.main(["--ref", "x.fa", "--region", "chr1:1-100", "--out", "/nonexistent", "--read-simulator", "neat",
                  "--profile", "HS25"])

"""`dvcall run` as a pipeline step: signals, process groups and a shared intermediate folder.

Each test starts `dvcall run` as its own process group (as Snakemake and SLURM do) and checks, after it
exits, that no process of that group is left, that TMPDIR holds nothing, and what it printed.
"""
from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from deepvariant_py.workers import usable_cpus

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
REF = str(TESTDATA / "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = str(TESTDATA / "NA12878.chr20_10.00-10.02Mb.bam")
WHOLE = "chr20:10,000,001-10,020,000"
PART = "chr20:10,000,001-10,008,000"
LIMIT = 60  # seconds: far above a healthy run; only a hang reaches it


def _start(tmp_path: Path, out: str, *args: str, region: str = WHOLE, reads: str = BAM) -> subprocess.Popen:
    tmp = tmp_path / "TMPDIR"
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "deepvariant_py.cli", "run", "--ref", REF, "--reads", reads, "--output-vcf", str(tmp_path / out),
            "--regions", region, *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, cwd=str(Path(__file__).resolve().parent.parent))


def _group(pgid: int) -> list[int]:
    """Live processes of a process group (zombies of a finished run count: nobody reaped them)."""
    members = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(pid))
    return members


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = LIMIT, every: float = 0.005) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, f"dvcall ended before the moment to test came: {proc.communicate()}"
        assert time.time() < deadline, "timed out waiting"
        time.sleep(every)


def _finish(proc: subprocess.Popen) -> tuple[int, list[str]]:
    try:
        _, err = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, [line for line in err.splitlines() if line.strip()]


def _files(folder: Path, pattern: str) -> list[Path]:
    return list(folder.rglob(pattern)) if folder.exists() else []


def _assert_clean_exit(tmp_path: Path, proc: subprocess.Popen, lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "leaked" not in text, text
    assert _group(proc.pid) == [], f"processes left in the run's group: {_group(proc.pid)}"
    assert list((tmp_path / "TMPDIR").iterdir()) == [], list((tmp_path / "TMPDIR").iterdir())


def test_many_shards_are_capped_and_a_finished_run_leaves_no_process(tmp_path):
    proc = _start(tmp_path, "out.vcf.gz", "--num-shards", "1000", "--quiet", region="chr20:10,002,001-10,005,000")
    most = 0
    while proc.poll() is None:
        most = max(most, len(_group(proc.pid)))
        time.sleep(0.02)
    code, lines = _finish(proc)
    assert code == 0, lines
    _assert_clean_exit(tmp_path, proc, lines)
    assert 1 <= most <= usable_cpus() + 2, most  # the run itself, at most one worker per CPU
    assert lines == []  # --quiet, and nothing to warn about
    assert (tmp_path / "out.vcf.gz").exists() and (tmp_path / "out.vcf.gz.tbi").exists()


def test_a_failed_run_leaves_no_process(tmp_path):
    damaged = tmp_path / "damaged.bam"
    data = bytearray(Path(BAM).read_bytes())
    data[600_000:600_200] = bytes(200)  # a block in the middle: found only by the worker that reads it
    damaged.write_bytes(data)
    os.symlink(BAM + ".bai", str(damaged) + ".bai")
    proc = _start(tmp_path, "out.vcf.gz", "--num-shards", "2", "--quiet", reads=str(damaged))  # --reads repeats: one file
    code, lines = _finish(proc)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("dvcall: error: make_examples shard "), lines
    assert "truncated, unsorted or does not match its index" in lines[0]
    _assert_clean_exit(tmp_path, proc, lines)
    assert not (tmp_path / "out.vcf.gz").exists()


def test_sigterm_stops_the_run_cleanly(tmp_path):
    """While the workers make and call examples (each writes its calls file under a temporary name)."""
    proc = _start(tmp_path, "out.vcf.gz", "--num-shards", "2")
    _wait_for(lambda: _files(tmp_path / "TMPDIR", "calls-*.partial"), proc)
    os.kill(proc.pid, signal.SIGTERM)  # to the run only, as Snakemake does; its workers are its to stop
    code, lines = _finish(proc)
    assert code == 143 and lines[-1] == "dvcall: terminated", lines
    _assert_clean_exit(tmp_path, proc, lines)
    assert not (tmp_path / "out.vcf.gz").exists() and not (tmp_path / "out.vcf.gz.tbi").exists()


def test_one_run_per_intermediate_dir_and_a_killed_run_resumes(tmp_path):
    work = tmp_path / "work"
    first = _start(tmp_path, "first.vcf.gz", "--num-shards", "2", "--intermediate-dir", str(work), region=PART)
    lock = work / ".dvcall.lock"
    _wait_for(lambda: lock.exists() and lock.read_text().strip(), first)
    second = _start(tmp_path, "second.vcf.gz", "--num-shards", "2", "--intermediate-dir", str(work), region=PART)
    code, lines = _finish(second)
    assert code == 1 and len(lines) == 1 and "is in use by another dvcall run (pid" in lines[0], lines
    assert str(first.pid) in lines[0] and first.poll() is None  # refused while the first still runs: it did not wait
    assert not (tmp_path / "second.vcf.gz").exists()
    # SIGKILL the first run (not its workers) in make_examples: its workers notice and stop by themselves
    _wait_for(lambda: _files(work, "calls-*.partial"), first)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()  # waits, and closes its pipes
    deadline = time.time() + 20
    while _group(first.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert _group(first.pid) == [], "orphaned workers kept running after their run was killed"
    (work / "calls-00000-of-00002.jsonl.gz.partial").write_text("left by a run killed outright")  # as a SIGKILLed run leaves
    from click.testing import CliRunner  # the rerun in-process: TensorFlow is loaded already

    from deepvariant_py.cli.main import main

    third = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(tmp_path / "third.vcf.gz"),
                                      "--regions", PART, "--num-shards", "2", "--intermediate-dir", str(work), "--quiet"])
    assert third.exit_code == 0, third.output
    assert not _files(work, "*.partial*"), "the rerun left temporary files behind"
    with gzip.open(tmp_path / "third.vcf.gz", "rt") as fh:
        assert sum(1 for line in fh if not line.startswith("#")) > 20

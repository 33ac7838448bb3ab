"""workers: child processes per job, CPUs from the affinity mask, errors and deaths reported, never a hang."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from deepvariant_py.errors import DvcallError, InputError
from deepvariant_py.workers import Terminated, run_jobs, usable_cpus


@pytest.fixture(autouse=True)
def importable_here(monkeypatch):
    """Workers import a job's function by name: make this test module importable in them."""
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise InputError("three is not allowed")
    return x


def die_on_two(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return x


def test_results_come_back_in_job_order(tmp_path):
    assert run_jobs(square, [1, 2, 3, 4, 5], 2, str(tmp_path)) == [1, 4, 9, 16, 25]
    assert os.listdir(tmp_path) == []  # job and result files removed


def test_a_workers_error_is_raised_with_its_label(tmp_path):
    with pytest.raises(DvcallError, match="^shard 3/4: three is not allowed$"):
        run_jobs(fail_on_three, [1, 2, 3, 4], 2, str(tmp_path), labels=[f"shard {i}/4" for i in range(1, 5)])
    assert os.listdir(tmp_path) == []


def disk_full(x: int) -> int:
    raise OSError(errno.ENOSPC, "No space left on device", "/somewhere/shard.tfrecord.gz")


def test_a_full_disk_in_a_worker_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(DvcallError, match="^job [12]/2: cannot write /somewhere/shard.tfrecord.gz: the disk is full"):
        run_jobs(disk_full, [1, 2], 2, str(tmp_path))


def test_a_killed_worker_is_an_error_not_a_hang(tmp_path):
    with pytest.raises(DvcallError, match="killed by signal 9: probably out of memory"):
        run_jobs(die_on_two, [1, 2, 3], 2, str(tmp_path))


def sigterm_swallowed_on_two(x: int) -> int:
    """SIGTERM arriving inside a library that catches everything and raises its own error, as parasail's
    import does when the signal lands while it loads its shared library."""
    if x == 2:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10 ** 6):  # the handler runs between bytecodes
                pass
        except BaseException:
            raise RuntimeError("failed to locate and open 'libparasail.so'") from None
    return x


def test_a_sigterm_that_a_library_turns_into_another_error_still_ends_the_worker_as_terminated(tmp_path, capfd):
    with pytest.raises(Terminated):
        run_jobs(sigterm_swallowed_on_two, [1, 2], 2, str(tmp_path))
    assert "Traceback" not in capfd.readouterr().err


def sigterm_while_a_child_starts(job: tuple) -> int:
    """SIGTERM landing while subprocess.Popen waits for its child's exec (as in the `uname -p` that h5py runs
    while TensorFlow is imported): the exception leaves Popen before it returns, so nobody holds the child to
    wait for it. Spelt out: a child started without a Popen object, then the signal."""
    x, pid_file = job
    if x == 2:
        child = os.posix_spawnp("sleep", ["sleep", "0.3"], os.environ)
        with open(pid_file, "w") as fh:
            fh.write(str(child))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises Terminated here
    return x


def test_a_terminated_worker_waits_for_a_child_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(Terminated):
        run_jobs(sigterm_while_a_child_starts, [(1, str(pid_file)), (2, str(pid_file))], 2, str(scratch))
    child = int(pid_file.read_text())
    try:
        state = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state == "gone", f"the worker's child {child} is left in state {state}"


def test_one_process_runs_the_jobs_here(tmp_path):
    assert run_jobs(square, [3], 4, str(tmp_path)) == [9]
    assert run_jobs(square, [1, 2], 1, str(tmp_path)) == [1, 4]


def test_usable_cpus_follow_the_affinity_mask():
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); from deepvariant_py.workers import usable_cpus; print(usable_cpus())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"

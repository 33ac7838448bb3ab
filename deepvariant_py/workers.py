"""Worker processes: as many as the CPUs this process may use, SIGTERM treated like Ctrl-C, nothing left behind.

`run_jobs` runs picklable jobs, each in a child Python process (workers._worker_main),
at most `processes` at a time. Plain child processes rather than multiprocessing.Pool: a pool hangs for
ever when a worker is killed (the OOM killer), leaves its semaphore tracker running after the parent exits,
and warns about leaked semaphores on SIGTERM. Here the parent notices every exit, passes a worker's
one-line error on, and on any failure or signal stops the other workers and waits for them, so a finished
`dvcall run`, successful or not, leaves no process of its own running.
"""
from __future__ import annotations

import errno
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from .errors import DvcallError
from .outputs import disk_error, is_disk_error

TERMINATED_EXIT = 143  # 128 + SIGTERM, what shells and schedulers expect
INTERRUPTED_EXIT = 130  # 128 + SIGINT
DISK_FULL_EXIT = 74  # EX_IOERR: a worker could not write its result file on a full disk


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's time limit, `kill`), raised like Ctrl-C so every cleanup path runs."""


_signalled = False
"""Set by the SIGTERM handler: a library that catches every exception (parasail's import does) can turn the
Terminated raised inside it into some other error, which must still end the process as terminated."""


def _raise_terminated(signum, frame):
    global _signalled
    _signalled = True
    # Raised in the middle of a library call, Terminated can leave a half-made object whose __del__ then fails
    # (parasail's Result without its pointer): Python would print that as "Exception ignored in ..." with a
    # traceback on the way out. The process is stopping on purpose, so such noise is dropped.
    sys.unraisablehook = lambda unraisable: None
    raise Terminated()


def handle_sigterm() -> None:
    """From now on SIGTERM raises Terminated in the main thread (temporary files are removed on the way out)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, SLURM, cgroup cpusets) and any cgroup CPU
    quota (docker --cpus, Kubernetes limits), not the machine's core count."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, quota) if quota else cpus)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


def _cgroup_quota() -> int | None:
    """CPUs allowed by a cgroup v2 (cpu.max: 'QUOTA PERIOD') or v1 (cfs_quota_us / cfs_period_us) quota."""
    readers = (lambda: _read("/sys/fs/cgroup/cpu.max").split()[:2],
               lambda: (_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")))
    for read in readers:
        try:
            quota, period = read()
            return None if quota in ("max", "-1") else max(1, math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    return None


# The worker imports this very copy of dvcall (not whatever `deepvariant_py` the current folder holds).
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_WORKER_START = ("import signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT}); "
                 "sys.path.insert(0, sys.argv[1]); from deepvariant_py.workers import _worker_main; "
                 "sys.exit(_worker_main(sys.argv[2]))")
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass
class _Running:
    index: int
    proc: subprocess.Popen
    job_file: str
    result_file: str


def run_jobs(func: Callable[[Any], Any], jobs: list, processes: int, scratch: str, labels: list[str] | None = None,
             tick: Callable[[], None] | None = None) -> list:
    """func(job) for every job, in at most `processes` child processes; results in job order. `func` must be a
    module-level function; job files go to `scratch` and are removed. A worker's DvcallError is raised here
    with its message; any failure or signal stops every other worker before this returns. `tick` is called
    while child processes run (e.g. progress.RunProgress)."""
    labels = labels or [f"job {i + 1}/{len(jobs)}" for i in range(len(jobs))]
    if processes <= 1 or len(jobs) <= 1:
        return [func(job) for job in jobs]
    results: list = [None] * len(jobs)
    pending = list(range(len(jobs)))
    running: list[_Running] = []
    try:
        while pending or running:
            while pending and len(running) < processes:
                _start(func, jobs, pending.pop(0), scratch, running)
            time.sleep(0.02)
            if tick is not None:
                tick()
            for r in [r for r in running if r.proc.poll() is not None]:
                running.remove(r)
                results[r.index] = _collect(r, labels[r.index])
    finally:
        _stop(running)
    return results


JOB_FILE_PREFIX = ".worker-"


def is_job_file(name: str) -> bool:
    """A worker's job or result file (removed when its worker is done; left only by a run killed outright)."""
    return name.startswith(JOB_FILE_PREFIX) and name.endswith(".pkl")


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _worker_env() -> dict:
    """The parent's environment with one BLAS thread per worker (unless the user set it): the workers already fill
    the CPUs, and a BLAS thread pool per worker on top (the model's products) would only oversubscribe them."""
    return {**os.environ, **{k: "1" for k in BLAS_THREADS if k not in os.environ}}


def _start(func, jobs: list, index: int, scratch: str, running: list[_Running]) -> None:
    """Start jobs[index] in a child process and add it to `running`."""
    base = os.path.join(scratch, f"{JOB_FILE_PREFIX}{os.getpid()}-{index:05d}")
    job_file, result_file = base + ".job.pkl", base + ".result.pkl"
    held = None
    try:
        with open(job_file, "wb") as fh:
            pickle.dump((func, jobs[index], result_file, os.getpid()), fh)
        # SIGTERM and SIGINT wait until the child is in `running`: raised inside Popen, they would leave a child
        # that nobody stops. The child starts with them blocked too and unblocks them first (_WORKER_START).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        proc = subprocess.Popen([sys.executable, "-c", _WORKER_START, _PACKAGE_PARENT, job_file],
                                stdin=subprocess.DEVNULL, env=_worker_env())
        running.append(_Running(index, proc, job_file, result_file))
    except BaseException:  # e.g. a full disk: no half-written job file left behind
        _remove(job_file)
        raise
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _collect(r: _Running, label: str):
    code = r.proc.returncode
    try:
        with open(r.result_file, "rb") as fh:
            ok, value = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError):
        ok, value = False, None
    finally:
        _remove(r.job_file, r.result_file)
    if code == 0 and ok:
        return value
    if code == TERMINATED_EXIT or code == -signal.SIGTERM:
        raise Terminated()
    if code == INTERRUPTED_EXIT or code == -signal.SIGINT:
        raise KeyboardInterrupt()
    if isinstance(value, str):
        raise DvcallError(f"{label}: {value}")
    if code == DISK_FULL_EXIT:  # the worker failed and the disk had no room left even for saying why
        # named by its folder (the run's work folder): the result file itself is the workers' own, not the user's
        raise DvcallError(f"{label}: {disk_error(os.path.dirname(r.result_file) or '.', OSError(errno.ENOSPC, 'No space left on device'))}")
    how = f"was killed by signal {-code}" if code < 0 else f"stopped with exit code {code}"
    hint = (": probably out of memory (the kernel's out-of-memory killer sends it; so does a kill -9): use fewer "
            "--num-shards or a smaller --max-reads-per-partition"
            if code == -signal.SIGKILL else "")
    raise DvcallError(f"{label} {how}{hint}")


def _stop(running: list[_Running], grace: float = 10.0) -> None:
    """SIGTERM every worker still running, wait for them to clean up (SIGKILL after `grace` s), remove job files."""
    for r in running:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for r in running:
        try:
            r.proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait()
        _remove(r.job_file, r.result_file)


def reap_children(timeout: float = 1.0) -> None:
    """Wait for this process's children that have exited or are exiting, at most `timeout` s for those still
    running. A signal that lands inside subprocess.run (h5py runs `uname -p` while TensorFlow is imported) kills
    the child but, for Ctrl-C and so for Terminated, does not wait for it: unreaped, it would outlive this process
    as a zombie in the run's process group until some init reaps it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children left
            return
        if pid == 0:  # some still running
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


def _remove(*paths: str) -> None:
    for p in paths:
        try:
            os.remove(p)
        except OSError:
            pass


def _die_with_parent(parent: int) -> None:
    """SIGTERM this worker when its parent dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG), so an orphan
    never keeps writing into a folder that a rerun is using."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's own cleanup still stops its workers
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        raise Terminated()


def _bug(exc: Exception) -> tuple[bool, str]:
    import traceback

    traceback.print_exc()
    return False, f"failed with {type(exc).__name__}: {exc} (a bug in dvcall: please report it with the traceback above)"


def _worker_main(job_file: str) -> int:
    """Run one job (_run_job), then wait for any child it left (reap_children) before the worker exits."""
    try:
        return _run_job(job_file)
    finally:
        reap_children()


def _run_job(job_file: str) -> int:
    """Run one job; write (True, result) or (False, one-line message); exit 143/130 quietly on a signal."""
    handle_sigterm()
    result_file = None
    try:
        with open(job_file, "rb") as fh:
            func, job, result_file, parent = pickle.load(fh)
        _die_with_parent(parent)
        outcome = (True, func(job))
    except Terminated:
        return TERMINATED_EXIT
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except Exception as exc:
        if _signalled:  # the SIGTERM surfaced as another error (swallowed and re-raised by a library)
            return TERMINATED_EXIT
        if isinstance(exc, DvcallError):
            outcome = (False, str(exc))
        elif is_disk_error(exc):  # a full disk or a read-only folder: the user's to fix, in one line
            outcome = (False, str(disk_error(exc.filename or "a temporary file", exc)))
        else:  # a bug: keep its traceback for the report, and the parent says one line
            outcome = _bug(exc)
    try:
        with open(result_file, "wb") as fh:
            pickle.dump(outcome, fh)
    except OSError as exc:  # no result file: the parent reports the exit code
        _remove(result_file)
        return DISK_FULL_EXIT if exc.errno in (errno.ENOSPC, errno.EDQUOT) else 1
    except TypeError:
        return 1
    return 0 if outcome[0] else 1


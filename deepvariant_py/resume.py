"""Completion markers: a finished step leaves `<output>.done.json` holding a fingerprint of its inputs and a
checksum of each file it wrote, so a re-run after a kill or a failure redoes only what is missing or stale."""
from __future__ import annotations

import hashlib
import json
import os
import time

from .checkpoint import checkpointed_files
from .errors import InputError
from .outputs import file_sha256, is_partial, write_json
from .workers import is_job_file

MARKER_SUFFIX = ".done.json"


def fingerprint(**inputs) -> str:
    """A stable digest of everything a step's output depends on (paths, sizes, options)."""
    text = json.dumps(inputs, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def file_identity(path: str) -> dict:
    """What identifies an input file cheaply: its absolute path, size and modification time."""
    st = os.stat(path)
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def completed(output: str, inputs_fingerprint: str) -> dict | None:
    """The `info` saved with the marker when `output` was made from these inputs and every file it lists is
    intact; None when the step must be (re)done."""
    try:
        with open(output + MARKER_SUFFIX) as fh:
            marker = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict):  # not a marker dvcall wrote: redo the step
        return None
    files = marker.get("files") or {}
    if marker.get("inputs") != inputs_fingerprint or not files:
        return None
    folder = os.path.dirname(os.path.abspath(output))
    try:  # names relative to the marker's folder (so the folder can move), or absolute (markers before that)
        intact = all(file_sha256(os.path.join(folder, p)) == digest for p, digest in files.items())
    except (OSError, TypeError):
        return None
    return marker.get("info", {}) if intact else None


def mark_done(output: str, inputs_fingerprint: str, files: list[str], info: dict | None = None) -> None:
    """Write the marker last, atomically, once every file of the step is complete. Files in the marker's folder
    are named relative to it, so a moved folder still resumes."""
    folder = os.path.dirname(os.path.abspath(output))

    def name(path: str) -> str:
        path = os.path.abspath(path)
        return os.path.relpath(path, folder) if os.path.dirname(path) == folder else path

    marker = {"inputs": inputs_fingerprint, "files": {name(p): file_sha256(p) for p in files}, "info": info or {}}
    write_json(output + MARKER_SUFFIX, marker, indent=1)


def clear(output: str) -> None:
    """Drop a stale marker before its step is redone, so a crash mid-step cannot leave it looking finished."""
    try:
        os.remove(output + MARKER_SUFFIX)
    except FileNotFoundError:
        pass


LOCK_FILE = ".dvcall.lock"


class DirectoryLock:
    """An exclusive lock on an intermediate folder, so two runs never write the same shards. The kernel drops
    it when the process ends, however it ends, so a rerun after a kill still resumes."""

    def __init__(self, folder: str, command: str | None = None, flag: str = "--intermediate-dir"):
        import fcntl

        self.path = os.path.join(folder, LOCK_FILE)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            raise InputError(f"{flag} {folder} is in use by another dvcall run ({holder}): wait for it to "
                             f"finish, or give this run its own {flag}") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: {command or 'dvcall'}\n".encode())

    def remove_leftovers(self) -> int:
        """Remove the temporary files (`*.partial*`, worker job files) that a run killed outright (SIGKILL, a
        node failure) left in the folder, except those a shard's checkpoint goes on from (checkpoint.py); safe
        only while this lock is held. Returns how many were removed."""
        folder, removed = os.path.dirname(self.path), 0
        for root, _dirs, files in os.walk(folder):
            resumable = checkpointed_files(root)
            for name in files:
                if (is_partial(name) or is_job_file(name)) and os.path.join(root, name) not in resumable:
                    try:
                        os.remove(os.path.join(root, name))
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "DirectoryLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def reuse_or_run(output: str, inputs_fingerprint: str, run, files: list[str]) -> tuple[dict, bool]:
    """The resume sequence of one step that writes `output` (and `files`): its saved info when an earlier run
    finished it from the same inputs, else clear the stale marker, `run()` (returns the step's info dict) and
    mark it done. With an empty fingerprint (not resumable) it just runs. Returns (info, reused)."""
    if inputs_fingerprint:
        done = completed(output, inputs_fingerprint)
        if done is not None:
            return done, True
        clear(output)
    info = run()
    if inputs_fingerprint:
        mark_done(output, inputs_fingerprint, files, info)
    return info, False

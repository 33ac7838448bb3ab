"""Progress lines for long runs: at most one every few seconds, with rate and ETA, on the 'dvcall' logger."""
from __future__ import annotations

import logging
import pickle
import sys
import time

from .outputs import atomic_output

log = logging.getLogger("dvcall")


class LogFormatter(logging.Formatter):
    """'dvcall: message' for progress, 'dvcall: warning: message' for what a user should read."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        return f"dvcall: {level}{record.getMessage()}"


def configure_logging(quiet: bool = False) -> None:
    """Log lines on stderr (once per process; a command's worker processes call it too)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, handlers=[handler])


def _eta(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    """Call with (done, total, **counts); logs when `every` seconds have passed, or a `share` of the time so far if
    that is longer (a 30-hour genome run writes a few hundred lines per shard, not ten thousand), and once at the end."""

    def __init__(self, label: str, unit: str = "partitions", every: float = 10.0, share: float = 0.02,
                 start: int = 0, start_counts: dict | None = None):
        """`start`, `start_counts`: what an earlier run had done already (a shard going on from its checkpoint),
        left out of the rate and the ETA."""
        self.label, self.unit, self.every, self.share = label, unit, every, share
        self.start, self.start_counts = start, dict(start_counts or {})
        self.t0 = self.last = time.time()

    def __call__(self, done: int, total: int, **counts: int) -> None:
        now = time.time()
        if now - self.last < max(self.every, self.share * (now - self.t0)) and done < total:
            return
        self.last = now
        elapsed = max(now - self.t0, 1e-9)
        eta = _eta(elapsed / (done - self.start) * (total - done)) if done > self.start else "?"
        extra = "".join(f", {v:,} {k}" for k, v in counts.items())
        made = counts.get("examples", 0) - self.start_counts.get("examples", 0)
        rate = f", {made / elapsed:.0f} examples/s" if "examples" in counts else ""
        log.info("%s: %d/%d %s%s%s, ETA %s", self.label, done, total, self.unit, extra, rate, eta)


class ProgressFile:
    """A worker's progress for its parent to add up (RunProgress): Progress's arguments, (done, total, counts),
    written to `path` (replaced whole) at most every `every` seconds, and at the end."""

    def __init__(self, path: str, every: float = 2.0, start: int = 0, start_counts: dict | None = None):
        """`start`, `start_counts`: as Progress's, passed on to the parent."""
        self.path, self.every, self.last = path, every, 0.0
        self.start, self.start_counts = start, dict(start_counts or {})

    def __call__(self, done: int, total: int, **counts: int) -> None:
        now = time.time()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        with atomic_output(self.path) as tmp, open(tmp, "wb") as fh:  # the parent reads a whole file or the last one
            pickle.dump((done, total, counts, self.start, self.start_counts), fh)


class RunProgress:
    """One line for shards running in worker processes (Progress's timing): their ProgressFiles added up, with
    the partitions of the shards not started yet, so the ETA is the whole run's. Call it while they run."""

    def __init__(self, label: str, paths: list[str], totals: list[int], every: float = 1.0):
        self.paths, self.totals, self.every, self.last = paths, totals, every, 0.0
        self.report = Progress(label)

    def __call__(self) -> None:
        now = time.time()
        if now - self.last < self.every:
            return
        self.last = now
        done, counts, start, start_counts, read = 0, {}, 0, {}, 0
        for path in self.paths:
            try:
                with open(path, "rb") as fh:
                    d, _, c, s, sc = pickle.load(fh)
            except (OSError, EOFError, pickle.UnpicklingError, ValueError):
                continue  # not started yet
            done, start, read = done + d, start + s, read + 1
            for k, v in c.items():
                counts[k] = counts.get(k, 0) + v
            for k, v in sc.items():
                start_counts[k] = start_counts.get(k, 0) + v
        if not read:  # no shard has said how far it is yet (one going on from a checkpoint would look at 0)
            return
        self.report.start, self.report.start_counts = start, start_counts  # shards going on from a checkpoint
        self.report(done, sum(self.totals), **counts)

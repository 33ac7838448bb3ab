"""Progress lines: every 10 s at first, then a share of the time so far, so a long run's log stays readable."""
from __future__ import annotations

import logging

from deepvariant_py import progress


def test_lines_thin_out_as_a_long_run_goes_on(monkeypatch, caplog):
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "time", lambda: clock[0])
    caplog.set_level(logging.INFO, logger="dvcall")
    report = progress.Progress("make_examples shard 1/2")
    total = 30 * 3600  # a 30-hour shard, one partition a second
    times = []
    for done in range(1, total + 1):
        clock[0] += 1.0
        before = len(caplog.records)
        report(done, total, candidates=done // 10, examples=done // 10)
        if len(caplog.records) > before:
            times.append(clock[0] - 1000.0)
    assert times[:3] == [10.0, 20.0, 30.0]  # the first minutes as before
    assert times[-1] == total and "108000/108000 partitions" in caplog.records[-1].getMessage()  # the end, always
    gaps = [b - a for a, b in zip(times, times[1:-1])]
    assert all(g >= max(10.0, 0.02 * a) for a, g in zip(times, gaps))
    assert len(times) < 400  # every 10 s would be 10,800 lines


def test_the_parent_adds_up_its_workers_progress(tmp_path, caplog):
    """Shards in worker processes write their progress to files; the parent logs one line for the whole run, with
    the partitions of the shards not started yet in its total (their ETA was each shard's own)."""
    caplog.set_level(logging.INFO, logger="dvcall")
    paths = [str(tmp_path / f"p{i}.pkl") for i in range(3)]
    progress.ProgressFile(paths[0])(100, 100, candidates=7, examples=9)  # finished
    progress.ProgressFile(paths[1])(40, 120, candidates=3, examples=3)  # running; the third has not started
    run = progress.RunProgress("make_examples (3 shards on 2 processes)", paths, [100, 120, 80])
    run.report.last = 0.0  # as if the first 10 s had passed
    run()
    assert caplog.records[-1].getMessage().startswith(
        "make_examples (3 shards on 2 processes): 140/300 partitions, 10 candidates, 12 examples, ")


def test_work_done_before_a_checkpoint_is_left_out_of_the_rate_and_eta(monkeypatch, caplog, tmp_path):
    """A shard going on from a checkpoint with 900 of 1000 partitions done: the ETA is the 100 left at this run's
    pace, not at a pace that counts the earlier run's 900 as done in the first seconds."""
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "time", lambda: clock[0])
    caplog.set_level(logging.INFO, logger="dvcall")
    report = progress.Progress("make_examples", start=900, start_counts={"examples": 5000})
    clock[0] += 50.0  # 50 partitions and 500 examples in 50 s
    report(950, 1000, examples=5500)
    assert caplog.records[-1].getMessage().endswith(", 10 examples/s, ETA 0m50s")
    # the same through a worker's progress file and the parent's line
    path = str(tmp_path / "p.pkl")
    progress.ProgressFile(path, start=900, start_counts={"examples": 5000})(950, 1000, examples=5500)
    run = progress.RunProgress("make_examples (2 shards on 2 processes)", [path], [1000, 1000])
    clock[0] += 50.0
    run.report.last = 0.0
    run()
    # 50 partitions in the parent's 50 s: the other shard's 1000 and this one's 50 left take 1050 s
    assert caplog.records[-1].getMessage().endswith("950/2000 partitions, 5,500 examples, 10 examples/s, ETA 17m30s")

"""Suite-wide set-up, before pytest-xdist starts its workers (they inherit this process's environment).

The suite starts a few hundred Python processes (Snakemake's jobs, `dvcall` subprocesses, each run's shard
workers). Where PYTHONDONTWRITEBYTECODE is set (common in containers, and set on the machine these numbers come from) none of them
may cache its compiled modules, so each compiles dvcall's sources again: 15-20 s of the suite's 3-minute budget on
2 cores (164 s with it, 143-149 s without, 2026-12-07). The tests let Python write its usual __pycache__ folders
(git ignores them); nothing the tests check depends on it.
"""
import os
import sys

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

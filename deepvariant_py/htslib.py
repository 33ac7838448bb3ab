"""htslib's own stderr lines ("[E::bgzf_read] ..."), silenced where dvcall explains the failure itself in one line."""
from __future__ import annotations

import contextlib
from typing import Iterator

import pysam


@contextlib.contextmanager
def quiet_htslib() -> Iterator[None]:
    saved = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(saved)

"""htslib's own stderr lines ("[E::bgzf_read] ..."), silenced where dvcall explains the failure itself in one line."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Callable, Iterator

import pysam


@contextlib.contextmanager
def quiet_htslib() -> Iterator[None]:
    saved = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(saved)


def htslib_error(action: Callable[[], object]) -> str | None:
    """Run `action` (which failed once with htslib silenced) again with htslib's messages on and the process's
    stderr captured: its last error line ("CIGAR and query sequence lengths differ for READ"), to put in ours."""
    sys.stderr.flush()
    saved_fd, saved = os.dup(2), pysam.set_verbosity(3)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                action()
            except Exception:
                pass
            finally:
                os.dup2(saved_fd, 2)
            captured.seek(0)
            lines = [line.strip() for line in captured.read().decode(errors="replace").splitlines() if line.startswith("[E::")]
    finally:
        os.close(saved_fd)
        pysam.set_verbosity(saved)
    return lines[-1].split("] ", 1)[-1] if lines else None

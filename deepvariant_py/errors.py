"""One exception family for every mistake a user can fix; the CLI prints its message as one line."""


class DvcallError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


class InputError(DvcallError):
    """An input file (reads, reference, VCF, BED, regions) is missing, malformed or inconsistent."""


class ModelError(DvcallError):
    """A model directory is missing, unreadable, or does not match the examples."""


class OutputError(DvcallError):
    """An output path cannot be written."""


class DependencyError(DvcallError):
    """An optional package that a requested feature needs is not installed."""

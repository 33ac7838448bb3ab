"""dvcall: a DeepVariant-style germline small-variant caller in Python."""

__version__ = "0.1.0"

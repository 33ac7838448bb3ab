"""Import TensorFlow/Keras lazily and quietly: their C++ start-up chatter is not the user's business."""
from __future__ import annotations

import os
import sys


def _quiet_import(name: str):
    if name in sys.modules:
        return sys.modules[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)  # absl logs before its own initialisation and ignores TF_CPP_MIN_LOG_LEVEL
        module = __import__(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return module


def tensorflow():
    return _quiet_import("tensorflow")


def keras():
    tensorflow()
    return _quiet_import("keras")

"""Import TensorFlow/Keras lazily and quietly: their C++ start-up chatter is not the user's business. They are
an optional install (`pip install 'dvcall[train]'`): calling and calibrating never import them (the shipped
networks run in NumPy, inference.py); training, ensembles and networks of another build do."""
from __future__ import annotations

import os
import sys

from .errors import DependencyError

INSTALL_HINT = "pip install 'dvcall[train]' (or, in a checkout, pip install '.[train]')"


def _quiet_import(name: str):
    if sys.modules.get(name) is not None:
        return sys.modules[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)  # absl logs before its own initialisation and ignores TF_CPP_MIN_LOG_LEVEL
        module = __import__(name)
    except ImportError as exc:
        if exc.name not in (name, name.split(".")[0]):  # installed, but something it needs is missing or broken
            raise DependencyError(f"{name} is installed but cannot be imported ({type(exc).__name__}: {exc}): reinstall "
                                  f"it, e.g. {INSTALL_HINT.split(' (')[0]} --force-reinstall") from None
        raise DependencyError(f"{'TensorFlow' if name == 'tensorflow' else 'Keras'} is not installed, and training, "
                              "ensembles and any network dvcall's own forward pass does not know need it (calling with "
                              f"the shipped models does not): {INSTALL_HINT}") from None
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

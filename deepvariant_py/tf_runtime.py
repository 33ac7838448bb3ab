"""Import TensorFlow/Keras lazily and quietly: their C++ start-up chatter is not the user's business. They are
an optional install (`pip install 'dvcall[train]'`): calling and calibrating never import them (the shipped
networks run in NumPy, inference.py); training, ensembles and networks of another build do."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys

from .errors import DependencyError

_import = importlib.import_module  # (a test stands in for it)

INSTALL_HINT = "pip install 'dvcall[train]' (in a checkout installed with -e: pip install -e '.[train]')" + (
    "; it needs Python 3.11 or newer (Keras 3.15, which the shipped networks were saved by)"
    if sys.version_info < (3, 11) else "")


def available() -> bool:
    """Whether TensorFlow and Keras are installed (found, not imported: that takes seconds)."""
    return all(sys.modules.get(n) is not None or (n not in sys.modules and importlib.util.find_spec(n) is not None)
               for n in ("tensorflow", "keras"))


def _quiet_import(name: str):
    if sys.modules.get(name) is not None:
        return sys.modules[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)  # absl logs before its own initialisation and ignores TF_CPP_MIN_LOG_LEVEL
        module = _import(name)
    except ImportError as exc:
        if exc.name not in (name, name.split(".")[0]):  # installed, but something it needs is missing or broken
            raise _broken(name, exc) from None
        raise DependencyError(f"{'TensorFlow' if name == 'tensorflow' else 'Keras'} is not installed, and training, "
                              "ensembles and any network dvcall's own forward pass does not know need it (calling with "
                              f"the shipped models does not): {INSTALL_HINT}") from None
    except Exception as exc:  # a half-working install (protobuf or CUDA libraries of another version)
        raise _broken(name, exc) from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return module


def _broken(name: str, exc: Exception) -> DependencyError:
    """The one line for a module that is installed but fails to import: reinstall that distribution alone (naming
    dvcall would make pip fetch it from the index over a checkout's install)."""
    try:
        dists = importlib.metadata.packages_distributions().get(name) or [name]
    except Exception:  # an odd environment's metadata: name the module
        dists = [name]
    return DependencyError(f"{name} is installed but fails to import ({type(exc).__name__}: {exc}): reinstall it, "
                           f"e.g. pip install --force-reinstall --no-deps {' '.join(sorted(set(dists)))}")


def tensorflow():
    return _quiet_import("tensorflow")


def keras():
    tensorflow()
    return _quiet_import("keras")

"""dvcall's code as one digest, which the workflow gives every rule as a param: Snakemake reruns a job whose params
changed, but it cannot see a library's code, so without it a dvcall upgrade (or an edit of a git checkout) that
changes the calls would leave every finished sample as the old code called it.

Every stage can import most of dvcall (presets, settings and the record formats are shared), so the digest is of
all of it, not of one stage: any change reruns every job. Each module counts as parsed: comments, docstrings and
layout do not count; another Python minor version parses the same code to another tree (and already reruns the
jobs, through their installed paths)."""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os

PACKAGES = ("deepvariant_py", "deepvariant_py.cli")
"""dvcall's code (the click commands install as deepvariant_py.cli, from the checkout's cli/ folder)."""


def code_files() -> dict[str, str]:
    """Every Python source file of dvcall's packages, by its name inside them ("deepvariant_py.cli:main.py", the same
    from an editable install as from a wheel), in that order; deepvariant_py.cli is found without importing it."""
    roots = {}
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"cannot find dvcall's package {name!r}: is dvcall installed?")
        roots[os.path.realpath(list(spec.submodule_search_locations)[0])] = name
    files = {}
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in names:
                path = os.path.realpath(os.path.join(folder, name))
                own = max((r for r in roots if path.startswith(r + os.sep)), key=len)  # cli files: deepvariant_py.cli's
                if name.endswith(".py"):
                    files[f"{roots[own]}:{os.path.relpath(path, own)}"] = path
    return dict(sorted(files.items()))


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def source_digest(source: str) -> str:
    """One module's code as parsed, without comments, docstrings or layout."""
    return hashlib.sha256(ast.dump(_without_docstrings(ast.parse(source))).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """A digest (16 hex digits) of the code of the installed dvcall: changes when any module changes in more than
    comments, docstrings or layout (a module added or removed too)."""
    parts = []
    for name, path in code_files().items():
        with open(path, encoding="utf-8") as fh:
            parts.append(f"{name}\0{source_digest(fh.read())}\0")
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]

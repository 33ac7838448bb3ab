"""The code the workflow's jobs run, as one digest, which the workflow gives every rule as a param: Snakemake reruns a
job whose params changed, but it cannot see a library's code, so without it a dvcall upgrade (or an edit of a git
checkout) that changes the calls would leave every finished sample as the old code called it.

The code is every module of dvcall that the job commands (make-examples, call-variants, postprocess, haplotag) can
import, found statically from their cli modules (imports inside functions too, so a lazily imported module counts):
58 of dvcall's 77 modules today. Each command reaches most of them (presets, settings and the record formats are
shared), so one digest serves every rule: a change there reruns every job, a change elsewhere (eval, report,
training, `dvcall run`'s own pipeline) none. Each module counts as parsed: comments, docstrings and layout do not
count; another Python minor version parses the same code to another tree, so it reruns the jobs too."""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os

import deepvariant_py

JOB_COMMANDS = ("make_examples", "call_variants", "postprocess", "haplotag")
"""The dvcall commands the Snakefile's rules run."""

LIBRARY, COMMANDS = "deepvariant_py", "deepvariant_py.cli"


def package_folders() -> dict[str, str]:
    """{package: folder} of the dvcall this Python imports: the library, and its click commands, which a wheel
    installs inside it (deepvariant_py/cli) and a checkout keeps beside it (cli/, which an editable install maps to
    deepvariant_py.cli), so the commands are those of the library's own checkout or install."""
    library = os.path.dirname(os.path.abspath(deepvariant_py.__file__))
    for commands in (os.path.join(library, "cli"), os.path.join(os.path.dirname(library), "cli")):
        if os.path.isfile(os.path.join(commands, "entry.py")):
            return {LIBRARY: library, COMMANDS: commands}
    spec = importlib.util.find_spec(COMMANDS)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"cannot find dvcall's commands ({COMMANDS}) beside {library}: reinstall dvcall")
    return {LIBRARY: library, COMMANDS: list(spec.submodule_search_locations)[0]}


def _package_of(module: str, folders: dict[str, str]) -> str | None:
    """The innermost of dvcall's packages `module` is in (deepvariant_py.cli.x is in the commands' folder)."""
    inside = [name for name in folders if module == name or module.startswith(name + ".")]
    return max(inside, key=len) if inside else None


def module_file(module: str, folders: dict[str, str]) -> str | None:
    """The source file of one of dvcall's modules (a package's __init__.py), or None when there is none (a name
    imported from a module, or another project's module)."""
    package = _package_of(module, folders)
    if package is None:
        return None
    base = os.path.join(folders[package], *module[len(package):].split(".")[1:])
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The modules `tree` (the source of `module`) imports anywhere in it, relative imports resolved; for `from X
    import a`, both X and X.a (a may be a submodule); with each its parent packages, which import first."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{node.module}" if node.module else parent
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    parents = set()
    for name in names:
        parts = name.split(".")
        parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return parents


def _parse(path: str) -> ast.AST:
    with open(path, encoding="utf-8") as fh:
        return ast.parse(fh.read(), filename=path)  # a SyntaxError names the file


def job_modules(commands=JOB_COMMANDS, folders: dict[str, str] | None = None) -> dict[str, str]:
    """{module: source file} of every dvcall module the commands can import, by module name (the same from a
    checkout as from a wheel), sorted."""
    folders = folders or package_folders()
    found: dict[str, str] = {}
    todo = [f"{COMMANDS}.{command}" for command in commands]
    while todo:
        module = todo.pop()
        if module in found or (path := module_file(module, folders)) is None:
            continue
        found[module] = path
        todo.extend(name for name in imported_modules(_parse(path), module, path.endswith("__init__.py"))
                    if name not in found and _package_of(name, folders))
    missing = [c for c in commands if f"{COMMANDS}.{c}" not in found]
    if missing:
        raise RuntimeError(f"dvcall's commands in {folders[COMMANDS]} lack {', '.join(missing)}: reinstall dvcall")
    return dict(sorted(found.items()))


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def source_digest(source: str, filename: str = "<source>") -> str:
    """One module's code as parsed, without comments, docstrings or layout."""
    return hashlib.sha256(ast.dump(_without_docstrings(ast.parse(source, filename=filename))).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """A digest (16 hex digits) of the code the workflow's jobs run (job_modules): changes when one of those modules
    changes in more than comments, docstrings or layout, or one is added to or dropped from what they import."""
    parts = []
    for module, path in job_modules().items():
        with open(path, encoding="utf-8") as fh:
            parts.append(f"{module}\0{source_digest(fh.read(), path)}\0")
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]

"""The code the workflow's jobs run, as one digest, which the workflow gives every rule as a param: Snakemake reruns a
job whose params changed, but it cannot see a library's code, so without it a dvcall upgrade (or an edit of a git
checkout) that changes the calls would leave every finished sample as the old code called it.

The code is every module of dvcall that the workflow's job commands (make-examples, call-variants, postprocess, haplotag) can
import, found statically from their cli modules (imports inside functions too, so a lazily imported module counts).
Each command reaches most of them (presets, settings, the record formats and the networks are shared), so one digest
serves every rule: a change there reruns every job, a change elsewhere (eval, report, the training loop, `dvcall
run`'s own pipeline) none. Each module counts as parsed: comments, string statements (docstrings, the strings that
document constants) and layout do not count, nor does `__version__` (a release that changes no job's code reruns
nothing). The Python minor version counts (its parser's trees differ), so another one reruns every job."""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import sys

import deepvariant_py

JOB_COMMANDS = ("make_examples", "call_variants", "postprocess", "haplotag")
"""The dvcall commands the Snakefile's rules run."""

LIBRARY, COMMANDS = "deepvariant_py", "deepvariant_py.cli"


def package_folders() -> dict[str, str]:
    """{package: folder} of the dvcall this Python imports: the library, and its click commands where Python finds
    deepvariant_py.cli (a wheel installs them inside the library, an editable install maps them to its checkout's
    cli/), which is what the jobs' `dvcall` runs; without an install, the cli/ beside the library (a checkout)."""
    library = os.path.dirname(os.path.abspath(deepvariant_py.__file__))
    spec = importlib.util.find_spec(COMMANDS)
    if spec is not None and spec.submodule_search_locations:
        return {LIBRARY: library, COMMANDS: list(spec.submodule_search_locations)[0]}
    beside = os.path.join(os.path.dirname(library), "cli")
    if os.path.isfile(os.path.join(beside, "entry.py")):
        return {LIBRARY: library, COMMANDS: beside}
    raise RuntimeError(f"cannot find dvcall's commands ({COMMANDS}) for {library}: reinstall dvcall")


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
    return {module: path for module, (path, _tree) in _job_trees(commands, folders).items()}


def _job_trees(commands, folders: dict[str, str] | None = None) -> dict[str, tuple[str, ast.AST]]:
    """job_modules with each module's parsed tree (read once: the digest dumps the trees the imports came from)."""
    folders = folders or package_folders()
    found: dict[str, tuple[str, ast.AST]] = {}
    todo = [f"{COMMANDS}.{command}" for command in commands]
    while todo:
        module = todo.pop()
        if module in found or (path := module_file(module, folders)) is None:
            continue
        found[module] = (path, tree := _parse(path))
        todo.extend(name for name in imported_modules(tree, module, path.endswith("__init__.py"))
                    if name not in found and _package_of(name, folders))
    missing = [c for c in commands if f"{COMMANDS}.{c}" not in found]
    if missing:
        raise RuntimeError(f"dvcall's commands in {folders[COMMANDS]} lack {', '.join(missing)}: reinstall dvcall")
    return dict(sorted(found.items()))


class _WithoutStrings(ast.NodeTransformer):
    """Drops every statement that is a bare string (a docstring, or the string documenting a constant: it does
    nothing) and the assignment of `__version__`; the tree is only dumped, so a body left empty needs no `pass`."""

    def visit_Expr(self, node: ast.Expr):
        return None if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) else node

    def visit_Assign(self, node: ast.Assign):
        node.targets = [t for t in node.targets if not (isinstance(t, ast.Name) and t.id == "__version__")]
        return node if node.targets else None


def source_digest(source: str, filename: str = "<source>") -> str:
    """One module's code as parsed, without comments, string statements, `__version__` or layout."""
    return _tree_digest(ast.parse(source, filename=filename))


def _tree_digest(tree: ast.AST) -> str:
    return hashlib.sha256(ast.dump(_WithoutStrings().visit(tree)).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest(commands: tuple[str, ...] = JOB_COMMANDS) -> str:
    """A digest (16 hex digits) of the code the commands run (job_modules; by default the workflow's jobs) and of
    the Python minor version: changes when one of those modules changes in more than comments, string statements or
    layout, or one is added to or dropped from what they import. `dvcall run --intermediate-dir` fingerprints its
    finished shards with code_digest(("run",)), so a resume redoes them when the code changed, as the workflow does."""
    parts = [f"python {sys.version_info[0]}.{sys.version_info[1]}\0"]  # ast.dump's trees differ between versions
    for module, (_path, tree) in _job_trees(commands).items():
        parts.append(f"{module}\0{_tree_digest(tree)}\0")
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]

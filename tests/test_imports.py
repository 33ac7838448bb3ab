"""The shape of the package: no import cycle inside deepvariant_py, the library never imports cli/, and
make_examples never loads the model (its workers must stay TensorFlow-free and light)."""
from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "deepvariant_py")


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _imports(path: str, module: str, top_level_only: bool) -> set[str]:
    """Modules of this repository that `module` imports (function-level imports too unless top_level_only)."""
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] + [target]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in ("deepvariant_py", "cli"))
    return found


def _graph(top_level_only: bool = False) -> dict[str, set[str]]:
    files = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                files[_module_name(path)] = path
    graph = {}
    for module, path in files.items():
        graph[module] = {m for m in _imports(path, module, top_level_only) if m in files and m != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_the_package():
    graph = _graph()
    assert len(graph) > 30 and "deepvariant_py.images" in graph["deepvariant_py.make_examples"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_a_cycle_is_found_when_there_is_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_library_never_imports_the_cli():
    """cli/ installs as deepvariant_py.cli; no library module imports it (by either name)."""
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                imported = _imports(path, _module_name(path), False)
                assert not any(m.split(".")[0] == "cli" or m.startswith("deepvariant_py.cli") for m in imported), path


def test_make_examples_never_loads_the_model():
    graph, seen, todo = _graph(top_level_only=True), set(), ["deepvariant_py.make_examples"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    assert "deepvariant_py.model" not in seen and "deepvariant_py.call_variants" not in seen, sorted(seen)


def test_every_design_reference_resolves():
    import re

    design = open(os.path.join(ROOT, "docs", "design.md")).read()
    sections = set(re.findall(r"^#+ §(\d+(?:\.\d+)?) ", design, re.M))
    assert {"0", "1", "4", "9.3", "10"} <= sections
    cited = {}
    for folder in ("deepvariant_py", "cli", "tests", "docs", "scripts", "benchmarks", "models"):
        for base, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if name.endswith((".py", ".md")) and name != "test_imports.py":
                    text = open(os.path.join(base, name)).read()
                    assert "DESIGN §" not in text and "DESIGN.md" not in text, f"{name}: cite docs/design.md"
                    for ref in re.findall(r"design\.md §(\d+(?:\.\d+)?)", text):
                        cited.setdefault(ref, name)
    readme = open(os.path.join(ROOT, "README.md")).read()
    cited.update({ref: "README.md" for ref in re.findall(r"design\.md §(\d+(?:\.\d+)?)", readme)})
    assert len(cited) > 10
    missing = {ref: where for ref, where in cited.items() if ref not in sections}
    assert not missing, f"references to sections docs/design.md does not have: {missing}"


def test_each_io_utility_exists_once():
    """One atomic write (outputs.AtomicFile), one JSON file writer (outputs.write_json, atomic), one writable
    check (outputs), one htslib-verbosity switch (htslib.quiet_htslib), one contig-length table
    (reference.contig_lengths), one streaming file hash (outputs.hash_bytes)."""
    import re

    home = {r"os\.replace\(": "outputs.py", r"os\.access\(": "outputs.py", r"set_verbosity\(": "htslib.py",
            r"\.references, \w+\.lengths": "reference.py", r"hashlib\.sha256\(\)": "outputs.py",
            r"json\.dump\(": "outputs.py"}
    found: dict[str, set[str]] = {pattern: set() for pattern in home}
    for folder in ("deepvariant_py", "cli"):
        for base, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if name.endswith(".py"):
                    text = open(os.path.join(base, name)).read()
                    for pattern in home:
                        if re.search(pattern, text):
                            found[pattern].add(name)
    assert {p: sorted(files) for p, files in found.items()} == {p: [f] for p, f in home.items()}


def test_declared_dependencies_are_the_imported_ones():
    """pyproject.toml declares every third-party module the package imports, and imports every one it declares
    (TensorFlow and Keras in the train extra, not in the plain install: calling never imports them)."""
    import re
    import sys

    distribution = {"google_crc32c": "google-crc32c", "tensorflow": "tensorflow-cpu", "snakemake": "snakemake", "yaml": "pyyaml"}
    imported = set()
    for folder in ("deepvariant_py", "cli"):
        for base, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if not name.endswith(".py"):
                    continue
                for node in ast.walk(ast.parse(open(os.path.join(base, name)).read())):
                    if isinstance(node, ast.Import):
                        imported.update(a.name.split(".")[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                        imported.add(node.module.split(".")[0])
                    elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                        # lazy imports: tf_runtime's _quiet_import("keras"), find_spec("whatshap") for `python -m whatshap`
                        if getattr(node.func, "id", getattr(node.func, "attr", "")) in ("_quiet_import", "find_spec"):
                            imported.add(str(node.args[0].value).split(".")[0])
    third_party = {m for m in imported - set(sys.stdlib_module_names) - {"deepvariant_py", "cli", "dvcall_models", "__future__"}}
    pyproject = open(os.path.join(ROOT, "pyproject.toml")).read()
    main = pyproject[pyproject.index("dependencies = ["):pyproject.index("[project.optional-dependencies]")]
    phasing = re.search(r"^phasing = \[(.*)\]", pyproject, re.M).group(1)
    train = re.search(r"^train = \[(.*?)^\]", pyproject, re.M | re.S).group(1)  # TensorFlow, Keras: optional
    declared = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in re.findall(r'"([^"]+)"', main + phasing + train)}
    declared.discard("tensorflow")  # the non-x86_64 spelling of tensorflow-cpu
    assert {"tensorflow-cpu", "keras", "pysam", "whatshap"} <= declared
    assert not re.search(r'"(tensorflow|keras)', main)  # a plain install stays without them
    assert {distribution.get(m, m).lower() for m in third_party} - {"snakemake"} == declared, (third_party, declared)

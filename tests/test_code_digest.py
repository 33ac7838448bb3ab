"""The workflow's `code` param: a digest of dvcall's code that changes with what the code does, not its comments."""
from __future__ import annotations

import os

import pytest

from deepvariant_py.workflow import snakefile_path
from deepvariant_py.code_digest import code_digest, job_modules, source_digest

SOURCE = '''"""A module."""
X = 1  # one


def f(a):
    """Doubles."""
    return 2 * a
'''


def test_comments_docstrings_and_layout_do_not_change_a_modules_digest():
    same = SOURCE.replace("# one", "# uno").replace('"""Doubles."""', '"""Twice a."""').replace("2 * a", "2*a")
    assert source_digest(same) == source_digest(SOURCE)
    assert source_digest(SOURCE.replace('"""A module."""\n', "")) == source_digest(SOURCE)
    # review44: the string under a constant documents it too, and a release number alone changes no job
    documented = SOURCE.replace("X = 1  # one\n", 'X = 1\n"""What X is."""\n__version__ = "0.1.0"\n')
    assert source_digest(documented.replace("What X is.", "What X is, reworded.").replace("0.1.0", "0.2.0")) == \
        source_digest(documented)


def test_code_that_does_something_else_changes_it():
    for edit in (SOURCE.replace("X = 1", "X = 2"), SOURCE.replace("2 * a", "3 * a"), SOURCE + "Y = 0\n",
                 SOURCE.replace('"""Doubles."""', '"""Doubles."""\n    a = a + 1')):
        assert source_digest(edit) != source_digest(SOURCE)


def test_the_digest_covers_what_the_job_commands_import_and_nothing_else():
    modules = job_modules()
    for expected in ("deepvariant_py.cli.make_examples", "deepvariant_py.cli.haplotag", "deepvariant_py.postprocess",
                     "deepvariant_py.realigner.debruijn", "deepvariant_py.inference", "deepvariant_py.cli.common"):
        assert expected in modules and os.path.isfile(modules[expected]), expected
    for outside in ("deepvariant_py.evaluate", "deepvariant_py.cli.evaluate", "deepvariant_py.train", "deepvariant_py.report"):
        assert outside not in modules, outside  # an upgrade that changes only these reruns no job
    assert list(modules) == sorted(modules) and len(code_digest()) == 16 and code_digest() == code_digest()


def test_imports_are_followed_statically_lazy_and_relative_ones_too_and_stray_files_are_not_read(tmp_path):
    lib, commands = tmp_path / "deepvariant_py", tmp_path / "cli"
    files = {
        commands / "__init__.py": "",
        commands / "make_examples.py": "from deepvariant_py.a import f\nfrom .common import x\n",
        commands / "common.py": "def g():\n    from deepvariant_py import b  # lazily\n",
        commands / "evaluate.py": "from deepvariant_py import c\n",
        lib / "__init__.py": "", lib / "a.py": "from . import sub\nimport numpy\n", lib / "b.py": "", lib / "c.py": "",
        lib / "sub" / "__init__.py": "from .s import t\n", lib / "sub" / "s.py": "", lib / "sub" / "unused.py": "",
        lib / "scratch.py": "def (:\n",  # a syntax error nothing imports: never read
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.symlink("root@host.1:1", lib / ".#a.py")  # an editor's lock file: a dangling link
    folders = {"deepvariant_py": str(lib), "deepvariant_py.cli": str(commands)}
    assert list(job_modules(("make_examples",), folders)) == [
        "deepvariant_py", "deepvariant_py.a", "deepvariant_py.b", "deepvariant_py.cli", "deepvariant_py.cli.common",
        "deepvariant_py.cli.make_examples", "deepvariant_py.sub", "deepvariant_py.sub.s"]
    (lib / "b.py").write_text("def (:\n")
    with pytest.raises(SyntaxError, match="b.py"):  # a module it reads names itself when broken
        job_modules(("make_examples",), folders)
    with pytest.raises(RuntimeError, match="lack report"):
        job_modules(("report",), folders)


def test_the_commands_are_those_python_imports(tmp_path, monkeypatch):
    """review44: the digest must cover the cli/ that the jobs' `dvcall` runs, i.e. the one Python imports; without
    an install, the checkout's cli/ beside the library."""
    import types

    import deepvariant_py.cli
    from deepvariant_py import code_digest as module

    assert module.package_folders()["deepvariant_py.cli"] == list(deepvariant_py.cli.__path__)[0]
    (tmp_path / "deepvariant_py").mkdir()
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "entry.py").write_text("")
    monkeypatch.setattr(module, "deepvariant_py", types.SimpleNamespace(__file__=str(tmp_path / "deepvariant_py" / "__init__.py")))
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
    assert module.package_folders() == {"deepvariant_py": str(tmp_path / "deepvariant_py"),
                                        "deepvariant_py.cli": str(tmp_path / "cli")}
    (tmp_path / "cli" / "entry.py").unlink()
    with pytest.raises(RuntimeError, match="cannot find dvcall's commands"):
        module.package_folders()


def test_job_commands_are_the_commands_the_snakefile_runs():
    import re

    from deepvariant_py.code_digest import JOB_COMMANDS

    with open(snakefile_path()) as fh:
        run = {c.replace("-", "_") for c in re.findall(r'"dvcall ([a-z][a-z-]+)', fh.read())}  # the rules' shell strings
    assert run == set(JOB_COMMANDS)


def test_every_rule_of_the_workflow_gets_the_code_param():
    with open(snakefile_path()) as fh:
        text = fh.read()
    rules = text.count("\nrule ") - 1  # `all` runs nothing
    assert rules >= 5 and text.count("        code=CODE,\n") == rules

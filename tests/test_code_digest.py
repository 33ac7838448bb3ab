"""The workflow's `code` param: a digest of dvcall's code that changes with what the code does, not its comments."""
from __future__ import annotations

import os

from deepvariant_py.workflow import snakefile_path
from deepvariant_py.workflow.code_digest import code_digest, code_files, source_digest

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


def test_code_that_does_something_else_changes_it():
    for edit in (SOURCE.replace("X = 1", "X = 2"), SOURCE.replace("2 * a", "3 * a"), SOURCE + "Y = 0\n",
                 SOURCE.replace('"""Doubles."""', '"""Doubles."""\n    a = a + 1')):
        assert source_digest(edit) != source_digest(SOURCE)


def test_the_digest_covers_the_commands_the_library_and_its_subpackages():
    files = code_files()
    for expected in ("deepvariant_py.cli:make_examples.py", "deepvariant_py:postprocess.py",
                     f"deepvariant_py:realigner{os.sep}debruijn.py", f"deepvariant_py:workflow{os.sep}code_digest.py"):
        assert expected in files and os.path.isfile(files[expected]), expected
    assert not any("__pycache__" in p for p in files.values()) and list(files) == sorted(files)
    assert len(code_digest()) == 16 and code_digest() == code_digest()


def test_every_rule_of_the_workflow_gets_the_code_param():
    with open(snakefile_path()) as fh:
        text = fh.read()
    rules = text.count("\nrule ") - 1  # `all` runs nothing
    assert rules >= 5 and text.count("        code=CODE,\n") == rules

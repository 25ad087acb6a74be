"""The Korean guides (`docs/ko/`, `README.ko.md`) name only things that exist, and their examples run.

Convention: a reference in backticks is a file (`keras_transformer/masks.py`), a
symbol in a file (`keras_transformer/ops.py:scaled_dot_product_attention`, or
`Class.method`) or a test (`tests/test_ops.py::test_name`), each relative to the
repository root. Every ```python block runs like README.md's (see
tests/test_readme.py): in a fresh namespace, from the repository root, its
output equal to the ```text block after it. The guides are written for the
default backend: their printed numbers (random initial weights, seeded) are
TensorFlow's, so other backends run every block and compare only there.
"""

from __future__ import annotations

import ast
import contextlib
import io
import pathlib
import re

import keras
import matplotlib
import pytest

from tests.test_readme import output_lines, python_blocks

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDES = sorted((ROOT / "docs" / "ko").glob("*.md")) + [ROOT / "README.ko.md"]
CHAPTER_GUIDES = [
    "01_attention", "02_positional_encoding", "03_translation", "04_gpt",
    "05_bert", "06_bert_family", "07_efficient_attention",
]
_REFERENCE = re.compile(
    r"`((?:[\w-]+/)*[\w.-]+\.(?:py|md|ipynb|toml|ini|txt|json|png))(?:(::?)([\w.]+))?`"
)


def references(text: str) -> list[tuple[str, str, str]]:
    """`(path, separator, name)` for each backticked file, symbol or test reference in `text`."""
    return [m.groups(default="") for m in _REFERENCE.finditer(text)]


def defined_names(path: pathlib.Path) -> set[str]:
    """Top-level functions and classes of a Python file, and `Class.method` for their methods."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}.{item.name}" for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    return names


def _relative(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_chapter_has_a_guide_a_notebook_and_exercises():
    """Each of the seven chapters has a Korean guide, a notebook, exercises and their solutions."""
    missing = [
        name for chapter in CHAPTER_GUIDES
        for name in (f"docs/ko/{chapter}.md", f"notebooks/{chapter}.ipynb",
                     f"exercises/ch{chapter[:2]}.py", f"exercises/solutions/ch{chapter[:2]}.py",
                     f"exercises/test_ch{chapter[:2]}.py")
        if not (ROOT / name).is_file()
    ]
    assert (ROOT / "docs/ko/index.md").is_file() and not missing, missing


def test_reference_pattern_reads_files_symbols_and_tests():
    """The reference pattern tells a file, a symbol in a file and a test apart, and skips plain words."""
    text = "`a/b.py` `a/b.py:f` `tests/t.py::test_x` `C.m` `x = 1` `a/b.py:K.m`"
    assert references(text) == [
        ("a/b.py", "", ""), ("a/b.py", ":", "f"), ("tests/t.py", "::", "test_x"), ("a/b.py", ":", "K.m"),
    ]


@pytest.mark.parametrize("guide", GUIDES, ids=_relative)
def test_guide_references_exist(guide):
    """Every file, symbol and test a Korean guide names exists in the repository."""
    broken = []
    for path, separator, name in references(guide.read_text(encoding="utf-8")):
        target = ROOT / path
        if not target.is_file():
            broken.append(path)
        elif separator and name not in defined_names(target):
            broken.append(f"{path}{separator}{name}")
        elif separator == "::" and not name.startswith("test"):
            broken.append(f"{path}::{name} (not a test)")
    assert not broken, f"{_relative(guide)} names what does not exist: {broken}"


_BLOCKS = [
    (guide, index) for guide in GUIDES
    for index in range(len(python_blocks(guide.read_text(encoding="utf-8"))))
]


@pytest.mark.parametrize("guide, index", _BLOCKS, ids=[f"{_relative(g)}-{i}" for g, i in _BLOCKS])
def test_guide_block_runs_and_prints_what_it_says(guide, index, monkeypatch):
    """A Korean guide's Python block runs as written and, on TensorFlow, prints its ```text block exactly."""
    code, expected = python_blocks(guide.read_text(encoding="utf-8"))[index]
    monkeypatch.chdir(ROOT)
    matplotlib.use("Agg")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, f"{_relative(guide)} python block {index}", "exec"), {"__name__": "__guide__"})
    if expected is not None and keras.backend.backend() == "tensorflow":
        assert output_lines(output.getvalue()) == output_lines(expected)

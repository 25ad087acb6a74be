"""README.md's Python examples run as written and print what the README says.

Convention: every ```python block of README.md is run on its own, in a fresh
namespace, from the repository root. When the next fenced block after it is a
```text block (only prose, such as "It prints:", may stand between them),
that block is the expected standard output, compared line by line after
stripping trailing whitespace; a ```python block without one must run
without error.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[str, str | None]]:
    """`(code, expected output or None)` for each ```python block of `text`."""
    fences = [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]
    blocks = []
    for i, (language, body) in enumerate(fences):
        if language != "python":
            continue
        following = fences[i + 1] if i + 1 < len(fences) else None
        expected = following[1] if following and following[0] == "text" else None
        blocks.append((body, expected))
    return blocks


def output_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def test_readme_has_python_examples():
    """README.md holds at least one Python example, and each one has an expected output."""
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert blocks
    assert all(expected is not None for _, expected in blocks)


def test_block_extraction_pairs_code_with_output():
    """A ```python block is paired with the ```text block that follows it, and only that one."""
    text = "```python\nprint(1)\n```\nIt prints:\n```text\n1\n```\n```bash\nls\n```\n```python\nx = 2\n```\n"
    assert python_blocks(text) == [("print(1)\n", "1\n"), ("x = 2\n", None)]


@pytest.mark.parametrize(
    "index", range(len(python_blocks(README.read_text(encoding="utf-8"))))
)
def test_readme_block_runs_and_prints_what_readme_says(index, monkeypatch):
    """README's Python block `index` runs as written and prints its ```text block exactly."""
    code, expected = python_blocks(README.read_text(encoding="utf-8"))[index]
    monkeypatch.chdir(README.parent)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    if expected is not None:
        assert output_lines(output.getvalue()) == output_lines(expected)

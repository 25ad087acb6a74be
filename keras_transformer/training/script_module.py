"""A script file, such as a chapter, imported as a module without running it."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import types


def load_script(path: str | os.PathLike) -> types.ModuleType:
    """The script at `path` as a module named `chapter_<file stem>`; its `__main__` block does not run.

    A chapter script cannot be imported by name (its name starts with a
    digit and `chapters/` is no package), yet tests and benchmarks want its
    presets and classes. The module is registered in `sys.modules`, where
    dataclasses look their module up; naming it after the whole file stem
    keeps `05_bert_cola.py` and `05_bert_pretraining.py` apart.

    Example:
    >>> import tempfile
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "01_demo.py"
    >>> _ = script.write_text("ANSWER = 42\\nif __name__ == '__main__':\\n    raise SystemExit(1)\\n")
    >>> load_script(script).ANSWER
    42
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} is not a script file.")
    spec = importlib.util.spec_from_file_location(f"chapter_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

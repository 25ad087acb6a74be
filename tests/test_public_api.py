"""The package builds on Keras's public API only."""

from __future__ import annotations

import ast
import pathlib

import keras_transformer

PACKAGE = pathlib.Path(keras_transformer.__file__).parent


def test_no_module_imports_private_keras():
    """No module of the package imports from `keras.src` (Keras's private tree), which may change in any release."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{path.relative_to(PACKAGE)}:{node.lineno} {name}"
                for name in names
                if name == "keras.src" or name.startswith("keras.src.")
            ]
    assert not offenders, offenders

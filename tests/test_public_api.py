"""The package builds on Keras's public API only, and its dependencies point down."""

from __future__ import annotations

import ast
import pathlib

import keras_transformer

PACKAGE = pathlib.Path(keras_transformer.__file__).parent


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, module) for every import statement of a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_module_imports_private_keras():
    """No module of the package imports from `keras.src` (Keras's private tree), which may change in any release."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in imported_modules(path)
        if name == "keras.src" or name.startswith("keras.src.")
    ]
    assert not offenders, offenders


LOWER_LAYERS = {
    "data": ("keras_transformer.models", "keras_transformer.training"),
    "layers": ("keras_transformer.models", "keras_transformer.training", "keras_transformer.data"),
}


def test_dependencies_point_down():
    """`data/` never imports `models/` or `training/`, and `layers/` imports none of `models/`, `training/`, `data/`."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {name}"
        for folder, banned in LOWER_LAYERS.items()
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for line, name in imported_modules(path)
        if name.startswith(banned)
    ]
    assert not offenders, offenders

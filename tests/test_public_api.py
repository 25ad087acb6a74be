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


# Methods whose signatures Keras or Python define; callbacks' `on_*` hooks likewise.
PROTOCOL_METHODS = {
    "call", "build", "compute_output_shape", "compute_output_spec", "compute_mask", "get_config",
    "from_config", "get_build_config", "build_from_config", "__init__", "find_spec",
    "create_module", "exec_module",
}


def unannotated(path: pathlib.Path) -> list[str]:
    """`file:line name` of each public function or public method of a public class lacking a hint."""
    tree = ast.parse(path.read_text(), str(path))
    functions = [(node, False) for node in tree.body if isinstance(node, ast.FunctionDef)]
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and not cls.name.startswith("_"):
            functions += [(node, True) for node in cls.body if isinstance(node, ast.FunctionDef)]
    found = []
    for node, is_method in functions:
        if node.name.startswith(("_", "on_")):
            continue
        if is_method and node.name in PROTOCOL_METHODS:
            continue
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        arguments += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
        bare = [a.arg for a in arguments if a.annotation is None and a.arg not in ("self", "cls")]
        if bare or node.returns is None:
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} {bare}")
    return found


def test_public_functions_carry_type_hints():
    """Every public function, and every public method other than Keras's own hooks, annotates its arguments and its result."""
    offenders = [line for path in sorted(PACKAGE.rglob("*.py")) for line in unannotated(path)]
    assert not offenders, offenders

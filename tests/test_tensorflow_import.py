"""On TensorFlow, `import keras_transformer` keeps tf.lite from importing JAX, and JAX still works after."""

from __future__ import annotations

import ast
import importlib.util
import json
import pathlib
import textwrap

import pytest

from keras_transformer._tensorflow_import import keras_backend_name
from tests.chapter_runs import assert_script_prints_ok

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import keras_transformer
    import keras
    assert keras.backend.backend() == "tensorflow"
    assert "tensorflow" in sys.modules and "jax" not in sys.modules, "jax was imported"
    import jax
    assert float(jax.numpy.ones(3).sum()) == 3.0
    print("ok")
""")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_tensorflow_is_imported_without_jax():
    """With JAX installed, the package on TensorFlow loads no JAX, and `import jax` works after it."""
    assert_script_prints_ok(SCRIPT, "tensorflow")


@pytest.mark.parametrize("variable, file, expected", [
    ("jax", {"backend": "torch"}, "jax"),
    (None, {"backend": "torch"}, "torch"),
    (None, None, "tensorflow"),
    (None, {"floatx": "float32"}, "tensorflow"),
])
def test_backend_name_follows_keras_rules(monkeypatch, tmp_path, variable, file, expected):
    """The backend is `KERAS_BACKEND` if set, else keras.json's `backend`, else TensorFlow, as in Keras."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    if variable is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", variable)
    if file is not None:
        (tmp_path / "keras.json").write_text(json.dumps(file))
    assert keras_backend_name() == expected


def _imports(path: pathlib.Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.py")), ids=lambda p: p.name)
def test_chapters_import_the_package_before_keras(path):
    """Every chapter imports keras_transformer before keras, so its process gets the lighter import."""
    names = [name.split(".")[0] for name in _imports(path)]
    assert "keras_transformer" in names
    assert "keras" not in names or names.index("keras_transformer") < names.index("keras"), names

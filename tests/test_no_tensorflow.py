"""The layers do not need TensorFlow: they import and run under JAX with TensorFlow unimportable."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys

    class NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"TensorFlow is blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    import numpy as np
    import keras_transformer as kt

    x = np.random.rand(2, 5, 8).astype("float32")
    out = kt.layers.Decoder(2, num_heads=2, intermediate_dim=16)(x, x, encoder_padding_mask=np.ones((2, 5), bool))
    ids = kt.layers.TokenAndPositionEmbedding(11, 8, 8, mask_zero=True)(np.array([[1, 2, 0]]))
    assert out.shape == (2, 5, 8) and ids.shape == (1, 3, 8)
    assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules)
    print("ok")
""")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_layers_import_and_run_without_tensorflow():
    """`import keras_transformer` and a decoder forward pass work under KERAS_BACKEND=jax with TensorFlow blocked."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]

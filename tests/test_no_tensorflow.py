"""The layers do not need TensorFlow, a run on JAX or PyTorch that has no use for it keeps it out, and any such run keeps TensorFlow Text out."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import keras
import pytest

from keras_transformer._tensorflow_import import (
    keep_tensorflow_out,
    keep_tensorflow_text_out,
    tensorflow_kept_out,
)
from tests.chapter_runs import assert_script_prints_ok, run_chapter

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
    assert_script_prints_ok(SCRIPT, "jax")


KEPT_OUT_SCRIPT = textwrap.dedent("""
    import sys, tempfile
    from keras_transformer._tensorflow_import import keep_tensorflow_out
    assert keep_tensorflow_out()
    import numpy as np
    import keras
    import keras_hub
    import keras_transformer as kt

    keras.utils.set_random_seed(0)
    gpt = kt.models.GPT(vocab_size=11, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                        intermediate_dim=16, pad_id=None)
    tokens = gpt.generate(np.array([[1, 2]]), max_new_tokens=3,
                          sampler=keras_hub.samplers.TopKSampler(k=2, seed=0))
    gpt.save(tempfile.mkdtemp() + "/gpt.keras")
    assert tuple(tokens.shape) == (1, 5)
    # Eager preprocessing layers ask Keras whether TensorFlow is loaded.
    assert float(keras.ops.convert_to_numpy(keras.layers.Rescaling(2.0)(np.ones(3))).sum()) == 6.0
    assert "tensorflow" not in sys.modules
    try:
        import tensorflow
    except ModuleNotFoundError:
        print("ok")
""")


def _backend_without_tensorflow() -> str:
    for backend in ("torch", "jax"):
        if importlib.util.find_spec(backend) is not None:
            return backend
    pytest.skip("neither torch nor jax is installed")


def test_a_run_that_keeps_tensorflow_out_seeds_samples_and_saves_without_it():
    """After `keep_tensorflow_out` on JAX or PyTorch, Keras seeds, keras-hub samples and Keras saves, and `import tensorflow` fails."""
    assert_script_prints_ok(KEPT_OUT_SCRIPT, _backend_without_tensorflow())


def test_tensorflow_is_never_kept_out_of_the_tensorflow_backend():
    """On the TensorFlow backend `keep_tensorflow_out` changes nothing and says so."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("this process runs Keras on another backend")
    finders = list(sys.meta_path)
    assert keep_tensorflow_out() is False
    assert sys.meta_path == finders and not tensorflow_kept_out()


TEXT_KEPT_OUT_SCRIPT = textwrap.dedent("""
    import sys
    import keras_transformer as kt
    from keras_transformer._tensorflow_import import keep_tensorflow_text_out
    assert keep_tensorflow_text_out()
    import numpy as np
    import keras_hub

    gpt = kt.models.GPT(vocab_size=11, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                        intermediate_dim=16, pad_id=None)
    tokens = gpt.generate(np.array([[1, 2]]), max_new_tokens=3,
                          sampler=keras_hub.samplers.TopKSampler(k=2, seed=0))
    assert tuple(tokens.shape) == (1, 5)
    assert "tensorflow_text" not in sys.modules
    try:
        import tensorflow_text
    except ModuleNotFoundError as error:
        assert "keep_tensorflow_text_out" in str(error)
        print("ok")
""")


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_run_that_keeps_tensorflow_text_out_samples_with_keras_hub(backend):
    """After `keep_tensorflow_text_out`, keras-hub imports and samples, and `import tensorflow_text` fails, naming why."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    assert_script_prints_ok(TEXT_KEPT_OUT_SCRIPT, backend)


def test_tensorflow_text_is_not_kept_out_once_loaded():
    """`keep_tensorflow_text_out` in a process that has loaded TensorFlow Text changes nothing and says so."""
    if importlib.util.find_spec("tensorflow_text") is None:
        pytest.skip("TensorFlow Text is not installed")
    import tensorflow_text  # noqa: F401

    finders = list(sys.meta_path)
    assert keep_tensorflow_text_out() is False
    assert sys.meta_path == finders


def test_chapter_04_on_pytorch_keeps_tensorflow_out_and_under_1_gb(monkeypatch, tmp_path):
    """On PyTorch, chapter 04's smoke preset runs with TensorFlow kept out, its process tree under 1 GB."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the run is on PyTorch, which is not installed")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    output = run_chapter("04_gpt.py", "--preset", "smoke", "--out", str(tmp_path), ceiling_mb=1024)
    assert "TensorFlow is kept out of this torch run" in output
    assert not (tmp_path / "tensorboard").exists() and (tmp_path / "samples.txt").exists()

"""The forward + backward cost measurements used by the scaling benchmark and chapter 07."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.training.step_cost import (
    forward_backward,
    forward_backward_memory,
    time_forward_backward,
)
from tests.helpers import BACKEND, to_numpy


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**16))
def test_gradients_are_those_of_the_summed_output(batch, length, width, seed):
    """For a Dense layer, d sum(xW + b)/dW is the column sum of x broadcast, and d/db the row count."""
    x = np.random.default_rng(seed).normal(size=(batch, length, width)).astype("float32")
    dense = keras.layers.Dense(3)
    dense(x)
    kernel_grad, bias_grad = (to_numpy(g) for g in forward_backward(dense, x)())
    expected = np.repeat(x.reshape(-1, width).sum(axis=0)[:, None], 3, axis=1)
    np.testing.assert_allclose(kernel_grad, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bias_grad, np.full(3, batch * length), rtol=1e-6)


def test_timing_is_positive_and_checks_its_arguments():
    """A timing is a positive number of seconds; zero repeats is a ValueError naming `repeats`."""
    x = np.ones((1, 4, 2), "float32")
    dense = keras.layers.Dense(2)
    dense(x)
    assert time_forward_backward(dense, x, repeats=2) > 0.0
    with pytest.raises(ValueError, match="repeats"):
        time_forward_backward(dense, x, repeats=0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's tracing counter")
def test_one_step_per_layer_is_not_taken_for_retracing(caplog):
    """Measuring many layers compiles a step for each without TensorFlow warning of excessive retracing."""
    with caplog.at_level("WARNING", logger="tensorflow"):
        for length in range(2, 9):
            x = np.ones((1, length, 2), "float32")
            dense = keras.layers.Dense(2)
            dense(x)
            time_forward_backward(dense, x, repeats=1)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


@pytest.mark.skipif(BACKEND != "jax", reason="XLA's memory analysis is read through JAX")
def test_memory_covers_the_gradients_and_grows_with_length():
    """The working memory holds at least the gradients, and a 4x longer input needs more of it."""
    dense = keras.layers.Dense(512)
    short, long = np.ones((1, 64, 256), "float32"), np.ones((1, 256, 256), "float32")
    dense(short)
    gradient_bytes = 4 * (256 * 512 + 512)
    assert forward_backward_memory(dense, short) >= gradient_bytes
    assert forward_backward_memory(dense, long) > forward_backward_memory(dense, short)


@pytest.mark.skipif(BACKEND == "jax", reason="the JAX backend has the memory analysis")
def test_memory_needs_jax():
    """Elsewhere, asking for XLA's memory analysis is a ValueError that says to use JAX."""
    dense = keras.layers.Dense(2)
    dense(np.ones((1, 2), "float32"))
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        forward_backward_memory(dense, np.ones((1, 2), "float32"))

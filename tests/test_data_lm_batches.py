"""Step-indexed language-model batches and evaluation windows."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data import lm_batch, lm_eval_windows

IDS = np.arange(1000, dtype=np.int32) * 7 % 65


@given(
    step=st.integers(0, 10**9), seed=st.integers(0, 2**32),
    batch_size=st.integers(1, 8), block_size=st.integers(1, 64),
)
def test_batch_is_a_pure_function_of_seed_and_step(step, seed, batch_size, block_size):
    """The same (seed, step) gives the same batch, with the asked shape and dtype."""
    x, y = lm_batch(IDS, step, batch_size, block_size, seed)
    x2, y2 = lm_batch(IDS, step, batch_size, block_size, seed)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == y.shape == (batch_size, block_size)
    assert x.dtype == y.dtype == np.int32


@given(step=st.integers(0, 10**6), seed=st.integers(0, 1000), block_size=st.integers(1, 64))
def test_targets_are_the_next_tokens_of_a_real_window(step, seed, block_size):
    """Each row of x is a window of ids and y is the same window shifted by one."""
    ids = np.arange(500)  # id == position, so a window is recognizable
    x, y = lm_batch(ids, step, 4, block_size, seed)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    assert x.min() >= 0 and y.max() < len(ids)


def test_consecutive_steps_draw_different_batches():
    """Different steps (and different seeds) give different windows."""
    first = lm_batch(IDS, 0, 8, 16, seed=0)[0]
    assert not np.array_equal(first, lm_batch(IDS, 1, 8, 16, seed=0)[0])
    assert not np.array_equal(first, lm_batch(IDS, 0, 8, 16, seed=1)[0])


@pytest.mark.parametrize(
    "kwargs, name",
    [({"step": -1}, "step"), ({"seed": -3}, "seed"), ({"batch_size": 0}, "batch_size"),
     ({"block_size": 1000}, "block_size")],
)
def test_bad_arguments_name_themselves(kwargs, name):
    """Invalid arguments raise ValueError naming the argument."""
    args = {"step": 0, "batch_size": 2, "block_size": 8, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        lm_batch(IDS, **args)


@pytest.mark.parametrize("kwargs, name", [
    ({"ids": np.linspace(0, 1, 100)}, "ids"), ({"block_size": True}, "block_size"),
    ({"step": 2.0}, "step"), ({"seed": 1.0}, "seed"),
])
def test_float_ids_and_non_integer_counts_raise(kwargs, name):
    """Float ids, or a float or bool where a count goes, are a ValueError naming the argument."""
    args = {"ids": IDS, "step": 0, "batch_size": 2, "block_size": 5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        lm_batch(**args)


@pytest.mark.parametrize("ids, block_size, name", [
    (IDS, 2.0, "block_size"), (IDS, True, "block_size"), (IDS.astype(float), 2, "ids"),
])
def test_eval_windows_refuse_float_ids_and_non_integer_block_size(ids, block_size, name):
    """Float ids, or a float or bool block size, are a ValueError naming the argument."""
    with pytest.raises(ValueError, match=f"`{name}`"):
        lm_eval_windows(ids, block_size)


@given(length=st.integers(2, 300), block_size=st.integers(1, 40))
def test_eval_windows_cover_the_split_once(length, block_size):
    """Eval windows predict every target but the last partial window's, each once, in order."""
    ids = np.arange(length)
    if length - 1 < block_size:
        with pytest.raises(ValueError, match="block_size"):
            lm_eval_windows(ids, block_size)
        return
    x, y = lm_eval_windows(ids, block_size)
    count = (length - 1) // block_size
    assert x.shape == y.shape == (count, block_size)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(y.reshape(-1), np.arange(1, count * block_size + 1))

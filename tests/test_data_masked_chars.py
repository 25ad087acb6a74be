"""Masked character batches: what is hidden, how much, and that it depends on (seed, step) only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data.masked_chars import mask_windows, masked_char_batch

IDS = np.random.default_rng(0).integers(0, 50, 5000).astype(np.int32)
MASK_ID = 50


@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(2, 300),
       st.floats(0.01, 0.9))
def test_masks_hide_a_fixed_share_of_every_row(step, batch, length, rate):
    """Every row hides exactly max(1, round(rate·T)) positions behind the mask id; the rest is the text."""
    x, y, w = masked_char_batch(IDS, step, batch, length, seed=3, mask_id=MASK_ID, rate=rate)
    expected = max(1, round(rate * length))
    assert (w.sum(axis=1) == expected).all()
    assert (x[w == 1] == MASK_ID).all() and (x[w == 0] == y[w == 0]).all()
    windows = np.lib.stride_tricks.sliding_window_view(IDS, length)
    assert all(np.all(windows == row, axis=1).any() for row in y)  # targets are the text


@given(st.integers(0, 10**6))
def test_batches_depend_on_seed_and_step_only(step):
    """The same (seed, step) gives the same batch; the next step gives new masks."""
    a = masked_char_batch(IDS, step, 2, 64, seed=1, mask_id=MASK_ID)
    b = masked_char_batch(IDS, step, 2, 64, seed=1, mask_id=MASK_ID)
    c = masked_char_batch(IDS, step + 1, 2, 64, seed=1, mask_id=MASK_ID)
    assert all((u == v).all() for u, v in zip(a, b))
    assert not (a[2] == c[2]).all()


def test_same_window_gets_a_new_mask_each_time():
    """Masking is dynamic: one window masked by two generators hides different positions."""
    window = IDS[None, :512]
    first = mask_windows(window, np.random.default_rng(1), MASK_ID)[2]
    second = mask_windows(window, np.random.default_rng(2), MASK_ID)[2]
    assert not (first == second).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"windows": np.zeros(5, int)}, "windows must be 2-D"),
    ({"rate": 0.0}, "rate must be in"),
    ({"rate": 1.5}, "rate must be in"),
])
def test_bad_input_names_the_argument(kwargs, match):
    """A 1-D window array or a rate outside (0, 1) is a ValueError naming it."""
    args = {"windows": np.zeros((2, 5), int), "rng": np.random.default_rng(0),
            "mask_id": 9, **kwargs}
    with pytest.raises(ValueError, match=match):
        mask_windows(**args)

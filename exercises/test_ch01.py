"""1장 연습문제 검사: 답을 패키지의 검증된 함수(`kt.masks`, `kt.ops`)와 비교합니다.

`pytest exercises/test_ch01.py`는 참고 답안을, `--reader`를 붙이면
`exercises/ch01.py`의 여러분 답을 검사합니다.
"""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

CHAPTER = "ch01"
FAST = settings(max_examples=25, deadline=None)


def to_numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


@st.composite
def padded_ids(draw):
    """`(B, T)` ids in 0..5 (padding anywhere) and a pad id."""
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 7))
    ids = np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, 6, (b, t))
    return ids, draw(st.sampled_from([0, 3]))


@st.composite
def logits_and_mask(draw):
    """`(T, S)` logits in [-8, 8] and a random boolean mask, some rows fully masked."""
    t, s = draw(st.integers(1, 5)), draw(st.integers(2, 6))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    return g.uniform(-8, 8, (t, s)), g.random((t, s)) < draw(st.sampled_from([0.3, 0.7, 1.0]))


@st.composite
def attention_inputs(draw):
    """Random q `(B, T, N, H)`, k and v `(B, S, N, H)` and a mask in one of the accepted layouts."""
    b, t, s = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    n, h = draw(st.integers(1, 3)), draw(st.sampled_from([2, 4, 8]))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    q, k, v = (g.normal(size=(b, length, n, h)).astype("float32") for length in (t, s, s))
    layout = draw(st.sampled_from(["none", "(T, S)", "(B, 1, T, S)", "(B, N, T, S)"]))
    shape = {"none": None, "(T, S)": (t, s), "(B, 1, T, S)": (b, 1, t, s),
             "(B, N, T, S)": (b, n, t, s)}[layout]
    mask = None if shape is None else g.random(shape) < 0.7
    return q, k, v, mask


def test_causal_padding_mask_on_a_padded_batch(ex):
    """In a right-padded batch the padded rows and columns are all False and the rest is the lower triangle."""
    ids = np.array([[7, 4, 9, 0, 0], [5, 2, 8, 6, 3]])
    mask = np.asarray(ex.causal_padding_mask(ids))
    assert mask.shape == (2, 5, 5) and mask.dtype == bool
    np.testing.assert_array_equal(mask[1], np.tril(np.ones((5, 5), bool)))
    np.testing.assert_array_equal(mask[0, :3, :3], np.tril(np.ones((3, 3), bool)))
    assert not mask[0, 3:].any() and not mask[0, :, 3:].any()


@FAST
@given(padded_ids())
def test_causal_padding_mask_equals_the_package(ex, case):
    """For any ids and pad id the mask equals `kt.masks.attention_mask(padding, padding, causal=True)`."""
    ids, pad_id = case
    real = kt.masks.padding_mask(ids, pad_id)
    t = ids.shape[1]  # given explicitly: a length of 1 would read as "broadcast"
    expected = to_numpy(kt.masks.attention_mask(real, real, causal=True, query_length=t, key_length=t))
    np.testing.assert_array_equal(np.asarray(ex.causal_padding_mask(ids, pad_id)), expected)


def _package_weights(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`kt.ops.attention_weights` on a query and keys chosen so that Q Kᵀ / √H equals `logits`."""
    s = logits.shape[1]
    query = logits.astype("float32")[None, :, None, :]                 # (1, T, 1, H = S)
    key = (np.sqrt(s) * np.eye(s, dtype="float32"))[None, :, None, :]  # key s = √H · e_s
    return to_numpy(kt.ops.attention_weights(query, key, mask[None, None]))[0, 0]


@FAST
@given(logits_and_mask())
def test_masked_softmax_equals_the_package_weights(ex, case):
    """The masked softmax equals the package's attention weights for the same logits and mask."""
    logits, mask = case
    result = np.asarray(ex.masked_softmax(logits, mask))
    np.testing.assert_allclose(result, _package_weights(logits, mask), atol=1e-5)


@FAST
@given(logits_and_mask())
def test_masked_softmax_is_a_distribution_or_zero(ex, case):
    """No NaN; masked entries are 0; each row sums to 1, or to 0 when it is fully masked."""
    logits, mask = case
    result = np.asarray(ex.masked_softmax(logits, mask))
    assert np.all(np.isfinite(result))
    assert np.all(result[~mask] == 0.0)
    np.testing.assert_allclose(result.sum(axis=-1), mask.any(axis=-1).astype(float), atol=1e-6)


def test_masked_softmax_without_mask_is_softmax_and_survives_large_logits(ex):
    """Without a mask it is the plain softmax, and logits of 1e4 neither overflow nor give NaN."""
    logits = np.array([[1.0, 2.0, 3.0], [1e4, 1e4, 0.0]])
    expected = np.array([np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum(), [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(np.asarray(ex.masked_softmax(logits)), expected, atol=1e-12)


@FAST
@given(attention_inputs())
def test_attention_equals_the_package_kernel(ex, case):
    """Output equals `kt.ops.scaled_dot_product_attention` for every mask layout, zeros for blind queries included."""
    q, k, v, mask = case
    expected = to_numpy(kt.ops.scaled_dot_product_attention(q, k, v, mask=mask))
    result = np.asarray(ex.scaled_dot_product_attention(q, k, v, mask))
    assert result.shape == q.shape
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_attention_query_zero_under_a_causal_mask_copies_value_zero(ex):
    """Under a causal mask the first query sees only the first key, so its output is the first value."""
    g = np.random.default_rng(0)
    q, k, v = (g.normal(size=(2, 4, 2, 8)) for _ in range(3))
    out = np.asarray(ex.scaled_dot_product_attention(q, k, v, np.tril(np.ones((4, 4), bool))))
    np.testing.assert_allclose(out[:, 0], v[:, 0], atol=1e-12)

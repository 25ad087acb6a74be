"""3장 연습문제 검사: 답을 패키지의 검증된 구현과 비교합니다.

`pytest exercises/test_ch03.py`는 참고 풀이를, `--reader`를 붙이면
`exercises/ch03.py`의 여러분 답을 검사합니다.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

CHAPTER = "ch03"
FAST = settings(max_examples=25, deadline=None)


def to_numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


@st.composite
def right_padded_targets(draw):
    """`(B, L)` target ids in 3..40, each row right-padded with 0 (possibly empty or full)."""
    b, length = draw(st.integers(1, 4)), draw(st.integers(1, 8))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    ids = g.integers(3, 41, (b, length))
    lengths = g.integers(0, length + 1, b)
    return np.where(np.arange(length)[None] < lengths[:, None], ids, 0)


@st.composite
def padded_ids(draw, name_length):
    """`(B, n)` ids in 0..5 (0 is padding, anywhere in the row)."""
    b, n = draw(st.integers(1, 3)), draw(name_length)
    return np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, 6, (b, n))


def test_teacher_forcing_arrays_on_the_documented_example(ex):
    """The docstring's example: target [[7, 8, 0]] gives inputs [[1, 7, 8, 2]] and labels [[7, 8, 2, 0]]."""
    decoder_inputs, labels = ex.teacher_forcing_arrays(np.array([[7, 8, 0]]), start_id=1, end_id=2)
    np.testing.assert_array_equal(decoder_inputs, [[1, 7, 8, 2]])
    np.testing.assert_array_equal(labels, [[7, 8, 2, 0]])


@FAST
@given(right_padded_targets())
def test_teacher_forcing_arrays_equal_the_package(ex, targets):
    """For any right-padded batch, inputs and labels equal `kt.models.teacher_forcing_batch`'s."""
    decoder_inputs, labels = ex.teacher_forcing_arrays(targets, start_id=1, end_id=2, pad_id=0)
    expected_inputs, expected_labels = kt.models.teacher_forcing_batch(targets, 1, 2, 0)
    np.testing.assert_array_equal(decoder_inputs, expected_inputs)
    np.testing.assert_array_equal(labels, expected_labels)


@functools.cache
def additive_layer() -> kt.layers.AdditiveAttention:
    """One `kt.layers.AdditiveAttention` (queries of width 3, values of width 6), built once."""
    keras.utils.set_random_seed(3)
    layer = kt.layers.AdditiveAttention(units=5)
    layer(np.zeros((1, 3), "float32"), np.zeros((1, 2, 6), "float32"))
    return layer


def additive_case(seed: int, batch: int, length: int):
    """Random queries and values and a mask whose first row is all padding (its weights must be 0)."""
    g = np.random.default_rng(seed)
    query = g.normal(size=(batch, 3)).astype("float32")
    values = g.normal(size=(batch, length, 6)).astype("float32")
    mask = g.random((batch, length)) < 0.6
    mask[0] = False
    if batch > 1:
        mask[1, 0] = True
    return query, values, mask


def layer_parameters(layer: kt.layers.AdditiveAttention) -> tuple[np.ndarray, ...]:
    """The layer's `W`, `U`, `b` and `v` as NumPy arrays, in the exercise's argument order."""
    return (to_numpy(layer.query_dense.kernel), to_numpy(layer.key_dense.kernel),
            to_numpy(layer.key_dense.bias), to_numpy(layer.score_dense.kernel)[:, 0])


@settings(FAST, max_examples=12)
@given(st.integers(0, 2**16), st.integers(1, 3), st.integers(1, 6))
def test_additive_attention_weights_equal_the_layer(ex, seed, batch, length):
    """With the layer's own W, U, b and v copied in, the weights equal `kt.layers.AdditiveAttention`'s."""
    layer = additive_layer()
    query, values, mask = additive_case(seed, batch, length)
    got = ex.additive_attention_weights(query, values, *layer_parameters(layer), mask)
    _, expected = layer(query, values, mask=mask)
    assert np.asarray(got).shape == (batch, length)
    np.testing.assert_allclose(got, to_numpy(expected), atol=1e-5)


def test_additive_attention_weights_without_a_mask_are_distributions(ex):
    """Without a mask every row is a distribution over all source positions, as the layer's."""
    layer = additive_layer()
    query, values, _ = additive_case(7, batch=2, length=5)
    _, expected = layer(query, values)
    got = np.asarray(ex.additive_attention_weights(query, values, *layer_parameters(layer)))
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, to_numpy(expected), atol=1e-5)


@FAST
@given(padded_ids(st.integers(1, 6)), st.data())
def test_cross_attention_mask_equals_kt_masks(ex, decoder_ids, data):
    """The mask equals `kt.masks.attention_mask(query_mask=decoder padding, key_mask=source padding)`."""
    s = data.draw(st.integers(1, 6))
    encoder_ids = np.random.default_rng(data.draw(st.integers(0, 2**16))).integers(
        0, 6, (decoder_ids.shape[0], s))
    got = np.asarray(ex.cross_attention_mask(decoder_ids, encoder_ids, pad_id=0))
    expected = to_numpy(kt.masks.attention_mask(
        kt.masks.padding_mask(decoder_ids), kt.masks.padding_mask(encoder_ids)))
    assert got.dtype == bool and got.shape == (decoder_ids.shape[0], decoder_ids.shape[1], s)
    np.testing.assert_array_equal(got, expected)


def test_cross_attention_mask_has_no_causal_triangle(ex):
    """A real decoder position sees every real source position, including ones "after" it."""
    mask = np.asarray(ex.cross_attention_mask(np.array([[5, 6, 0]]), np.array([[7, 8, 9, 0]]), pad_id=0))
    np.testing.assert_array_equal(
        mask[0], [[True, True, True, False], [True, True, True, False], [False] * 4])

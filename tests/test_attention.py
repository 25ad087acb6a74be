"""`keras_transformer.layers.MultiHeadAttention` against `keras.layers.MultiHeadAttention`.

The Keras layer, with our weights copied in, is the independent reference. Our
fused self-attention kernel `qkv` of shape `(d, 3, heads, head_dim)` is Keras'
query, key and value kernels stacked on axis 1.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from keras import ops

from keras_transformer.layers import SinusoidalPositionEncoding
from tests.helpers import (
    MAX_BATCH,
    MAX_LEN,
    WIDTH,
    assert_close,
    causal_reference,
    cross_attention,
    gradient,
    heads,
    lengths,
    normal,
    padding_masks,
    project,
    reference_attention,
    rng,
    seeds,
    self_attention,
    to_numpy,
    token_embedding,
)

KEY_DIM = 4


@functools.lru_cache(maxsize=None)
def keras_twin(num_heads, cross):
    """A Keras MultiHeadAttention holding the same weights as our cached layer."""
    ours = (cross_attention if cross else self_attention)(num_heads, KEY_DIM)
    twin = keras.layers.MultiHeadAttention(num_heads, KEY_DIM)
    x = np.zeros((1, 1, WIDTH), "float32")
    twin(x, x)
    if cross:
        dense = (ours.query_dense, ours.key_dense, ours.value_dense)
        kernels = [to_numpy(d.kernel) for d in dense]
        biases = [to_numpy(d.bias) for d in dense]
    else:
        kernel, bias = to_numpy(ours.qkv.kernel), to_numpy(ours.qkv.bias)
        kernels = [kernel[:, i] for i in range(3)]
        biases = [bias[i] for i in range(3)]
    for layer, kernel, bias in zip(
        (twin._query_dense, twin._key_dense, twin._value_dense), kernels, biases
    ):
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)
    twin._output_dense.kernel.assign(to_numpy(ours.output_dense.kernel))
    twin._output_dense.bias.assign(to_numpy(ours.output_dense.bias))
    return ours, twin


@st.composite
def attention_case(draw, cross):
    """(num_heads, query x, source y, (B, T, S) attention mask, causal) for one layer call."""
    b, (t, s) = draw(st.integers(1, MAX_BATCH)), draw(lengths())
    s = s if cross else t
    g = rng(draw(seeds))
    x = normal(g, (b, t, WIDTH))
    y = normal(g, (b, s, WIDTH)) if cross else None
    keys = draw(padding_masks(b, s))
    causal = (not cross) and draw(st.booleans())
    mask = np.broadcast_to(keys[:, None, :], (b, t, s))
    if causal:
        mask = mask & causal_reference(t, s)
    return draw(heads), x, y, np.ascontiguousarray(mask), causal


def visible_rows(mask):
    """(B, T) True where the query row sees at least one key."""
    return mask.any(axis=-1)


@given(attention_case(cross=False))
def test_self_attention_equals_keras_multi_head_attention(case):
    """Self-attention equals Keras' MultiHeadAttention with the same weights, at every query row that sees a key."""
    n, x, _, mask, causal = case
    ours, twin = keras_twin(n, cross=False)
    rows = visible_rows(mask)
    for kwargs in ({"attention_mask": mask}, {"attention_mask": mask, "use_causal_mask": causal}):
        expected = to_numpy(twin(x, x, **kwargs))
        assert_close(to_numpy(ours(x, **kwargs))[rows], expected[rows])


@given(attention_case(cross=True))
def test_cross_attention_equals_keras_multi_head_attention(case):
    """Cross-attention (T != S drawn often) equals Keras' MultiHeadAttention with the same weights."""
    n, x, y, mask, _ = case
    ours, twin = keras_twin(n, cross=True)
    rows = visible_rows(mask)
    assert_close(to_numpy(ours(x, y, attention_mask=mask))[rows],
                 to_numpy(twin(x, y, attention_mask=mask))[rows])


@given(attention_case(cross=False), st.data())
def test_fully_masked_query_rows_output_only_the_bias(case, data):
    """A query row that sees no key gets a zero attention output, so the layer returns the output bias there.

    This is where we differ from `keras.layers.MultiHeadAttention`: its fused
    path fills masked logits with a large negative constant, so a fully masked
    row becomes the uniform average of all values. We promise zeros instead.
    """
    n, x, _, mask, _ = case
    b, t, _ = mask.shape
    blocked = data.draw(st.integers(0, b - 1)), data.draw(st.integers(0, t - 1))
    mask = mask.copy()
    mask[blocked] = False
    ours = self_attention(n, KEY_DIM)
    out = to_numpy(ours(x, attention_mask=mask))
    bias = np.broadcast_to(to_numpy(ours.output_dense.bias), out[~visible_rows(mask)].shape)
    np.testing.assert_array_equal(out[~visible_rows(mask)], bias.astype(np.float32))


@given(attention_case(cross=False))
def test_returned_scores_equal_the_reference_weights(case):
    """`return_attention_scores=True` returns softmax(QKᵀ/√H) of the layer's own projections, masked as asked."""
    n, x, _, mask, _ = case
    ours = self_attention(n, KEY_DIM)
    out, scores = ours(x, attention_mask=mask, return_attention_scores=True)
    qkv = project(x, to_numpy(ours.qkv.kernel), to_numpy(ours.qkv.bias))
    attended, weights = reference_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], mask)
    assert_close(scores, weights)
    expected = project(attended, to_numpy(ours.output_dense.kernel),
                       to_numpy(ours.output_dense.bias), axes=2)
    assert_close(out, expected)


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), heads, st.data(), seeds)
def test_keras_implicit_masks_equal_explicit_masks(batch, length, n, data, seed):
    """An input carrying a Keras mask (`mask_zero=True` embedding) gives the same output as the equivalent explicit mask."""
    real = data.draw(padding_masks(batch, length))
    ids = np.where(real, rng(seed).integers(1, 11, (batch, length)), 0)
    x = token_embedding("learned", mask_zero=True)(ids)
    layer = self_attention(n, KEY_DIM)
    explicit = real[:, None, :] & real[:, :, None]
    expected = to_numpy(layer(ops.convert_to_tensor(to_numpy(x), "float32"),
                              attention_mask=explicit))
    assert_close(layer(x), expected)


@given(st.integers(1, MAX_BATCH), st.integers(2, MAX_LEN), heads, st.data(), seeds)
def test_causal_self_attention_does_not_leak_the_future(batch, length, n, data, seed):
    """With `use_causal_mask` (and dropout configured, at inference) outputs at <= t ignore inputs after t, and d out[<=t] / d x[>t] is exactly 0."""
    t = data.draw(st.integers(0, length - 2))
    layer = self_attention(n, KEY_DIM, dropout=0.5)
    g = rng(seed)
    x = normal(g, (batch, length, WIDTH))
    changed = x.copy()
    changed[:, t + 1:] = normal(g, changed[:, t + 1:].shape, scale=3.0)
    before = to_numpy(layer(x, use_causal_mask=True, training=False))
    after = to_numpy(layer(changed, use_causal_mask=True, training=False))
    np.testing.assert_array_equal(after[:, :t + 1], before[:, :t + 1])
    weights = ops.convert_to_tensor(normal(g, (batch, t + 1, WIDTH)))
    grad = gradient(lambda a: layer(a, use_causal_mask=True)[:, :t + 1] * weights, x)
    assert np.all(grad[:, t + 1:] == 0.0)
    assert np.any(grad[:, :t + 1] != 0.0)


@given(st.integers(1, MAX_BATCH), st.integers(2, MAX_LEN), heads, st.data(), seeds)
def test_self_attention_is_permutation_equivariant_only_without_positions(
    batch, length, n, data, seed
):
    """Without positions, permuting the tokens permutes the outputs; adding sinusoidal positions breaks that."""
    order = np.array(data.draw(st.permutations(range(length))))
    if np.all(order == np.arange(length)):
        order = np.roll(order, 1)
    layer = self_attention(n, KEY_DIM)
    x = normal(rng(seed), (batch, length, WIDTH))
    assert_close(layer(x[:, order]), to_numpy(layer(x))[:, order], atol=1e-5)
    pe = to_numpy(SinusoidalPositionEncoding()(x))
    with_positions = to_numpy(layer(x + pe))[:, order]
    permuted_then_positions = to_numpy(layer(x[:, order] + pe))
    assert not np.allclose(with_positions, permuted_then_positions, atol=1e-4)

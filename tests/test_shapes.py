"""Every layer's output shape equals its `compute_output_shape` for all valid inputs.

The shapes are given in order and by the names `build` takes: `Model.summary`
passes them by those names, so a mismatch would break the summary of every
model that holds the layer.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer import layers as L
from tests.helpers import MAX_BATCH, MAX_LEN, heads, lengths

head_dims = st.integers(1, 4)
output_dims = st.none() | st.integers(1, 6)


def zeros(*shape):
    return np.zeros(shape, "float32")


@st.composite
def sizes(draw):
    b, (t, s) = draw(st.integers(1, MAX_BATCH)), draw(lengths())
    n, h = draw(heads), draw(head_dims)
    return b, t, s, n, n * h


def assert_shape(layer, output, *input_shapes):
    assert tuple(output.shape) == tuple(layer.compute_output_shape(*input_shapes))
    # What `Model.summary` calls: the shapes the layer was built with, by name
    # (a layer without weights of its own records none).
    if layer._build_shapes_dict is not None:
        assert tuple(output.shape) == tuple(layer.compute_output_shape(**layer._build_shapes_dict))


@given(sizes(), output_dims, st.booleans())
def test_multi_head_attention_shape(size, output_dim, cross):
    """MultiHeadAttention (self or cross, any output_dim) returns compute_output_shape, and scores are (B, N, T, S)."""
    b, t, s, n, d = size
    layer = L.MultiHeadAttention(n, 3, output_dim=output_dim)
    query, value = zeros(b, t, d), (zeros(b, s, d + 1) if cross else None)
    out, scores = layer(query, value, return_attention_scores=True)
    assert_shape(layer, out, query.shape, None if value is None else value.shape)
    assert tuple(scores.shape) == (b, n, t, s if cross else t)


@given(sizes(), output_dims)
def test_feed_forward_shape(size, output_dim):
    """FeedForward keeps the leading axes and ends in output_dim (default: the input width)."""
    b, t, _, _, d = size
    layer = L.FeedForward(5, output_dim=output_dim)
    assert_shape(layer, layer(zeros(b, t, d)), (b, t, d))


@given(sizes(), st.booleans(), st.integers(1, 2))
def test_block_and_stack_shapes(size, norm_first, depth):
    """EncoderBlock, DecoderBlock (with and without cross-attention), Encoder and Decoder preserve the input shape."""
    b, t, s, n, d = size
    x, y = zeros(b, t, d), zeros(b, s, d)
    kwargs = dict(num_heads=n, intermediate_dim=6, norm_first=norm_first)
    for layer, args in (
        (L.EncoderBlock(**kwargs), (x,)),
        (L.DecoderBlock(**kwargs), (x,)),
        (L.DecoderBlock(**kwargs), (x, y)),
        (L.Encoder(depth, **kwargs), (x,)),
        (L.Decoder(depth, **kwargs), (x, y)),
    ):
        assert_shape(layer, layer(*args), *(a.shape for a in args))


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), st.integers(1, 4).map(lambda k: 2 * k),
       st.sampled_from(["learned", "sinusoidal"]), st.sampled_from([None, 2]))
def test_embedding_shapes(b, t, d, position, embedding_dim):
    """Position layers return their input's shape; TokenAndPositionEmbedding returns (B, T, hidden_dim)."""
    x = zeros(b, t, d)
    for layer in (L.SinusoidalPositionEncoding(), L.PositionEmbedding(MAX_LEN)):
        assert_shape(layer, layer(x), x.shape)
    layer = L.TokenAndPositionEmbedding(9, MAX_LEN, d, position=position,
                                        embedding_dim=embedding_dim, num_segments=2)
    ids = np.ones((b, t), "int32")
    assert_shape(layer, layer(ids, segment_ids=ids), ids.shape)

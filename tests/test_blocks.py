"""Encoder/decoder blocks and stacks: padding, causality, cross-attention, dropout at inference."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import (
    MAX_BATCH,
    MAX_LEN,
    WIDTH,
    assert_close,
    decoder,
    decoder_block,
    encoder,
    encoder_block,
    gradient,
    heads,
    lengths,
    normal,
    padding_masks,
    replace_where,
    rng,
    seeds,
    to_numpy,
    token_embedding,
)

VOCAB = 11
norm_first = st.booleans()


def real_rows(out, real):
    """Outputs at real positions only: (number of real tokens, width)."""
    return to_numpy(out)[real]


@st.composite
def padded_batch(draw, max_len=MAX_LEN):
    """(ids, real-token mask) with pad id 0 and at least one real token per row."""
    b, t = draw(st.integers(1, MAX_BATCH)), draw(st.integers(1, max_len))
    real = draw(padding_masks(b, t))
    ids = np.where(real, rng(draw(seeds)).integers(1, VOCAB, (b, t)), 0)
    return ids, real


# ------------------------------------------------------------------- padding


ENCODERS = {"EncoderBlock": encoder_block, "Encoder": encoder}


@pytest.mark.parametrize("stack", ENCODERS)
@given(padded_batch(), heads, norm_first, seeds)
def test_encoder_ignores_padded_positions(stack, batch, n, pre_ln, seed):
    """Outputs at real positions do not change when padded positions hold other tokens or other vectors."""
    ids, real = batch
    layer = ENCODERS[stack](n, norm_first=pre_ln)
    embed = token_embedding("learned", mask_zero=False)
    g = rng(seed)
    x = to_numpy(embed(ids)).astype("float32")
    other_tokens = to_numpy(embed(replace_where(ids, real, g, (0, VOCAB)))).astype("float32")
    other_vectors = replace_where(x, real, g)
    expected = real_rows(layer(x, padding_mask=real), real)
    for changed in (other_tokens, other_vectors):
        assert_close(real_rows(layer(changed, padding_mask=real), real), expected, atol=1e-6)


@pytest.mark.parametrize("stack", ENCODERS)
@given(padded_batch(), heads, norm_first)
def test_encoder_mask_entry_points_agree(stack, batch, n, pre_ln):
    """A Keras implicit mask (`mask_zero=True`), `padding_mask` and a (B, T, T) `attention_mask` give the same outputs at real positions."""
    ids, real = batch
    layer = ENCODERS[stack](n, norm_first=pre_ln)
    masked = token_embedding("learned", mask_zero=True)(ids)
    x = to_numpy(masked).astype("float32")
    implicit = real_rows(layer(masked), real)
    by_padding = real_rows(layer(x, padding_mask=real), real)
    keys = np.broadcast_to(real[:, None, :], (*real.shape, real.shape[1]))
    by_attention = real_rows(layer(x, attention_mask=keys), real)
    assert_close(implicit, by_padding, atol=1e-6)
    assert_close(by_attention, by_padding, atol=1e-6)


@given(padded_batch(), heads, norm_first, seeds)
def test_decoder_self_attention_ignores_padded_positions(batch, n, pre_ln, seed):
    """With `decoder_padding_mask`, decoder outputs at real positions ignore what padded positions hold (left, right or arbitrary padding)."""
    ids, real = batch
    layer = decoder_block(n, norm_first=pre_ln)
    x = normal(rng(seed), (*ids.shape, WIDTH))
    expected = real_rows(layer(x, decoder_padding_mask=real), real)
    changed = replace_where(x, real, rng(seed + 1))
    assert_close(real_rows(layer(changed, decoder_padding_mask=real), real), expected, atol=1e-6)


@given(st.integers(1, MAX_BATCH), lengths(), heads, norm_first, st.data(), seeds)
def test_cross_attention_ignores_padded_source_positions(b, sizes, n, pre_ln, data, seed):
    """Decoder outputs do not change when padded encoder positions change, whichever way the mask is given."""
    t, s = sizes
    source_real = data.draw(padding_masks(b, s))
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    layer = decoder_block(n, cross=True, norm_first=pre_ln)
    expected = to_numpy(layer(x, y, encoder_padding_mask=source_real))
    changed = replace_where(y, source_real, g)
    cross_mask = np.broadcast_to(source_real[:, None, :], (b, t, s))
    assert_close(layer(x, changed, encoder_padding_mask=source_real), expected, atol=1e-6)
    assert_close(layer(x, changed, encoder_attention_mask=cross_mask), expected, atol=1e-6)


@given(st.integers(1, MAX_BATCH), lengths(), heads, st.data(), seeds)
def test_cross_attention_sees_every_real_source_position(b, sizes, n, data, seed):
    """Cross-attention is not causal: changing any real encoder position changes the decoder output at position 0."""
    t, s = sizes
    source_real = data.draw(padding_masks(b, s))
    row = data.draw(st.integers(0, b - 1))
    col = data.draw(st.sampled_from(np.flatnonzero(source_real[row]).tolist()))
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    layer = decoder_block(n, cross=True)
    changed = y.copy()
    changed[row, col] += normal(g, (WIDTH,), scale=3.0)
    before = to_numpy(layer(x, y, encoder_padding_mask=source_real))
    after = to_numpy(layer(x, changed, encoder_padding_mask=source_real))
    assert not np.allclose(before[row, 0], after[row, 0], atol=1e-6)


# ------------------------------------------------------------------ causality


DECODERS = {
    "DecoderBlock": lambda n, pre_ln: decoder_block(n, cross=True, norm_first=pre_ln, dropout=0.3),
    "Decoder": lambda n, pre_ln: decoder(n, cross=True, norm_first=pre_ln, dropout=0.3),
}


@pytest.mark.parametrize("stack", DECODERS)
@given(st.integers(1, MAX_BATCH), st.integers(2, MAX_LEN), st.integers(1, MAX_LEN), heads,
       norm_first, st.data(), seeds)
def test_decoder_does_not_leak_the_future(stack, b, t, s, n, pre_ln, data, seed):
    """With dropout configured but at inference, outputs at <= t ignore decoder inputs after t, and d out[<=t] / d in[>t] is exactly 0."""
    cut = data.draw(st.integers(0, t - 2))
    layer = DECODERS[stack](n, pre_ln)
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    changed = x.copy()
    changed[:, cut + 1:] = normal(g, changed[:, cut + 1:].shape, scale=3.0)
    before = to_numpy(layer(x, y, training=False))[:, :cut + 1]
    np.testing.assert_array_equal(to_numpy(layer(changed, y, training=False))[:, :cut + 1], before)
    # Weighted so that a final LayerNorm (whose outputs sum to a constant) still passes gradient.
    weights = ops.convert_to_tensor(normal(g, (b, cut + 1, WIDTH)))
    grad = gradient(lambda a: layer(a, y, training=False)[:, :cut + 1] * weights, x)
    assert np.all(grad[:, cut + 1:] == 0.0), "gradient flows from the future"
    assert np.any(grad[:, :cut + 1] != 0.0)


@pytest.mark.parametrize("stack", DECODERS)
@given(st.integers(1, MAX_BATCH), lengths(), heads, seeds)
def test_dropout_is_off_at_inference(stack, b, sizes, n, seed):
    """A stack with dropout > 0 at `training=False` equals the same weights with dropout 0, and repeats exactly."""
    t, s = sizes
    layer = DECODERS[stack](n, False)
    twin = layer.__class__.from_config({**layer.get_config(), "dropout": 0.0})
    twin.build((None, None, WIDTH), (None, None, WIDTH))
    twin.set_weights(layer.get_weights())
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    first = to_numpy(layer(x, y, training=False))
    np.testing.assert_array_equal(to_numpy(layer(x, y, training=False)), first)
    assert_close(twin(x, y), first, atol=1e-6)


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), heads, norm_first, seeds)
def test_shared_weights_apply_one_block_at_every_depth(b, t, n, pre_ln, seed):
    """`Encoder(share_weights=True)` equals applying its single block `num_layers` times (plus the final norm when pre-LN)."""
    from keras_transformer.layers import Encoder

    stack = Encoder(3, share_weights=True, num_heads=n, intermediate_dim=16, norm_first=pre_ln)
    x = normal(rng(seed), (b, t, WIDTH))
    out = stack(x)
    assert len(stack.blocks) == 1
    h = x
    for _ in range(3):
        h = stack.blocks[0](h)
    if pre_ln:
        h = stack.final_norm(h)
    assert_close(out, to_numpy(h), atol=1e-6)
    expected = len(stack.blocks[0].weights) + (2 if pre_ln else 0)
    assert len(stack.weights) == expected


@pytest.mark.parametrize("kind", ["Encoder", "Decoder"])
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), heads, norm_first, seeds)
def test_a_stack_without_biases_is_the_stack_with_zero_biases(kind, b, t, n, pre_ln, seed):
    """`use_bias=False` drops every projection bias and LayerNorm offset and computes what the same weights do with those at zero."""
    from keras_transformer import layers

    def built(use_bias):
        stack = getattr(layers, kind)(2, num_heads=n, intermediate_dim=16, norm_first=pre_ln,
                                      use_bias=use_bias)
        stack.build((None, None, WIDTH))
        return stack

    def offsets(stack):
        return [v for v in stack.weights if v.path.endswith(("/bias", "/beta"))]

    with_biases, without = built(True), built(False)
    assert offsets(with_biases) and not offsets(without)
    g = rng(seed)
    for v in with_biases.weights:  # every weight random, then the offsets zero
        v.assign(normal(g, v.shape) * 0.3 + (1.0 if v.path.endswith("gamma") else 0.0))
    for v in offsets(with_biases):
        v.assign(ops.zeros(v.shape))
    weights = {v.path.split("/", 1)[1]: v for v in with_biases.weights}
    for v in without.weights:
        v.assign(weights[v.path.split("/", 1)[1]])
    assert len(without.weights) == len(with_biases.weights) - len(offsets(with_biases))
    x = normal(g, (b, t, WIDTH))
    assert_close(to_numpy(without(x)), to_numpy(with_biases(x)), atol=1e-5)

"""Encoder/decoder blocks and stacks: padding, causality, cross-attention, dropout at inference, and what each block computes (a NumPy reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from keras import ops
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.helpers import (
    MAX_BATCH,
    MAX_LEN,
    WIDTH,
    assert_close,
    causal_reference,
    decoder,
    decoder_block,
    encoder,
    encoder_block,
    gradient,
    heads,
    lengths,
    normal,
    padding_masks,
    project,
    reference_attention,
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


# ------------------------------------------- what a block computes: a NumPy reference
#
# The spec the blocks are held to, written out in float64 NumPy from the block's
# own weights (read out as arrays, every one of them randomized first, so that
# a LayerNorm's gamma is not 1, its beta not 0, no bias is 0):
#
#   post-LN (`norm_first=False`; the paper, BERT): each sublayer's output is
#   added to its input, then normalized,
#       h = LN1(x + MHA(x));                    y = LN2(h + FF(h))
#   pre-LN (`norm_first=True`; GPT-2): the sublayer reads the normalized input
#   and its output is added to the un-normalized input,
#       h = x + MHA(LN1(x));                    y = h + FF(LN2(h))
#   A decoder block with cross-attention has a third sublayer between the two,
#       post-LN: c = LN3(h + XMHA(h, enc));     pre-LN: c = h + XMHA(LN3(h), enc)
#   and FF then reads c.
#
# LN1 = `self_attention_norm`, LN2 = `feed_forward_norm`, LN3 = `cross_attention_norm`;
# LN(z) = (z - mean) / sqrt(var + layer_norm_epsilon) * gamma + beta over the
# last axis (biased variance); MHA is softmax(Q Kᵀ / √H) V per head, projected
# back (`reference_attention`, a query row that sees no key gives zeros);
# FF(z) = act(z W1 + b1) W2 + b2. Dropout is configured 0 and `training=False`.

INTERMEDIATE = 16  # feed-forward width of the blocks compared with the reference
epsilons = st.sampled_from([1e-5, 1e-3, 0.5])  # 0.5: an epsilon ignored or misplaced shows


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


REFERENCE_ACTIVATIONS = {
    # Exact GELU (BERT): x Φ(x), Φ the standard normal CDF.
    "gelu": lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),
    # The tanh approximation (GPT-2): differs from the exact one by up to ~5e-4.
    "gelu_approximate": lambda z: 0.5 * z * (
        1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3))),
    "relu": lambda z: np.maximum(z, 0.0),
}


def randomize_weights(layer, generator):
    """Give every weight of `layer` a fresh random value: gammas around 1, all others around 0."""
    for variable in layer.weights:
        value = normal(generator, variable.shape, scale=0.5)
        if variable.path.endswith("/gamma"):
            value = value + np.float32(1.0)
        variable.assign(value)


class LayerWeights:
    """A layer's weights as float64 arrays, by path below the layer (`self_attention/qkv/kernel`).

    It records what the reference reads, so a test can check that the reference
    used every weight the layer has: a weight the layer holds but the spec does
    not use (a stray extra norm, say) fails the test too.
    """

    def __init__(self, layer, use_bias):
        self.arrays = {v.path.split("/", 1)[1]: to_numpy(v) for v in layer.weights}
        self.use_bias = use_bias
        self.read = set()

    def __getitem__(self, path):
        assert path in self.arrays, f"the layer has no weight {path}; it has {sorted(self.arrays)}"
        self.read.add(path)
        return self.arrays[path]

    def offset(self, path):
        """A bias or LayerNorm beta: present iff `use_bias` (None when absent)."""
        if not self.use_bias:
            assert path not in self.arrays, f"{path} exists with use_bias=False"
            return None
        return self[path]

    def assert_all_read(self):
        unread = sorted(set(self.arrays) - self.read)
        assert not unread, f"weights the reference never read: {unread}"


def reference_layer_norm(w, name, z, epsilon):
    mean = z.mean(axis=-1, keepdims=True)
    variance = ((z - mean) ** 2).mean(axis=-1, keepdims=True)
    out = (z - mean) / np.sqrt(variance + epsilon) * w[f"{name}/gamma"]
    beta = w.offset(f"{name}/beta")
    return out if beta is None else out + beta


def reference_multi_head_attention(w, name, z, source, mask):
    """Self-attention (fused `qkv` kernel) when `source` is None, else cross-attention to `source`."""
    if source is None:
        qkv = project(z, w[f"{name}/qkv/kernel"], w.offset(f"{name}/qkv/bias"))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    else:
        q = project(z, w[f"{name}/query/kernel"], w.offset(f"{name}/query/bias"))
        k = project(source, w[f"{name}/key/kernel"], w.offset(f"{name}/key/bias"))
        v = project(source, w[f"{name}/value/kernel"], w.offset(f"{name}/value/bias"))
    attended, _ = reference_attention(q, k, v, mask)
    return project(attended, w[f"{name}/output/kernel"], w.offset(f"{name}/output/bias"), axes=2)


def reference_feed_forward(w, z, activation, prefix="feed_forward/"):
    hidden = project(z, w[f"{prefix}intermediate/kernel"], w.offset(f"{prefix}intermediate/bias"))
    hidden = REFERENCE_ACTIVATIONS[activation](hidden)
    return project(hidden, w[f"{prefix}output/kernel"], w.offset(f"{prefix}output/bias"))


def reference_block(w, x, self_mask, activation, epsilon, pre_ln, source=None, cross_mask=None):
    """The spec above: an encoder block, or a decoder block (cross-attention when `source` is given)."""
    def ln(name, z):
        return reference_layer_norm(w, name, z, epsilon)

    def mha(z):
        return reference_multi_head_attention(w, "self_attention", z, None, self_mask)

    def cross(z):
        return reference_multi_head_attention(w, "cross_attention", z, source, cross_mask)

    def ff(z):
        return reference_feed_forward(w, z, activation)

    x = np.asarray(x, np.float64)
    if pre_ln:  # GPT-2: normalize the sublayer's input, add to the raw stream
        h = x + mha(ln("self_attention_norm", x))
        if source is not None:
            h = h + cross(ln("cross_attention_norm", h))
        return h + ff(ln("feed_forward_norm", h))
    # post-LN, the paper and BERT: add, then normalize
    h = ln("self_attention_norm", x + mha(x))
    if source is not None:
        h = ln("cross_attention_norm", h + cross(h))
    return ln("feed_forward_norm", h + ff(h))


def assert_reference_close(actual, expected, err_msg=""):
    """float32 layers against the float64 reference (the worst error seen was under a sixth of this)."""
    assert_close(actual, expected, atol=2e-5, rtol=2e-5, err_msg=err_msg)


NORM_MODES = pytest.mark.parametrize("pre_ln", [False, True], ids=["post_ln", "pre_ln"])


@st.composite
def encoder_cases(draw):
    """(heads, epsilon, use_bias, key padding mask `(B, T)`, extra attention mask, seed).

    The extra mask is None, causal `(T, T)` or arbitrary `(B, T, T)`.
    """
    b, t = draw(st.integers(1, MAX_BATCH)), draw(st.integers(1, MAX_LEN))
    real = draw(padding_masks(b, t))
    kind = draw(st.sampled_from(["none", "causal", "arbitrary"]))
    extra = {"none": None, "causal": causal_reference(t, t)}.get(kind)
    if kind == "arbitrary":
        extra = draw(hnp.arrays(np.bool_, (b, t, t)))
    return draw(heads), draw(epsilons), draw(st.booleans()), real, extra, draw(seeds)


@st.composite
def decoder_cases(draw):
    """(heads, activation, epsilon, use_bias, decoder padding mask `(B, T)`, encoder padding mask `(B, S)`, seed)."""
    b, (t, s) = draw(st.integers(1, MAX_BATCH)), draw(lengths())
    real, source_real = draw(padding_masks(b, t)), draw(padding_masks(b, s))
    return (draw(heads), draw(st.sampled_from(["gelu", "relu"])), draw(epsilons),
            draw(st.booleans()), real, source_real, draw(seeds))


# Hand-picked cases that run under every profile, before the drawn ones: the
# simplest draw (what JAX's one-example profile runs) has one token, one head
# and no biases, which hides the masks, the heads and the biases.
_ENCODER_MASK = np.ones((2, 5, 5), bool)
_ENCODER_MASK[0, 1] = False  # a real query row that sees no key at all
_ENCODER_MASK[1, 2, 1] = False
ENCODER_EXAMPLE = (2, 0.5, True, np.array([[1, 1, 1, 1, 0], [0, 1, 1, 0, 1]], bool),
                   _ENCODER_MASK, 1)
DECODER_EXAMPLE = (2, "gelu", 0.5, True, np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]], bool),
                   np.array([[1, 1, 0], [1, 0, 1]], bool), 1)


@NORM_MODES
@pytest.mark.parametrize("activation", ["gelu", "relu"])
@given(encoder_cases())
@example(ENCODER_EXAMPLE)
def test_encoder_block_computes_the_reference_layout(pre_ln, activation, case):
    """EncoderBlock is post-LN `h = LN1(x + MHA(x)); y = LN2(h + FF(h))` or pre-LN `h = x + MHA(LN1(x)); y = h + FF(LN2(h))` of its own weights, at every real position."""
    from keras_transformer.layers import EncoderBlock

    n, epsilon, use_bias, real, extra, seed = case
    (b, t), g = real.shape, rng(seed)
    block = EncoderBlock(n, INTERMEDIATE, activation=activation, layer_norm_epsilon=epsilon,
                         norm_first=pre_ln, use_bias=use_bias)
    block.build((None, None, WIDTH))
    randomize_weights(block, g)
    x = normal(g, (b, t, WIDTH))
    out = block(x, padding_mask=real, attention_mask=extra, training=False)
    # Padding masks keys; the extra mask is ANDed in. A real query row it blinds
    # attends to nothing: zero attention output (then the output projection's bias).
    visible = np.broadcast_to(real[:, None, :], (b, t, t))
    if extra is not None:
        visible = visible & extra
    w = LayerWeights(block, use_bias)
    expected = reference_block(w, x, visible, activation, epsilon, pre_ln)
    w.assert_all_read()
    assert_reference_close(to_numpy(out)[real], expected[real])


@NORM_MODES
@pytest.mark.parametrize("cross", [True, False], ids=["encoder_decoder", "decoder_only"])
@given(decoder_cases())
@example(DECODER_EXAMPLE)
def test_decoder_block_computes_the_reference_layout(pre_ln, cross, case):
    """DecoderBlock is causal, padding-masked self-attention, then cross-attention to the real encoder positions, then the feed-forward, each in the post-LN or pre-LN residual of the spec, at every real position."""
    from keras_transformer.layers import DecoderBlock

    n, activation, epsilon, use_bias, real, source_real, seed = case
    (b, t), s, g = real.shape, source_real.shape[1], rng(seed)
    block = DecoderBlock(n, INTERMEDIATE, activation=activation, layer_norm_epsilon=epsilon,
                         norm_first=pre_ln, use_bias=use_bias)
    block.build((None, None, WIDTH), (None, None, WIDTH) if cross else None)
    randomize_weights(block, g)
    x = normal(g, (b, t, WIDTH))
    y = normal(g, (b, s, WIDTH)) if cross else None
    source_real = source_real if cross else None
    out = block(x, y, decoder_padding_mask=real, encoder_padding_mask=source_real,
                training=False)
    self_mask = real[:, None, :] & causal_reference(t, t)
    cross_mask = np.broadcast_to(source_real[:, None, :], (b, t, s)) if cross else None
    w = LayerWeights(block, use_bias)
    expected = reference_block(w, x, self_mask, activation, epsilon, pre_ln, y, cross_mask)
    w.assert_all_read()
    assert_reference_close(to_numpy(out)[real], expected[real])


@pytest.mark.parametrize("activation", ["gelu", "gelu_approximate", "relu"])
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), st.booleans(), seeds)
@example(b=2, t=3, use_bias=True, seed=1)
def test_feed_forward_applies_the_named_activation(activation, b, t, use_bias, seed):
    """FeedForward is `act(x W1 + b1) W2 + b2` with `"gelu"` the exact erf GELU, `"gelu_approximate"` its tanh form and `"relu"` max(0, ·)."""
    from keras_transformer.layers import FeedForward

    layer = FeedForward(INTERMEDIATE, activation, use_bias=use_bias)
    layer.build((None, None, WIDTH))
    g = rng(seed)
    randomize_weights(layer, g)
    # Pre-activations of a few units, where the exact and tanh GELUs differ by 1e-4 to 5e-4.
    x = normal(g, (b, t, WIDTH), scale=2.0)
    w = LayerWeights(layer, use_bias)
    expected = reference_feed_forward(w, x, activation, prefix="")
    w.assert_all_read()
    assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)

"""Mixed precision: every layer stays finite and close to its float32 twin under mixed_float16 / mixed_bfloat16."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer import layers as L
from tests.helpers import (
    MAX_BATCH,
    MAX_LEN,
    WIDTH,
    assert_relative_error,
    gradient,
    lengths,
    normal,
    padding_masks,
    rng,
    seeds,
    to_numpy,
)

# Tolerated error per layer, relative to the output's scale: bfloat16 keeps 8
# mantissa bits (float16 11), and rounding errors add up with depth.
POLICIES = {"mixed_float16": 1e-2, "mixed_bfloat16": 2e-2}
DEPTH = {"Encoder": 2, "Decoder": 2}

# Layer factories and how to call them on (x, y, source padding mask).
CASES = {
    "MultiHeadAttention": (lambda dt: L.MultiHeadAttention(2, 4, dtype=dt),
                           lambda layer, x, y, m: layer(x, use_causal_mask=True)),
    "EncoderBlock": (lambda dt: L.EncoderBlock(2, 16, dtype=dt),
                     lambda layer, x, y, m: layer(y, padding_mask=m)),
    "DecoderBlock": (lambda dt: L.DecoderBlock(2, 16, norm_first=True, dtype=dt),
                     lambda layer, x, y, m: layer(x, y, encoder_padding_mask=m)),
    "Encoder": (lambda dt: L.Encoder(2, num_heads=2, intermediate_dim=16, dtype=dt),
                lambda layer, x, y, m: layer(y, padding_mask=m)),
    "Decoder": (lambda dt: L.Decoder(2, num_heads=2, intermediate_dim=16, dtype=dt),
                lambda layer, x, y, m: layer(x, y, encoder_padding_mask=m)),
}
_built = {}


def twins(name, policy):
    """(float32 layer, `policy` layer) with identical weights, built once per test session."""
    if (name, policy) not in _built:
        # Fixed weights: the half-precision error depends on them, and it must
        # not change with the order in which tests happen to run.
        keras.utils.set_random_seed(0)
        make, call = CASES[name]
        layers = make("float32"), make(policy)
        x = np.zeros((1, 2, WIDTH), "float32")
        for layer in layers:
            call(layer, x, x, np.ones((1, 2), bool))
        layers[1].set_weights(layers[0].get_weights())
        _built[name, policy] = layers
    return _built[name, policy]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", CASES)
@given(st.integers(1, MAX_BATCH), lengths(), st.data(), seeds)
def test_mixed_precision_is_finite_and_close_to_float32(name, policy, b, sizes, data, seed):
    """Under a mixed policy the layer computes in half precision, stays finite on padded inputs and matches float32 within tolerance."""
    t, s = sizes
    full, half = twins(name, policy)
    call = CASES[name][1]
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    source_real = data.draw(padding_masks(b, s))
    expected = to_numpy(call(full, x, y, source_real))
    out = call(half, x, y, source_real)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert_relative_error(out, expected, POLICIES[policy] * DEPTH.get(name, 1))


@pytest.mark.parametrize("policy", POLICIES)
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), seeds)
def test_mixed_precision_gradients_are_finite_with_fully_masked_rows(policy, b, t, seed):
    """Under a mixed policy, a causal block with left padding (rows that see no key) has finite gradients."""
    _, half = twins("DecoderBlock", policy)
    real = np.arange(t)[None, :] >= t // 2  # left padding: early rows see only padding
    real = np.broadcast_to(real, (b, t))
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, t, WIDTH))
    grad = gradient(lambda a: half(a, y, decoder_padding_mask=real, encoder_padding_mask=real), x)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("policy", POLICIES)
def test_global_policy_reaches_every_sublayer(dtype_policy, policy):
    """A layer created under a global mixed policy keeps float32 weights and half-precision sublayers throughout."""
    dtype_policy(policy)
    layer = L.Decoder(2, num_heads=2, intermediate_dim=16)
    x = np.zeros((1, 3, WIDTH), "float32")
    layer(x, x)
    assert all(w.dtype == "float32" for w in layer.weights)
    compute = {sub.dtype_policy.compute_dtype for sub in layer._flatten_layers()}
    assert compute == {policy.split("_")[1]}

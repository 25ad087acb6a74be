"""Reversible blocks and the reversible `Encoder`: inversion, recomputed gradients, padding, config.

The reference for the recomputing backward pass is ordinary backprop through
the same forward computation (`recompute=False`), on inputs and on every
weight, with the same dropout seeds.
"""

from __future__ import annotations

import functools
import json

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from keras_transformer.layers.encoder import Encoder
from keras_transformer.layers.reversible import ReversibleBlock, reversible_sequence
from tests.helpers import (
    BACKEND,
    WIDTH,
    assert_close,
    normal,
    padding_masks,
    reload_keras_file,
    replace_where,
    rng,
    seeds,
    to_numpy,
    weight_gradients,
)

ATTENTION = ("full", "lsh")
OPTIONS = {"full": {}, "lsh": {"num_buckets": 4, "num_hashes": 2, "chunk_length": 2, "seed": 3}}


def at_most(n):
    """`settings(max_examples=n)`, capped by the active hypothesis profile (JAX's runs two)."""
    return settings(max_examples=min(n, settings.default.max_examples))


@functools.cache
def blocks(kind, dropout, count=3):
    """`count` built blocks with random biases (a fresh seed each), cached per configuration."""
    made = []
    for i in range(count):
        block = ReversibleBlock(2, 16, dropout=dropout, attention=kind,
                                attention_options=OPTIONS[kind], seed=i,
                                bias_initializer="random_normal")
        block.build((None, None, WIDTH))
        made.append(block)
    return made


@functools.cache
def encoder(kind, share_weights=False):
    stack = Encoder(2, num_heads=2, intermediate_dim=16, reversible=True, attention=kind,
                    attention_options=OPTIONS[kind], share_weights=share_weights,
                    bias_initializer="random_normal")
    stack.build((None, None, WIDTH))
    return stack


@st.composite
def streams(draw, max_len=7):
    """(x1, x2, real-token mask) with at least one real token per row."""
    b, t = draw(st.integers(1, 2)), draw(st.integers(1, max_len))
    g = rng(draw(seeds))
    return normal(g, (b, t, WIDTH)), normal(g, (b, t, WIDTH)), draw(padding_masks(b, t))


def probe_loss(y1, y2, seed):
    """A scalar that weighs every output entry differently."""
    g = rng(seed)
    w1, w2 = (ops.convert_to_tensor(normal(g, tuple(y.shape))) for y in (y1, y2))
    return ops.sum(y1 * w1) + ops.sum(y2 * w2)


@pytest.mark.parametrize("kind", ATTENTION)
@given(streams(), seeds)
@at_most(8)
def test_inverse_reconstructs_the_inputs(kind, inputs, seed):
    """`inverse(y1, y2)` returns the inputs of the block that produced `(y1, y2)`, padding mask included."""
    x1, x2, real = inputs
    block = blocks(kind, 0.0)[seed % 3]
    y1, y2 = block(x1, x2, padding_mask=real)
    r1, r2 = block.inverse(y1, y2, padding_mask=real)
    assert_close(r1, x1, atol=1e-4)
    assert_close(r2, x2, atol=1e-4)


@pytest.mark.parametrize("kind", ATTENTION)
@given(streams())
@at_most(6)
def test_block_is_two_pre_ln_residual_branches(kind, inputs):
    """`y1 = x1 + attention(LN(x2))` and `y2 = x2 + FFN(LN(y1))`, computed from the sublayers called directly."""
    x1, x2, real = inputs
    block = blocks(kind, 0.0)[0]
    y1, y2 = block(x1, x2, padding_mask=real)
    attended = block.self_attention(block.self_attention_norm(x2), key_mask=real)
    expected_y1 = x1 + to_numpy(attended)
    expected_y2 = x2 + to_numpy(block.feed_forward(block.feed_forward_norm(y1)))
    assert_close(y1, expected_y1)
    assert_close(y2, expected_y2)


@pytest.mark.parametrize("kind", ATTENTION)
@given(streams(), st.lists(st.integers(0, 2), min_size=1, max_size=3), st.booleans(), seeds)
@at_most(5)
def test_recomputed_gradients_equal_ordinary_backprop(kind, inputs, order, training, seed):
    """The recomputing backward pass gives the gradients of ordinary backprop for the inputs and every weight (≤ 1e-4), with dropout, padding and a block repeated (shared weights)."""
    x1, x2, real = inputs
    sequence = [blocks(kind, 0.2)[i] for i in order]
    variables = [v for block in blocks(kind, 0.2) for v in block.trainable_variables]

    def loss(recompute):
        def fn(a1, a2):
            y1, y2 = reversible_sequence(sequence, a1, a2, padding_mask=real, training=training,
                                         recompute=recompute)
            return probe_loss(y1, y2, seed)
        return fn

    plain = weight_gradients(loss(False), [x1, x2], variables, jit=BACKEND == "jax")
    recomputed = weight_gradients(loss(True), [x1, x2], variables, jit=BACKEND == "jax")
    assert any(np.any(g != 0) for g in plain[2:])
    for a, b, name in zip(recomputed, plain, ["x1", "x2"] + [v.path for v in variables]):
        assert_close(a, b, atol=1e-4, rtol=1e-4, err_msg=name)


@given(streams(), seeds)
@at_most(4)
def test_training_draws_fresh_dropout_masks_at_each_call(inputs, seed):
    """With dropout and `training=True` two calls differ from each other and from inference, which is deterministic."""
    x1, x2, real = inputs
    block = blocks("full", 0.2)[seed % 3]
    first, second = (to_numpy(block(x1, x2, padding_mask=real, training=True)[1]) for _ in "ab")
    inference = to_numpy(block(x1, x2, padding_mask=real)[1])
    assert not np.allclose(first, second)
    assert not np.allclose(first, inference)
    assert_close(block(x1, x2, padding_mask=real)[1], inference, atol=0)


@pytest.mark.parametrize("kind", ATTENTION)
@given(streams(max_len=8), seeds)
@at_most(6)
def test_reversible_encoder_ignores_padded_positions(kind, inputs, seed):
    """Outputs of a reversible `Encoder` at real positions do not change when padded positions hold other vectors."""
    x, _, real = inputs
    stack = encoder(kind)
    expected = to_numpy(stack(x, padding_mask=real))[real]
    other = replace_where(x, real, rng(seed))
    assert_close(to_numpy(stack(other, padding_mask=real))[real], expected, atol=1e-5)


@pytest.mark.parametrize("share_weights", [False, True])
@given(streams())
@at_most(4)
def test_reversible_encoder_averages_the_streams_then_normalizes(share_weights, inputs):
    """`Encoder(reversible=True)` returns `LayerNorm((y1 + y2) / 2)` of its blocks applied in turn to `(x, x)`."""
    x, _, real = inputs
    stack = encoder("full", share_weights)
    y1, y2 = x, x
    for block in stack.layer_blocks():
        y1, y2 = block(y1, y2, padding_mask=real)
    expected = stack.final_norm((y1 + y2) * 0.5)
    assert_close(stack(x, padding_mask=real), to_numpy(expected), atol=1e-6)
    per_block = len(stack.blocks[0].trainable_variables)
    assert len(stack.trainable_variables) == per_block * (1 if share_weights else 2) + 2


@pytest.mark.parametrize("kind", ATTENTION)
@given(streams())
@at_most(2)
def test_encoder_gradients_with_recomputation_equal_ordinary_backprop(kind, inputs):
    """Through `Encoder(reversible=True)`, the recomputing backward pass equals ordinary backprop for the input and every weight."""
    x, _, real = inputs
    stack = encoder(kind)

    def loss(recompute):
        def fn(a):
            stack.recompute_gradients = recompute
            try:
                out = stack(a, padding_mask=real, training=True)
            finally:
                stack.recompute_gradients = True
            return probe_loss(out, out, 0)
        return fn

    plain = weight_gradients(loss(False), [x], stack.trainable_variables, jit=BACKEND == "jax")
    recomputed = weight_gradients(loss(True), [x], stack.trainable_variables, jit=BACKEND == "jax")
    for a, b in zip(recomputed, plain):
        assert_close(a, b, atol=1e-4, rtol=1e-4)


@given(streams(), seeds)
@at_most(1)
def test_compiled_gradients_with_dropout_equal_ordinary_backprop(inputs, seed):
    """Under XLA (`tf.function(jit_compile=True)`, `jax.jit`) and with dropout active, the recomputing backward equals ordinary backprop."""
    if BACKEND == "torch":
        pytest.skip("XLA compilation is for TensorFlow and JAX")
    x1, x2, real = inputs
    sequence = blocks("full", 0.2)[:1]  # several blocks: see the `fit` test
    variables = [v for block in sequence for v in block.trainable_variables]

    def loss(recompute):
        def fn(a1, a2):
            y1, y2 = reversible_sequence(sequence, a1, a2, padding_mask=real, training=True,
                                         recompute=recompute)
            return probe_loss(y1, y2, seed)
        return fn

    plain = weight_gradients(loss(False), [x1, x2], variables, jit=True)
    recomputed = weight_gradients(loss(True), [x1, x2], variables, jit=True)
    for a, b in zip(recomputed, plain):
        assert_close(a, b, atol=1e-4, rtol=1e-4)


def fit_model(recompute, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, WIDTH))
    stack = Encoder(2, num_heads=2, intermediate_dim=16, reversible=True, seed=seed)
    stack.recompute_gradients = recompute
    outputs = keras.layers.Dense(3)(stack(inputs))
    return keras.Model(inputs, outputs)


@at_most(1)
@given(seeds)
def test_fit_with_recomputed_gradients_equals_ordinary_backprop(seed):
    """Two `model.fit` steps leave the same weights compiled (`jit_compile=True` on TensorFlow and JAX) with the recomputing backward as run eagerly with ordinary backprop."""
    g = rng(seed)
    x, y = normal(g, (2, 6, WIDTH)), normal(g, (2, 6, 3))
    jit = BACKEND != "torch"  # Keras compiles PyTorch with torch.compile, not exercised here
    results = []
    for recompute in (False, True):
        model = fit_model(recompute, seed % 1000)
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit and recompute,
                      run_eagerly=not recompute)
        model.fit(x, y, epochs=2, batch_size=2, verbose=0)
        results.append([to_numpy(w) for w in model.weights])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_round_trips_and_keras_file_reloads_identically():
    """Block and stack configs (with an `LSHAttention` inside) round-trip through JSON, and a `.keras` file reloads (safe_mode) to identical predictions."""
    block = ReversibleBlock(2, 8, dropout=0.1, attention="lsh", attention_options=OPTIONS["lsh"],
                            seed=4, activation="relu", layer_norm_epsilon=1e-6)
    config = block.get_config()
    assert ReversibleBlock.from_config(json.loads(json.dumps(config))).get_config() == config
    assert (config["attention"], config["seed"], config["norm_first"]) == ("lsh", 4, True)
    stack = Encoder(2, num_heads=2, intermediate_dim=8, reversible=True, share_weights=True,
                    attention="lsh", attention_options=OPTIONS["lsh"])
    config = stack.get_config()
    assert config["reversible"] is True
    assert Encoder.from_config(json.loads(json.dumps(config))).get_config() == config
    inputs = keras.Input((None, WIDTH))
    model = keras.Model(inputs, Encoder(2, num_heads=2, intermediate_dim=8, reversible=True,
                                        attention="lsh", attention_options=OPTIONS["lsh"],
                                        dropout=0.1)(inputs))
    x = normal(rng(0), (2, 7, WIDTH))
    expected = to_numpy(model.predict(x, verbose=0))
    loaded = reload_keras_file(model)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    np.testing.assert_array_equal(to_numpy(loaded.predict(x, verbose=0)), expected)


def test_plain_encoder_config_gains_only_the_flag():
    """`Encoder(reversible=False)` keeps its blocks and config, plus `reversible: False`."""
    stack = Encoder(2, num_heads=2, intermediate_dim=8)
    config = stack.get_config()
    assert config["reversible"] is False
    assert type(stack.blocks[0]).__name__ == "EncoderBlock" and "seed" not in config


@pytest.mark.parametrize("make, name", [
    (lambda: ReversibleBlock(2, 8, norm_first=False), "norm_first"),
    (lambda: Encoder(2, num_heads=2, intermediate_dim=8, reversible=True, norm_first=False),
     "norm_first"),
    (lambda: ReversibleBlock(2, 8, attention="reformer"), "attention"),
    (lambda: ReversibleBlock(0, 8), "num_heads"),
    (lambda: ReversibleBlock(2, 8, dropout=1.5), "dropout"),
])
def test_bad_arguments_raise_value_errors_naming_them(make, name):
    """A post-LN reversible block, an attention that is not a layer, or a bad size or rate raise a ValueError that names the argument."""
    with pytest.raises(ValueError, match=f"`{name}`"):
        make()

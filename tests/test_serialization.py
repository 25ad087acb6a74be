"""Serialization: configs round-trip and `.keras` files reload to identical outputs under safe_mode."""

from __future__ import annotations

import json

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer import layers as L
from tests.helpers import reload_keras_file, rng, seeds, to_numpy

initializers = st.sampled_from(["glorot_uniform", "zeros", "he_normal"])
rates = st.sampled_from([0.0, 0.1, 0.5])
block_args = st.fixed_dictionaries({
    "num_heads": st.sampled_from([1, 2]),
    "intermediate_dim": st.integers(1, 8),
    "dropout": rates,
    "activation": st.sampled_from(["gelu", "relu", "gelu_approximate"]),
    "layer_norm_epsilon": st.sampled_from([1e-5, 1e-6]),
    "norm_first": st.booleans(),
    "kernel_initializer": initializers,
})

LAYER_ARGS = st.one_of(
    st.tuples(st.just(L.MultiHeadAttention), st.fixed_dictionaries({
        "num_heads": st.integers(1, 4), "key_dim": st.integers(1, 8), "dropout": rates,
        "use_bias": st.booleans(), "output_dim": st.none() | st.integers(1, 8),
        "kernel_initializer": initializers, "seed": st.none() | st.integers(0, 99)})),
    st.tuples(st.just(L.FeedForward), st.fixed_dictionaries({
        "intermediate_dim": st.integers(1, 8), "activation": st.sampled_from(["gelu", "relu"]),
        "output_dim": st.none() | st.integers(1, 8), "use_bias": st.booleans()})),
    st.tuples(st.just(L.SinusoidalPositionEncoding),
              st.fixed_dictionaries({"max_wavelength": st.sampled_from([10000.0, 100.0])})),
    st.tuples(st.just(L.PositionEmbedding), st.fixed_dictionaries({
        "max_length": st.integers(1, 64), "initializer": initializers})),
    st.tuples(st.just(L.TokenAndPositionEmbedding), st.fixed_dictionaries({
        "vocab_size": st.integers(1, 50), "max_length": st.integers(1, 64),
        "hidden_dim": st.integers(1, 8).map(lambda k: 2 * k),
        "position": st.sampled_from(["learned", "sinusoidal"]),
        "num_segments": st.integers(0, 3), "embedding_dim": st.none() | st.integers(1, 8),
        "mask_zero": st.booleans(), "pad_id": st.integers(0, 3)})),
    st.tuples(st.sampled_from([L.EncoderBlock, L.DecoderBlock]), block_args),
    st.tuples(st.sampled_from([L.Encoder, L.Decoder]), st.builds(
        lambda args, depth, share: {**args, "num_layers": depth, "share_weights": share},
        block_args, st.integers(1, 3), st.booleans())),)


@given(LAYER_ARGS)
def test_config_round_trips_through_json(cls_and_args):
    """For any valid constructor arguments, the config is JSON-serialisable and `from_config(get_config())` reproduces it."""
    cls, kwargs = cls_and_args
    layer = cls(**kwargs)
    config = layer.get_config()
    restored = cls.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    for name, value in kwargs.items():
        stored = config[name]
        if isinstance(stored, dict):  # a serialized initializer
            stored = stored["class_name"]
            value = keras.initializers.get(value).__class__.__name__
        assert stored == value, name


def small_model(position, norm_first, heads):
    """A functional model touching every layer: embeddings with a Keras mask, encoder, decoder, attention, FFN."""
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    embed = L.TokenAndPositionEmbedding(13, 8, 8, position=position, mask_zero=True)
    encoded = L.Encoder(2, num_heads=heads, intermediate_dim=16, norm_first=norm_first)(embed(source))
    x = L.TokenAndPositionEmbedding(13, 8, 8, position="learned")(target)
    x = x + L.SinusoidalPositionEncoding()(x) + L.PositionEmbedding(8)(x)
    x = L.Decoder(1, num_heads=heads, intermediate_dim=16, norm_first=norm_first)(x, encoded)
    x = L.DecoderBlock(heads, 16)(x)
    x = L.MultiHeadAttention(heads, 4)(x, use_causal_mask=True)
    x = L.MultiHeadAttention(heads, 4)(x, encoded)
    return keras.Model([source, target], L.FeedForward(8, output_dim=5)(x))


@settings(max_examples=3)
@given(st.sampled_from(["learned", "sinusoidal"]), st.booleans(), st.sampled_from([1, 2]), seeds)
def test_keras_file_reloads_identically_in_safe_mode(position, norm_first, heads, seed):
    """A `.keras` save/load (safe_mode=True, no custom_objects) restores the same weights and identical predictions."""
    model = small_model(position, norm_first, heads)
    g = rng(seed)
    source = g.integers(0, 13, (2, 6)).astype("int32")
    source[:, 0] = 1  # at least one real source token
    target = g.integers(1, 13, (2, 5)).astype("int32")
    expected = to_numpy(model.predict([source, target], verbose=0))
    loaded = reload_keras_file(model)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    np.testing.assert_array_equal(to_numpy(loaded.predict([source, target], verbose=0)), expected)

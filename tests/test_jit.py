"""XLA: a model built from our layers gives the same predictions and training step compiled as eager."""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer import layers as L
from tests.helpers import rng, seeds, to_numpy


def seq2seq(seed, norm_first):
    keras.utils.set_random_seed(seed)
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    encoded = L.Encoder(1, num_heads=2, intermediate_dim=16, norm_first=norm_first)(
        L.TokenAndPositionEmbedding(13, 8, 8, mask_zero=True)(source))
    x = L.TokenAndPositionEmbedding(13, 8, 8, position="sinusoidal")(target)
    x = L.Decoder(1, num_heads=2, intermediate_dim=16, norm_first=norm_first)(x, encoded)
    return keras.Model([source, target], keras.layers.Dense(13)(x))


@settings(max_examples=2)
@given(seeds, st.booleans(), st.integers(2, 6))
def test_jit_compiled_model_equals_eager(seed, norm_first, length):
    """`jit_compile=True` predict and one fit step equal the eager ones (variable-length inputs)."""
    g = rng(seed)
    source = g.integers(0, 13, (3, length)).astype("int32")
    source[:, 0] = 1
    target = g.integers(1, 13, (3, length - 1)).astype("int32")
    labels = g.integers(0, 13, (3, length - 1)).astype("int32")
    results = []
    for jit in (False, True):
        model = seq2seq(seed % 1000, norm_first)
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                      jit_compile=jit)
        before = to_numpy(model.predict([source, target], verbose=0))
        model.fit([source, target], labels, epochs=1, batch_size=3, verbose=0)
        results.append((before, [to_numpy(w) for w in model.weights]))
    (eager, eager_weights), (jitted, jit_weights) = results
    np.testing.assert_allclose(jitted, eager, atol=1e-5)
    for a, b in zip(jit_weights, eager_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)

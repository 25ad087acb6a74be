"""Learned absolute position embeddings (BERT, GPT-2)."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer.layers._checks import (
    check_length,
    check_positive,
    check_rank,
    check_start_index,
)


@keras.saving.register_keras_serializable(package="keras_transformer")
class PositionEmbedding(keras.layers.Layer):
    """Return a learned vector for each position, shaped like the input.

    The layer owns a `(max_length, d)` table and returns its rows
    `start_index ... start_index + length - 1`, broadcast over the batch. Add
    the result to the token embeddings yourself.

    Args:
        max_length: the longest sequence the table covers.
        initializer: initializer of the table.

    Call arguments:
        inputs: `(batch, length, d)`; only its shape is used.
        start_index: position of the first element (int or scalar tensor).

    A static length with `start_index + length > max_length`, or an integer
    `start_index < 0`, raises a `ValueError`. A tensor `start_index` outside
    the table is not checked (in a compiled function its value is unknown);
    the backend's gather then clamps or wraps it.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> layer = kt.layers.PositionEmbedding(max_length=32)
    >>> tuple(layer(np.zeros((2, 10, 16))).shape)
    (2, 10, 16)
    >>> tuple(layer.embeddings.shape)  # one learned vector per position up to max_length
    (32, 16)
    """

    def __init__(self, max_length: int, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive(max_length=max_length)
        self.max_length = max_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        check_rank("inputs", inputs_shape, 3, "(batch, length, hidden_dim)")
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, inputs_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs, start_index=0):
        check_rank("inputs", inputs.shape, 3, "(batch, length, hidden_dim)")
        check_start_index(start_index)
        check_length(inputs.shape[1], self.max_length, "inputs", start_index)
        shape = ops.shape(inputs)
        table = ops.convert_to_tensor(self.embeddings)
        # A gather rather than a slice: a slice's size must be static under JAX,
        # and the length is symbolic when a model is built on `Input((None,))`.
        rows = ops.take(table, ops.arange(shape[1]) + start_index, axis=0)
        return ops.broadcast_to(ops.cast(rows, self.compute_dtype), shape)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }

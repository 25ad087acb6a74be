"""A stack of encoder blocks."""

from __future__ import annotations

import keras

from keras_transformer import masks
from keras_transformer.layers.encoder_block import EncoderBlock
from keras_transformer.layers.stack_base import StackBase


@keras.saving.register_keras_serializable(package="keras_transformer")
class Encoder(StackBase):
    """`num_layers` `EncoderBlock`s applied in turn (BERT's body).

    Args:
        num_layers: depth of the stack.
        share_weights: use one block's weights at every depth (ALBERT's
            cross-layer sharing); the stack then has the parameters of one block.
        **block_kwargs: `num_heads`, `intermediate_dim`, `dropout`, `activation`,
            `layer_norm_epsilon`, `norm_first`, initializers (see `EncoderBlock`).
            With `norm_first=True` a final LayerNorm closes the stack.

    Call arguments: as `EncoderBlock`.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> encoder = kt.layers.Encoder(num_layers=2, num_heads=2, intermediate_dim=32)
    >>> x = np.random.rand(2, 5, 16).astype("float32")
    >>> padding_mask = np.array([[True, True, True, False, False]] * 2)
    >>> tuple(encoder(x, padding_mask=padding_mask).shape)
    (2, 5, 16)
    >>> len(encoder.layer_blocks())
    2
    """

    block_class = EncoderBlock

    def build(self, inputs_shape):
        self._build_blocks(inputs_shape)

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None,
             mask=None, inputs_mask=None):
        padding_mask = masks.resolve_padding_mask("padding_mask", padding_mask, mask, inputs_mask)
        x = inputs
        for block in self.layer_blocks():
            x = block(x, padding_mask=padding_mask, attention_mask=attention_mask, training=training)
        return self._finish(x)

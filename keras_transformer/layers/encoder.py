"""A stack of encoder blocks."""

from __future__ import annotations

import keras

from keras_transformer.layers.encoder_block import EncoderBlock, self_attention_mask
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
    >>> encoder = Encoder(num_layers=2, num_heads=2, intermediate_dim=32)
    >>> encoder(np.zeros((2, 5, 16)), padding_mask=np.array([[1, 1, 1, 0, 0]] * 2)).shape
    (2, 5, 16)
    """

    block_class = EncoderBlock

    def build(self, inputs_shape):
        self._build_blocks(inputs_shape)

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        mask = self_attention_mask(inputs, padding_mask, attention_mask)
        x = inputs
        for block in self.layer_blocks():
            x = block(x, attention_mask=mask, training=training)
        return self._finish(x)

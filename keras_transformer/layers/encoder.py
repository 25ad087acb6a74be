"""A stack of encoder blocks."""

from __future__ import annotations

import keras

from keras_transformer import masks
from keras_transformer.layers._checks import check_rank
from keras_transformer.layers.encoder_block import EncoderBlock
from keras_transformer.layers.reversible import ReversibleBlock, reversible_sequence
from keras_transformer.layers.stack_base import StackBase


@keras.saving.register_keras_serializable(package="keras_transformer")
class Encoder(StackBase):
    """`num_layers` `EncoderBlock`s applied in turn (BERT's body).

    Args:
        num_layers: depth of the stack.
        share_weights: use one block's weights at every depth (ALBERT's
            cross-layer sharing); the stack then has the parameters of one block.
        reversible: use `ReversibleBlock`s (Reformer). The input `x` is
            duplicated into the two streams `(x, x)`, the blocks map them to
            `(y1, y2)`, and the stack returns `LayerNorm((y1 + y2) / 2)`. The
            backward pass recomputes each block's activations from its outputs
            instead of storing them (see `reversible_sequence`), so training
            memory no longer grows with depth. Reversible blocks are pre-LN
            (`norm_first=False` is an error), take the same `attention` kinds
            (`attention="lsh"` makes a Reformer encoder) and a `seed` for
            their dropout.
        **block_kwargs: `num_heads`, `intermediate_dim`, `dropout`, `activation`,
            `layer_norm_epsilon`, `norm_first`, initializers (see `EncoderBlock`).
            With `norm_first=True` a final LayerNorm closes the stack.

    Attributes:
        recompute_gradients: with `reversible=True`, whether the backward pass
            recomputes activations (default); set it to False to backpropagate
            through stored activations instead, e.g. to compare the two.

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
    >>> reformer = kt.layers.Encoder(num_layers=2, num_heads=2, intermediate_dim=32,
    ...                              reversible=True)
    >>> tuple(reformer(x, padding_mask=padding_mask).shape)
    (2, 5, 16)
    """

    block_class = EncoderBlock
    recompute_gradients = True

    def __init__(self, num_layers: int, *, share_weights: bool = False,
                 reversible: bool = False, **block_kwargs):
        super().__init__(num_layers, share_weights=share_weights,
                         block_class=ReversibleBlock if reversible else None, **block_kwargs)
        self.reversible = bool(reversible)

    def build(self, inputs_shape):
        self._build_blocks(inputs_shape)

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None,
             mask=None, inputs_mask=None):
        check_rank("inputs", inputs.shape, 3, "(batch, length, hidden_dim)")
        padding_mask = masks.resolve_padding_mask("padding_mask", padding_mask, mask, inputs_mask,
                                                  length=inputs.shape[1])
        if self.reversible:
            y1, y2 = reversible_sequence(
                self.layer_blocks(), inputs, inputs, padding_mask=padding_mask,
                attention_mask=attention_mask, training=training,
                recompute=self.recompute_gradients,
            )
            return self._finish((y1 + y2) * 0.5)
        x = inputs
        for block in self.layer_blocks():
            x = block(x, padding_mask=padding_mask, attention_mask=attention_mask, training=training)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "reversible": self.reversible}

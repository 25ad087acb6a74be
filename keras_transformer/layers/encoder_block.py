"""The Transformer encoder block: bidirectional self-attention + feed-forward."""

from __future__ import annotations

import keras
from keras.src.backend import get_keras_mask

from keras_transformer import masks
from keras_transformer.layers._checks import check_rank
from keras_transformer.layers.block_base import BlockBase
from keras_transformer.layers.residual import residual


@keras.saving.register_keras_serializable(package="keras_transformer")
class EncoderBlock(BlockBase):
    """One encoder layer: every position attends to every real position.

    `x = residual(x, self_attention)`, then `x = residual(x, feed_forward)`,
    post-LN (the paper, BERT) or pre-LN (`norm_first=True`).

    Args:
        num_heads: attention heads; must divide the input width.
        intermediate_dim: width of the feed-forward hidden layer.
        dropout: dropout on each residual branch and on the attention weights.
        activation: feed-forward activation (see `FeedForward`).
        layer_norm_epsilon: epsilon of the LayerNorms.
        norm_first: pre-LN if True, post-LN if False.
        kernel_initializer, bias_initializer: for every Dense projection.

    Call arguments:
        inputs: `(batch, length, hidden_dim)`.
        padding_mask: `(batch, length)`, True at real tokens. Defaults to the
            inputs' Keras mask (e.g. from `mask_zero=True` embeddings).
        attention_mask: `(length, length)` or `(batch, length, length)`,
            True = may attend; combined with the padding mask by AND.

    Outputs at padded positions are finite but unspecified; outputs at real
    positions do not depend on what padded positions hold.

    Example:
    >>> EncoderBlock(num_heads=2, intermediate_dim=32)(np.zeros((2, 5, 16))).shape
    (2, 5, 16)
    """

    def build(self, inputs_shape):
        self._build_common(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        check_rank("inputs", inputs.shape, 3, "(batch, length, hidden_dim)")
        mask = self_attention_mask(inputs, padding_mask, attention_mask)
        x = residual(
            inputs,
            lambda h: self.self_attention(h, attention_mask=mask, training=training),
            self.self_attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )
        return residual(
            x, self.feed_forward, self.feed_forward_norm, self.residual_dropout,
            self.norm_first, training,
        )


def self_attention_mask(inputs, padding_mask=None, attention_mask=None, key_shape=None):
    """Validate and AND a `(B, S)` padding mask (default: the Keras mask) with an attention mask.

    `key_shape` defaults to the inputs' shape; a decoder with a KV cache passes
    the cache's `(B, S_max)` so the masks cover the cache slots.
    """
    if padding_mask is None:
        padding_mask = get_keras_mask(inputs)
    elif len(padding_mask.shape) != 2:
        raise ValueError(
            "`padding_mask` must have shape (batch, length), True at real tokens; "
            f"got shape {tuple(padding_mask.shape)}."
        )
    if attention_mask is not None:
        key_shape = inputs.shape if key_shape is None else key_shape
        masks.check_attention_mask(attention_mask, inputs.shape, key_shape)
    return masks.attention_mask(key_mask=padding_mask, mask=attention_mask)

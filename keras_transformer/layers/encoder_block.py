"""The Transformer encoder block: bidirectional self-attention + feed-forward."""

from __future__ import annotations

import keras

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
        use_bias: whether the projections have biases and the LayerNorms
            offsets (False: nanoGPT's default, a little faster to train).
        attention: the self-attention kind: `"full"` (`MultiHeadAttention`),
            `"bigbird"` (`BigBirdAttention`, block-sparse) or `"lsh"`
            (`LSHAttention`, Reformer's hashed attention).
        attention_options: further arguments of that layer, e.g.
            `{"block_size": 64, "num_random_blocks": 3}` for BigBird.

    Call arguments:
        inputs: `(batch, length, hidden_dim)`.
        padding_mask: `(batch, length)`, True at real tokens. Defaults to the
            inputs' Keras mask (e.g. from `mask_zero=True` embeddings), which
            Keras passes in as `mask` / `inputs_mask`.
        attention_mask: `(length, length)` or `(batch, length, length)`,
            True = may attend; combined with the padding mask by AND.

    Outputs at padded positions are finite but unspecified; outputs at real
    positions do not depend on what padded positions hold.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> block = kt.layers.EncoderBlock(num_heads=2, intermediate_dim=32)
    >>> x = np.random.rand(2, 5, 16).astype("float32")
    >>> tuple(block(x, padding_mask=np.array([[True] * 3 + [False] * 2] * 2)).shape)
    (2, 5, 16)
    """

    def build(self, inputs_shape):
        check_rank("inputs", inputs_shape, 3, "(batch, length, hidden_dim)")
        self._build_common(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None,
             mask=None, inputs_mask=None):
        check_rank("inputs", inputs.shape, 3, "(batch, length, hidden_dim)")
        padding_mask = masks.resolve_padding_mask("padding_mask", padding_mask, mask, inputs_mask,
                                                  length=inputs.shape[1])
        x = residual(
            inputs,
            lambda h: self.self_attention(
                h, attention_mask=attention_mask, key_mask=padding_mask, training=training
            ),
            self.self_attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )
        return residual(
            x, self.feed_forward, self.feed_forward_norm, self.residual_dropout,
            self.norm_first, training,
        )


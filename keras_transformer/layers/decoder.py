"""A stack of decoder blocks, with a stacked KV cache for fast generation."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import check_divisible, check_positive
from keras_transformer.layers.decoder_block import DecoderBlock
from keras_transformer.layers.stack_base import StackBase


@keras.saving.register_keras_serializable(package="keras_transformer")
class Decoder(StackBase):
    """`num_layers` `DecoderBlock`s applied in turn (GPT's body, or a seq2seq decoder).

    Args: as `Encoder` (blocks are `DecoderBlock`s).

    Call arguments: as `DecoderBlock`, except that the caches are stacked over
    layers: `cache` is `(batch, num_layers, 2, max_length, num_heads, head_dim)`
    (build it with `init_cache`) with `cache_update_index`, and
    `cross_attention_cache` is `(batch, num_layers, 2, S, num_heads, head_dim)`
    (from `compute_cross_attention_cache`).

    Returns:
        The output; `(output, cache)` when `cache` is given; `(output, scores)`
        with `return_cross_attention_scores=True`, where `scores` stacks every
        layer's cross-attention weights, `(batch, num_layers, num_heads, T, S)`.

    Example:
    >>> import numpy as np
    >>> decoder = Decoder(num_layers=2, num_heads=2, intermediate_dim=32, norm_first=True)
    >>> tuple(decoder(np.zeros((2, 5, 16))).shape)
    (2, 5, 16)
    """

    block_class = DecoderBlock

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._build_blocks(decoder_sequence_shape, encoder_sequence_shape)

    def compute_output_shape(self, decoder_sequence_shape, encoder_sequence_shape=None):
        return tuple(decoder_sequence_shape)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_cross_attention_scores=False,
        training=None,
    ):
        if cache is not None and (len(cache.shape) != 6 or cache.shape[1] != self.num_layers):
            raise ValueError(
                "`cache` must have shape (batch, num_layers, 2, max_length, num_heads, "
                f"head_dim) with num_layers={self.num_layers}; got {tuple(cache.shape)}. "
                "Build it with `decoder.init_cache(batch_size, max_length)`."
            )
        x, new_caches, scores = decoder_sequence, [], []
        for i, block in enumerate(self.layer_blocks()):
            out = block(
                x,
                encoder_sequence,
                decoder_padding_mask=decoder_padding_mask,
                decoder_attention_mask=decoder_attention_mask,
                encoder_padding_mask=encoder_padding_mask,
                encoder_attention_mask=encoder_attention_mask,
                self_attention_cache=None if cache is None else cache[:, i],
                self_attention_cache_update_index=cache_update_index,
                cross_attention_cache=(
                    None if cross_attention_cache is None else cross_attention_cache[:, i]
                ),
                use_causal_mask=use_causal_mask,
                return_cross_attention_scores=return_cross_attention_scores,
                training=training,
            )
            if cache is not None:
                out, layer_cache = out
                new_caches.append(layer_cache)
            elif return_cross_attention_scores:
                out, layer_scores = out
                scores.append(layer_scores)
            x = out
        x = self._finish(x)
        if return_cross_attention_scores:
            return x, ops.stack(scores, axis=1)
        return x if cache is None else (x, ops.stack(new_caches, axis=1))

    def init_cache(self, batch_size: int, max_length: int, dtype: str | None = None,
                   hidden_dim: int | None = None) -> Tensor:
        """An all-zero self-attention cache for `batch_size` sequences of up to `max_length`.

        A stack that was never called does not know its width yet: pass its
        `hidden_dim` then (once built, the built width is used and must match).

        Example:
        >>> import numpy as np
        >>> decoder = Decoder(num_layers=2, num_heads=2, intermediate_dim=32)
        >>> tuple(decoder.init_cache(3, 10, hidden_dim=16).shape)
        (3, 2, 2, 10, 2, 8)
        """
        num_heads = self.blocks[0].num_heads
        head_dim = self._head_dim(hidden_dim)
        shape = (batch_size, self.num_layers, 2, max_length, num_heads, head_dim)
        return ops.zeros(shape, dtype=dtype or self.compute_dtype)

    def _head_dim(self, hidden_dim):
        """The width of one attention head, from the built blocks or from `hidden_dim`."""
        if not self.built:
            if hidden_dim is None:
                raise ValueError(
                    "`hidden_dim` is needed: this Decoder was never called, so its width "
                    "is unknown; pass `init_cache(..., hidden_dim=...)` or call it once first."
                )
            check_positive(hidden_dim=hidden_dim)
            return check_divisible(hidden_dim, self.blocks[0].num_heads)
        head_dim = self.blocks[0].self_attention.key_dim
        built_width = head_dim * self.blocks[0].num_heads
        if hidden_dim is not None and hidden_dim != built_width:
            raise ValueError(
                f"`hidden_dim` must be the decoder's width, {built_width}; got {hidden_dim!r}."
            )
        return head_dim

    def compute_cross_attention_cache(self, encoder_sequence: Tensor) -> Tensor:
        """Every layer's cross-attention keys and values, computed once per source."""
        return ops.stack(
            [block.compute_cross_attention_cache(encoder_sequence) for block in self.layer_blocks()],
            axis=1,
        )

"""The Transformer decoder block: causal self-attention, cross-attention, feed-forward."""

from __future__ import annotations

import keras

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import check_rank
from keras_transformer.layers.block_base import BlockBase
from keras_transformer.layers.residual import residual


@keras.saving.register_keras_serializable(package="keras_transformer")
class DecoderBlock(BlockBase):
    """One decoder layer: masked self-attention, then (optionally) cross-attention.

    Self-attention is causal by default, so position `t` never sees a
    position after `t`. If the block is first called with `encoder_sequence`,
    it also has a cross-attention sublayer in which every decoder position
    attends to every real encoder position (encoder–decoder models); called
    without it, the block is a GPT-style decoder-only layer.

    Args: as `EncoderBlock`.

    Call arguments:
        decoder_sequence: `(batch, T, hidden_dim)`.
        encoder_sequence: `(batch, S, hidden_dim)` encoder outputs, or None.
        decoder_padding_mask: `(batch, T)` (or `(batch, max_length)` over the
            cache slots when decoding with a cache), True at real tokens.
            Defaults to the decoder sequence's Keras mask (which Keras passes
            in as `mask` / `decoder_sequence_mask`); with a cache that mask
            marks the new queries only.
        decoder_attention_mask: extra self-attention mask, True = may attend.
        encoder_padding_mask: `(batch, S)`, True at real source tokens.
        encoder_attention_mask: `(batch, T, S)` extra cross-attention mask.
        self_attention_cache: `(batch, 2, max_length, num_heads, head_dim)`.
        self_attention_cache_update_index: where the new tokens' keys and
            values go; also the causal offset.
        cross_attention_cache: `(batch, 2, S, num_heads, head_dim)` encoder keys
            and values from `compute_cross_attention_cache`, used instead of
            `encoder_sequence`.
        use_causal_mask: causal self-attention (default True).
        return_cross_attention_scores: also return the cross-attention
            weights `(batch, num_heads, T, S)` (not with a cache).

    Returns:
        The output; `(output, self_attention_cache)` when a cache is given;
        `(output, cross_attention_scores)` when asked for the scores.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> block = kt.layers.DecoderBlock(num_heads=2, intermediate_dim=32)
    >>> decoder_sequence = np.random.rand(2, 5, 16).astype("float32")
    >>> encoder_sequence = np.random.rand(2, 7, 16).astype("float32")
    >>> tuple(block(decoder_sequence, encoder_sequence).shape)
    (2, 5, 16)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.attention != "full":
            # Cached decoding and cross-attention need the dense layer.
            raise ValueError(
                f"`attention` must be 'full' in a decoder block; got {self.attention!r}. "
                "The sparse kinds are for encoder blocks."
            )

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        check_rank("decoder_sequence", decoder_sequence_shape, 3, "(batch, length, hidden_dim)")
        if encoder_sequence_shape is not None:
            check_rank("encoder_sequence", encoder_sequence_shape, 3,
                       "(batch, source_length, hidden_dim)")
        self._build_common(decoder_sequence_shape)
        self.has_cross_attention = encoder_sequence_shape is not None
        if self.has_cross_attention:
            self.cross_attention = self._attention(
                "cross_attention", decoder_sequence_shape, encoder_sequence_shape
            )
            self.cross_attention_norm = self._norm("cross_attention_norm", decoder_sequence_shape)
        self.built = True

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
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_cross_attention_scores=False,
        training=None,
        mask=None,
        decoder_sequence_mask=None,
    ):
        check_rank("decoder_sequence", decoder_sequence.shape, 3, "(batch, length, hidden_dim)")
        wants_cross = encoder_sequence is not None or cross_attention_cache is not None
        if return_cross_attention_scores and (
            not wants_cross or self_attention_cache is not None
        ):
            raise ValueError(
                "`return_cross_attention_scores=True` needs `encoder_sequence` or "
                "`cross_attention_cache` and no `self_attention_cache`."
            )
        if wants_cross != self.has_cross_attention:
            raise ValueError(
                "This block was built "
                + ("with" if self.has_cross_attention else "without")
                + " cross-attention (first called "
                + ("with" if self.has_cross_attention else "without")
                + " `encoder_sequence`); call it the same way every time."
            )
        cache = self_attention_cache
        if cache is None:
            key_mask = masks.resolve_padding_mask(
                "decoder_padding_mask", decoder_padding_mask, mask, decoder_sequence_mask,
                length=decoder_sequence.shape[1],
            )
        else:
            # With a cache the new tokens' Keras mask marks queries, not the
            # cache slots; only an explicit mask over every slot masks keys.
            key_mask = masks.resolve_padding_mask("decoder_padding_mask", decoder_padding_mask)

        def attend_self(h):
            return self.self_attention(
                h,
                attention_mask=decoder_attention_mask,
                key_mask=key_mask,
                use_causal_mask=use_causal_mask,
                cache=cache,
                cache_update_index=self_attention_cache_update_index,
                training=training,
            )

        x = residual(
            decoder_sequence, attend_self, self.self_attention_norm,
            self.residual_dropout, self.norm_first, training,
        )
        if cache is not None:
            x, cache = x
        if self.has_cross_attention:
            x = self._cross_attend(
                x, encoder_sequence, encoder_padding_mask, encoder_attention_mask,
                cross_attention_cache, training, return_cross_attention_scores,
            )
        if return_cross_attention_scores:
            x, scores = x
        x = residual(
            x, self.feed_forward, self.feed_forward_norm, self.residual_dropout,
            self.norm_first, training,
        )
        if return_cross_attention_scores:
            return x, scores
        return x if cache is None else (x, cache)

    def _cross_attend(self, x, encoder_sequence, padding_mask, attention_mask, cache, training,
                      return_scores=False):
        source = encoder_sequence if cache is None else None
        padding_mask = masks.resolve_padding_mask(
            "encoder_padding_mask", padding_mask,
            length=None if source is None else source.shape[1])

        def attend(h):
            out = self.cross_attention(
                h, source, attention_mask=attention_mask, key_mask=padding_mask, cache=cache,
                return_attention_scores=return_scores, training=training,
            )
            if cache is None:
                return out  # the output, or `(output, scores)`
            # With a precomputed cache the layer returns `(output, [scores,]
            # cache)`; the cache is read-only here, so drop it.
            return out[:-1] if return_scores else out[0]

        return residual(
            x,
            attend,
            self.cross_attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )

    def compute_cross_attention_cache(self, encoder_sequence: Tensor) -> Tensor:
        """Encoder keys and values for `cross_attention_cache`, computed once per source."""
        # Also reached from `Decoder.compute_cross_attention_cache`, hence "decoder".
        if not getattr(self, "has_cross_attention", False):  # unset until built
            raise ValueError(
                "`compute_cross_attention_cache` needs a decoder built for cross-attention "
                "(first called with `encoder_sequence`); "
                + ("this one was built without it." if self.built else
                   "this one was never called: call it once with `encoder_sequence` first.")
            )
        return self.cross_attention.compute_key_value(encoder_sequence)

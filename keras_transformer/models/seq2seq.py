"""The encoder–decoder Transformer of "Attention Is All You Need" (decoding: `models.decoding`)."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_transformer._typing import Tensor
from keras_transformer.layers import (
    Decoder,
    Encoder,
    PositionEmbedding,
    SinusoidalPositionEncoding,
)
from keras_transformer.layers._checks import (
    check_activation,
    check_divisible,
    check_length,
    check_positive,
    check_rank,
    check_rate,
    check_token_ids,
)
from keras_transformer.models.decoding import (
    EncoderDecoderDecoding,
    _unpack,
    _unpack_shapes,
    tile_beams,
)


@keras.saving.register_keras_serializable(package="keras_transformer")
class Seq2SeqTransformer(EncoderDecoderDecoding, keras.Model):
    """The encoder–decoder Transformer of "Attention Is All You Need".

    Source tokens go through an `Encoder` (bidirectional self-attention); target
    tokens, shifted right, through a `Decoder` whose self-attention is causal and
    whose cross-attention reads the encoder outputs. Token embeddings are scaled
    by `sqrt(hidden_dim)` before positions are added, as in the paper, and start
    from N(0, hidden_dim ** -0.5). Padding (`pad_id`) is masked as a key
    everywhere: in encoder self-attention, in cross-attention and in decoder
    self-attention.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes.
        max_length: longest source and longest target sequence.
        num_layers: depth of the encoder and of the decoder.
        num_heads, hidden_dim, intermediate_dim: the width.
        dropout: dropout on embeddings, attention weights and residual branches.
        share_embeddings: one token table for source and target (a joint
            vocabulary, so the sizes must be equal).
        tie_output: compute logits with the target token table (transposed)
            instead of a separate output projection.
        position: `"sinusoidal"` (the paper) or `"learned"`.
        norm_first: pre-LN blocks if True, the paper's post-LN if False.
        pad_id: the padding id of both vocabularies.
        activation: feed-forward activation (`"relu"` in the paper).
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        inputs: dict with `"encoder_token_ids"` `(batch, S)` and
            `"decoder_token_ids"` `(batch, T)` (the target shifted right; see
            `teacher_forcing_batch`).

    Returns:
        Logits `(batch, T, target_vocab_size)`; position `t` predicts target token
        `t` from the whole source and decoder tokens `0..t`.

    Example:
    >>> import numpy as np
    >>> model = Seq2SeqTransformer(50, 60, max_length=16, num_layers=2, num_heads=2,
    ...                            hidden_dim=16, intermediate_dim=32)
    >>> tuple(model({"encoder_token_ids": np.ones((2, 7), "int32"),
    ...              "decoder_token_ids": np.ones((2, 5), "int32")}).shape)
    (2, 5, 60)
    >>> model.translate(np.ones((2, 7), "int32"), max_length=6, start_id=1, end_id=2).shape
    (2, 6)
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        max_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.1,
        share_embeddings: bool = False,
        tie_output: bool = True,
        position: str = "sinusoidal",
        norm_first: bool = False,
        pad_id: int = 0,
        activation="relu",
        layer_norm_epsilon: float = 1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(
            source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size,
            max_length=max_length, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        )
        check_divisible(hidden_dim, num_heads)  # now, not at the first call
        check_activation(activation)
        check_rate("dropout", dropout)
        if position not in ("sinusoidal", "learned"):
            raise ValueError(f"`position` must be 'sinusoidal' or 'learned'; got {position!r}.")
        if share_embeddings and source_vocab_size != target_vocab_size:
            raise ValueError(
                "`share_embeddings=True` needs one joint vocabulary: `source_vocab_size` "
                f"({source_vocab_size}) must equal `target_vocab_size` ({target_vocab_size})."
            )
        if not 0 <= pad_id < min(source_vocab_size, target_vocab_size):
            raise ValueError(f"`pad_id` must be an id of both vocabularies; got {pad_id}.")
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.max_length = max_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.share_embeddings = share_embeddings
        self.tie_output = tie_output
        self.position = position
        self.norm_first = norm_first
        self.pad_id = pad_id
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon

        def table(vocab_size, name):
            return keras.layers.ReversibleEmbedding(
                vocab_size,
                hidden_dim,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                dtype=self.dtype_policy,
                name=name,
            )

        def positions(name):
            if position == "learned":
                return PositionEmbedding(max_length, dtype=self.dtype_policy, name=name)
            return SinusoidalPositionEncoding(dtype=self.dtype_policy, name=name)

        self.source_embedding = table(source_vocab_size, "source_embedding")
        self.target_embedding = (
            self.source_embedding if share_embeddings
            else table(target_vocab_size, "target_embedding")
        )
        self.source_position = positions("source_position")
        self.target_position = positions("target_position")
        self.embeddings_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        stack_kwargs = dict(
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first,
            dtype=self.dtype_policy,
        )
        self.encoder = Encoder(num_layers, name="encoder", **stack_kwargs)
        self.decoder = Decoder(num_layers, name="decoder", **stack_kwargs)
        self.output_projection = None
        if not tie_output:
            self.output_projection = keras.layers.Dense(
                target_vocab_size, dtype=self.dtype_policy, name="output_projection"
            )

    # ------------------------------------------------------------------ building

    def build(self, inputs_shape):
        source_shape, target_shape = _unpack_shapes(inputs_shape)
        if self.built:  # Rebuilding would replace the blocks' weights with new ones.
            return
        d = self.hidden_dim
        self.source_embedding.build(source_shape)
        if not self.share_embeddings:
            self.target_embedding.build(target_shape)
        self.source_position.build((*source_shape, d))
        self.target_position.build((*target_shape, d))
        self.encoder.build((*source_shape, d))
        self.decoder.build((*target_shape, d), (*source_shape, d))
        if self.output_projection is not None:
            self.output_projection.build((*target_shape, d))
        self.built = True

    # ------------------------------------------------------------------ forward

    def call(self, inputs, training=None):
        source_ids, target_ids = _unpack(inputs)
        encoder_outputs = self.encode(source_ids, training=training)
        return self.decode(
            target_ids, encoder_outputs, self.padding_mask(source_ids), training=training
        )

    def embed_source(self, source_ids: Tensor) -> Tensor:
        """Scaled source token embeddings plus positions, `(batch, S, hidden_dim)`."""
        return self._embed(
            source_ids, self.source_embedding, self.source_position,
            self.source_vocab_size, "encoder_token_ids",
        )

    def embed_target(self, target_ids: Tensor, start_index: int | Tensor = 0) -> Tensor:
        """Scaled target token embeddings plus positions from `start_index`, `(batch, T, hidden_dim)`."""
        return self._embed(
            target_ids, self.target_embedding, self.target_position,
            self.target_vocab_size, "decoder_token_ids", start_index,
        )

    def _embed(self, ids, table, position, vocab_size, name, start_index=0):
        self.ensure_built()  # Every path into the model embeds first.
        check_rank(name, ids.shape, 2, "(batch, length)")
        check_length(ids.shape[1], self.max_length, name, start_index)
        check_token_ids(ids, vocab_size, name)
        x = table(ids) * ops.cast(math.sqrt(self.hidden_dim), self.compute_dtype)
        return x + position(x, start_index=start_index)

    def encode(self, source_ids: Tensor, training: bool | None = None) -> Tensor:
        """Encoder outputs `(batch, S, hidden_dim)`; outputs at padded positions are unspecified."""
        source_ids = ops.convert_to_tensor(source_ids)
        x = self.embeddings_dropout(self.embed_source(source_ids), training=training)
        return self.encoder(x, padding_mask=self.padding_mask(source_ids), training=training)

    def decode(self, decoder_token_ids: Tensor, encoder_outputs: Tensor,
               encoder_padding_mask: Tensor | None = None, training: bool | None = None) -> Tensor:
        """Logits `(batch, T, target_vocab_size)` for teacher-forced decoder tokens."""
        decoder_token_ids = ops.convert_to_tensor(decoder_token_ids)
        return self.decode_embeddings(
            self.embed_target(decoder_token_ids),
            encoder_outputs,
            encoder_padding_mask=encoder_padding_mask,
            decoder_padding_mask=self.padding_mask(decoder_token_ids),
            training=training,
        )

    def decode_embeddings(self, target_embeddings: Tensor, encoder_outputs: Tensor,
                          encoder_padding_mask: Tensor | None = None,
                          decoder_padding_mask: Tensor | None = None,
                          training: bool | None = None) -> Tensor:
        """Logits from already embedded decoder inputs (what `decode` does after `embed_target`)."""
        self.ensure_built()
        x = self.embeddings_dropout(target_embeddings, training=training)
        x = self.decoder(
            x,
            encoder_outputs,
            decoder_padding_mask=decoder_padding_mask,
            encoder_padding_mask=encoder_padding_mask,
            training=training,
        )
        return self._logits(x)

    def cross_attention_scores(self, source_ids: Tensor, decoder_token_ids: Tensor) -> Tensor:
        """Every decoder layer's cross-attention weights, `(batch, layers, heads, T, S)`.

        Runs the model at inference (no dropout) on teacher-forced decoder
        tokens; row `t` of a head is where target position `t` looks in the
        source, zero on source padding. This is the alignment the textbook
        draws beside the RNN's additive attention.
        """
        source_ids = ops.convert_to_tensor(source_ids)
        decoder_token_ids = ops.convert_to_tensor(decoder_token_ids)
        encoder_outputs = self.encode(source_ids, training=False)
        _, scores = self.decoder(
            self.embed_target(decoder_token_ids),
            encoder_outputs,
            decoder_padding_mask=self.padding_mask(decoder_token_ids),
            encoder_padding_mask=self.padding_mask(source_ids),
            return_cross_attention_scores=True,
            training=False,
        )
        return scores

    def _logits(self, x):
        if self.output_projection is None:
            return ops.cast(self.target_embedding(x, reverse=True), "float32")
        return ops.cast(self.output_projection(x), "float32")

    # ----------------------------------------------------------------- decoding
    # `translate` and `score` come from `EncoderDecoderDecoding`.

    def call_with_cache(self, token_ids: Tensor, cache: Tensor, cache_update_index: int | Tensor,
                        cross_attention_cache: Tensor,
                        encoder_padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Decode `token_ids` placed at `cache_update_index`; return `(logits, cache)`.

        `cache` comes from `self.decoder.init_cache`, `cross_attention_cache` from
        `self.decoder.compute_cross_attention_cache(encoder_outputs)` (once per source).
        """
        x = self.embed_target(token_ids, start_index=cache_update_index)
        x, cache = self.decoder(
            x,
            encoder_padding_mask=encoder_padding_mask,
            cache=cache,
            cache_update_index=cache_update_index,
            cross_attention_cache=cross_attention_cache,
        )
        return self._logits(x), cache

    def _decoding_limit(self):
        return self.max_length

    def _start_decoding(self, source_ids, copies, max_length):
        """Encode once, compute each layer's cross-attention keys and values once; `(step, KV cache)`.

        Every step then feeds one token through the decoder's self-attention cache.
        """
        cross = self.decoder.compute_cross_attention_cache(self.encode(source_ids))
        cross = tile_beams(cross, copies)
        source_mask = tile_beams(self.padding_mask(source_ids), copies)

        def step(tokens, cache, index):
            logits, cache = self.call_with_cache(tokens[:, None], cache, index, cross, source_mask)
            return logits[:, 0], cache

        batch = ops.shape(source_ids)[0] * copies
        return step, self.decoder.init_cache(batch, max_length, hidden_dim=self.hidden_dim)

    # -------------------------------------------------------------------- config

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "max_length": self.max_length,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "share_embeddings": self.share_embeddings,
            "tie_output": self.tie_output,
            "position": self.position,
            "norm_first": self.norm_first,
            "pad_id": self.pad_id,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


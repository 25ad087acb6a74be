"""The RNN encoder–decoder with additive attention (Bahdanau et al., 2015)."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_rate,
    check_token_ids,
)
from keras_transformer.layers.additive_attention import AdditiveAttention
from keras_transformer.models.decoding import (
    EncoderDecoderDecoding,
    _unpack,
    _unpack_shapes,
    tile_beams,
)


@keras.saving.register_keras_serializable(package="keras_transformer")
class RNNAttentionSeq2Seq(EncoderDecoderDecoding, keras.Model):
    """A bidirectional-GRU encoder and a GRU decoder with additive attention.

    The model the Transformer replaced. The encoder reads the source both ways;
    its states `h_j` (forward and backward concatenated) are the annotations.
    The decoder's first state is `tanh(W [h_fwd_last; h_bwd_first])`. At step
    `i`, with previous state `s_{i-1}` and previous target token `y_{i-1}`:

        a_i = softmax_j(vᵀ tanh(W s_{i-1} + U h_j))   # alignment, 0 at padding
        c_i = Σ_j a_ij h_j                           # context
        s_i = GRU(s_{i-1}, [emb(y_{i-1}); c_i])
        logits_i = Dense([s_i; c_i; emb(y_{i-1})])

    The decoder runs one step at a time (`keras.ops.scan`; unrolled on
    TensorFlow when the target length is static, so XLA can differentiate it),
    and works on every backend and inside `model.fit`; dropout acts on
    embeddings and on the readout, outside the loop.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes.
        embedding_dim: width of the token embeddings.
        hidden_dim: GRU width (the encoder's states are `2 * hidden_dim` wide).
        dropout: dropout on embeddings and on the readout.
        pad_id: the padding id of both vocabularies.
        attention_units: width of the alignment model; defaults to `hidden_dim`.

    Call arguments:
        inputs: dict with `"encoder_token_ids"` `(batch, S)` and
            `"decoder_token_ids"` `(batch, T)` (the target shifted right).

    Returns:
        Logits `(batch, T, target_vocab_size)`.

    Example:
    >>> import numpy as np
    >>> model = RNNAttentionSeq2Seq(50, 60, embedding_dim=8, hidden_dim=16)
    >>> inputs = {"encoder_token_ids": np.ones((2, 7), "int32"),
    ...           "decoder_token_ids": np.ones((2, 5), "int32")}
    >>> tuple(model(inputs).shape), tuple(model.alignments(*inputs.values()).shape)
    ((2, 5, 60), (2, 5, 7))
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        dropout: float = 0.0,
        pad_id: int = 0,
        attention_units: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(
            source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size,
            embedding_dim=embedding_dim, hidden_dim=hidden_dim,
        )
        if attention_units is not None:
            check_positive(attention_units=attention_units)
        check_rate("dropout", dropout)
        if not 0 <= pad_id < min(source_vocab_size, target_vocab_size):
            raise ValueError(f"`pad_id` must be an id of both vocabularies; got {pad_id}.")
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.pad_id = pad_id
        self.attention_units = attention_units
        policy = self.dtype_policy
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, dtype=policy, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, dtype=policy, name="target_embedding"
        )
        self.encoder_rnn = keras.layers.Bidirectional(
            keras.layers.GRU(hidden_dim, return_sequences=True, return_state=True, dtype=policy),
            merge_mode="concat",
            dtype=policy,
            name="encoder_rnn",
        )
        self.bridge = keras.layers.Dense(hidden_dim, activation="tanh", dtype=policy, name="bridge")
        self.attention = AdditiveAttention(attention_units or hidden_dim, dtype=policy, name="attention")
        self.decoder_cell = keras.layers.GRUCell(hidden_dim, dtype=policy, name="decoder_cell")
        self.readout = keras.layers.Dense(target_vocab_size, dtype=policy, name="readout")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy)

    def build(self, inputs_shape):
        source_shape, target_shape = _unpack_shapes(inputs_shape)
        if self.built:  # Rebuilding would replace the sublayers' weights with new ones.
            return
        e, h = self.embedding_dim, self.hidden_dim
        batch = source_shape[0]
        self.source_embedding.build(source_shape)
        self.target_embedding.build(target_shape)
        self.encoder_rnn.build((*source_shape, e))
        self.bridge.build((batch, 2 * h))
        self.attention.build((batch, h), (*source_shape, 2 * h))
        self.decoder_cell.build((batch, e + 2 * h))
        self.readout.build((batch, h + 2 * h + e))
        self.built = True

    # ------------------------------------------------------------------ forward

    def encode(self, source_ids: Tensor, training: bool | None = None) -> tuple[Tensor, Tensor]:
        """`(annotations (batch, S, 2*hidden_dim), initial decoder state (batch, hidden_dim))`."""
        self.ensure_built()  # Every path into the model encodes first.
        source_ids = ops.convert_to_tensor(source_ids)
        check_rank("encoder_token_ids", source_ids.shape, 2, "(batch, source_length)")
        _check_some_tokens("encoder_token_ids", source_ids.shape[1])
        check_token_ids(source_ids, self.source_vocab_size, "encoder_token_ids")
        x = self.dropout_layer(self.source_embedding(source_ids), training=training)
        annotations, forward, backward = self.encoder_rnn(
            x, mask=self.padding_mask(source_ids), training=training
        )
        return annotations, self.bridge(ops.concatenate([forward, backward], axis=-1))

    def _step(self, embedded, state, annotations, keys, source_mask):
        """One decoder step: attend with `s_{i-1}`, then update the GRU. Returns `(s_i, c_i, a_i)`."""
        context, weights = self.attention(
            state, annotations, mask=source_mask, projected_keys=keys
        )
        _, (state,) = self.decoder_cell(ops.concatenate([embedded, context], axis=-1), [state])
        return state, context, weights

    def _decode(self, source_ids, decoder_token_ids, training=None):
        """Teacher-forced decoding: `(logits (B, T, V), alignments (B, T, S))`."""
        decoder_token_ids = ops.convert_to_tensor(decoder_token_ids)
        check_rank("decoder_token_ids", decoder_token_ids.shape, 2, "(batch, target_length)")
        _check_some_tokens("decoder_token_ids", decoder_token_ids.shape[1])
        check_token_ids(decoder_token_ids, self.target_vocab_size, "decoder_token_ids")
        annotations, state = self.encode(source_ids, training=training)
        source_mask = self.padding_mask(source_ids)
        keys = self.attention.project_keys(annotations)
        embedded = self.dropout_layer(self.target_embedding(decoder_token_ids), training=training)

        def body(carry, x):
            # TensorFlow's scan needs the per-step output to match the carry, so
            # the carry holds the last context and weights too.
            step = self._step(x, carry[0], annotations, keys, source_mask)
            return step, step

        batch, source_length = ops.shape(annotations)[0], ops.shape(annotations)[1]
        dtype = self.compute_dtype
        init = (
            state,
            ops.zeros((batch, 2 * self.hidden_dim), dtype),
            ops.zeros((batch, source_length), dtype),
        )
        _, (states, contexts, weights) = _scan(body, init, ops.transpose(embedded, (1, 0, 2)))
        states, contexts, weights = (
            ops.transpose(t, (1, 0, 2)) for t in (states, contexts, weights)
        )
        features = ops.concatenate([states, contexts, embedded], axis=-1)
        logits = self.readout(self.dropout_layer(features, training=training))
        return ops.cast(logits, "float32"), weights

    def call(self, inputs, training=None):
        source_ids, target_ids = _unpack(inputs)
        return self._decode(source_ids, target_ids, training=training)[0]

    def alignments(self, source_ids: Tensor, decoder_token_ids: Tensor) -> Tensor:
        """Attention weights `(batch, T, S)`: row `t` is the alignment used to predict token `t`.

        `decoder_token_ids` are the target shifted right, as in `call`. Each row
        is a distribution over the real source positions: exactly 0 at padding,
        summing to 1 (all zeros if the source is all padding).
        """
        return self._decode(source_ids, decoder_token_ids, training=False)[1]

    # ----------------------------------------------------------------- decoding
    # `translate` and `score` come from `EncoderDecoderDecoding`.

    def _start_decoding(self, source_ids, copies, max_length):
        """Encode once and project the annotations' keys `U h_j` once; `(step, first GRU state)`.

        The decoder's state is the GRU state; `translate` needs an explicit
        `max_length` (the model has no longest length).
        """
        annotations, state = self.encode(source_ids)
        annotations, state, source_mask = (
            tile_beams(t, copies) for t in (annotations, state, self.padding_mask(source_ids))
        )
        keys = self.attention.project_keys(annotations)

        def step(tokens, state, index):
            embedded = self.target_embedding(tokens)
            state, context, _ = self._step(embedded, state, annotations, keys, source_mask)
            logits = self.readout(ops.concatenate([state, context, embedded], axis=-1))
            return ops.cast(logits, "float32"), state

        return step, state

    # -------------------------------------------------------------------- config

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "pad_id": self.pad_id,
            "attention_units": self.attention_units,
        }


def _check_some_tokens(name: str, length: int | None) -> None:
    """Raise if a static length is 0: the GRUs and the decoding scan need at least one step."""
    if length == 0:
        raise ValueError(
            f"`{name}` must hold at least one token per sequence; got length 0."
        )


def _scan(body, init, xs):
    """`keras.ops.scan(body, init, xs)`, unrolled on TensorFlow when the length is static.

    TensorFlow's scan is a `while_loop` without `maximum_iterations`, whose
    gradient XLA cannot compile (`jit_compile=True`, the default of `fit` on a
    GPU); a Python loop over a static number of steps compiles everywhere.
    """
    steps = xs.shape[0]
    if keras.backend.backend() != "tensorflow" or steps is None:
        return ops.scan(body, init, xs)
    carry, outputs = init, []
    for t in range(steps):
        carry, y = body(carry, xs[t])
        outputs.append(y)
    return carry, tuple(ops.stack(parts) for parts in zip(*outputs))

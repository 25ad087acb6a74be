"""Token + position (+ segment) embeddings: the input layer of every model family."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer.layers._checks import (
    check_in_range,
    check_integers,
    check_length,
    check_positive,
    check_rank,
    check_start_index,
    check_token_ids,
    clone_initializer,
)
from keras_transformer.layers.position_embedding import PositionEmbedding
from keras_transformer.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
)


@keras.saving.register_keras_serializable(package="keras_transformer")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Sum token, position and (optionally) segment embeddings.

    Tokens go through a `keras.layers.ReversibleEmbedding`, so a language-model
    head can reuse the same table for its output logits
    (`layer.token_embedding(h, reverse=True)`). Token embeddings are not
    multiplied by `sqrt(hidden_dim)`.

    Args:
        vocab_size: number of token ids; ids must lie in `[0, vocab_size)`.
        max_length: longest sequence (size of the learned position table, and
            the limit checked for sinusoidal positions too).
        hidden_dim: width of the output.
        position: `"learned"` (BERT, GPT) or `"sinusoidal"` (the original paper).
        num_segments: if > 0, add a learned segment embedding (BERT's A/B).
        embedding_dim: width of the embedding tables; when smaller than
            `hidden_dim` the sum is projected up by a Dense layer (ALBERT's
            factorized embedding). Defaults to `hidden_dim`.
        mask_zero: emit a Keras mask that is `False` where `token_ids == pad_id`,
            so downstream layers ignore padding without an explicit mask.
        pad_id: the padding id used by `mask_zero`.
        embeddings_initializer: initializer of the token, position and segment tables.

    Call arguments:
        token_ids: int `(batch, length)`.
        segment_ids: int `(batch, length)`, required iff `num_segments > 0`.
        start_index: position of the first token (>= 0), for cached decoding.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> layer = kt.layers.TokenAndPositionEmbedding(vocab_size=100, max_length=16, hidden_dim=8,
    ...                                             mask_zero=True)
    >>> ids = np.array([[5, 7, 9, 0]])
    >>> tuple(layer(ids).shape)
    (1, 4, 8)
    >>> keras.ops.convert_to_numpy(layer.compute_mask(ids)).tolist()  # id 0 is padding
    [[True, True, True, False]]
    """

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        hidden_dim: int,
        position: str = "learned",
        num_segments: int = 0,
        embedding_dim: int | None = None,
        mask_zero: bool = False,
        pad_id: int = 0,
        embeddings_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(vocab_size=vocab_size, max_length=max_length, hidden_dim=hidden_dim)
        if position not in ("learned", "sinusoidal"):
            raise ValueError(
                f"`position` must be 'learned' or 'sinusoidal'; got {position!r}."
            )
        if num_segments < 0:
            raise ValueError(f"`num_segments` must be >= 0; got {num_segments}.")
        if embedding_dim is not None:
            check_positive(embedding_dim=embedding_dim)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.hidden_dim = hidden_dim
        self.position = position
        self.num_segments = num_segments
        self.embedding_dim = embedding_dim
        self.mask_zero = mask_zero
        self.pad_id = pad_id
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = mask_zero

        width = embedding_dim or hidden_dim
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocab_size,
            width,
            embeddings_initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position == "learned":
            self.position_embedding = PositionEmbedding(
                max_length,
                initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self.position_embedding = SinusoidalPositionEncoding(
                dtype=self.dtype_policy, name="position_embedding"
            )
        self.segment_embedding = None
        if num_segments:
            self.segment_embedding = keras.layers.Embedding(
                num_segments,
                width,
                embeddings_initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="segment_embedding",
            )
        self.projection = None
        if width != hidden_dim:
            self.projection = keras.layers.Dense(
                hidden_dim, dtype=self.dtype_policy, name="embedding_projection"
            )

    def share_tables(self, other: TokenAndPositionEmbedding) -> None:
        """Use `other`'s token, position and segment tables instead of this layer's own.

        ELECTRA ties its generator's embeddings to its discriminator's this
        way; a projection up to `hidden_dim` stays this layer's own, so the two
        layers may differ in `hidden_dim` but not in their tables. Call it
        before either layer is built.

        Example:
        >>> import keras_transformer as kt
        >>> big = kt.layers.TokenAndPositionEmbedding(50, 8, hidden_dim=16)
        >>> small = kt.layers.TokenAndPositionEmbedding(50, 8, hidden_dim=4, embedding_dim=16)
        >>> small.share_tables(big)
        >>> small.token_embedding is big.token_embedding
        True
        """
        if self.built or other.built:
            raise ValueError("`share_tables` must be called before either layer is built.")
        mine = (self.vocab_size, self.max_length, self.embedding_dim or self.hidden_dim,
                self.num_segments, self.position)
        theirs = (other.vocab_size, other.max_length, other.embedding_dim or other.hidden_dim,
                  other.num_segments, other.position)
        if mine != theirs:
            names = ("vocab_size", "max_length", "table width", "num_segments", "position")
            differ = {n: (a, b) for n, a, b in zip(names, mine, theirs) if a != b}
            raise ValueError(
                f"Shared embedding tables must agree in size; these differ (this layer, the "
                f"other): {differ}. Give both the same vocabulary and the same table width "
                f"(`embedding_dim` of the narrower one = the other's width)."
            )
        for name in ("token_embedding", "position_embedding", "segment_embedding"):
            own = getattr(self, name)
            if own is not None:
                self._tracker.untrack(own)  # the replaced table is no longer a sublayer
            setattr(self, name, getattr(other, name))

    def build(self, token_ids_shape, segment_ids_shape=None):
        check_rank("token_ids", token_ids_shape, 2, "(batch, length)")
        width = self.embedding_dim or self.hidden_dim
        tables = [(self.token_embedding, token_ids_shape),
                  (self.position_embedding, (*token_ids_shape, width)),
                  (self.segment_embedding, token_ids_shape)]
        for table, shape in tables:
            if table is not None and not table.built:  # shared tables come built
                table.build(shape)
        if self.projection is not None:
            self.projection.build((*token_ids_shape, width))
        self.built = True

    def call(self, token_ids, segment_ids=None, start_index=0):
        check_rank("token_ids", token_ids.shape, 2, "(batch, length)")
        check_start_index(start_index)  # sinusoidal positions would not check it
        check_length(token_ids.shape[1], self.max_length, "token_ids", start_index)
        check_token_ids(token_ids, self.vocab_size)
        x = self.token_embedding(token_ids)
        x = x + self.position_embedding(x, start_index=start_index)
        if self.segment_embedding is not None:
            if segment_ids is None:
                raise ValueError(
                    f"This layer has `num_segments={self.num_segments}`, so "
                    "`segment_ids` are required."
                )
            check_integers(segment_ids, "segment_ids")
            check_in_range(segment_ids, self.num_segments, "segment_ids", "num_segments",
                           "Segment ids number a pair's segments: 0 for the first, 1 for the second.")
            x = x + self.segment_embedding(segment_ids)
        elif segment_ids is not None:
            raise ValueError(
                "`segment_ids` were given but the layer has `num_segments=0`; "
                "build it with `num_segments` > 0."
            )
        if self.projection is not None:
            x = self.projection(x)
        return x

    def compute_mask(self, token_ids, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(token_ids, self.pad_id)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return (*token_ids_shape, self.hidden_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "hidden_dim": self.hidden_dim,
            "position": self.position,
            "num_segments": self.num_segments,
            "embedding_dim": self.embedding_dim,
            "mask_zero": self.mask_zero,
            "pad_id": self.pad_id,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
        }

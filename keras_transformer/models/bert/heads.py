"""The heads put on BERT's outputs: masked LM, next sentence, classification, span QA."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer.layers._checks import check_positions, check_positive, check_rank, check_rate

#: The logit of a padded position in `BertSpanHead`: far below any real logit,
#: and the sum of a start and an end logit (span scores) stays finite in float32.
MASKED_LOGIT = -1e9


def _init(stddev):
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertMaskedLMHead(keras.layers.Layer):
    """Predict the tokens at masked positions, with output weights tied to the input embedding.

    `logits = E · LayerNorm(GELU(W h + b)) + bias`, where `E` is the token
    embedding table (`token_embedding(x, reverse=True)`), so the head adds only
    a Dense layer, a LayerNorm and a vocabulary-sized bias.

    Args:
        token_embedding: the backbone's `keras.layers.ReversibleEmbedding`
            (`bert.embeddings.token_embedding`).
        activation: activation of the transform (exact GELU in BERT).
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: standard deviation of the truncated-normal init.

    Call arguments:
        sequence_output: `(batch, length, hidden_dim)`.
        mask_positions: int `(batch, num_predictions)`: the positions to predict.

    Returns:
        float32 logits `(batch, num_predictions, vocab_size)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> out = bert({"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")})
    >>> head = BertMaskedLMHead(bert.embeddings.token_embedding)
    >>> tuple(head(out["sequence_output"], np.array([[1, 2]])).shape)
    (1, 2, 30)
    """

    def __init__(
        self,
        token_embedding,
        activation: str = "gelu",
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(token_embedding, dict):  # from a config
            token_embedding = keras.saving.deserialize_keras_object(token_embedding)
        if not isinstance(token_embedding, keras.layers.ReversibleEmbedding):
            raise ValueError(
                "`token_embedding` must be a keras.layers.ReversibleEmbedding (the "
                f"backbone's `embeddings.token_embedding`); got {type(token_embedding).__name__}."
            )
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.transform = keras.layers.Dense(
            token_embedding.output_dim,
            activation=activation,
            kernel_initializer=_init(initializer_range),
            dtype=self.dtype_policy,
            name="transform",
        )
        self.norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )

    def build(self, sequence_output_shape, mask_positions_shape=None):
        check_rank("sequence_output", sequence_output_shape, 3, "(batch, length, hidden_dim)")
        if not self.token_embedding.built:
            self.token_embedding.build((None, None))
        shape = (sequence_output_shape[0], None, sequence_output_shape[-1])
        self.transform.build(shape)
        self.norm.build((*shape[:-1], self.token_embedding.output_dim))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )
        self.built = True

    def call(self, sequence_output, mask_positions):
        check_rank("sequence_output", sequence_output.shape, 3, "(batch, length, hidden_dim)")
        check_rank("mask_positions", mask_positions.shape, 2, "(batch, num_predictions)")
        check_positions(mask_positions, sequence_output.shape[1])
        positions = ops.cast(mask_positions, "int32")[..., None]
        x = ops.take_along_axis(sequence_output, positions, axis=1)
        x = self.norm(self.transform(x))
        logits = self.token_embedding(x, reverse=True)
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return (*tuple(mask_positions_shape), self.token_embedding.input_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "token_embedding": keras.saving.serialize_keras_object(self.token_embedding),
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        }


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertNextSentenceHead(keras.layers.Layer):
    """Is segment B the sentence that followed A? Two logits from the pooled `[CLS]` vector.

    Class 0 = "B follows A" (IsNext), class 1 = "B is random" (NotNext), as in
    the original BERT and Hugging Face's `cls.seq_relationship`.

    Call arguments:
        pooled_output: `(batch, hidden_dim)`.

    Returns:
        float32 logits `(batch, 2)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> out = bert({"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")})
    >>> tuple(BertNextSentenceHead()(out["pooled_output"]).shape)
    (1, 2)
    """

    def __init__(self, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=_init(initializer_range), dtype=self.dtype_policy, name="dense"
        )

    def build(self, pooled_output_shape):
        check_rank("pooled_output", pooled_output_shape, 2, "(batch, hidden_dim)")
        self.dense.build(pooled_output_shape)
        self.built = True

    def call(self, pooled_output):
        check_rank("pooled_output", pooled_output.shape, 2, "(batch, hidden_dim)")
        return ops.cast(self.dense(pooled_output), "float32")

    def compute_output_shape(self, pooled_output_shape):
        return (pooled_output_shape[0], 2)

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertClassifierHead(keras.layers.Layer):
    """Sequence classification from the pooled `[CLS]` vector: dropout, then Dense(num_classes).

    Args:
        num_classes: number of classes (e.g. 2 for CoLA).
        dropout: dropout on the pooled vector during training.
        initializer_range: standard deviation of the truncated-normal init.

    Call arguments:
        pooled_output: `(batch, hidden_dim)`.

    Returns:
        float32 logits `(batch, num_classes)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> out = bert({"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")})
    >>> tuple(BertClassifierHead(num_classes=3)(out["pooled_output"]).shape)
    (1, 3)
    """

    def __init__(self, num_classes: int, dropout: float = 0.1,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        check_positive(num_classes=num_classes)
        check_rate("dropout", dropout)
        self.num_classes = num_classes
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.dense = keras.layers.Dense(
            num_classes, kernel_initializer=_init(initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, pooled_output_shape):
        check_rank("pooled_output", pooled_output_shape, 2, "(batch, hidden_dim)")
        self.dense.build(pooled_output_shape)
        self.built = True

    def call(self, pooled_output, training=None):
        check_rank("pooled_output", pooled_output.shape, 2, "(batch, hidden_dim)")
        x = self.dropout_layer(pooled_output, training=training)
        return ops.cast(self.dense(x), "float32")

    def compute_output_shape(self, pooled_output_shape):
        return (pooled_output_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "initializer_range": self.initializer_range,
        }


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertSpanHead(keras.layers.Layer):
    """Extractive QA (SQuAD): a start and an end logit for every token.

    One Dense(2) on each position of `sequence_output`. Padded positions get
    the logit `MASKED_LOGIT` (-1e9: finite, far below any real one), so a
    softmax over positions gives them zero probability and an argmax never
    picks them.

    Call arguments:
        sequence_output: `(batch, length, hidden_dim)`.
        padding_mask: optional bool `(batch, length)`, True at real tokens.

    Returns:
        A dict of float32 `(batch, length)` tensors: `"start_logits"`, `"end_logits"`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> out = bert({"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")})
    >>> spans = BertSpanHead()(out["sequence_output"], np.array([[True, True, True, False]]))
    >>> float(spans["start_logits"][0, 3])  # padding
    -1000000000.0
    """

    def __init__(self, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=_init(initializer_range), dtype=self.dtype_policy, name="dense"
        )

    def build(self, sequence_output_shape, padding_mask_shape=None):
        check_rank("sequence_output", sequence_output_shape, 3, "(batch, length, hidden_dim)")
        self.dense.build(sequence_output_shape)
        self.built = True

    def call(self, sequence_output, padding_mask=None):
        check_rank("sequence_output", sequence_output.shape, 3, "(batch, length, hidden_dim)")
        logits = ops.cast(self.dense(sequence_output), "float32")
        start, end = logits[..., 0], logits[..., 1]
        if padding_mask is not None:
            if tuple(padding_mask.shape) != tuple(start.shape) and None not in (
                *padding_mask.shape, *start.shape
            ):
                raise ValueError(
                    "`padding_mask` must have shape (batch, length) = "
                    f"{tuple(start.shape)}; got {tuple(padding_mask.shape)}."
                )
            mask = ops.cast(padding_mask, "bool")
            start = ops.where(mask, start, MASKED_LOGIT)
            end = ops.where(mask, end, MASKED_LOGIT)
        return {"start_logits": start, "end_logits": end}

    def compute_output_shape(self, sequence_output_shape, padding_mask_shape=None):
        shape = tuple(sequence_output_shape[:-1])
        return {"start_logits": shape, "end_logits": shape}

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}

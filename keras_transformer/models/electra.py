"""ELECTRA: a small masked-LM generator fills the masked positions; a discriminator spots its replacements.

Clark et al. (2020), "ELECTRA: Pre-training Text Encoders as Discriminators
Rather Than Generators". The generator learns masked LM as in BERT; its
samples, which are not back-propagated through, replace the masked tokens;
the discriminator labels every real token of the result "original" (0) or
"replaced" (1). The loss is `generator MLM + discriminator_weight · RTD`, and
after pretraining the discriminator is the encoder to fine-tune.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_no_sample_weight,
    check_positive,
    check_rank,
    check_seed,
    check_token_ids,
    clone_initializer,
)
from keras_transformer.models.bert.backbone import BERT, INPUT_KEYS
from keras_transformer.models.bert.heads import BertMaskedLMHead
from keras_transformer.models.builds_on_demand import BuildsOnDemand
from keras_transformer.models.idle_weights import LeavesIdleWeightsOut

#: The masked-LM inputs, as keras-hub's `MaskedLMMaskGenerator` returns them.
MASK_KEYS = ("mask_positions", "mask_ids", "mask_weights")


def put_at_positions(token_ids: Tensor, positions: Tensor, values: Tensor, weights: Tensor) -> Tensor:
    """`token_ids` with `values[b, p]` written at `positions[b, p]` wherever `weights[b, p] > 0`.

    Positions within a row must be distinct where their weight is positive
    (keras-hub's `MaskedLMMaskGenerator` draws them without replacement);
    slots of weight 0 are padding and write nothing.

    Example:
    >>> import numpy as np
    >>> ids = np.array([[2, 4, 4, 4, 3]])
    >>> out = put_at_positions(ids, np.array([[1, 3, 0]]), np.array([[7, 9, 5]]),
    ...                        np.array([[1.0, 1.0, 0.0]]))
    >>> np.asarray(out).tolist()
    [[2, 7, 4, 9, 3]]
    """
    token_ids = ops.cast(token_ids, "int32")
    used = ops.cast(ops.greater(weights, 0), "int32")[..., None]
    hits = ops.one_hot(ops.cast(positions, "int32"), ops.shape(token_ids)[1], dtype="int32") * used
    written = ops.sum(hits * ops.cast(values, "int32")[..., None], axis=1)
    return ops.where(ops.sum(hits, axis=1) > 0, written, token_ids)


def replaced_token_labels(original_ids: Tensor, corrupted_ids: Tensor) -> Tensor:
    """The discriminator's targets: int32 1 where the corrupted token differs from the original, else 0.

    A sampled token that happens to equal the original counts as original (0),
    as in the paper.

    Example:
    >>> import numpy as np
    >>> np.asarray(replaced_token_labels(np.array([[2, 7, 8, 3]]), np.array([[2, 7, 5, 3]]))).tolist()
    [[0, 0, 1, 0]]
    """
    return ops.cast(ops.not_equal(ops.cast(original_ids, "int32"), ops.cast(corrupted_ids, "int32")), "int32")


@keras.saving.register_keras_serializable(package="keras_transformer")
class ElectraDiscriminatorHead(keras.layers.Layer):
    """One "replaced?" logit per token: `Dense(hidden, activation)` then `Dense(1)`.

    Args:
        hidden_dim: width of the hidden layer (the discriminator's).
        activation: activation of the hidden layer (GELU in ELECTRA).
        initializer_range: standard deviation of the truncated-normal init.

    Call arguments:
        sequence_output: `(batch, length, hidden_dim)`.

    Returns:
        float32 logits `(batch, length)`; positive means "replaced".

    Example:
    >>> import numpy as np
    >>> tuple(ElectraDiscriminatorHead(8)(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5)
    """

    def __init__(self, hidden_dim: int, activation: str = "gelu",
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        check_positive(hidden_dim=hidden_dim)
        self.hidden_dim = hidden_dim
        self.activation = activation
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.dense = keras.layers.Dense(hidden_dim, activation=activation, kernel_initializer=init,
                                        dtype=self.dtype_policy, name="dense")
        self.score = keras.layers.Dense(1, kernel_initializer=clone_initializer(init),
                                        dtype=self.dtype_policy, name="score")

    def build(self, sequence_output_shape):
        check_rank("sequence_output", sequence_output_shape, 3, "(batch, length, hidden_dim)")
        self.dense.build(sequence_output_shape)
        self.score.build((*sequence_output_shape[:-1], self.hidden_dim))
        self.built = True

    def call(self, sequence_output):
        return ops.cast(ops.squeeze(self.score(self.dense(sequence_output)), -1), "float32")

    def compute_output_shape(self, sequence_output_shape):
        return tuple(sequence_output_shape[:-1])

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "activation": self.activation,
            "initializer_range": self.initializer_range,
        }


@keras.saving.register_keras_serializable(package="keras_transformer")
class ElectraPretrainer(BuildsOnDemand, LeavesIdleWeightsOut, keras.Model):
    """Replaced-token detection: a generator `BERT` corrupts the input, a discriminator `BERT` finds the corruptions.

    The generator (the paper uses one a quarter to a half as wide) and the
    discriminator share their token, position and segment tables; when the
    generator is narrower, build it with `embedding_dim` = the
    discriminator's table width, so its own projection maps the shared
    tables to its width. The generator's MLM head is tied to the shared
    token table. Pass both backbones unbuilt (the tie is made before their
    weights exist). The model defines its own loss (`compute_loss`), so
    compile it with an optimizer alone and fit it on the inputs, without
    targets. Neither pooler takes part in replaced-token detection, so
    both stay out of its training (`idle_weights`).

    Args:
        generator: the masked-LM `BERT`.
        discriminator: the `BERT` to pretrain; after training, fine-tune
            `pretrainer.discriminator`.
        discriminator_weight: λ in `MLM + λ·RTD` (50 in the paper).
        seed: seed of the generator's sampling.

    Call arguments:
        inputs: the backbone's dict (`"token_ids"` with `[MASK]` at the
            masked positions, `"segment_ids"`, optional `"padding_mask"`)
            plus keras-hub `MaskedLMMaskGenerator`'s `"mask_positions"`,
            `"mask_ids"` (the original tokens there) and `"mask_weights"`
            (0 for unused slots), each `(batch, num_predictions)`.

    Returns:
        A dict: `"mlm_logits"` float32 `(batch, num_predictions, vocab_size)`,
        the generator's; `"corrupted_ids"` int32 `(batch, length)`, the input
        with the generator's samples at the masked positions; `"rtd_logits"`
        float32 `(batch, length)`, the discriminator's; `"rtd_labels"` int32
        `(batch, length)`, 1 where `corrupted_ids` differs from the original.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> size = dict(vocab_size=30, max_length=8, num_heads=2, num_layers=1)
    >>> discriminator = kt.models.BERT(hidden_dim=16, intermediate_dim=32, **size)
    >>> generator = kt.models.BERT(hidden_dim=8, intermediate_dim=16, embedding_dim=16, **size)
    >>> electra = kt.models.ElectraPretrainer(generator, discriminator, seed=0)
    >>> x = {"token_ids": np.array([[2, 4, 29, 6, 3]]), "segment_ids": np.zeros((1, 5), "int32"),
    ...      "mask_positions": np.array([[2]]), "mask_ids": np.array([[5]]),
    ...      "mask_weights": np.array([[1.0]])}
    >>> out = electra.predict(x, verbose=0)
    >>> out["rtd_logits"].shape, out["rtd_labels"].tolist()[0][2] == int(out["corrupted_ids"][0, 2] != 5)
    ((1, 5), True)
    >>> electra.compile(optimizer="adam")
    >>> history = electra.fit(x, epochs=1, verbose=0)
    """

    def __init__(self, generator, discriminator, discriminator_weight: float = 50.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        for name, model in (("generator", generator), ("discriminator", discriminator)):
            if isinstance(model, dict):  # from a config
                model = keras.saving.deserialize_keras_object(model)
            if not isinstance(model, BERT):
                raise ValueError(f"`{name}` must be a `BERT`; got {type(model).__name__}.")
            setattr(self, name, model)
        if self.generator.vocab_size != self.discriminator.vocab_size:
            raise ValueError(
                f"The generator and the discriminator must share one vocabulary; got "
                f"vocab_size {self.generator.vocab_size} and {self.discriminator.vocab_size}. "
                "Build both from the same tokenizer."
            )
        if not discriminator_weight > 0:
            raise ValueError(
                f"`discriminator_weight` must be > 0 (the paper uses 50); got {discriminator_weight!r}."
            )
        if seed is not None:
            check_seed(seed)
        self.discriminator_weight = float(discriminator_weight)
        self.seed = seed
        self.generator.embeddings.share_tables(self.discriminator.embeddings)
        self.generator_head = BertMaskedLMHead(
            self.generator.embeddings.token_embedding,
            activation=self.generator.activation,
            layer_norm_epsilon=self.generator.layer_norm_epsilon,
            initializer_range=self.generator.initializer_range,
            dtype=self.dtype_policy,
            name="generator_head",
        )
        self.discriminator_head = ElectraDiscriminatorHead(
            self.discriminator.hidden_dim, self.discriminator.activation,
            self.discriminator.initializer_range,
            dtype=self.dtype_policy, name="discriminator_head",
        )
        self.seed_generator = keras.random.SeedGenerator(seed)

    def idle_weights(self) -> list[keras.Variable]:
        return [*self.generator.pooler.weights, *self.discriminator.pooler.weights]

    def _split(self, inputs):
        if not isinstance(inputs, Mapping) or any(k not in inputs for k in MASK_KEYS):
            got = list(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            raise ValueError(
                f"ElectraPretrainer takes a dict with the backbone's keys {list(INPUT_KEYS)} "
                f"and the masked-LM keys {list(MASK_KEYS)} (keras-hub's MaskedLMMaskGenerator "
                f"returns them); got {got}."
            )
        backbone = {k: v for k, v in inputs.items() if k not in MASK_KEYS}
        return backbone, {k: inputs[k] for k in MASK_KEYS}

    def fresh_input_shape(self) -> dict[str, tuple]:
        return {**self.discriminator.fresh_input_shape(), **{k: (None, None) for k in MASK_KEYS}}

    def build(self, inputs_shape):
        backbone_shape, mask_shape = self._split(inputs_shape)
        backbone_shape = {k: tuple(v) for k, v in backbone_shape.items()}
        token_shape = backbone_shape["token_ids"]
        self.discriminator.build(backbone_shape)
        self.generator.build(backbone_shape)
        self.generator_head.build((*token_shape, self.generator.hidden_dim),
                                  tuple(mask_shape["mask_positions"]))
        self.discriminator_head.build((*token_shape, self.discriminator.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        backbone_inputs, mask = self._split(inputs)
        check_token_ids(mask["mask_ids"], self.generator.vocab_size, "mask_ids")
        padding_mask = self.discriminator.padding_mask(backbone_inputs)
        if padding_mask is not None:  # a sampled [PAD] id must not turn into padding
            backbone_inputs = {**backbone_inputs, "padding_mask": padding_mask}
        hidden = self.generator(backbone_inputs, training=training)["sequence_output"]
        mlm_logits = self.generator_head(hidden, mask["mask_positions"])
        sampled = self._sample(mlm_logits)
        token_ids = backbone_inputs["token_ids"]
        original = put_at_positions(token_ids, mask["mask_positions"], mask["mask_ids"],
                                    mask["mask_weights"])
        corrupted = put_at_positions(token_ids, mask["mask_positions"], sampled,
                                     mask["mask_weights"])
        hidden = self.discriminator({**backbone_inputs, "token_ids": corrupted},
                                    training=training)["sequence_output"]
        return {
            "mlm_logits": mlm_logits,
            "corrupted_ids": corrupted,
            "rtd_logits": self.discriminator_head(hidden),
            "rtd_labels": replaced_token_labels(original, corrupted),
        }

    def _sample(self, mlm_logits):
        """One token per masked slot from the generator's distribution; no gradient flows back."""
        logits = ops.stop_gradient(mlm_logits)
        batch, slots = ops.shape(logits)[0], ops.shape(logits)[1]
        flat = ops.reshape(logits, (-1, self.generator.vocab_size))
        draws = keras.random.categorical(flat, 1, seed=self.seed_generator, dtype="int32")
        return ops.reshape(draws, (batch, slots))

    def loss_terms(self, inputs: Mapping[str, Tensor], outputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The two losses: `"generator"` (MLM cross-entropy over the used slots) and `"discriminator"`.

        The discriminator's is the binary cross-entropy averaged over every
        real (unpadded) token, replaced or not.
        """
        backbone_inputs, mask = self._split(inputs)
        weights = ops.cast(ops.greater(mask["mask_weights"], 0), "float32")
        mlm = keras.losses.sparse_categorical_crossentropy(
            ops.cast(mask["mask_ids"], "int32"), outputs["mlm_logits"], from_logits=True)
        generator = ops.sum(mlm * weights) / ops.maximum(ops.sum(weights), 1.0)
        real = self.discriminator.padding_mask(backbone_inputs)
        logits = ops.convert_to_tensor(outputs["rtd_logits"], "float32")
        real = ops.ones_like(logits) if real is None else ops.cast(real, "float32")
        labels = ops.cast(outputs["rtd_labels"], "float32")
        # Binary cross-entropy on logits, stable for large |logits|.
        bce = ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
        discriminator = ops.sum(bce * real) / ops.maximum(ops.sum(real), 1.0)
        return {"generator": generator, "discriminator": discriminator}

    def compute_loss(self, x: Mapping[str, Tensor] | None = None, y: Tensor | None = None,
                     y_pred: Mapping[str, Tensor] | None = None, sample_weight: Tensor | None = None,
                     training: bool = True) -> Tensor:
        check_no_sample_weight(sample_weight)
        terms = self.loss_terms(x, y_pred)
        total = terms["generator"] + self.discriminator_weight * terms["discriminator"]
        return total + ops.sum(ops.stack(self.losses)) if self.losses else total

    def compute_output_shape(self, inputs_shape):
        backbone_shape, mask_shape = self._split(inputs_shape)
        token_shape = tuple(backbone_shape["token_ids"])
        return {
            "mlm_logits": (*tuple(mask_shape["mask_positions"]), self.generator.vocab_size),
            "corrupted_ids": token_shape,
            "rtd_logits": token_shape,
            "rtd_labels": token_shape,
        }

    def get_config(self):
        return {
            **super().get_config(),
            "generator": _unbuilt_config(self.generator),
            "discriminator": _unbuilt_config(self.discriminator),
            "discriminator_weight": self.discriminator_weight,
            "seed": self.seed,
        }


def _unbuilt_config(model: keras.Model) -> dict:
    """A backbone's serialized config without its build state: the tie is made before building."""
    config = keras.saving.serialize_keras_object(model)
    config.pop("build_config", None)
    return config

"""Task models: a `BERT` backbone with a head — pretraining, classification, span QA.

Each takes the backbone as its first argument and saves it inside its own
config, so a `.keras` file restores backbone and head together (and, for the
pretrainer, the tie between the MLM output weights and the token embedding).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import keras

from keras_transformer.models.bert.backbone import BERT, INPUT_KEYS
from keras_transformer.models.bert.heads import (
    BertClassifierHead,
    BertMaskedLMHead,
    BertNextSentenceHead,
    BertSpanHead,
)
from keras_transformer.models.builds_on_demand import BuildsOnDemand
from keras_transformer.models.idle_weights import LeavesIdleWeightsOut


class _BertTask(BuildsOnDemand, LeavesIdleWeightsOut, keras.Model):
    """What the task models share: the backbone, its inputs and the config round trip."""

    extra_inputs: tuple = ()
    #: Whether the head reads the pooled `[CLS]` vector; if not, the pooler is left out of training.
    reads_pooled_output: bool = True

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, BERT):
            raise ValueError(f"`backbone` must be a `BERT`; got {type(backbone).__name__}.")
        self.backbone = backbone

    def _split(self, inputs):
        """`(backbone inputs, task inputs)`; raise if a task input is missing."""
        if not isinstance(inputs, Mapping):
            return inputs, {}  # let the backbone explain what it wants
        missing = [k for k in self.extra_inputs if k not in inputs]
        if missing:
            raise ValueError(
                f"Missing {type(self).__name__} input keys {missing}; the inputs are "
                f"{list(INPUT_KEYS) + list(self.extra_inputs)}."
            )
        backbone = {k: v for k, v in inputs.items() if k not in self.extra_inputs}
        return backbone, {k: inputs[k] for k in self.extra_inputs}

    def idle_weights(self) -> list[keras.Variable]:
        return [] if self.reads_pooled_output else list(self.backbone.pooler.weights)

    def call(self, inputs, training=None):
        return self.call_with_hidden(inputs, training=training)[0]

    def call_with_hidden(self, inputs, training=None):
        """`(outputs, backbone outputs)`: the task's outputs and the hidden states under them.

        A distillation loss that compares hidden states (`Distiller`) reads
        them here without running the backbone twice. (Not `forward`: on the
        PyTorch backend that name is `torch.nn.Module`'s, which export uses.)
        """
        if not self.built and isinstance(inputs, Mapping):  # called directly, not via __call__
            self.build(keras.tree.map_structure(lambda t: tuple(t.shape), dict(inputs)))
        backbone_inputs, task_inputs = self._split(inputs)
        hidden = self.backbone(backbone_inputs, training=training)
        return self._head(hidden, backbone_inputs, task_inputs, training), hidden

    def fresh_input_shape(self) -> dict[str, tuple]:
        return {**self.backbone.fresh_input_shape(), **{k: (None, None) for k in self.extra_inputs}}

    def build(self, inputs_shape):
        backbone_shape, _ = self._split(inputs_shape)
        if not self.backbone.built:  # a deserialized backbone comes built
            self.backbone.build(backbone_shape)
        self._build_head(backbone_shape, inputs_shape)
        self.built = True

    @classmethod
    def from_hf_checkpoint(cls, folder: str | os.PathLike, dtype: str | keras.DTypePolicy | None = None,
                           strict: bool = True, **kwargs: Any) -> _BertTask:
        """Build this task model from a Hugging Face BERT task checkpoint: backbone and head.

        The folder holds `config.json` and `model.safetensors` of the matching
        Hugging Face model (`BertForPreTraining`, `BertForMaskedLM`,
        `BertForSequenceClassification` or `BertForQuestionAnswering`). A checkpoint without this head (e.g. a
        bare `BertModel`) is a `ValueError` naming the absent weights; load
        such a one with `BERT.from_hf_checkpoint` and put a new head on it.

        Args:
            folder: path of the checkpoint folder.
            dtype: dtype policy of the model (e.g. `"mixed_bfloat16"`).
            strict: raise on missing backbone weights.
            **kwargs: override backbone constructor arguments (e.g. `dropout=0.0`).

        Example:
        >>> from keras_transformer.models import BertPretrainer
        >>> pretrainer = BertPretrainer.from_hf_checkpoint("bert-base-uncased/")  # doctest: +SKIP
        """
        from keras_transformer.models.bert.checkpoint import load_task_checkpoint

        return load_task_checkpoint(cls, folder, dtype=dtype, strict=strict, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _token_shape(inputs_shape) -> tuple:
    """`(batch, length)` of the token ids, from a dict of input shapes."""
    shape = inputs_shape["token_ids"] if isinstance(inputs_shape, Mapping) else inputs_shape
    return tuple(shape)


def _mlm_head(backbone: BERT, dtype_policy) -> BertMaskedLMHead:
    """A masked-LM head tied to `backbone`'s token embedding, set up like the backbone."""
    return BertMaskedLMHead(
        backbone.embeddings.token_embedding,
        activation=backbone.activation,
        layer_norm_epsilon=backbone.layer_norm_epsilon,
        initializer_range=backbone.initializer_range,
        dtype=dtype_policy,
        name="mlm_head",
    )


def _hidden_shape(model, backbone_shape):
    token_shape = tuple(backbone_shape["token_ids"])
    return (*token_shape, model.backbone.hidden_dim), (token_shape[0], model.backbone.hidden_dim)


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertPretrainer(_BertTask):
    """BERT's pretraining model: masked LM (tied to the token embedding) + next sentence.

    Call arguments:
        inputs: the backbone's dict plus `"mask_positions"`, int
            `(batch, num_predictions)`: the positions whose tokens to predict.

    Returns:
        A dict: `"mlm_logits"` `(batch, num_predictions, vocab_size)` and
        `"nsp_logits"` `(batch, 2)` (0 = IsNext, 1 = NotNext), both float32.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> x = {"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")}
    >>> out = BertPretrainer(bert).predict({**x, "mask_positions": np.array([[1, 2]])}, verbose=0)
    >>> out["mlm_logits"].shape, out["nsp_logits"].shape
    ((1, 2, 30), (1, 2))

    A Hugging Face `BertForPreTraining` checkpoint: `BertPretrainer.from_hf_checkpoint(folder)`.
    """

    extra_inputs = ("mask_positions",)

    def __init__(self, backbone, **kwargs):
        super().__init__(backbone, **kwargs)
        self.mlm_head = _mlm_head(backbone, self.dtype_policy)
        self.nsp_head = BertNextSentenceHead(
            backbone.initializer_range, dtype=self.dtype_policy, name="nsp_head"
        )

    def _build_head(self, backbone_shape, inputs_shape):
        sequence_shape, pooled_shape = _hidden_shape(self, backbone_shape)
        self.mlm_head.build(sequence_shape, tuple(inputs_shape["mask_positions"]))
        self.nsp_head.build(pooled_shape)

    def _head(self, hidden, backbone_inputs, task_inputs, training):
        return {
            "mlm_logits": self.mlm_head(hidden["sequence_output"], task_inputs["mask_positions"]),
            "nsp_logits": self.nsp_head(hidden["pooled_output"]),
        }

    def compute_output_shape(self, inputs_shape):
        batch = tuple(inputs_shape["token_ids"])[0]
        return {"mlm_logits": (*tuple(inputs_shape["mask_positions"]), self.backbone.vocab_size),
                "nsp_logits": (batch, 2)}


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertMaskedLM(_BertTask):
    """Masked language modeling alone (RoBERTa, DistilBERT): the MLM head tied to the token embedding.

    Call arguments:
        inputs: the backbone's dict plus `"mask_positions"`, int
            `(batch, num_predictions)`: the positions whose tokens to predict.

    Returns:
        float32 logits `(batch, num_predictions, vocab_size)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> x = {"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")}
    >>> BertMaskedLM(bert).predict({**x, "mask_positions": np.array([[1, 2]])}, verbose=0).shape
    (1, 2, 30)
    """

    extra_inputs = ("mask_positions",)
    reads_pooled_output = False

    def __init__(self, backbone, **kwargs):
        super().__init__(backbone, **kwargs)
        self.mlm_head = _mlm_head(backbone, self.dtype_policy)

    def _build_head(self, backbone_shape, inputs_shape):
        sequence_shape, _ = _hidden_shape(self, backbone_shape)
        self.mlm_head.build(sequence_shape, tuple(inputs_shape["mask_positions"]))

    def _head(self, hidden, backbone_inputs, task_inputs, training):
        return self.mlm_head(hidden["sequence_output"], task_inputs["mask_positions"])

    def compute_output_shape(self, inputs_shape):
        return (*tuple(inputs_shape["mask_positions"]), self.backbone.vocab_size)


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertClassifier(_BertTask):
    """Sentence (pair) classification, e.g. CoLA: the backbone's pooled `[CLS]` → logits.

    Args:
        backbone: a `BERT`.
        num_classes: number of classes.
        dropout: dropout on the pooled vector.

    Returns:
        float32 logits `(batch, num_classes)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> x = {"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")}
    >>> BertClassifier(bert, num_classes=3).predict(x, verbose=0).shape
    (1, 3)
    """

    def __init__(self, backbone, num_classes: int, dropout: float = 0.1, **kwargs):
        super().__init__(backbone, **kwargs)
        self.num_classes = num_classes
        self.dropout = dropout
        self.head = BertClassifierHead(
            num_classes, dropout, backbone.initializer_range,
            dtype=self.dtype_policy, name="classifier_head",
        )

    @classmethod
    def from_hf_checkpoint(cls, folder: str | os.PathLike, num_classes: int | None = None,
                           dropout: float | None = None,
                           dtype: str | keras.DTypePolicy | None = None, strict: bool = True,
                           **kwargs: Any) -> BertClassifier:
        """Build a classifier from a Hugging Face `BertForSequenceClassification` checkpoint.

        `num_classes` defaults to the rows of `classifier.weight` (a different
        value is a `ValueError`); `dropout` to the config's
        `classifier_dropout`, else `hidden_dropout_prob`. Other arguments as in
        `BertPretrainer.from_hf_checkpoint`.

        Example: all-MiniLM-L6-v2 is an encoder without a classifier head, so
        asking for one names what is missing (load the encoder with
        `BERT.from_hf_checkpoint` and put a fresh `BertClassifier` on it instead):
        >>> from keras_transformer.models import BertClassifier, minilm_checkpoint_dir
        >>> BertClassifier.from_hf_checkpoint(minilm_checkpoint_dir())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The checkpoint in ... has no BertClassifier head: it lacks ['classifier.weight', 'classifier.bias'] ...
        """
        from keras_transformer.models.bert.checkpoint import load_task_checkpoint

        return load_task_checkpoint(
            cls, folder, dtype=dtype, strict=strict,
            task_arguments={"num_classes": num_classes, "dropout": dropout}, **kwargs,
        )

    def _build_head(self, backbone_shape, inputs_shape):
        self.head.build(_hidden_shape(self, backbone_shape)[1])

    def _head(self, hidden, backbone_inputs, task_inputs, training):
        return self.head(hidden["pooled_output"], training=training)

    def compute_output_shape(self, inputs_shape):
        # Stated rather than traced: the PyTorch backend traces symbolic calls
        # with a stand-in length (83), which a short `max_length` would reject.
        return (_token_shape(inputs_shape)[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertSpanQA(_BertTask):
    """Extractive question answering (SQuAD): start and end logits over the tokens.

    Pack `[CLS] question [SEP] context [SEP]`; padded positions get the large
    negative `MASKED_LOGIT`, so they are never predicted.

    Returns:
        A dict of float32 `(batch, length)`: `"start_logits"`, `"end_logits"`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> x = {"token_ids": np.array([[2, 5, 7, 0]]), "segment_ids": np.zeros((1, 4), "int32")}
    >>> out = BertSpanQA(bert).predict(x, verbose=0)
    >>> out["start_logits"].shape, float(out["end_logits"][0, 3])  # position 3 is padding
    ((1, 4), -1000000000.0)
    """

    reads_pooled_output = False

    def __init__(self, backbone, **kwargs):
        super().__init__(backbone, **kwargs)
        self.head = BertSpanHead(
            backbone.initializer_range, dtype=self.dtype_policy, name="span_head"
        )

    def _build_head(self, backbone_shape, inputs_shape):
        self.head.build(_hidden_shape(self, backbone_shape)[0])

    def _head(self, hidden, backbone_inputs, task_inputs, training):
        return self.head(hidden["sequence_output"], self.backbone.padding_mask(backbone_inputs))

    def compute_output_shape(self, inputs_shape):
        shape = _token_shape(inputs_shape)
        return {"start_logits": shape, "end_logits": shape}

"""Weights a model's outputs never read: kept out of its training, on every backend.

A BERT backbone always carries its `[CLS]` pooler, but a masked-LM, span or
replaced-token head never reads the pooled vector. Left among the trainable
weights, the pooler gets no gradient: TensorFlow's optimizer warns about it
("Gradients do not exist for variables ..."), while JAX hands it zeros that
AdamW's weight decay still shrinks, so the backends would save different
poolers. A model that names such weights in `idle_weights()` counts them as
non-trainable instead, so no backend's optimizer sees them.
"""

from __future__ import annotations

import keras


class LeavesIdleWeightsOut:
    """Mixin for a `keras.Model`: the weights `idle_weights()` lists are non-trainable for it.

    Only this model's own lists change (`trainable_weights`,
    `trainable_variables` and their non-trainable twins); the layers that own
    the weights stay trainable, so another model that reads them, e.g. a
    `BertClassifier` on the same backbone, trains them. Parameter counts keep
    their total: the idle weights move to the non-trainable side.

    Example: a span head never reads the pooler.
    >>> import keras_transformer as kt
    >>> bert = kt.models.BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16)
    >>> qa = kt.models.BertSpanQA(bert)
    >>> qa.build({"token_ids": (None, 8), "segment_ids": (None, 8)})
    >>> pooler = {id(v) for v in bert.pooler.weights}
    >>> any(id(v) in pooler for v in qa.trainable_weights), bert.pooler.trainable
    (False, True)
    """

    def idle_weights(self) -> list[keras.Variable]:
        """The weights none of this model's outputs depend on (none by default)."""
        return []

    def _split_idle(self, trainable: list) -> tuple[list, list]:
        idle = {id(v) for v in self.idle_weights()}
        return ([v for v in trainable if id(v) not in idle],
                [v for v in trainable if id(v) in idle])

    @property
    def trainable_weights(self) -> list[keras.Variable]:
        return self._split_idle(super().trainable_weights)[0]

    @property
    def non_trainable_weights(self) -> list[keras.Variable]:
        return super().non_trainable_weights + self._split_idle(super().trainable_weights)[1]

    @property
    def trainable_variables(self) -> list[keras.Variable]:
        return self._split_idle(super().trainable_variables)[0]

    @property
    def non_trainable_variables(self) -> list[keras.Variable]:
        return (super().non_trainable_variables
                + self._split_idle(super().trainable_variables)[1])

"""Sequence losses: cross-entropy over real tokens with label smoothing, and the distillation losses."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import check_in_range


@keras.saving.register_keras_serializable(package="keras_transformer")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on logits with label smoothing, averaged over non-padding labels.

    With smoothing `e` over `V` classes the target distribution is
    `(1 - e) * onehot(y) + e / V`, so the loss per token is
    `(1 - e) * (-log p_y) + e * mean_v(-log p_v)`. Labels equal to `pad_id`
    contribute nothing and do not count in the average, so a batch's loss does
    not depend on how much padding it carries. Keras's
    `SparseCategoricalCrossentropy` has `ignore_class` but no label smoothing;
    with `label_smoothing=0` the two agree.

    Args:
        label_smoothing: `e` in `[0, 1)`; 0.1 in "Attention Is All You Need".
        pad_id: the label that marks padding.

    Example:

    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> loss = kt.losses.SmoothedSparseCrossentropy(label_smoothing=0.1, pad_id=0)
    >>> labels = np.array([[4, 2, 0]])  # the last position is padding
    >>> round(float(loss(labels, np.zeros((1, 3, 8)))), 4)  # uniform logits: log(8)
    2.0794
    """

    def __init__(self, label_smoothing: float = 0.1, pad_id: int = 0,
                 name: str = "smoothed_sparse_crossentropy", **kwargs):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing!r}.")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id

    def call(self, y_true, y_pred):
        check_in_range(y_true, y_pred.shape[-1], "y_true", "number of classes",
                       "Labels index the last axis of the logits.")
        y_true = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        picked = ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        e = self.label_smoothing
        per_token = -(1.0 - e) * picked - e * ops.mean(log_probs, axis=-1)
        real = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        # The mean over real labels is taken here, so Keras's own reduction
        # (a mean over the scalar) changes nothing.
        return ops.sum(per_token * real) / ops.maximum(ops.sum(real), 1.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "pad_id": self.pad_id}


def soft_targets(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """A teacher's softened distribution `softmax(logits / T)` over the last axis (float32).

    Larger `T` spreads the probability: as `T` grows the targets approach
    uniform, and with `T = 1` they are the plain softmax.

    Example:
    >>> import numpy as np
    >>> np.round(np.asarray(soft_targets(np.array([2.0, 0.0]), temperature=1e6)), 3).tolist()
    [0.5, 0.5]
    """
    _check_temperature(temperature)
    return ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0,
                      weights: Tensor | None = None) -> Tensor:
    """Soft-target cross-entropy `T² · CE(softmax(t/T), log_softmax(s/T))`, averaged over positions.

    Hinton et al. (2015): the `T²` factor keeps the gradient's size about the
    same whatever the temperature, so the soft loss can be mixed with a
    hard-label loss at fixed weights. DistilBERT trains its student with it.

    Args:
        student_logits, teacher_logits: float `(..., classes)`.
        temperature: `T` > 0.
        weights: optional `(...)` weights of the positions (e.g. 0 for unused
            slots); the result is their weighted mean.

    Example:
    >>> import numpy as np
    >>> same = np.array([[1.0, 2.0, 3.0]])
    >>> p = np.exp(same / 2) / np.exp(same / 2).sum()  # equal logits: the teacher's entropy, x T²
    >>> bool(np.isclose(float(distillation_loss(same, same, 2.0)), 4 * -(p * np.log(p)).sum(), atol=1e-5))
    True
    """
    targets = soft_targets(teacher_logits, temperature)
    log_probs = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    per_position = -ops.sum(targets * log_probs, axis=-1) * temperature**2
    return _weighted_mean(per_position, weights)


def hidden_cosine_loss(student_hidden: Tensor, teacher_hidden: Tensor,
                       padding_mask: Tensor | None = None) -> Tensor:
    """`1 - cos(student, teacher)` between hidden vectors, averaged over real tokens.

    DistilBERT's third loss: it aligns the directions of the student's and
    the teacher's hidden states (both `(batch, length, width)`, same width).

    Example:
    >>> import numpy as np
    >>> h = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> float(hidden_cosine_loss(h, np.array([[[2.0, 0.0], [1.0, 0.0]]])))  # same, then orthogonal
    0.5
    """
    s = ops.cast(student_hidden, "float32")
    t = ops.cast(teacher_hidden, "float32")
    norms = ops.maximum(ops.norm(s, axis=-1) * ops.norm(t, axis=-1), 1e-12)
    per_token = 1.0 - ops.sum(s * t, axis=-1) / norms
    return _weighted_mean(per_token, padding_mask)


def _weighted_mean(values, weights):
    if weights is None:
        return ops.mean(values)
    weights = ops.cast(weights, "float32")
    return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1e-12)


def _check_temperature(temperature) -> None:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(
            f"`temperature` must be a number > 0 (1 gives the plain softmax; DistilBERT uses 2); "
            f"got {temperature!r}."
        )

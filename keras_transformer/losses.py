"""Sequence losses: cross-entropy over real tokens, with label smoothing."""

import keras
from keras import ops


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

"""Scores of a classifier's predictions: Matthews correlation, confusion matrix, accuracy, loss.

Matthews correlation (MCC) is GLUE's metric for CoLA: unlike accuracy it is 0
for any constant prediction, however unbalanced the classes (CoLA's dev sets
are about 70% "acceptable", so always answering 1 scores 0.69 accuracy but
MCC 0), +1 for a perfect classifier and -1 for a perfectly inverted one.
MCC is scikit-learn's `matthews_corrcoef` (scikit-learn is in the
`[chapters]` extra and imported on first use).

Example:

>>> from keras_transformer.metrics import confusion_matrix, matthews_corrcoef
>>> matthews_corrcoef([0, 1, 1, 0], [0, 1, 1, 0])
1.0
>>> confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0]).tolist()
[[2, 0], [1, 1]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["classification_scores", "confusion_matrix", "matthews_corrcoef"]


def _labels_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            "`y_true` and `y_pred` must be non-empty 1-D arrays of the same length "
            f"(one class id per example); got shapes {y_true.shape} and {y_pred.shape}."
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
            raise ValueError(
                f"`{name}` must hold integer class ids; got dtype {y.dtype}. "
                "For logits, pass `np.argmax(logits, axis=-1)`."
            )
    return y_true.astype("int64"), y_pred.astype("int64")


def _check_class_ids(name: str, y: np.ndarray, limit_name: str, num_classes: int) -> None:
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"`{name}` must be class ids in [0, {limit_name}={num_classes}); got ids from "
            f"{y.min()} to {y.max()}."
        )


def matthews_corrcoef(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Matthews correlation coefficient of class-id predictions, in [-1, 1].

    `(TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))` for two classes
    (scikit-learn's multiclass generalization otherwise); 0 when a factor
    of the denominator is 0, e.g. for a constant prediction.

    Raises:
        ValueError: the arrays are not 1-D, equally long, non-empty class ids.

    Example (a perfectly inverted classifier scores -1, a constant one 0):

    >>> from keras_transformer.metrics import matthews_corrcoef
    >>> matthews_corrcoef([0, 1, 1, 0], [1, 0, 0, 1]), matthews_corrcoef([0, 1, 1, 0], [1, 1, 1, 1])
    (-1.0, 0.0)
    """
    from sklearn.metrics import matthews_corrcoef as sklearn_mcc

    y_true, y_pred = _labels_pair(y_true, y_pred)
    return float(sklearn_mcc(y_true, y_pred))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int = 2) -> np.ndarray:
    """Counts `(num_classes, num_classes)`: row = true class, column = predicted class.

    For two classes: `[[TN, FP], [FN, TP]]` with class 1 as the positive.

    Raises:
        ValueError: bad arrays (see `matthews_corrcoef`), or a class id
            outside `[0, num_classes)`.

    Example (three classes; the diagonal counts the right answers):

    >>> from keras_transformer.metrics import confusion_matrix
    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], num_classes=3).tolist()
    [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    """
    y_true, y_pred = _labels_pair(y_true, y_pred)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        _check_class_ids(name, y, "num_classes", num_classes)
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def classification_scores(labels: ArrayLike, logits: ArrayLike) -> dict[str, float]:
    """`{"mcc", "accuracy", "loss"}` of `(n, classes)` logits against `(n,)` labels.

    `loss` is the mean softmax cross-entropy of the logits (computed in
    float64 with a stable log-sum-exp); `mcc` and `accuracy` score the argmax.

    Example:

    >>> from keras_transformer.metrics import classification_scores
    >>> scores = classification_scores([0, 1], [[2.0, 0.0], [0.0, 2.0]])
    >>> {name: round(value, 4) for name, value in scores.items()}
    {'mcc': 1.0, 'accuracy': 1.0, 'loss': 0.1269}
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"`logits` must be (n, classes) with n = len(labels) = {labels.shape[0]}; "
            f"got shape {logits.shape}."
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError("`logits` must be finite; got NaN or inf (a diverged model?).")
    predicted = np.argmax(logits, axis=-1)
    labels, predicted = _labels_pair(labels, predicted)
    _check_class_ids("labels", labels, "classes", logits.shape[1])
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return {
        "mcc": matthews_corrcoef(labels, predicted),
        "accuracy": float(np.mean(labels == predicted)),
        "loss": float(-log_probs[np.arange(len(labels)), labels].mean()),
    }

"""Scores of an ELECTRA discriminator: accuracy, the all-original baseline, and ROC AUC.

A generator replaces about one token in seven, so a discriminator that calls
every token "original" is already right about six times in seven: its
accuracy means something only above that baseline. The AUC (scikit-learn's
`roc_auc_score`: the chance that a replaced token gets a higher logit than an
original one, ties counting half) depends on neither the threshold nor the
share of replacements; 0.5 is a discriminator that cannot tell them apart.

Example:

>>> import numpy as np
>>> from keras_transformer.metrics import replaced_token_scores
>>> logits = np.array([[-2.0, 1.5, -1.0, -3.0, 0.5]])
>>> labels = np.array([[0, 1, 0, 0, 1]])  # 1 = replaced
>>> real = np.array([[True, True, True, True, False]])  # the last token is padding
>>> {k: round(v, 3) for k, v in replaced_token_scores(logits, labels, real).items()}
{'rtd_accuracy': 1.0, 'rtd_baseline_accuracy': 0.75, 'rtd_auc': 1.0}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["replaced_token_scores"]


def replaced_token_scores(
    logits: ArrayLike, labels: ArrayLike, real: ArrayLike | None = None
) -> dict[str, float]:
    """`rtd_accuracy`, `rtd_baseline_accuracy` (every token called original) and `rtd_auc` over the real tokens.

    Args:
        logits: the discriminator's logits, positive for "replaced".
        labels: 1 where the token was replaced, 0 where it is the original;
            the shape of `logits`.
        real: True for the tokens to score (not padding); default all.

    Returns:
        The three scores as floats. With only one class among the real
        tokens there is no pair to rank, and `rtd_auc` is 0.5.

    Raises:
        ValueError: the shapes differ, no token is real, or a label is not 0 or 1.

    Example (token 1 is replaced; token 3, an original, gets a higher logit and is called replaced):

    >>> from keras_transformer.metrics import replaced_token_scores
    >>> scores = replaced_token_scores([[-1.0, 0.5, -2.0, 1.0]], [[0, 1, 0, 0]])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'rtd_accuracy': 0.75, 'rtd_baseline_accuracy': 0.75, 'rtd_auc': 0.667}
    """
    logits, labels = np.asarray(logits, "float64"), np.asarray(labels)
    real = np.ones(logits.shape, bool) if real is None else np.asarray(real, bool)
    if not logits.shape == labels.shape == real.shape or not real.any():
        raise ValueError(
            "`logits`, `labels` and `real` must have one shape (one entry per token) with at "
            f"least one real token; got shapes {logits.shape}, {labels.shape} and {real.shape} "
            f"with {int(real.sum())} real."
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(
            "`labels` must be 0 (original) or 1 (replaced) for every token; got values "
            f"{np.unique(labels)[:8].tolist()}. Pass the pretrainer's `rtd_labels`."
        )
    from sklearn.metrics import roc_auc_score

    logits, replaced = logits[real], labels[real] == 1
    both = 0 < replaced.sum() < replaced.size
    return {
        "rtd_accuracy": float(((logits > 0) == replaced).mean()),
        "rtd_baseline_accuracy": float(1 - replaced.mean()),
        "rtd_auc": float(roc_auc_score(replaced, logits)) if both else 0.5,
    }

"""The residual wrapper around every Transformer sublayer, pre-LN or post-LN."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from keras_transformer._typing import Tensor

if TYPE_CHECKING:
    import keras


def residual(
    x: Tensor,
    sublayer: Callable[[Tensor], Tensor | tuple[Tensor, ...]],
    norm: keras.layers.Layer,
    dropout: keras.layers.Layer,
    norm_first: bool,
    training: bool | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Apply `sublayer` with a residual connection and layer normalization.

    Post-LN (the paper, BERT): `norm(x + dropout(sublayer(x)))`.
    Pre-LN (GPT-2, most modern models): `x + dropout(sublayer(norm(x)))`,
    which keeps an identity path from input to output and trains more stably
    without warm-up.

    `sublayer` is a one-argument callable; a sublayer that returns a tuple
    (output, extras...) has its extras passed through:
    `residual(...)` then returns `(y, extras...)`.

    Example (the sublayer doubles its input; the norm maps [a, b] with a < b to about [-1, 1]):
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.layers.residual import residual
    >>> x = keras.ops.convert_to_tensor([[1.0, 3.0]])
    >>> norm, dropout = keras.layers.LayerNormalization(epsilon=1e-6), keras.layers.Dropout(0.0)
    >>> post = residual(x, lambda t: 2 * t, norm, dropout, norm_first=False)  # norm(x + 2x)
    >>> pre = residual(x, lambda t: 2 * t, norm, dropout, norm_first=True)  # x + 2 norm(x)
    >>> [np.round(keras.ops.convert_to_numpy(y), 3).tolist() for y in (post, pre)]
    [[[-1.0, 1.0]], [[-1.0, 5.0]]]
    """
    out = sublayer(norm(x) if norm_first else x)
    extras = ()
    if isinstance(out, tuple):
        out, extras = out[0], out[1:]
    y = x + dropout(out, training=training)
    if not norm_first:
        y = norm(y)
    return (y, *extras) if extras else y

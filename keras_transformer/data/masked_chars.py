"""Masked-language-model batches of characters, a pure function of (seed, step)."""

from __future__ import annotations

import numpy as np

from keras_transformer.data.lm_batches import lm_batch


def mask_windows(
    windows: np.ndarray, rng: np.random.Generator, mask_id: int, rate: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hides `round(rate * T)` distinct positions of every window behind `mask_id`.

    Every row has the same number of masked positions, so every batch weighs
    the loss alike. Masked positions always show `mask_id` (BERT's 80/10/10
    split matters for fine-tuning on unmasked text, not for comparing
    attention layers on the masked task itself).

    Returns:
        `(inputs, targets, weights)`: int32 windows with the masked positions
        replaced, the original int32 windows, and float32 weights that are 1
        at masked positions and 0 elsewhere (the loss's sample weights).

    Example:
    >>> import numpy as np
    >>> from keras_transformer.data.masked_chars import mask_windows
    >>> windows = np.arange(20).reshape(2, 10)
    >>> x, y, w = mask_windows(windows, np.random.default_rng(0), mask_id=99, rate=0.3)
    >>> w.sum(axis=1).tolist(), bool((x[w == 1] == 99).all()), bool((x[w == 0] == y[w == 0]).all())
    ([3.0, 3.0], True, True)
    """
    windows = np.asarray(windows)
    if windows.ndim != 2:
        raise ValueError(f"windows must be 2-D (batch, length); got shape {windows.shape}.")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1); got {rate!r}.")
    batch, length = windows.shape
    count = max(1, round(rate * length))
    # argsort of uniform noise: a uniformly random subset of `count` positions per row.
    chosen = np.argsort(rng.random((batch, length)), axis=1)[:, :count]
    weights = np.zeros((batch, length), np.float32)
    np.put_along_axis(weights, chosen, 1.0, axis=1)
    inputs = np.where(weights == 1.0, mask_id, windows).astype(np.int32)
    return inputs, windows.astype(np.int32), weights


def masked_char_batch(
    ids: np.ndarray, step: int, batch_size: int, block_size: int, seed: int,
    mask_id: int, rate: float = 0.15,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training batch `step`: random windows of `ids`, each with fresh masked positions.

    Windows come from `lm_batch` (drawn from `(seed, step)`) and masks from
    `(seed, step, 1)`, so a resumed run sees exactly the batches of an
    uninterrupted one, and a window seen twice gets a new mask each time.
    Returns `mask_windows`' `(inputs, targets, weights)`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.data.masked_chars import masked_char_batch
    >>> x, y, w = masked_char_batch(np.arange(1000) % 60, step=0, batch_size=2,
    ...                             block_size=100, seed=0, mask_id=60)
    >>> x.shape, w.sum(axis=1).tolist()
    ((2, 100), [15.0, 15.0])
    """
    windows, _ = lm_batch(ids, step, batch_size, block_size, seed)
    return mask_windows(windows, np.random.default_rng([seed, step, 1]), mask_id, rate)

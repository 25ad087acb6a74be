"""Synthetic tasks for the chapters that are meant to be synthetic.

Every generator takes a `numpy.random.Generator`; `step_rng(seed, step)` gives
the one for training batch `step`, so a batch is a pure function of
`(seed, step)` and resuming a run sees exactly the batches it would have seen.
Held-out sets use another `stream`.
"""

from __future__ import annotations

import numpy as np


def step_rng(seed: int, step: int, stream: int = 0) -> np.random.Generator:
    """The generator of batch `step` in `stream` (0: training; others: held-out sets)."""
    return np.random.default_rng([seed, stream, step])


def recall_examples(rng: np.random.Generator, batch_size: int, num_pairs: int,
                    num_keys: int, num_values: int):
    """Draws associative-recall examples.

    Token ids: 0 is unused (padding elsewhere in the package), keys are
    `1 .. num_keys`, values are `num_keys + 1 .. num_keys + num_values`.

    Returns:
        `tokens` int32 `(batch, 2 * num_pairs + 1)`: `k v k v ... k_query`;
        `labels` int32 `(batch,)`: the value *index* in `[0, num_values)`
        paired with the query key; `answer_position` int32 `(batch,)`: the
        position of that value token in `tokens`.

    Example:

    >>> from keras_transformer.data.synthetic import recall_examples, step_rng
    >>> tokens, labels, answer_position = recall_examples(
    ...     step_rng(seed=0, step=0), batch_size=4, num_pairs=3, num_keys=8, num_values=8)
    >>> tokens.shape, labels.shape
    ((4, 7), (4,))
    >>> bool((tokens[range(4), answer_position] == 8 + 1 + labels).all())
    True
    """
    keys = np.argsort(rng.random((batch_size, num_keys)), axis=1)[:, :num_pairs]
    values = np.argsort(rng.random((batch_size, num_values)), axis=1)[:, :num_pairs]
    pick = rng.integers(0, num_pairs, batch_size)
    rows = np.arange(batch_size)
    tokens = np.empty((batch_size, 2 * num_pairs + 1), dtype=np.int32)
    tokens[:, 0:-1:2] = 1 + keys
    tokens[:, 1:-1:2] = 1 + num_keys + values
    tokens[:, -1] = 1 + keys[rows, pick]
    return tokens, values[rows, pick].astype(np.int32), (2 * pick + 1).astype(np.int32)


def reversal_examples(rng: np.random.Generator, batch_size: int, vocab_size: int,
                      min_length: int, max_length: int, width: int | None = None):
    """Draws sequences to reverse, padded with 0 to `width` (default `max_length`).

    Returns:
        `tokens` int32 `(batch, width)`: lengths uniform in
        `[min_length, max_length]`, symbols uniform in `[1, vocab_size)`;
        `labels` int32 `(batch, width)`: `labels[b, t] = tokens[b, n_b - 1 - t]`
        for `t < n_b`, 0 at padding; `weights` float32 `(batch, width)`: 1 at
        real positions, 0 at padding.

    Example:

    >>> from keras_transformer.data.synthetic import reversal_examples, step_rng
    >>> tokens, labels, weights = reversal_examples(
    ...     step_rng(seed=0, step=0), batch_size=2, vocab_size=10, min_length=3, max_length=5)
    >>> tokens.shape, bool((labels[weights == 1] > 0).all())
    ((2, 5), True)
    >>> n = int(weights[0].sum())
    >>> labels[0, :n].tolist() == tokens[0, :n][::-1].tolist()
    True
    """
    width = width or max_length
    if width < max_length:
        raise ValueError(f"width ({width}) must be >= max_length ({max_length}).")
    lengths = rng.integers(min_length, max_length + 1, batch_size)
    positions = np.arange(width)[None]
    real = positions < lengths[:, None]
    tokens = np.where(real, rng.integers(1, vocab_size, (batch_size, width)), 0)
    mirror = np.clip(lengths[:, None] - 1 - positions, 0, width - 1)
    labels = np.where(real, np.take_along_axis(tokens, mirror, axis=1), 0)
    return tokens.astype(np.int32), labels.astype(np.int32), real.astype(np.float32)

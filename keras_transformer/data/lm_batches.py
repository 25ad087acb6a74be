"""Batches for language-model training and evaluation from a 1-D id array."""

import numpy as np

from keras_transformer.layers._checks import check_integer


def lm_batch(
    ids: np.ndarray, step: int, batch_size: int, block_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns training batch number `step`: random windows and their targets.

    Window starts are drawn from `np.random.default_rng([seed, step])`, so a
    batch depends on `(seed, step)` only. Resuming at step k therefore sees
    exactly the batches an uninterrupted run would have seen, and no data
    position has to be saved beside the step.

    Args:
        ids: 1-D token ids, longer than `block_size`.
        step: training step, `>= 0`.
        batch_size: windows per batch.
        block_size: window length T.
        seed: run seed, `>= 0`.

    Returns:
        `(x, y)`, int32 arrays of shape `(batch_size, block_size)` with
        `y[:, t] == x[:, t + 1]`: the next token at every position.

    Example:

    >>> import numpy as np
    >>> from keras_transformer.data.lm_batches import lm_batch
    >>> ids = np.arange(100)
    >>> x, y = lm_batch(ids, step=3, batch_size=2, block_size=5, seed=0)
    >>> x.shape, bool((y[:, :-1] == x[:, 1:]).all())
    ((2, 5), True)
    """
    ids = _id_array(ids)
    for name, value, low in (
        ("step", step, 0), ("seed", seed, 0),
        ("batch_size", batch_size, 1), ("block_size", block_size, 1),
    ):
        check_integer(name, value, low)
    if len(ids) <= block_size:
        raise ValueError(
            f"ids must be longer than block_size={block_size} to hold one "
            f"window and its target, got {len(ids)} ids."
        )
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    windows = ids[starts[:, None] + np.arange(block_size + 1)]
    return (
        windows[:, :-1].astype(np.int32),
        windows[:, 1:].astype(np.int32),
    )


def lm_eval_windows(
    ids: np.ndarray, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a split into non-overlapping windows for a full evaluation pass.

    Window i holds `ids[i*T : (i+1)*T]` and its targets are shifted by one, so
    every target is predicted exactly once. The tail that does not fill a
    whole window, `(len(ids) - 1) % block_size` targets, is dropped: fewer
    than `block_size` of the split (e.g. 179 of Tiny Shakespeare's 111,539
    validation targets at T=256). Early positions in each window see a short
    context, as in any non-overlapping evaluation.

    Args:
        ids: 1-D token ids.
        block_size: window length T.

    Returns:
        `(x, y)`, int32 arrays of shape `((len(ids) - 1) // T, T)`.

    Example:

    >>> import numpy as np
    >>> from keras_transformer.data.lm_batches import lm_eval_windows
    >>> x, y = lm_eval_windows(np.arange(11), block_size=3)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    """
    ids = _id_array(ids)
    check_integer("block_size", block_size, 1)
    count = (len(ids) - 1) // block_size
    if count < 1:
        raise ValueError(
            f"ids must hold at least block_size + 1 = {block_size + 1} ids "
            f"for one window, got {len(ids)}."
        )
    length = count * block_size
    x = ids[:length].reshape(count, block_size)
    y = ids[1 : length + 1].reshape(count, block_size)
    return x.astype(np.int32), y.astype(np.int32)


def _id_array(ids) -> np.ndarray:
    """`ids` as a 1-D integer array; a ValueError otherwise (float ids would be cast silently)."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"`ids` must be 1-D; got shape {ids.shape}.")
    if ids.size and ids.dtype.kind not in "iu":  # an empty list is float64; its length check speaks
        raise ValueError(f"`ids` must be an integer array of token ids; got dtype {ids.dtype}.")
    return ids

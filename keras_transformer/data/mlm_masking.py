"""Masked-LM inputs from packed token ids: seeded masking, static (BERT) or dynamic (RoBERTa).

The masking itself is keras-hub's `MaskedLMMaskGenerator` (15% of the
selectable tokens; of those, 80% `[MASK]`, 10% a random token, 10% kept).
What is added here is control over its randomness: BERT masked its corpus
once while preprocessing (static), RoBERTa draws a fresh mask every time a
sequence is fed (dynamic); both are a pure function of a seed and the step,
so a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from keras_transformer.layers._checks import check_token_ids

if TYPE_CHECKING:
    import keras_hub


def masked_lm(
    masker: keras_hub.layers.MaskedLMMaskGenerator, token_ids: np.ndarray, seed: int | Sequence[int]
) -> dict[str, np.ndarray]:
    """`masker(token_ids)` with its random draws fixed by `seed`, as NumPy arrays.

    keras-hub's masker draws from Python's `random` module (its default,
    Python path) or, when it was built for the TensorFlow path, from
    TensorFlow's global seed. The generator it uses is seeded here; Python's
    is put back as it was afterwards, TensorFlow's global seed stays set.

    Args:
        masker: a `keras_hub.layers.MaskedLMMaskGenerator` (with
            `mask_selection_length` set, so the outputs are rectangular).
        token_ids: int `(batch, length)`.
        seed: an int or a sequence of ints (e.g. `(seed, step)`).

    Returns:
        `"token_ids"` (masked), `"mask_positions"`, `"mask_ids"` (int32) and
        `"mask_weights"` (float32, 0 for unused slots).

    Example:
    >>> import keras_hub
    >>> import numpy as np
    >>> masker = keras_hub.layers.MaskedLMMaskGenerator(
    ...     vocabulary_size=50, mask_selection_rate=0.5, mask_token_id=1,
    ...     mask_selection_length=4, unselectable_token_ids=[0])
    >>> ids = np.arange(2, 10)[None]
    >>> a, b = (masked_lm(masker, ids, seed=(7, 0)) for _ in range(2))
    >>> bool(np.array_equal(a["mask_positions"], b["mask_positions"]))
    True
    """
    if getattr(masker, "mask_selection_length", None) is None:
        raise ValueError(
            "`masker` must have `mask_selection_length` set (the number of prediction "
            "slots per row), so that every batch has the same shape."
        )
    token_ids = np.asarray(token_ids)
    if token_ids.ndim != 2 or token_ids.shape[0] == 0 or not np.issubdtype(token_ids.dtype, np.integer):
        raise ValueError(
            f"`token_ids` must be a non-empty int array (batch, length); got shape "
            f"{token_ids.shape} and dtype {token_ids.dtype}."
        )
    check_token_ids(token_ids, masker.vocabulary_size)
    seeds = np.atleast_1d(seed)
    if not np.issubdtype(seeds.dtype, np.integer) or seeds.min() < 0:
        raise ValueError(f"`seed` must be an int >= 0 or a sequence of them; got {seed!r}.")
    state = int(np.random.SeedSequence(seeds.tolist()).generate_state(1)[0])
    saved = random.getstate()
    try:
        random.seed(state)
        if not getattr(masker, "_allow_python_workflow", True):
            import tensorflow as tf

            tf.random.set_seed(state)
        out = masker(token_ids.astype("int32"))
    finally:
        random.setstate(saved)
    return {
        key: keras.ops.convert_to_numpy(value).astype("float32" if key == "mask_weights" else "int32")
        for key, value in out.items()
    }


class MaskedLMData:
    """Masked-LM batches of packed rows, masked once up front (static) or afresh at every draw (dynamic).

    Args:
        token_ids: int `(rows, length)`, packed and padded.
        masker: a `keras_hub.layers.MaskedLMMaskGenerator` with
            `mask_selection_length` set.
        dynamic: RoBERTa's dynamic masking (True) or BERT's static masking.
        seed: seed of every mask.

    Example: a row fed at two steps keeps its mask when static and gets a new one when dynamic.
    >>> import keras_hub
    >>> import numpy as np
    >>> masker = keras_hub.layers.MaskedLMMaskGenerator(
    ...     vocabulary_size=50, mask_selection_rate=0.3, mask_token_id=1,
    ...     mask_selection_length=6, unselectable_token_ids=[0])
    >>> ids = np.arange(2, 22)[None]
    >>> static, dynamic = MaskedLMData(ids, masker, dynamic=False), MaskedLMData(ids, masker)
    >>> same = lambda data: bool(np.array_equal(data.batch([0], 0)["mask_positions"],
    ...                                         data.batch([0], 1)["mask_positions"]))
    >>> same(static), same(dynamic)
    (True, False)
    """

    def __init__(self, token_ids: np.ndarray, masker: keras_hub.layers.MaskedLMMaskGenerator,
                 dynamic: bool = True, seed: int = 0) -> None:
        token_ids = np.asarray(token_ids)
        if token_ids.ndim != 2:
            raise ValueError(
                f"`token_ids` must be packed rows, shape (rows, length); got shape {token_ids.shape}."
            )
        self.token_ids = token_ids
        self.masker = masker
        self.dynamic = dynamic
        self.seed = seed
        self._static = None if dynamic else masked_lm(masker, token_ids, (seed, 0))

    def batch(self, rows: Sequence[int] | np.ndarray, step: int) -> dict[str, np.ndarray]:
        """The masked-LM inputs of `rows` as fed at `step`: the same every call with these arguments."""
        rows = np.asarray(rows)
        if self._static is not None:
            return {key: value[rows] for key, value in self._static.items()}
        return masked_lm(self.masker, self.token_ids[rows], (self.seed, 1, step))

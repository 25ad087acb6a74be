"""Helpers shared by the layers: input checks whose errors say how to fix them, and
initializer cloning."""

from __future__ import annotations

import numbers
import random
from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

from keras_transformer._typing import Tensor


def check_rank(name: str, shape: Sequence[int | None], rank: int, meaning: str) -> None:
    """Raise if `shape` is not of `rank`; `meaning` names the axes, e.g. "(batch, length)"."""
    if len(shape) != rank:
        raise ValueError(
            f"`{name}` must have rank {rank}, {meaning}; got shape {tuple(shape)}."
        )


def check_start_index(start_index: int | Tensor) -> None:
    """Raise if an integer `start_index` is negative: a gather would wrap it to the table's end.

    A tensor `start_index` (a decoding step's, traced) is left to the caller.

    Example:
    >>> check_start_index(3)
    >>> check_start_index(-1)
    Traceback (most recent call last):
    ...
    ValueError: `start_index` must be >= 0, the position of the first element; got -1.
    """
    if is_integer(start_index) and start_index < 0:
        raise ValueError(
            f"`start_index` must be >= 0, the position of the first element; got {start_index}."
        )


def check_length(length: int | None, max_length: int, name: str = "inputs",
                 start_index: int | Tensor = 0) -> None:
    """Raise if a static sequence length (plus a static `start_index`) exceeds `max_length`."""
    if not isinstance(length, int) or not isinstance(start_index, int):
        return  # unknown until run time (None, or a symbolic JAX dimension)
    if start_index + length > max_length:
        where = f" starting at position {start_index}" if start_index else ""
        raise ValueError(
            f"`{name}` has length {length}{where}, which exceeds `max_length`="
            f"{max_length}. Truncate the sequence or build the layer with a larger "
            "`max_length`."
        )


def check_token_ids(token_ids: Tensor, vocab_size: int, name: str = "token_ids") -> None:
    """Raise unless the ids are integers (any tensor) in `[0, vocab_size)` (concrete ones).

    The dtype is checked everywhere. The range is checked for eager values
    only; inside a compiled function (`jit_compile`, `tf.function`, `jax.jit`,
    so `fit` and `predict`) the values are unknown and that check is skipped. The backend's gather then decides: TensorFlow on a
    CPU raises InvalidArgumentError, JAX returns NaN rows (the loss turns NaN),
    and a GPU may clamp or zero the id. Check a dataset's ids once before
    training, as `data.mlm_masking` does for the rows it masks.
    """
    check_integers(token_ids, name)
    check_in_range(token_ids, vocab_size, name, "vocab_size",
                   "Check the tokenizer's vocabulary against the model's `vocab_size`.")


def check_same_batch(first: str, first_shape: Sequence, second: str, second_shape: Sequence) -> None:
    """Raise if two inputs' static batch sizes differ: a batch of 1 would broadcast silently.

    Example:
    >>> check_same_batch("query", (2, 5, 8), "value", (None, 7, 8))
    >>> check_same_batch("query", (1, 5, 8), "value", (2, 7, 8))
    Traceback (most recent call last):
    ...
    ValueError: `query` and `value` must have the same batch size (one row each per example); got 1 and 2.
    """
    a, b = first_shape[0], second_shape[0]
    if a is not None and b is not None and a != b:
        raise ValueError(
            f"`{first}` and `{second}` must have the same batch size (one row each per "
            f"example); got {a} and {b}."
        )


def check_same_shape(name: str, shape: Sequence[int | None], reference: str,
                     reference_shape: Sequence[int | None], meaning: str) -> None:
    """Raise unless `shape` has `reference_shape`'s rank and agrees with it wherever both are known.

    Example:
    >>> check_same_shape("segment_ids", (None, 5), "token_ids", (2, 5), "(batch, length)")
    >>> check_same_shape("segment_ids", (2, 4), "token_ids", (2, 5), "(batch, length)")
    Traceback (most recent call last):
    ...
    ValueError: `segment_ids` must have the shape of `token_ids`, (batch, length): (2, 5); got (2, 4).
    """
    same = len(shape) == len(reference_shape) and all(
        a is None or b is None or a == b for a, b in zip(shape, reference_shape))
    if not same:
        raise ValueError(
            f"`{name}` must have the shape of `{reference}`, {meaning}: "
            f"{tuple(reference_shape)}; got {tuple(shape)}."
        )


def check_activation(activation: str | Callable | None) -> None:
    """Raise now, not at a model's first call, if Keras does not know `activation`.

    Example:
    >>> check_activation("gelu_approximate")
    >>> check_activation("nope")
    Traceback (most recent call last):
    ...
    ValueError: `activation` must be a Keras activation (a name such as 'relu' or 'gelu', 'gelu_approximate', or a callable); got 'nope'.
    """
    if activation == "gelu_approximate":  # the blocks' own name for GPT-2's tanh GELU
        return
    try:
        keras.activations.get(activation)
    except ValueError as error:
        raise ValueError(
            "`activation` must be a Keras activation (a name such as 'relu' or 'gelu', "
            f"'gelu_approximate', or a callable); got {activation!r}."
        ) from error


def check_pad_id(pad_id: int | np.integer | None, vocab_size: int) -> None:
    """Raise unless `pad_id` is `None` or an id of the vocabulary."""
    if pad_id is not None and (isinstance(pad_id, bool) or not isinstance(pad_id, (int, np.integer))
                               or not 0 <= pad_id < vocab_size):
        raise ValueError(
            f"`pad_id` must be None (no padding) or an id in [0, vocab_size) = [0, {vocab_size}); "
            f"got {pad_id!r}."
        )


def check_positions(positions: Tensor, length: int | None, name: str = "mask_positions") -> None:
    """Raise unless the positions are integers, in `[0, length)` of the sequences they index when concrete.

    As for `check_token_ids`, only eager values and a static `length` can be
    checked; in compiled code the backend's gather decides (an error, NaN,
    or a clamped or zeroed position).
    """
    check_integers(positions, name)
    if isinstance(length, int):
        check_in_range(positions, length, name, "sequence length",
                       "Positions index the tokens of each input sequence.")


def check_integers(values: Tensor, name: str) -> None:
    """Raise unless `values` have an integer dtype, which is known even in compiled code.

    A gather truncates a float index (4.7 reads as 4), silently.

    Example:
    >>> import numpy as np
    >>> check_integers(np.array([[3, 4]]), "token_ids")
    >>> check_integers(np.array([[3.0, 4.7]]), "token_ids")
    Traceback (most recent call last):
    ...
    ValueError: `token_ids` must hold integers; got dtype float64. Cast them (`.astype('int32')`), or give a symbolic input `dtype='int32'`.
    """
    dtype = keras.backend.standardize_dtype(
        values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype
    )
    if "int" not in dtype:
        raise ValueError(
            f"`{name}` must hold integers; got dtype {dtype}. Cast them (`.astype('int32')`), "
            "or give a symbolic input `dtype='int32'`."
        )


def check_in_range(values: Tensor, limit: int, name: str, limit_name: str, hint: str) -> None:
    """Raise if concrete `values` fall outside `[0, limit)`; `limit_name` and `hint` go into the message."""
    try:
        values = ops.convert_to_numpy(values)
    except Exception:  # symbolic or traced: values are not known yet
        return
    if values.size and (values.min() < 0 or values.max() >= limit):
        raise ValueError(
            f"`{name}` must lie in [0, {limit_name}) = [0, {limit}); got values "
            f"from {values.min()} to {values.max()}. {hint}"
        )


def check_strings(name: str, value: object, depth: int, meaning: str) -> None:
    """Raise unless `value` is `depth` levels of lists (or tuples) around strings.

    A lone string is a sequence of characters, so a function that wants a list
    of sentences would otherwise cut one sentence into letters.

    Example:
    >>> check_strings("sentences", ["One.", "Two."], 1, "a list of sentences")
    >>> check_strings("articles", [["One. Two."]], 3, "articles of paragraphs of sentences")
    Traceback (most recent call last):
    ...
    ValueError: `articles` must be articles of paragraphs of sentences (3 levels of lists around strings); `articles[0][0]` is a str.
    """
    def first_wrong(item, level, path):  # (path, item) of the first misfit, or None
        if level == 0:
            return None if isinstance(item, str) else (path, item)
        if isinstance(item, (str, bytes)) or not isinstance(item, (list, tuple)):
            return path, item
        return next((wrong for i, x in enumerate(item)
                     if (wrong := first_wrong(x, level - 1, f"{path}[{i}]")) is not None), None)

    wrong = first_wrong(value, depth, name)
    if wrong is not None:
        levels = "a list of strings" if depth == 1 else f"{depth} levels of lists around strings"
        raise ValueError(
            f"`{name}` must be {meaning} ({levels}); `{wrong[0]}` is a {type(wrong[1]).__name__}."
        )


def check_divisible(hidden_dim: int, num_heads: int) -> int:
    """Return the head width `hidden_dim // num_heads`, or raise if it is not whole."""
    if num_heads <= 0 or hidden_dim % num_heads:
        raise ValueError(
            f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` "
            f"({num_heads}); pick num_heads among the divisors of hidden_dim."
        )
    return hidden_dim // num_heads


def is_integer(value: object) -> bool:
    """Whether `value` is a Python or NumPy integer; a bool is a flag, not a count."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_integer(name: str, value: int, low: int) -> None:
    """Raise unless `value` is an integer >= `low` (a float or a list is no count)."""
    if not is_integer(value) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}; got {value!r}.")


def check_positive(**values: int) -> None:
    """Raise for any argument that is not a positive Python integer (a layer's config must serialize)."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")


def check_self_attention(layer: str, query: Tensor, **others: Tensor | None) -> None:
    """Raise for each of `others` (e.g. `value=`, `key=`) that is given and is not `query`."""
    for name, tensor in others.items():
        if tensor is not None and tensor is not query:
            raise ValueError(
                f"`{name}`: {layer} is self-attention only (queries, keys and values "
                f"all come from `query`); leave `{name}` unset, or use "
                "MultiHeadAttention for cross-attention."
            )


def check_seed(seed: int) -> None:
    """Raise unless `seed` is a non-negative integer."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"`seed` must be None or a non-negative integer; got {seed!r}.")


def resolve_seed(seed: int | None) -> int:
    """`seed` checked, or a fresh one when None, for a layer to store in its config.

    The draw comes from Python's `random`, which `keras.utils.set_random_seed`
    seeds, so a seeded program builds the same layers every time.
    """
    seed = random.randrange(2**31) if seed is None else seed
    check_seed(seed)
    return seed


def check_rate(name: str, value: float) -> None:
    """Raise unless `0 <= value < 1`."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1); got {value!r}.")


def clone_initializer(
    initializer: str | dict | keras.initializers.Initializer,
) -> keras.initializers.Initializer:
    """A fresh initializer per weight, so no two weights share one seeded instance."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


def check_no_sample_weight(sample_weight: Tensor | None) -> None:
    """Raise if a model that computes its own loss is given a `sample_weight`."""
    if sample_weight is not None:
        raise ValueError(
            "This model defines its own loss and takes no `sample_weight`; got one. Drop it "
            "(or weight the examples by repeating them)."
        )

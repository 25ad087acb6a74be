"""Attention masks: one vocabulary for the whole package.

Every mask is boolean and `True` means "may attend" (for attention masks) or
"is a real token" (for padding masks). Masks are combined with logical AND in
`attention_mask`, the one place where padding, causal and custom masks meet.

Notation: `B` batch, `T` query length, `S` key length.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
from keras import ops

from keras_transformer._typing import Tensor


def padding_mask(token_ids: Tensor, pad_id: int = 0) -> Tensor:
    """Return a `(B, S)` boolean mask that is `True` at real (non-pad) tokens.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer import masks
    >>> keras.ops.convert_to_numpy(masks.padding_mask(np.array([[5, 7, 0, 0]]))).tolist()
    [[True, True, False, False]]
    """
    token_ids = ops.convert_to_tensor(token_ids)
    if len(token_ids.shape) != 2:
        raise ValueError(
            "`token_ids` must have rank 2, (batch, length); "
            f"got shape {tuple(token_ids.shape)}."
        )
    return ops.not_equal(token_ids, ops.cast(pad_id, token_ids.dtype))


def causal_mask(query_length: int | Tensor, key_length: int | Tensor | None = None,
                offset: int | Tensor = 0) -> Tensor:
    """Return a `(T, S)` boolean mask where query `i` may see key `j` iff `i + offset >= j`.

    `offset` is the absolute position of the first query. It is what makes the
    mask right when the queries are the last tokens of a longer key sequence,
    as in cached decoding (`offset` = the cache index). Backends' own `is_causal`
    flags align the triangle top-left and are only right when `offset == 0`.

    Example:
    >>> import keras
    >>> from keras_transformer import masks
    >>> keras.ops.convert_to_numpy(masks.causal_mask(3)).tolist()
    [[True, False, False], [True, True, False], [True, True, True]]
    >>> keras.ops.convert_to_numpy(masks.causal_mask(1, 4, offset=2)).tolist()  # third query
    [[True, True, True, False]]
    """
    key_length = query_length if key_length is None else key_length
    for name, length in (("query_length", query_length), ("key_length", key_length)):
        if isinstance(length, numbers.Integral) and length < 0:  # a tensor's is checked by the op
            raise ValueError(f"`{name}` must be >= 0; got {length}.")
    rows = ops.arange(query_length)[:, None] + ops.cast(offset, "int32")
    cols = ops.arange(key_length)[None, :]
    return ops.greater_equal(rows, cols)


def attention_mask(
    query_mask: Tensor | None = None,
    key_mask: Tensor | None = None,
    causal: bool = False,
    mask: Tensor | None = None,
    query_length: int | Tensor | None = None,
    key_length: int | Tensor | None = None,
    offset: int | Tensor = 0,
) -> Tensor | None:
    """AND-combine the given masks into one `(B, T, S)` (or `(1, T, S)`) boolean mask.

    Args:
        query_mask: `(B, T)`, `True` at real queries. Padded query rows become
            fully masked (their attention output is zero).
        key_mask: `(B, S)`, `True` at real keys.
        causal: add `causal_mask(T, S, offset)`.
        mask: a custom `(T, S)` or `(B, T, S)` mask.
        query_length, key_length: needed only when no other mask fixes `T` / `S`.
        offset: position of the first query, for the causal part.

    Returns `None` when nothing is masked.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer import masks
    >>> ids = np.array([[4, 9, 0]])  # the last token is padding
    >>> mask = masks.attention_mask(masks.padding_mask(ids), masks.padding_mask(ids), causal=True)
    >>> keras.ops.convert_to_numpy(mask).tolist()
    [[[True, False, False], [True, True, False], [False, False, False]]]
    """
    parts = []
    if mask is not None:
        mask = ops.cast(mask, "bool")
        if len(mask.shape) == 2:
            mask = mask[None]
        parts.append(mask)
    if query_mask is not None:
        parts.append(ops.cast(query_mask, "bool")[:, :, None])
    if key_mask is not None:
        parts.append(ops.cast(key_mask, "bool")[:, None, :])
    if causal:
        if query_length is None:
            query_length = _length(query_mask, mask, axis=1, name="query_length")
        if key_length is None:
            key_length = _length(key_mask, mask, axis=2, name="key_length")
        parts.append(causal_mask(query_length, key_length, offset)[None])
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = ops.logical_and(combined, part)
    return combined


def _length(padding, mask, axis, name):
    """The length a padding mask fixes (even 1), else a non-broadcast axis of the `(B, T, S)` mask."""
    if padding is not None:
        return _dim(padding, 1)
    if mask is not None and mask.shape[axis] != 1:
        return _dim(mask, axis)
    raise ValueError(
        f"`causal=True` needs `{name}` when no other mask fixes that length."
    )


def _dim(tensor, axis):
    static = tensor.shape[axis]
    return ops.shape(tensor)[axis] if static is None else static


def check_padding_mask(name: str, mask: Tensor, length: int | None = None, hint: str = "") -> None:
    """Raise unless `mask` is `(batch, length)`; a static `length` must match exactly.

    A padding mask never broadcasts along its length: a `(B, 1)` mask against
    a longer key sequence would hide all keys of a row or none.

    Example:
    >>> import numpy as np
    >>> check_padding_mask("padding_mask", np.ones((2, 5), bool), length=5)
    >>> check_padding_mask("padding_mask", np.ones((2, 1), bool), length=5)
    Traceback (most recent call last):
    ...
    ValueError: `padding_mask` must have shape (batch, 5), True at real tokens; got shape (2, 1).
    """
    shape = tuple(mask.shape)
    static = isinstance(length, int) and isinstance(shape[-1], int) if shape else False
    if len(shape) != 2 or (static and shape[1] != length):
        want = "length" if not isinstance(length, int) else length
        raise ValueError(
            f"`{name}` must have shape (batch, {want}), True at real tokens; got shape "
            f"{shape}.{hint}"
        )


def resolve_padding_mask(name: str, padding_mask: Tensor | None, *keras_masks: Tensor | None,
                         length: int | None = None) -> Tensor | None:
    """The explicit padding mask `name`, checked against `length`, or else the first Keras mask given.

    Layers take a padding mask as an argument and, failing that, the implicit
    mask Keras hands to their `call` (e.g. from a `mask_zero=True` embedding).

    Example:
    >>> import numpy as np
    >>> resolve_padding_mask("padding_mask", None, None, np.array([[True, False]]))
    array([[ True, False]])
    """
    if padding_mask is None:
        return next((m for m in keras_masks if m is not None), None)
    check_padding_mask(name, padding_mask, length)
    return padding_mask


def check_attention_mask(mask: Tensor, query_shape: Sequence[int | None],
                         key_shape: Sequence[int | None]) -> None:
    """Raise unless `mask` is boolean/0-1 and broadcasts to `(B, N, T, S)`.

    `query_shape` is `(B, T, N, H)` or `(B, T, d)`; `key_shape` likewise with `S`.

    Example:
    >>> import numpy as np
    >>> query_shape, key_shape = (2, 3, 4, 8), (2, 5, 4, 8)  # T = 3 queries, S = 5 keys
    >>> check_attention_mask(np.ones((2, 1, 3, 5), bool), query_shape, key_shape)  # (B, 1, T, S)
    >>> check_attention_mask(np.ones((5, 3), bool), query_shape, key_shape)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The attention mask must broadcast to ... = (2, 4, 3, 5): ...got shape (5, 3).
    """
    b, t = query_shape[0], query_shape[1]
    n = query_shape[2] if len(query_shape) == 4 else None
    s = key_shape[1]
    rank = len(mask.shape)
    expected = {2: (t, s), 3: (b, t, s), 4: (b, n, t, s)}.get(rank)
    ok = expected is not None and all(
        got is None or want is None or got in (1, want)
        for got, want in zip(mask.shape, expected)
    )
    if not ok:
        raise ValueError(
            "The attention mask must broadcast to (batch, heads, query_length, "
            f"key_length) = {(b, n, t, s)}: accepted shapes are (T, S), (B, T, S), "
            "(B, 1, T, S) or (B, N, T, S), with True = may attend; got shape "
            f"{tuple(mask.shape)}."
        )
    dtype = keras.backend.standardize_dtype(mask.dtype)
    if dtype != "bool" and "int" not in dtype:
        raise ValueError(
            "The attention mask must be boolean (True = may attend) or 0/1 "
            f"integers; got dtype {dtype}. Float masks are ambiguous (additive or "
            "multiplicative?) and are not accepted."
        )


def expand_to_rank4(mask: Tensor) -> Tensor:
    """Cast to bool and add the missing axes: `(T, S)` -> `(1, 1, T, S)`, `(B, T, S)` -> `(B, 1, T, S)`.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(expand_to_rank4(np.array([[1, 0], [1, 1]]))).tolist()
    [[[[True, False], [True, True]]]]
    >>> tuple(expand_to_rank4(np.ones((2, 3, 5), bool)).shape)
    (2, 1, 3, 5)
    """
    mask = ops.cast(mask, "bool")
    if len(mask.shape) == 2:
        return mask[None, None]
    if len(mask.shape) == 3:
        return mask[:, None]
    return mask

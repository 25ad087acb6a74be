"""Scaled dot-product attention: the one attention kernel of the package.

Layout follows `keras.ops.dot_product_attention`: query `(B, T, N, H)`,
key and value `(B, S, N, H)`, output `(B, T, N, H)`, where `B` is the batch,
`T` the query length, `S` the key length, `N` the number of heads and `H` the
head width. Masks are boolean, `True` = may attend.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_transformer import masks as masks_lib
from keras_transformer._typing import Tensor


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_rate: float = 0.0,
    training: bool = False,
    return_weights: bool = False,
    seed: keras.random.SeedGenerator | int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Compute `softmax(Q Kᵀ / √H) V` over the keys each query may attend to.

    A query row whose keys are all masked returns zeros (and zero weights),
    never NaN. Logits and softmax are computed in float32 whatever the input
    dtype, so float16 inputs neither overflow nor underflow the mask fill.

    Two paths give the same result: the fast path calls
    `keras.ops.dot_product_attention` (flash attention where the backend has
    it) and runs whenever no weights are asked for and dropout is inactive,
    except on JAX on a CPU, where XLA runs the explicit path faster; the
    explicit path computes the weights, applies dropout and can return them.

    Args:
        query: `(B, T, N, H)`.
        key: `(B, S, N, H)`.
        value: `(B, S, N, H)`.
        mask: boolean, broadcastable to `(B, N, T, S)`: shapes `(T, S)`,
            `(B, T, S)`, `(B, 1, T, S)` or `(B, N, T, S)`.
        is_causal: query `i` sees key `j <= i`. Needs `T == S`; for queries
            that continue a longer sequence pass
            `keras_transformer.masks.causal_mask(T, S, offset)` as `mask`.
        dropout_rate: dropout on the attention weights when `training`.
        training: whether dropout is active.
        return_weights: also return the `(B, N, T, S)` attention weights.
        seed: a `keras.random.SeedGenerator` or int for the dropout.

    Returns:
        The `(B, T, N, H)` output, and the weights if `return_weights`.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> q = k = v = np.random.rand(2, 5, 4, 8).astype("float32")
    >>> out = kt.ops.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> tuple(out.shape)
    (2, 5, 4, 8)
    >>> np.allclose(keras.ops.convert_to_numpy(out)[:, 0], v[:, 0])  # query 0 sees key 0 only
    True
    """
    query, key, value = (ops.convert_to_tensor(x) for x in (query, key, value))
    _check_qkv(query, key, value)
    _check_causal(is_causal, query, key)
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
        masks_lib.check_attention_mask(mask, query.shape, key.shape)
    return attend(query, key, value, mask, is_causal, dropout_rate, training, return_weights, seed)


def attend(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
           is_causal: bool = False, dropout_rate: float = 0.0, training: bool = False,
           return_weights: bool = False,
           seed: keras.random.SeedGenerator | int | None = None) -> Tensor | tuple[Tensor, Tensor]:
    """`scaled_dot_product_attention` without its input checks.

    For callers that have validated their tensors and mask already (the
    layers validate theirs once, where they know the argument names), so a
    mask is checked once on its way down. Arguments as in
    `scaled_dot_product_attention`.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.ops import attend
    >>> q = k = v = np.ones((1, 3, 2, 4), "float32")
    >>> mask = np.array([[True, False, False], [True, True, False], [False, False, False]])
    >>> out = keras.ops.convert_to_numpy(attend(q, k, v, mask=mask))
    >>> out.shape, out[0, 2].tolist()  # a query with no key to see gets zeros
    ((1, 3, 2, 4), [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    """
    use_dropout = training and dropout_rate > 0.0
    fast = not return_weights and not use_dropout and _fused_kernel_pays()
    if fast and mask is None:
        # Causal-only or unmasked: every row sees a key, so the fused kernel
        # needs no materialized mask and no fix-up.
        return _fused_attention(query, key, value, is_causal=is_causal)
    mask = _full_mask(mask, is_causal, query, key)
    if fast:
        return _fast_attention(query, key, value, mask)
    weights = attention_weights(query, key, mask)
    if use_dropout:
        weights = keras.random.dropout(weights, dropout_rate, seed=seed)
    output = ops.einsum("bnts,bsnh->btnh", ops.cast(weights, value.dtype), value)
    return (output, weights) if return_weights else output


def attention_weights(query: Tensor, key: Tensor, mask: Tensor | None = None) -> Tensor:
    """Return the `(B, N, T, S)` float32 softmax weights; fully masked rows are zero.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> q = k = np.ones((1, 2, 1, 4), "float32")  # (B, T, N, H): every logit equal
    >>> mask = np.array([[[[True, False], [True, True]]]])  # (B, N, T, S): causal
    >>> keras.ops.convert_to_numpy(attention_weights(q, k, mask)).tolist()
    [[[[1.0, 0.0], [0.5, 0.5]]]]
    """
    scale = 1.0 / math.sqrt(query.shape[-1])
    logits = ops.einsum(
        "btnh,bsnh->bnts", ops.cast(query, "float32"), ops.cast(key, "float32")
    )
    logits = logits * scale
    if mask is None:
        return softmax_over_keys(logits)
    logits = ops.where(mask, logits, large_negative("float32"))
    weights = softmax_over_keys(logits)
    # A row with no visible key would otherwise be a uniform average.
    return ops.where(mask, weights, ops.zeros_like(weights))


def softmax_over_keys(logits: Tensor) -> Tensor:
    """Softmax over the last axis; over a single key, the weight 1 without `keras.ops.softmax`'s warning.

    Keras warns that a softmax over an axis of size 1 is "likely not what you
    intended"; here it is: a sequence of one token, or a first decoding step.

    Example:
    >>> import numpy as np
    >>> np.asarray(softmax_over_keys(np.array([[3.0]], "float32"))).tolist()
    [[1.0]]
    """
    if logits.shape[-1] == 1:
        return ops.ones_like(logits)
    return ops.softmax(logits, axis=-1)


def large_negative(dtype: str) -> float:
    """A finite fill for masked logits: far below any real logit, safe in `dtype`.

    Example (70% of the dtype's largest finite value; float16's is 65504):
    >>> import numpy as np
    >>> round(large_negative("float16"), 1), bool(np.isfinite(np.float16(large_negative("float16"))))
    (-45852.8, True)
    >>> large_negative("float32") < -1e38
    True
    """
    dtype = keras.backend.standardize_dtype(dtype)
    return -0.7 * {"float16": 65504.0, "bfloat16": 3.38e38}.get(dtype, 3.4e38)


def _fused_kernel_pays() -> bool:
    """Whether `keras.ops.dot_product_attention` is the faster path on this backend and device.

    Not for JAX on a CPU: there XLA took 1.2 ms for the forward and backward
    pass of causal attention over 12 x 64 queries (4 heads of 32) against
    0.8 ms for the explicit softmax path, 7% of a training step of chapter
    04's GPT. On TensorFlow the two were even at that size.
    """
    if keras.backend.backend() != "jax":
        return True
    import jax

    return jax.default_backend() != "cpu"


def _fast_attention(query, key, value, mask):
    """`keras.ops.dot_product_attention`, then zeros for rows with no visible key."""
    output = _fused_attention(query, key, value, mask=mask)
    if mask is None:
        return output
    # (B|1, N|1, T, S) -> (B|1, T, N|1, 1): does the query see any key?
    visible = ops.transpose(ops.any(mask, axis=-1), (0, 2, 1))[..., None]
    return ops.where(visible, output, ops.zeros_like(output))


def _fused_attention(query, key, value, mask=None, is_causal=False):
    """`keras.ops.dot_product_attention` with float32 logits for half-precision inputs.

    TensorFlow has no flash kernel and its fallback rounds the logits to the
    input dtype (at logits ~1e4 a bfloat16 rounding error exceeds the gap
    between keys), so there the inputs are upcast; backends with fused kernels
    accumulate in float32 themselves.
    """
    dtype = keras.backend.standardize_dtype(query.dtype)
    if keras.backend.backend() != "tensorflow" or dtype not in ("float16", "bfloat16"):
        return ops.dot_product_attention(query, key, value, mask=mask, is_causal=is_causal)
    query, key, value = (ops.cast(x, "float32") for x in (query, key, value))
    output = ops.dot_product_attention(query, key, value, mask=mask, is_causal=is_causal)
    return ops.cast(output, dtype)


def _check_causal(is_causal, query, key):
    t, s = query.shape[1], key.shape[1]
    if is_causal and t is not None and s is not None and t != s:
        raise ValueError(
            "`is_causal=True` needs equal query and key lengths; got "
            f"query length {t} and key length {s}. For queries that continue "
            "a longer key sequence pass `mask=causal_mask(T, S, offset)`."
        )


def _full_mask(mask, is_causal, query, key):
    """Turn a checked `mask` and `is_causal` into one rank-4 boolean mask (or None)."""
    if mask is None and not is_causal:
        return None
    t = query.shape[1] if query.shape[1] is not None else ops.shape(query)[1]
    s = key.shape[1] if key.shape[1] is not None else ops.shape(key)[1]
    if mask is not None:
        mask = masks_lib.expand_to_rank4(mask)
    if is_causal:
        causal = masks_lib.causal_mask(t, s)[None, None]
        mask = causal if mask is None else ops.logical_and(mask, causal)
    return mask


def _check_qkv(query, key, value):
    for name, x in (("query", query), ("key", key), ("value", value)):
        if len(x.shape) != 4:
            raise ValueError(
                f"`{name}` must have rank 4, (batch, length, heads, head_dim); "
                f"got shape {tuple(x.shape)}."
            )
    if tuple(key.shape) != tuple(value.shape):
        raise ValueError(
            f"`key` and `value` must have the same shape; got {tuple(key.shape)} "
            f"and {tuple(value.shape)}."
        )
    for axis, what in ((0, "batch size"), (2, "number of heads"), (3, "head width")):
        a, b = query.shape[axis], key.shape[axis]
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"`query` and `key` must agree on the {what} (axis {axis}); got "
                f"query shape {tuple(query.shape)} and key shape {tuple(key.shape)}."
            )

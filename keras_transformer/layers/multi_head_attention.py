"""Multi-head attention: self-attention, cross-attention and a KV cache for decoding."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_rate,
    check_same_batch,
    clone_initializer,
)
from keras_transformer.ops import attend


@keras.saving.register_keras_serializable(package="keras_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention, for self- and cross-attention.

    The layer projects its inputs to `num_heads` query, key and value heads of
    width `key_dim`, attends with `keras_transformer.ops.scaled_dot_product_attention`
    and projects the concatenated heads back to the query width (or
    `output_dim`). Its mode is fixed by the first call:

    - **self-attention** (`value=None`): one fused projection computes Q, K and
      V in a single matmul (`qkv` kernel of shape `(d, 3, num_heads, key_dim)`);
    - **cross-attention** (`value` given): separate `query`, `key`, `value`
      projections; the keys and values come from `value` (or `key`).

    Masking: the explicit `attention_mask`, Keras implicit masks on `query`
    (padded query rows) and `value`/`key` (padded keys), and `use_causal_mask`
    are all combined with logical AND. A query row with no visible key gets a
    zero attention output (then the output projection's bias). The query's
    implicit mask propagates to the output.

    KV cache: pass `cache` of shape `(batch, 2, max_length, num_heads, key_dim)`
    with `cache_update_index` (an int or scalar tensor). The new keys and
    values are written at `[index, index + T)`, the queries attend to the whole
    cache with a causal mask offset by `index` (query `i` sees slot `j` iff
    `j <= index + i`; without `use_causal_mask`, iff `j < index + T`), and the
    call returns `(output, cache)`. In cross-attention a `cache` without an
    index is used as precomputed encoder keys and values.

    Args:
        num_heads: number of heads.
        key_dim: width of each query/key/value head.
        dropout: dropout rate on the attention weights.
        use_bias: whether the projections have biases.
        output_dim: width of the output; defaults to the query's width.
        kernel_initializer, bias_initializer: for all projections.
        seed: seed of the attention dropout.

    Call arguments:
        query: `(batch, T, d)`.
        value: `(batch, S, d_v)` for cross-attention; `None` for self-attention.
        key: `(batch, S, d_k)`; defaults to `value`.
        attention_mask: boolean `(T, S)`, `(batch, T, S)` or
            `(batch, 1|num_heads, T, S)`, `True` = may attend.
        use_causal_mask: query `t` attends only to keys `<= t` (offset by
            `cache_update_index` when decoding with a cache).
        cache, cache_update_index: see above.
        return_attention_scores: also return the `(batch, num_heads, T, S)` weights.
        training: whether attention dropout is active.
        query_mask, value_mask, key_mask: `(batch, T)` / `(batch, S)` padding
            masks, True at real tokens. Keras fills `query_mask` and
            `value_mask` (or `mask`, when `query` is the only tensor argument)
            from the inputs' implicit masks. With a `cache`, `key_mask` must
            cover every cache slot, `(batch, max_length)`.

    Returns:
        `output`, or a tuple `(output, scores?, cache?)` in that order.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> x = np.random.rand(2, 6, 16).astype("float32")
    >>> attention = kt.layers.MultiHeadAttention(num_heads=4, key_dim=4)
    >>> tuple(attention(x, use_causal_mask=True).shape)
    (2, 6, 16)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_dim: int | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(num_heads=num_heads, key_dim=key_dim)
        if output_dim is not None:
            check_positive(output_dim=output_dim)
        check_rate("dropout", dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.is_self_attention = None

    def _projection(self, equation, output_shape, bias_axes, name):
        layer = keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )
        # Position-wise, so a padding mask on its input still holds on its
        # output; saying so keeps Keras from warning that the mask is dropped.
        layer.supports_masking = True
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        check_rank("query", query_shape, 3, "(batch, length, hidden_dim)")
        n, h = self.num_heads, self.key_dim
        self.is_self_attention = value_shape is None
        if self.is_self_attention:
            self.qkv = self._projection("btd,dxnh->btxnh", (None, 3, n, h), "xnh", "qkv")
            self.qkv.build(query_shape)
        else:
            check_rank("value", value_shape, 3, "(batch, length, hidden_dim)")
            key_shape = value_shape if key_shape is None else key_shape
            self.query_dense = self._projection("btd,dnh->btnh", (None, n, h), "nh", "query")
            self.key_dense = self._projection("bsd,dnh->bsnh", (None, n, h), "nh", "key")
            self.value_dense = self._projection("bsd,dnh->bsnh", (None, n, h), "nh", "value")
            self.query_dense.build(query_shape)
            self.key_dense.build(key_shape)
            self.value_dense.build(value_shape)
        out_dim = self.output_dim or query_shape[-1]
        self.output_dense = self._projection("btnh,nhd->btd", (None, out_dim), "d", "output")
        self.output_dense.build((*query_shape[:-1], n, h))
        self.built = True

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        mask=None,
    ):
        check_rank("query", query.shape, 3, "(batch, length, hidden_dim)")
        if value is not None:
            check_same_batch("query", query.shape, "value", value.shape)
        if query_mask is None:
            query_mask = mask
        q, k, v, cache = self._project(query, value, key, cache, cache_update_index)
        self._check_padding_masks(query_mask, value_mask, key_mask, q.shape[1], k.shape[1],
                                  cache is not None)
        if cache is None and key_mask is None:
            key_mask = value_mask if value is not None else query_mask
        mask, is_causal = self._merge_masks(
            q, k, attention_mask, query_mask, key_mask, use_causal_mask, cache_update_index
        )
        attended = attend(
            q,
            k,
            v,
            mask=mask,
            is_causal=is_causal,
            dropout_rate=self.dropout,
            training=bool(training),
            return_weights=return_attention_scores,
            seed=self.seed_generator,
        )
        scores = None
        if return_attention_scores:
            attended, scores = attended
        output = self.output_dense(attended)
        results = (output,) + ((scores,) if return_attention_scores else ())
        results += (cache,) if cache is not None else ()
        return results[0] if len(results) == 1 else results

    def _project(self, query, value, key, cache, cache_update_index):
        """Return per-head q, k, v (keys/values read from the cache when given)."""
        if self.is_self_attention:
            if value is not None and value is not query:
                raise ValueError(
                    "This layer was built for self-attention (first called with "
                    "`value=None`); create a separate layer for cross-attention."
                )
            if cache is not None and cache_update_index is None:
                raise ValueError(
                    "Self-attention with a `cache` needs `cache_update_index`, the "
                    "position where the new keys and values are written."
                )
            qkv = self.qkv(query)
            q, k, v = ops.unstack(qkv, 3, axis=2)
        else:
            q = self.query_dense(query)
            if cache is not None and cache_update_index is None:
                self._check_cache(cache, None, q)
                return q, cache[:, 0], cache[:, 1], cache
            if value is None:
                raise ValueError(
                    "This layer was built for cross-attention: pass `value` (the "
                    "encoder outputs) or a precomputed `cache`."
                )
            k = self.key_dense(value if key is None else key)
            v = self.value_dense(value)
        if cache is None:
            return q, k, v, None
        self._check_cache(cache, cache_update_index, q)
        new = ops.cast(ops.stack([k, v], axis=1), cache.dtype)
        cache = ops.slice_update(cache, (0, 0, cache_update_index, 0, 0), new)
        return q, cache[:, 0], cache[:, 1], cache

    def compute_key_value(self, value: Tensor, key: Tensor | None = None) -> Tensor:
        """Project encoder outputs once into a `(batch, 2, S, num_heads, key_dim)` cache.

        Cross-attention then reads it (`cache=...`, no index) at every decoding step.
        """
        if self.is_self_attention is not False:
            raise ValueError("`compute_key_value` needs a layer built for cross-attention.")
        k = self.key_dense(value if key is None else key)
        return ops.stack([k, self.value_dense(value)], axis=1)

    def _check_cache(self, cache, index, q):
        expected = ("batch", 2, "max_length", self.num_heads, self.key_dim)
        shape = tuple(cache.shape)
        if len(shape) != 5 or shape[1] != 2 or shape[3:] != (self.num_heads, self.key_dim):
            raise ValueError(
                f"`cache` must have shape {expected}; got {shape}. Build it with "
                "`ops.zeros((batch, 2, max_length, num_heads, key_dim))`."
            )
        length, size = q.shape[1], shape[2]
        if isinstance(index, int) and length is not None and size is not None:
            if index < 0 or index + length > size:
                raise ValueError(
                    f"`cache_update_index` {index} with {length} new tokens does not "
                    f"fit a cache of length {size}: need 0 <= index <= {size - length}."
                )

    @staticmethod
    def _check_padding_masks(query_mask, value_mask, key_mask, query_length, key_length,
                             cached):
        """Each padding mask given must be `(batch, length)` of the sequence it masks."""
        # Cache slots are masked by position; a key padding mask must say which
        # of all the slots hold real tokens, never broadcast over them.
        hint = (" With a cache the key padding mask covers every cached key (a decoder's"
                " `decoder_padding_mask` is (batch, max_length) over the cache slots)."
                if cached else "")
        for name, padding, length, why in (
            ("query_mask", query_mask, query_length, ""),
            ("value_mask", None if cached else value_mask, key_length, ""),
            ("key_mask", key_mask, key_length, hint),
        ):
            if padding is not None:
                masks.check_padding_mask(name, padding, length, why)

    def _merge_masks(self, q, k, attention_mask, query_mask, key_mask, causal, index):
        """AND all masks into one rank-4 mask; use the op's `is_causal` when it is alone."""
        t, s = q.shape[1], k.shape[1]
        decoding = index is not None
        if causal and not decoding and None not in (t, s) and t != s:
            raise ValueError(
                f"`use_causal_mask=True` with query length {t} != key length {s} is "
                "ambiguous; pass `cache_update_index` (the position of the first "
                "query) or an explicit `attention_mask`."
            )
        if causal and not decoding and attention_mask is None and query_mask is None \
                and key_mask is None:
            return None, True
        t = ops.shape(q)[1] if t is None else t
        s = ops.shape(k)[1] if s is None else s
        offset = index if decoding else 0
        combined = masks.attention_mask(
            query_mask=query_mask,
            key_mask=key_mask,
            causal=causal,
            query_length=t,
            key_length=s,
            offset=offset,
        )
        if decoding and not causal:
            filled = ops.arange(s)[None, None, :] < index + t
            combined = filled if combined is None else ops.logical_and(combined, filled)
        if combined is not None:
            combined = combined[:, None]
        if attention_mask is not None:
            attention_mask = ops.convert_to_tensor(attention_mask)
            masks.check_attention_mask(attention_mask, q.shape, k.shape)
            user = masks.expand_to_rank4(attention_mask)
            combined = user if combined is None else ops.logical_and(combined, user)
        return combined, False

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def compute_output_spec(self, query, value=None, key=None, cache=None,
                            return_attention_scores=False, **kwargs):
        output = keras.KerasTensor(
            self.compute_output_shape(query.shape), dtype=self.compute_dtype
        )
        results = (output,)
        if return_attention_scores:
            s = query.shape[1] if value is None else value.shape[1]
            s = s if cache is None else cache.shape[2]
            scores_shape = (query.shape[0], self.num_heads, query.shape[1], s)
            results += (keras.KerasTensor(scores_shape, dtype="float32"),)
        if cache is not None:
            results += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "seed": self.seed,
        }

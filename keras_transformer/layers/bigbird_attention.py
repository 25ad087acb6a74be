"""BigBird block-sparse self-attention (the ITC variant): global, sliding-window and random blocks."""

from __future__ import annotations

import functools
import math
import operator

import keras
import numpy as np
from keras import ops

from keras_transformer import masks
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_seed,
    check_self_attention,
    resolve_seed,
)
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from keras_transformer.ops import large_negative, softmax_over_keys


def bigbird_block_pattern(
    num_blocks: int,
    num_heads: int,
    num_random_blocks: int,
    num_global_blocks: int = 1,
    num_window_blocks: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """Return the `(num_heads, num_blocks, num_blocks)` boolean BigBird block pattern.

    Entry `[h, i, j]` is True when, in head `h`, the queries of block `i` attend
    to the keys of block `j`. The rule (BigBird's ITC variant):

    - the first and the last `num_global_blocks` blocks are **global**: their
      rows are full (they attend to every key) and so are their columns (every
      query attends to them);
    - every other row `i` attends to the globals, to the **window** of
      `num_window_blocks` blocks centred on `i` (clipped to `[0, num_blocks)`),
      and to `num_random_blocks` **random** blocks drawn without replacement
      from the blocks not already in the row; when fewer candidates remain
      the row takes all of them, so a row covered by its window and the
      globals is simply full.

    The random blocks are drawn per head and per row from
    `numpy.random.default_rng([seed, num_blocks])`, heads in order and rows in
    order within a head: the pattern is a deterministic function of its
    arguments.

    Example:
    >>> from keras_transformer.layers.bigbird_attention import bigbird_block_pattern
    >>> pattern = bigbird_block_pattern(6, num_heads=1, num_random_blocks=0)
    >>> pattern[0].astype(int)
    array([[1, 1, 1, 1, 1, 1],
           [1, 1, 1, 0, 0, 1],
           [1, 1, 1, 1, 0, 1],
           [1, 0, 1, 1, 1, 1],
           [1, 0, 0, 1, 1, 1],
           [1, 1, 1, 1, 1, 1]])
    """
    check_positive(num_blocks=num_blocks, num_heads=num_heads)
    _check_pattern_args(num_random_blocks, num_global_blocks, num_window_blocks)
    check_seed(seed)
    nb = num_blocks
    is_global = np.zeros(nb, bool)
    is_global[:num_global_blocks] = True
    is_global[max(nb - num_global_blocks, 0):] = True
    row = np.zeros(nb, bool)
    row[is_global] = True
    pattern = np.zeros((num_heads, nb, nb), bool)
    pattern[:, is_global, :] = True
    half = num_window_blocks // 2
    generator = np.random.default_rng([seed, nb])
    for head in range(num_heads):
        for i in np.flatnonzero(~is_global):
            fixed = row.copy()
            fixed[max(i - half, 0):i + half + 1] = True
            candidates = np.flatnonzero(~fixed)
            count = min(num_random_blocks, candidates.size)
            if count:
                fixed[generator.choice(candidates, size=count, replace=False)] = True
            pattern[head, i] = fixed
    return pattern


@keras.saving.register_keras_serializable(package="keras_transformer")
class BigBirdAttention(MultiHeadAttention):
    """BigBird block-sparse self-attention (ITC): global, sliding-window and random key blocks.

    A drop-in replacement for `MultiHeadAttention` in self-attention: the same
    weights (the fused `qkv` kernel and the `output` projection, the same
    variables in the same order, so `bigbird.set_weights(mha.get_weights())`
    swaps the attention of a trained model) and the same call, but each query
    attends only to a few blocks of `block_size` keys, so time and memory grow
    linearly with the sequence length instead of quadratically.

    The sequence is cut into `nb = T / block_size` blocks and the pattern of
    `bigbird_block_pattern` decides which key blocks each query block sees:

    - the first and last `num_global_blocks` blocks are **global**: they attend
      to every key, and every query attends to them;
    - every other query block `i` attends to the globals, to a **window** of
      `num_window_blocks` blocks centred on `i` (clipped at the ends of the
      sequence) and to `num_random_blocks` **random** key blocks, drawn per
      head from the blocks not already in the row (a row with fewer
      candidates takes all of them: when the window and the globals cover
      every block, e.g. 4 blocks with 1 global block and a window of 3, the
      layer is exactly full attention).

    The random blocks are a deterministic function of `seed` and the number of
    blocks, computed in NumPy when the call is traced; `seed=None` draws a seed
    once, in the constructor (from Python's `random`, which
    `keras.utils.set_random_seed` seeds), and `get_config` stores it, so a
    saved and reloaded layer keeps its pattern. `dense_pattern(length)` gives
    the pattern as a `(num_heads, T, T)` mask over full attention, e.g. to
    check the layer against dense attention.

    Each query block takes one softmax (logits in float32) over its gathered
    key blocks; the global query blocks attend to all `T` keys. No `(T, T)`
    tensor is ever formed. Padded keys are never attended, padded queries get
    a zero attention output (then the output projection's bias), and a query
    that sees no key gets zeros, never NaN.

    Only self-attention without a cache is supported: `value` must be `None`
    (or `query` itself), and `key`, `attention_mask` (a `(T, T)` mask is what
    the layer avoids; pass `query_mask` / `key_mask` or a Keras mask),
    `use_causal_mask`, `cache` and `return_attention_scores` raise a
    `ValueError`. The sequence length must be static and a multiple of
    `block_size`.

    Args:
        num_heads: number of heads.
        key_dim: width of each query/key/value head.
        block_size: tokens per block, a positive integer.
        num_random_blocks: random key blocks per query block and head, >= 0.
        num_global_blocks: global blocks at each end of the sequence, >= 0.
        num_window_blocks: width of the sliding window in blocks, a positive
            odd integer.
        seed: a non-negative integer fixing the random blocks (and the
            attention dropout); drawn when `None`.
        **kwargs: the other arguments of `MultiHeadAttention` (`dropout`,
            `use_bias`, `output_dim`, initializers) and of `keras.layers.Layer`.

    Call arguments:
        query: `(batch, T, d)`, `T` a multiple of `block_size`.
        value, key: `None` (or `query` itself).
        training: whether attention dropout is active.
        query_mask, key_mask: `(batch, T)` padding masks, True at real tokens;
            Keras fills them from the input's implicit mask.

    Returns:
        The `(batch, T, output_dim or d)` output.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.layers.bigbird_attention import BigBirdAttention
    >>> layer = BigBirdAttention(num_heads=2, key_dim=4, block_size=2,
    ...                          num_random_blocks=1, seed=0)
    >>> x = np.random.rand(3, 16, 8).astype("float32")  # 8 blocks of 2 tokens
    >>> tuple(layer(x).shape)
    (3, 16, 8)
    >>> layer.block_pattern(16)[0].sum(axis=-1).tolist()  # key blocks per query block
    [8, 5, 6, 6, 6, 6, 5, 8]
    >>> layer.dense_pattern(16).shape
    (2, 16, 16)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        block_size: int,
        num_random_blocks: int,
        num_global_blocks: int = 1,
        num_window_blocks: int = 3,
        seed: int | None = None,
        **kwargs,
    ):
        seed = resolve_seed(seed)
        super().__init__(num_heads, key_dim, seed=seed, **kwargs)
        check_positive(block_size=block_size)
        _check_pattern_args(num_random_blocks, num_global_blocks, num_window_blocks)
        self.block_size = block_size
        self.num_random_blocks = num_random_blocks
        self.num_global_blocks = num_global_blocks
        self.num_window_blocks = num_window_blocks

    def build(self, query_shape, value_shape=None, key_shape=None):
        # Always the fused self-attention projection, as MultiHeadAttention
        # builds for `value=None`, even when called as `layer(x, x)`.
        super().build(query_shape)

    # ------------------------------------------------------------------ pattern

    def _num_blocks(self, length) -> int:
        """The number of blocks of a sequence of `length`; raises unless it is a multiple of `block_size`."""
        bs = self.block_size
        try:  # ints, NumPy ints, and torch.compile's SymInts (which it then specializes)
            length = operator.index(length)
        except TypeError:  # None, or a symbolic dimension
            raise ValueError(
                "BigBirdAttention needs a static sequence length (its block pattern "
                f"is computed when the call is traced); got length {length!r}. Pad "
                f"the inputs to a fixed length, a multiple of `block_size`={bs}."
            ) from None
        if length <= 0 or length % bs:
            below, above = (length // bs) * bs, (length // bs + 1) * bs
            nearest = f"{below} or {above}" if below > 0 else f"{above}"
            raise ValueError(
                f"The sequence length must be a positive multiple of `block_size`={bs}; "
                f"got length {length}. The nearest valid lengths are {nearest}: pad "
                "(or truncate) the sequence."
            )
        return length // bs

    def block_pattern(self, length: int) -> np.ndarray:
        """The `(num_heads, nb, nb)` block pattern this layer uses at sequence `length`."""
        return _tables(self._num_blocks(length), *self._pattern_key())[0].copy()

    def dense_pattern(self, length: int) -> np.ndarray:
        """The `(num_heads, T, T)` boolean mask over full attention equivalent to the sparse pattern."""
        bs = self.block_size
        return self.block_pattern(length).repeat(bs, axis=1).repeat(bs, axis=2)

    def _pattern_key(self):
        return (self.num_heads, self.num_random_blocks, self.num_global_blocks,
                self.num_window_blocks, self.seed)

    # --------------------------------------------------------------------- call

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
        self._check_call(query, value, key, attention_mask, use_causal_mask, cache,
                         cache_update_index, return_attention_scores)
        length = query.shape[1]
        nb = self._num_blocks(length)
        if query_mask is None:
            query_mask = mask
        if key_mask is None:
            key_mask = value_mask if value is not None else query_mask
        for name, m in (("query_mask", query_mask), ("key_mask", key_mask)):
            if m is not None:
                masks.check_padding_mask(name, m, length)
        qkv = self.qkv(query)
        attended = self._attend(qkv, nb, query_mask, key_mask, bool(training))
        return self.output_dense(attended)

    def _attend(self, qkv, nb, query_mask, key_mask, training):
        """Block-sparse attention of the `(B, T, 3, N, H)` projections; returns `(B, T, N, H)`."""
        n, h, bs = self.num_heads, self.key_dim, self.block_size
        _, index, valid = _tables(nb, *self._pattern_key())
        # Rows [0, first) and [last, nb) are global, rows [first, last) sparse.
        first = min(self.num_global_blocks, nb)
        last = max(nb - self.num_global_blocks, first)
        dtype = qkv.dtype
        # (3, B, N, nb, bs, H): heads before blocks, so blocks gather per head.
        blocks = ops.transpose(ops.reshape(qkv, (-1, nb, bs, 3, n, h)), (3, 0, 4, 1, 2, 5))
        q = ops.cast(blocks[0], "float32") * (1.0 / math.sqrt(h))
        if query_mask is not None:
            query_mask = ops.reshape(ops.cast(query_mask, "bool"), (-1, nb, bs))
        if key_mask is not None:
            key_mask = ops.reshape(ops.cast(key_mask, "bool"), (-1, nb, bs))
        parts = []
        if first < last:  # the sparse rows
            parts.append(self._sparse_rows(q[:, :, first:last], blocks, index, valid,
                                           query_mask, key_mask, first, last, training))
        if first > 0 or last < nb:  # the global rows, against every key
            keys = ops.reshape(blocks[1:], (2, -1, n, nb * bs, h))
            rows = ops.concatenate([q[:, :, :first], q[:, :, last:]], axis=2)
            rows = ops.reshape(rows, (-1, n, (nb - last + first) * bs, h))
            visible = None
            if key_mask is not None:
                visible = ops.reshape(key_mask, (-1, 1, 1, nb * bs))
            if query_mask is not None:
                real = ops.concatenate([query_mask[:, :first], query_mask[:, last:]], axis=1)
                real = ops.reshape(real, (-1, 1, (nb - last + first) * bs, 1))
                visible = real if visible is None else ops.logical_and(visible, real)
            logits = ops.einsum("bnqh,bnkh->bnqk", rows, ops.cast(keys[0], "float32"))
            weights = self._weights(logits, visible, training)
            out = ops.einsum("bnqk,bnkh->bnqh", ops.cast(weights, dtype), keys[1])
            out = ops.reshape(out, (-1, n, nb - last + first, bs, h))
            parts = [out[:, :, :first], *parts, out[:, :, first:]]
        out = ops.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]
        out = ops.reshape(out, (-1, n, nb * bs, h))
        return ops.transpose(out, (0, 2, 1, 3))

    def _sparse_rows(self, q, blocks, index, valid, query_mask, key_mask, first, last,
                     training):
        """Attention of the non-global query blocks `q` `(B, N, nm, bs, H)` over their gathered key blocks."""
        n, h, bs = self.num_heads, self.key_dim, self.block_size
        nb, nm, width = blocks.shape[3], last - first, index.shape[-1]
        # One gather for keys and values: block j of head i is row i * nb + j.
        flat = (index + (np.arange(n) * nb)[:, None, None]).reshape(-1)
        kv = ops.take(ops.reshape(blocks[1:], (2, -1, n * nb, bs, h)), flat, axis=2)
        kv = ops.reshape(kv, (2, -1, n, nm, width * bs, h))
        logits = ops.einsum("bnqih,bnqjh->bnqij", q, ops.cast(kv[0], "float32"))
        visible = None
        if not valid.all():  # slots beyond a row's own blocks
            visible = np.repeat(valid, bs, axis=-1)[None, :, :, None, :]
        if key_mask is not None:
            keys = ops.take(key_mask, index.reshape(-1), axis=1)
            keys = ops.reshape(keys, (-1, n, nm, 1, width * bs))
            visible = keys if visible is None else ops.logical_and(visible, keys)
        if query_mask is not None:
            real = ops.reshape(query_mask[:, first:last], (-1, 1, nm, bs, 1))
            visible = real if visible is None else ops.logical_and(visible, real)
        weights = self._weights(logits, visible, training)
        return ops.einsum("bnqij,bnqjh->bnqih", ops.cast(weights, kv.dtype), kv[1])

    def _weights(self, logits, visible, training):
        """Float32 softmax over the last axis; hidden entries get weight 0, a row with none visible is all zeros."""
        if visible is not None:
            logits = ops.where(visible, logits, large_negative("float32"))
        weights = softmax_over_keys(logits)
        if visible is not None:
            weights = ops.where(visible, weights, ops.zeros_like(weights))
        if training and self.dropout > 0.0:
            weights = keras.random.dropout(weights, self.dropout, seed=self.seed_generator)
        return weights

    def _check_call(self, query, value, key, attention_mask, use_causal_mask, cache,
                    cache_update_index, return_attention_scores):
        check_self_attention("BigBirdAttention", query, value=value, key=key)
        if attention_mask is not None:
            raise ValueError(
                "BigBirdAttention does not take an `attention_mask`: a (T, T) mask is the "
                "quadratic tensor its block-sparse pattern avoids. Pass padding masks as "
                "`query_mask` / `key_mask` (or a Keras mask), or use MultiHeadAttention "
                "with `attention_mask=layer.dense_pattern(T)`."
            )
        unsupported = (
            ("use_causal_mask", use_causal_mask, "a causal BigBird pattern is not implemented"),
            ("cache", cache is not None, "there is no KV cache for block-sparse attention"),
            ("cache_update_index", cache_update_index is not None,
             "there is no KV cache for block-sparse attention"),
            ("return_attention_scores", return_attention_scores,
             ("the (batch, heads, T, T) scores are what the sparse path never forms; "
              "`dense_pattern(T)` gives the pattern")),
        )
        for name, given, why in unsupported:
            if given:
                raise ValueError(f"BigBirdAttention does not support `{name}`: {why}.")

    def compute_output_spec(self, query, value=None, key=None, attention_mask=None,
                            use_causal_mask=False, cache=None, cache_update_index=None,
                            return_attention_scores=False, **kwargs):
        self._check_call(query, value, key, attention_mask, use_causal_mask, cache,
                         cache_update_index, return_attention_scores)
        if query.shape[1] is not None:
            self._num_blocks(query.shape[1])
        return super().compute_output_spec(query)

    def get_config(self):
        return {
            **super().get_config(),
            "block_size": self.block_size,
            "num_random_blocks": self.num_random_blocks,
            "num_global_blocks": self.num_global_blocks,
            "num_window_blocks": self.num_window_blocks,
        }


def _outside_compilation(fn):
    """`fn` itself, but run eagerly by `torch.compile`: NumPy tables are computed, never traced."""
    if keras.backend.backend() != "torch":
        return fn
    import torch

    return torch.compiler.disable(fn)


@_outside_compilation
@functools.lru_cache(maxsize=64)
def _tables(nb, num_heads, num_random, num_global, num_window, seed):
    """The block pattern and, for the non-global rows, the key-block index table and its validity.

    `index[h, r, s]` is the key block in slot `s` of sparse row `r` (block
    `num_global + r`) of head `h`, `(num_heads, nm, K)` with `K` the largest
    row; `valid` is False at the slots a shorter row leaves unused.
    """
    pattern = bigbird_block_pattern(nb, num_heads, num_random, num_global, num_window, seed)
    pattern.setflags(write=False)
    first = min(num_global, nb)
    last = max(nb - num_global, first)
    rows = pattern[:, first:last]
    width = int(rows.sum(axis=-1).max()) if rows.size else 0
    # Stable sort of "not in the row": the row's own blocks first, in order.
    index = np.argsort(~rows, axis=-1, kind="stable")[..., :width].astype("int32")
    valid = np.take_along_axis(rows, index, axis=-1)
    return pattern, index, valid


def _check_pattern_args(num_random_blocks, num_global_blocks, num_window_blocks):
    for name, value in (("num_random_blocks", num_random_blocks),
                        ("num_global_blocks", num_global_blocks)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer; got {value!r}.")
    value = num_window_blocks
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value % 2 == 0:
        raise ValueError(
            "`num_window_blocks` must be a positive odd integer (the window is centred "
            f"on the query block: 1, 3, 5, ...); got {value!r}."
        )

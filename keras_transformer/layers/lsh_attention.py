"""LSH attention (Reformer): shared-QK self-attention restricted to hash buckets, in chunks."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_rate,
    check_self_attention,
    resolve_seed,
)
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from keras_transformer.ops import large_negative

# Reformer's fill for a token's logit on its own key: far below any real
# logit, so the token ignores itself whenever another key is visible, yet far
# above the fill of masked keys, so a token that sees nothing else sees itself.
SELF_LOGIT = -1e5
# Keys are L2-normalized as q / sqrt(|q|² + NORM_EPSILON): a zero vector stays finite.
NORM_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="keras_transformer")
class LSHAttention(keras.layers.Layer):
    """Reformer's locality-sensitive-hashing self-attention.

    One projection `qk` gives each token a vector `q` per head that serves as
    its query and, L2-normalized (`k = q / sqrt(|q|² + 1e-12)`), as its key;
    a second projection gives the values. The logit of query `i` on key `j` is
    `q_i · k_j / sqrt(key_dim)` (Reformer's choice: unnormalized queries, unit
    keys, and the usual 1/√key_dim), and a softmax over the visible keys
    weights the values. Visibility is decided by original position:

    - padded tokens are never attended, and their own rows get a zero
      attention output (then the output projection's bias);
    - with `causal=True` (or `use_causal_mask=True`) no token attends to a
      later position;
    - an `attention_mask`, if given, is applied as well (read at the pairs
      that meet in a chunk, never multiplied out);
    - a token does not attend to itself while another key is visible: its
      self logit is replaced by -1e5 (not -inf), so a token that sees nothing
      else (the first token of a causal sequence) attends to itself.

    Instead of all `T` keys, each query sees a few. Per hash round, a random
    rotation `R` of shape `(key_dim, num_buckets / 2)` (one per round and per
    head) hashes every vector to `bucket = argmax([qR, -qR])` (angular LSH:
    nearby directions tend to share a bucket). The tokens are stably sorted by
    `(bucket, position)` (padded tokens last, whatever they hold), the sorted
    sequence is cut into chunks of `chunk_length`, and each chunk attends to
    itself and to the previous chunk (cyclically; only to itself when there is
    a single chunk). The `num_hashes` rounds are combined with weights
    `softmax_r(lse_r)`, where `lse_r` is the log-sum-exp of a query's visible
    logits in round `r`. Time and memory grow as `T * chunk_length` per round;
    no `T x T` tensor is formed (unless `return_attention_scores`).

    A length that `chunk_length` does not divide is padded internally (the
    pad positions are masked) and the output is cut back to `T`. With
    `chunk_length >= T` there is a single chunk and the layer computes
    exactly the dense shared-QK attention of `dense_attention`.

    The rotations are drawn once from `numpy.random.default_rng(seed)` and
    kept as a non-trainable weight (`rotations`), so a saved model reloads
    with the rotations it was trained with. `seed=None` draws a seed at
    construction (from NumPy's global generator, which
    `keras.utils.set_random_seed` fixes) and the config stores it. Logits,
    softmax and the combination of rounds are computed in float32 whatever
    the compute dtype.

    Args:
        num_heads: number of heads.
        key_dim: width of each head's shared query/key vector and value.
        num_buckets: hash buckets per round; must be even.
        num_hashes: hash rounds; more rounds, fewer missed neighbours.
        chunk_length: tokens per chunk of the sorted sequence.
        causal: whether a token may only attend to itself and earlier positions.
        seed: seed of the random rotations (and of the attention dropout).
        dropout: dropout rate on the attention weights.
        use_bias: whether the projections have biases.
        output_dim: width of the output; defaults to the input width.
        kernel_initializer, bias_initializer: for all projections.

    Call arguments:
        query: `(batch, T, d)`; the layer attends over the same sequence.
        value: must be None (or `query` itself): self-attention only.
        query_mask, key_mask: `(batch, T)` padding masks, True at real tokens;
            in self-attention both describe the same tokens, and a token is
            padding if either says so. `query_mask` defaults to the input's
            Keras mask (e.g. from a `mask_zero=True` embedding).
        attention_mask: optional boolean `(T, T)`, `(batch, T, T)` or
            `(batch, 1|num_heads, T, T)`, True = may attend.
        use_causal_mask: causal for this call even if the layer is not.
        training: whether attention dropout is active.
        return_attention_scores: also return the effective `(batch,
            num_heads, T, T)` attention weights (each round's chunk weights
            times its round weight, summed at the keys' original positions).
            This materializes a `T x T` tensor: for inspection and tests.
        cache, cache_update_index: accepted for the blocks' calling
            convention; LSH attention has no KV cache and raises if given.

    Returns:
        `(batch, T, output_dim)`, and the weights if asked for.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.layers.lsh_attention import LSHAttention
    >>> layer = LSHAttention(num_heads=2, key_dim=8, num_buckets=4, num_hashes=2,
    ...                      chunk_length=4, causal=True, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(1, 10, 16)).astype("float32")
    >>> out, weights = layer(x, return_attention_scores=True)
    >>> tuple(out.shape), tuple(weights.shape)
    ((1, 10, 16), (1, 2, 10, 10))
    >>> weights = keras.ops.convert_to_numpy(weights)
    >>> bool(np.all(np.triu(weights, k=1) == 0))  # no weight on a later position
    True
    >>> round(float(weights[0, 0, 0, 0]), 6)  # the first token sees only itself
    1.0
    >>> bool(np.allclose(weights.sum(-1), 1.0))  # each row is a distribution
    True
    >>> dense = layer.dense_attention(x)  # the oracle: one chunk, every key
    >>> tuple(dense.shape)
    (1, 10, 16)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        num_buckets: int,
        num_hashes: int,
        chunk_length: int,
        causal: bool = False,
        seed: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_dim: int | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(num_heads=num_heads, key_dim=key_dim, num_buckets=num_buckets,
                       num_hashes=num_hashes, chunk_length=chunk_length)
        if num_buckets % 2:
            raise ValueError(
                f"`num_buckets` must be even (angular hashing takes the argmax over "
                f"[xR, -xR], two buckets per rotation column); got {num_buckets}: use "
                f"{num_buckets - 1 if num_buckets > 1 else 2} or {num_buckets + 1}."
            )
        if output_dim is not None:
            check_positive(output_dim=output_dim)
        check_rate("dropout", dropout)
        seed = resolve_seed(seed)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.num_buckets = num_buckets
        self.num_hashes = num_hashes
        self.chunk_length = chunk_length
        self.causal = bool(causal)
        self.seed = seed
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def initial_rotations(self) -> np.ndarray:
        """The `(num_hashes, num_heads, key_dim, num_buckets // 2)` float32 rotations drawn from `seed`."""
        shape = (self.num_hashes, self.num_heads, self.key_dim, self.num_buckets // 2)
        return np.random.default_rng(self.seed).standard_normal(shape).astype("float32")

    @property
    def rotations(self) -> np.ndarray:
        """The rotations in use (the `rotations` weight once built), as a NumPy array."""
        if not self.built:
            return self.initial_rotations()
        return np.asarray(ops.convert_to_numpy(self.rotation_weight.value), np.float32)

    # The same mask-preserving EinsumDense, with this layer's bias choice,
    # initializers and dtype policy, as MultiHeadAttention builds.
    _projection = MultiHeadAttention._projection

    def build(self, query_shape, value_shape=None):
        # Self-attention only: a `value` (shape) may only be the query itself.
        check_rank("query", query_shape, 3, "(batch, length, hidden_dim)")
        n, h = self.num_heads, self.key_dim
        self.qk = self._projection("btd,dnh->btnh", (None, n, h), "nh", "qk")
        self.value_dense = self._projection("btd,dnh->btnh", (None, n, h), "nh", "value")
        self.output_dense = self._projection(
            "btnh,nhd->btd", (None, self.output_dim or query_shape[-1]), "d", "output"
        )
        self.qk.build(query_shape)
        self.value_dense.build(query_shape)
        self.output_dense.build((*query_shape[:-1], n, h))
        # A weight, not a constant: a saved model reloads with the rotations it
        # was trained with, whatever seed its config would draw.
        rotations = self.initial_rotations()
        self.rotation_weight = self.add_weight(
            name="rotations", shape=rotations.shape,
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(rotations, "float32"),
            trainable=False, autocast=False, dtype="float32",
        )
        self.built = True

    # ------------------------------------------------------------------ call

    def call(
        self,
        query,
        value=None,
        query_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
        return_attention_scores=False,
        cache=None,
        cache_update_index=None,
        mask=None,
    ):
        check_self_attention("LSHAttention", query, value=value)
        if cache is not None or cache_update_index is not None:
            raise ValueError(
                "`cache`: LSHAttention has no KV cache (the buckets of a sequence change "
                "as it grows); decode with full attention."
            )
        qk, value, real, attention_mask = self._project(
            query, query_mask, key_mask, attention_mask, mask
        )
        causal = self.causal or bool(use_causal_mask)
        attended, weights = self._lsh_attention(
            qk, value, real, attention_mask, causal, bool(training), return_attention_scores
        )
        output = self.output_dense(attended)
        return (output, weights) if return_attention_scores else output

    def dense_attention(self, query: Tensor, query_mask: Tensor | None = None,
                        key_mask: Tensor | None = None, attention_mask: Tensor | None = None,
                        use_causal_mask: bool = False,
                        return_attention_scores: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The same attention over all `T` keys, without hashing: the oracle of the hashed path.

        Computes the `(batch, num_heads, T, T)` logits `q·k/√key_dim` with the
        layer's weights and the same masks (padding, causal, attention mask,
        self-masking) and no dropout. `call` equals it when `chunk_length >= T`.
        """
        qk, value, real, attention_mask = self._project(
            query, query_mask, key_mask, attention_mask, None
        )
        q = ops.cast(ops.transpose(qk, (0, 2, 1, 3)), "float32")
        t = q.shape[2] if q.shape[2] is not None else ops.shape(q)[2]
        positions = ops.arange(t, dtype="int32")
        logits = ops.einsum("bnih,bnjh->bnij", q, _normalize(q)) / math.sqrt(self.key_dim)
        visible = ops.ones_like(logits, dtype="bool")
        if real is not None:
            visible = ops.logical_and(real[:, None, :, None], real[:, None, None, :])
        if self.causal or use_causal_mask:
            visible = ops.logical_and(visible, positions[None, None, None, :]
                                      <= positions[None, None, :, None])
        if attention_mask is not None:
            visible = ops.logical_and(visible, attention_mask)
        is_self = ops.equal(positions[:, None], positions[None, :])[None, None]
        weights, _ = _masked_softmax(logits, visible, is_self)
        v = ops.transpose(value, (0, 2, 1, 3))
        attended = ops.einsum("bnij,bnjh->bnih", ops.cast(weights, v.dtype), v)
        output = self.output_dense(ops.transpose(attended, (0, 2, 1, 3)))
        return (output, weights) if return_attention_scores else output

    def hash_buckets(self, query: Tensor, query_mask: Tensor | None = None,
                     key_mask: Tensor | None = None) -> Tensor:
        """The `(batch, num_heads, num_hashes, T)` int32 bucket of every token in every round.

        Padded tokens get the extra bucket `num_buckets`, which sorts them
        after every real token.
        """
        qk, _, real, _ = self._project(query, query_mask, key_mask, None, None)
        return self._buckets(ops.cast(ops.transpose(qk, (0, 2, 1, 3)), "float32"), real)

    def _project(self, query, query_mask, key_mask, attention_mask, keras_mask):
        """Check the inputs; return qk and values `(B, T, N, H)`, the real-token mask and the rank-4 attention mask."""
        check_rank("query", query.shape, 3, "(batch, length, hidden_dim)")
        if not self.built:  # hash_buckets / dense_attention on a layer never called
            self.build(query.shape)
        length = query.shape[1]
        query_mask = masks.resolve_padding_mask("query_mask", query_mask, keras_mask)
        real = None
        for name, padding in (("query_mask", query_mask), ("key_mask", key_mask)):
            if padding is not None:
                masks.check_padding_mask(name, padding, length)
                padding = ops.cast(padding, "bool")
                real = padding if real is None else ops.logical_and(real, padding)
        if attention_mask is not None:
            attention_mask = ops.convert_to_tensor(attention_mask)
            masks.check_attention_mask(
                attention_mask, (query.shape[0], length, self.num_heads, self.key_dim), query.shape)
            attention_mask = masks.expand_to_rank4(attention_mask)
        return self.qk(query), self.value_dense(query), real, attention_mask

    def _buckets(self, q, valid):
        """Angular LSH of `q` `(B, N, T, H)` float32: `(B, N, R, T)` buckets, padded -> num_buckets."""
        rotations = ops.cast(self.rotation_weight.value, "float32")
        rotated = ops.einsum("bnth,rnhk->bnrtk", q, rotations)
        buckets = ops.cast(ops.argmax(ops.concatenate([rotated, -rotated], axis=-1), axis=-1),
                           "int32")
        if valid is not None:
            buckets = ops.where(valid[:, None, None, :], buckets, self.num_buckets)
        return buckets

    def _lsh_attention(self, qk, value, real, attention_mask, causal, training, return_weights):
        """Hash, sort, attend within chunks, unsort, combine rounds: `(B, T, N, H)`."""
        c, r = self.chunk_length, self.num_hashes
        t_static = qk.shape[1]
        t = t_static if t_static is not None else ops.shape(qk)[1]
        if t_static is not None:
            num_chunks = -(-t_static // c)
            padded = num_chunks * c
        else:
            num_chunks = None
            padded = (t + c - 1) // c * c
        pad = padded - t
        if t_static is None or pad:
            widths = [[0, 0], [0, pad], [0, 0], [0, 0]]
            qk, value = ops.pad(qk, widths), ops.pad(value, widths)
        positions = ops.arange(padded, dtype="int32")
        valid = ops.less(positions, t)[None, :]
        if real is not None:
            if t_static is None or pad:
                real = ops.pad(real, [[0, 0], [0, pad]], constant_values=False)
            valid = ops.logical_and(valid, real)

        q = ops.cast(ops.transpose(qk, (0, 2, 1, 3)), "float32")        # B N Tp H
        v = ops.transpose(value, (0, 2, 1, 3))                          # B N Tp H
        buckets = self._buckets(q, valid)                               # B N R Tp
        order = ops.argsort(buckets * padded + positions, axis=-1)      # sorted slot -> position
        order = ops.cast(order, "int32")

        batch = ops.shape(q)[0]

        def sort(x):  # (B, N, Tp, F) -> (B, N, R, Tp, F), in sorted order per round
            return _take_rows(x, order, batch * self.num_heads, padded)

        # Reshapes name every size: a -1 beside an empty batch is ambiguous (JAX, PyTorch).
        def chunks(x):  # (B, N, R, Tp, ...) -> (B, N, R, K, C, ...)
            return ops.reshape(x, (*ops.shape(x)[:3], padded // c, c, *x.shape[4:]))

        def with_previous(x):  # keys of a chunk: the chunk itself, then the one before
            if num_chunks == 1:
                return x
            return ops.concatenate([x, ops.roll(x, 1, axis=3)], axis=4)

        q_sorted = chunks(sort(q))                                      # B N R K C H
        v_sorted = chunks(sort(v))
        pos_sorted = chunks(order)                                      # B N R K C
        valid_b = ops.broadcast_to(valid[:, None, None, :], ops.shape(buckets))
        valid_sorted = chunks(ops.take_along_axis(valid_b, order, axis=3))

        keys = with_previous(_normalize(q_sorted))                      # B N R K W H
        key_values = with_previous(v_sorted)
        key_pos, key_valid = with_previous(pos_sorted), with_previous(valid_sorted)

        logits = ops.einsum("bnrkih,bnrkjh->bnrkij", q_sorted, keys) / math.sqrt(self.key_dim)
        visible = ops.logical_and(valid_sorted[..., :, None], key_valid[..., None, :])
        if causal:
            visible = ops.logical_and(visible, key_pos[..., None, :] <= pos_sorted[..., :, None])
        if attention_mask is not None:
            visible = ops.logical_and(
                visible, _gather_pairs(attention_mask, pos_sorted, key_pos, t))
        if num_chunks is None:  # unknown length: hide the look-back copy when it is the chunk itself
            slots = ops.arange(2 * c)
            single = ops.equal(padded, c)
            visible = ops.logical_and(visible, ops.logical_or(slots < c, ops.logical_not(single)))
        is_self = ops.equal(key_pos[..., None, :], pos_sorted[..., :, None])
        weights, lse = _masked_softmax(logits, visible, is_self)        # B N R K C W
        if training and self.dropout > 0.0:
            weights = keras.random.dropout(weights, self.dropout, seed=self.seed_generator)
        attended = ops.einsum("bnrkij,bnrkjh->bnrkih", ops.cast(weights, v.dtype), key_values)

        # Back to the original order: slot `inverse[p]` holds position `p`.
        inverse = ops.cast(ops.argsort(order, axis=-1), "int32")        # B N R Tp
        attended = ops.reshape(attended, (*ops.shape(attended)[:3], padded, self.key_dim))
        attended = _take_rows(attended, inverse, batch * self.num_heads * r, padded)
        lse = ops.take_along_axis(ops.reshape(lse, ops.shape(order)), inverse, axis=3)
        round_weights = ops.softmax(lse, axis=2) if r > 1 else ops.ones_like(lse)  # B N R Tp
        output = ops.sum(ops.cast(attended, "float32") * round_weights[..., None], axis=2)
        output = ops.transpose(ops.cast(output, self.compute_dtype), (0, 2, 1, 3))[:, :t]

        scores = None
        if return_weights:
            per_slot = weights * chunks(ops.take_along_axis(round_weights, order, axis=3))[..., None]
            query_hot = ops.one_hot(pos_sorted, padded, dtype="float32")   # B N R K C Tp
            key_hot = ops.one_hot(key_pos, padded, dtype="float32")       # B N R K W Tp
            scores = ops.einsum("bnrkij,bnrkiq,bnrkjs->bnqs", per_slot, query_hot, key_hot)
            scores = scores[:, :, :t, :t]
        return output, scores

    # --------------------------------------------------------------- plumbing

    def compute_output_shape(self, query_shape, value_shape=None):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def compute_output_spec(self, query, value=None, return_attention_scores=False, **kwargs):
        output = keras.KerasTensor(self.compute_output_shape(query.shape),
                                   dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        t = query.shape[1]
        return output, keras.KerasTensor((query.shape[0], self.num_heads, t, t), dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "num_buckets": self.num_buckets,
            "num_hashes": self.num_hashes,
            "chunk_length": self.chunk_length,
            "causal": self.causal,
            "seed": self.seed,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def _take_rows(x, index, groups, length):
    """Rows of `x` picked within each group: `out[..., i, :] = x[..., index[..., i], :]`.

    `x` is `(*lead, length, F)` with `groups` = prod(lead) sequences;
    `index` is `(*lead, [R,] L)` (an extra axis of rounds may follow the
    leading axes of `x`). One row gather on the flattened array: cheaper
    than `take_along_axis`, which would broadcast the index over `F`.
    """
    width = x.shape[-1]
    flat = ops.reshape(x, (-1, width))
    offsets = ops.arange(groups, dtype="int32") * length
    offsets = ops.reshape(offsets, (*ops.shape(x)[:-2], *([1] * (len(index.shape) - len(x.shape) + 2))))
    rows = ops.take(flat, ops.reshape(index + offsets, (-1,)), axis=0)
    return ops.reshape(rows, (*ops.shape(index), width))


def _gather_pairs(mask, query_positions, key_positions, length):
    """`mask[b, n, i, j]` at every (query, key) position pair of the chunks, without a `T x T` product.

    `mask` is `(B|1, N|1, T, T)`; the positions are `(B, N, R, K, C)` and
    `(B, N, R, K, W)`, with internal padding positions `>= T` (clipped: they
    are masked anyway). One gather from the flattened mask, which is never
    broadcast.
    """
    last = length - 1
    pairs = (ops.minimum(query_positions, last)[..., :, None] * length
             + ops.minimum(key_positions, last)[..., None, :])          # B N R K C W
    per_head = mask.shape[1] != 1
    heads = ops.shape(mask)[1] if per_head else 1
    if mask.shape[0] != 1:
        batch = ops.arange(ops.shape(pairs)[0], dtype="int32") * (heads * length * length)
        pairs = pairs + ops.reshape(batch, (-1, 1, 1, 1, 1, 1))
    if per_head:
        head = ops.arange(ops.shape(pairs)[1], dtype="int32") * (length * length)
        pairs = pairs + ops.reshape(head, (1, -1, 1, 1, 1, 1))
    flat = ops.reshape(ops.cast(mask, "int32"), (-1,))
    return ops.cast(ops.take(flat, pairs, axis=0), "bool")


def _normalize(x):
    """`x / sqrt(|x|² + 1e-12)` along the last axis (float32)."""
    return x * ops.rsqrt(ops.sum(ops.square(x), axis=-1, keepdims=True) + NORM_EPSILON)


def _masked_softmax(logits, visible, is_self):
    """Softmax over the visible keys with Reformer's self-masking; also the rows' log-sum-exp.

    Self logits become `SELF_LOGIT`, invisible ones `large_negative`; a row
    with no visible key gets zero weights and a log-sum-exp near the fill, so
    it carries no weight when rounds are combined.
    """
    logits = ops.where(is_self, SELF_LOGIT, logits)
    logits = ops.where(visible, logits, large_negative("float32"))
    lse = ops.logsumexp(logits, axis=-1)
    weights = ops.where(visible, ops.exp(logits - lse[..., None]), 0.0)
    return weights, lse

"""Additive (Bahdanau) attention: the alignment model of RNN encoder–decoders."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_same_batch,
    clone_initializer,
)
from keras_transformer.ops import large_negative


@keras.saving.register_keras_serializable(package="keras_transformer")
class AdditiveAttention(keras.layers.Layer):
    """Bahdanau et al. (2015) attention: `score(s, h_j) = vᵀ tanh(W s + U h_j)`.

    The weights `a_j = softmax_j(score(s, h_j))` over the real source positions
    form the alignment of one decoder state `s` with the encoder states
    `h_1..h_S`, and the context is `c = Σ_j a_j h_j`. Unlike Keras's own
    `AdditiveAttention` (no projections), the query and the keys are projected
    by `W` and `U` to `units` before the `tanh`, as in the paper.

    `U h_j` does not depend on the decoder step: compute it once per source with
    `project_keys` and pass it as `projected_keys` at every step.

    Args:
        units: width of the alignment model's hidden layer.
        kernel_initializer: initializer of `W`, `U` and `v`.

    Call arguments:
        query: `(batch, d_q)` (one decoder step) or `(batch, T, d_q)`.
        values: `(batch, S, d_v)` encoder states, the batch of `query`. A
            source of length 0, like a source that is all padding, gives a zero
            context.
        mask: `(batch, S)`, True at real source positions; padded positions get
            exactly zero weight. Defaults to the Keras mask of `values` (e.g. from
            an RNN fed a masked embedding).
        projected_keys: `(batch, S, units)` from `project_keys(values)`.

    Returns:
        `(context, weights)`: `(batch, d_v)` and `(batch, S)` for a rank-2 query,
        `(batch, T, d_v)` and `(batch, T, S)` for a rank-3 query.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> layer = kt.layers.AdditiveAttention(units=8)
    >>> context, weights = layer(np.zeros((2, 4)), np.zeros((2, 5, 6)))
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 6), (2, 5))
    >>> keras.ops.convert_to_numpy(weights)[0].astype("float64").round(2).tolist()  # uniform
    [0.2, 0.2, 0.2, 0.2, 0.2]
    """

    def __init__(self, units: int, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive(units=units)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, query_shape, values_shape):
        if len(query_shape) not in (2, 3):
            raise ValueError(
                "`query` must have rank 2, (batch, query_dim), or rank 3, (batch, T, "
                f"query_dim); got shape {tuple(query_shape)}."
            )
        check_rank("values", values_shape, 3, "(batch, source_length, value_dim)")

        def dense(name, use_bias=False):
            return keras.layers.Dense(
                self.units if name != "score" else 1,
                use_bias=use_bias,
                kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query_dense = dense("query")
        self.query_dense.build(query_shape)
        self.key_dense = dense("key", use_bias=True)
        self.key_dense.build(values_shape)
        self.score_dense = dense("score")
        self.score_dense.build((*values_shape[:-1], self.units))
        self.built = True

    def project_keys(self, values: Tensor) -> Tensor:
        """`U h_j` for every source position: `(batch, S, units)`, computed once per source."""
        if not self.built:  # `U` is built with `W`, whose width comes from the query
            raise ValueError(
                "`project_keys` needs a built layer: call it once on (query, values), or "
                "`build(query_shape, values_shape)`, first."
            )
        check_rank("values", values.shape, 3, "(batch, source_length, value_dim)")
        return self.key_dense(values)

    def call(self, query, values, mask=None, projected_keys=None, values_mask=None):
        check_rank("values", values.shape, 3, "(batch, source_length, value_dim)")
        single = len(query.shape) == 2
        if single:
            query = query[:, None, :]
        check_rank("query", query.shape, 3, "(batch, T, query_dim)")
        check_same_batch("query", query.shape, "values", values.shape)
        if mask is None:
            mask = values_mask  # filled by Keras from `values`' implicit mask
        keys = self.project_keys(values) if projected_keys is None else projected_keys
        # (B, T, 1, units) + (B, 1, S, units) -> scores (B, T, S)
        hidden = ops.tanh(self.query_dense(query)[:, :, None, :] + keys[:, None, :, :])
        scores = ops.cast(ops.squeeze(self.score_dense(hidden), -1), "float32")
        if mask is not None:
            masks.check_padding_mask("mask", mask, values.shape[1])
            visible = ops.cast(mask, "bool")[:, None, :]
            scores = ops.where(visible, scores, large_negative("float32"))
        # softmax, written out (keras warns about a softmax over a length-1 source);
        # logsumexp, unlike `ops.max`, takes an empty batch or source (a length-0
        # source gives a zero context, like a source that is all padding).
        weights = ops.exp(scores - ops.logsumexp(scores, axis=-1, keepdims=True))
        if mask is not None:
            # Exactly zero at padding, and a zero row (not uniform) if a source is all padding.
            weights = ops.where(visible, weights, ops.zeros_like(weights))
        weights = ops.cast(weights, self.compute_dtype)
        context = ops.einsum("bts,bsd->btd", weights, ops.cast(values, self.compute_dtype))
        if single:
            return context[:, 0], weights[:, 0]
        return context, weights

    def compute_mask(self, query, values, mask=None, projected_keys=None):
        return None  # the context vectors are per query; the source mask ends here

    def compute_output_shape(self, query_shape, values_shape):
        prefix = tuple(query_shape[:-1])
        return (*prefix, values_shape[-1]), (*prefix, values_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }

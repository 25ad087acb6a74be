"""What encoder and decoder blocks share: hyperparameters, sublayers, config."""

from __future__ import annotations

import importlib

import keras

from keras_transformer.layers._checks import (
    check_divisible,
    check_positive,
    check_rate,
    clone_initializer,
)
from keras_transformer.layers.feed_forward import FeedForward

# Self-attention kinds a block can use, by name: (module, class). The sparse
# kinds are imported on first use.
ATTENTION_KINDS = {
    "full": ("keras_transformer.layers.multi_head_attention", "MultiHeadAttention"),
    "bigbird": ("keras_transformer.layers.bigbird_attention", "BigBirdAttention"),
    "lsh": ("keras_transformer.layers.lsh_attention", "LSHAttention"),
}


def attention_class(kind: str) -> type:
    """The self-attention layer class named `kind` (a key of `ATTENTION_KINDS`).

    Example:
    >>> from keras_transformer.layers.block_base import attention_class
    >>> attention_class("full").__name__, attention_class("lsh").__name__
    ('MultiHeadAttention', 'LSHAttention')
    """
    if kind not in ATTENTION_KINDS:
        raise ValueError(
            f"`attention` must be one of {sorted(ATTENTION_KINDS)}; got {kind!r}."
        )
    module, name = ATTENTION_KINDS[kind]
    return getattr(importlib.import_module(module), name)


class BlockBase(keras.layers.Layer):
    """Base of `EncoderBlock` and `DecoderBlock`; see those for the arguments.

    Example:
    >>> import keras_transformer as kt
    >>> from keras_transformer.layers.block_base import BlockBase
    >>> block = kt.layers.DecoderBlock(num_heads=2, intermediate_dim=32, norm_first=True)
    >>> isinstance(block, BlockBase), block.hyperparameters()["attention"]
    (True, 'full')
    >>> kt.layers.EncoderBlock(num_heads=2, intermediate_dim=32, attention="sparse")
    Traceback (most recent call last):
    ...
    ValueError: `attention` must be one of ['bigbird', 'full', 'lsh']; got 'sparse'.
    """

    def __init__(
        self,
        num_heads: int,
        intermediate_dim: int,
        dropout: float = 0.0,
        activation="gelu",
        layer_norm_epsilon: float = 1e-5,
        norm_first: bool = False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        use_bias: bool = True,
        attention: str = "full",
        attention_options: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(num_heads=num_heads, intermediate_dim=intermediate_dim)
        check_rate("dropout", dropout)
        attention_class(attention)  # a wrong name fails at construction
        self.attention = attention
        self.attention_options = dict(attention_options or {})
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.use_bias = use_bias
        self.supports_masking = True

    def _attention(self, name, query_shape, value_shape=None, kind="full", options=None):
        """An attention layer built for `query_shape`; its callers have checked the ranks."""
        head_dim = check_divisible(query_shape[-1], self.num_heads)
        layer = attention_class(kind)(
            self.num_heads,
            head_dim,
            dropout=self.dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name=name,
            **(options or {}),
        )
        layer.build(query_shape, value_shape)
        return layer

    def _norm(self, name, shape):
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, center=self.use_bias, dtype=self.dtype_policy,
            name=name,
        )
        layer.build(shape)
        return layer

    def _build_common(self, shape):
        """Build self-attention, feed-forward, their norms and the residual dropout."""
        self.self_attention = self._attention(
            "self_attention", shape, kind=self.attention, options=self.attention_options
        )
        self.self_attention_norm = self._norm("self_attention_norm", shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            self.activation,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(shape)
        self.feed_forward_norm = self._norm("feed_forward_norm", shape)
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        return {**super().get_config(), **self.hyperparameters()}

    def hyperparameters(self) -> dict:
        """The block's own constructor arguments (what a stack of such blocks stores)."""
        return {
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "norm_first": self.norm_first,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "use_bias": self.use_bias,
            "attention": self.attention,
            "attention_options": dict(self.attention_options),
        }

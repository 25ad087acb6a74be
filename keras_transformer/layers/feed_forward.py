"""The position-wise feed-forward network of a Transformer block."""

from __future__ import annotations

import keras

from keras_transformer.layers._checks import check_positive, clone_initializer


@keras.saving.register_keras_serializable(package="keras_transformer")
class FeedForward(keras.layers.Layer):
    """Two Dense layers with an activation between them, applied at each position.

    `FFN(x) = W2 · act(W1 · x + b1) + b2`, widening to `intermediate_dim` and
    projecting back to the input width (or `output_dim`).

    Args:
        intermediate_dim: width of the hidden layer (4 × hidden_dim is usual).
        activation: `"gelu"` (exact, BERT), `"gelu_approximate"` (tanh, GPT-2),
            `"relu"` (the original paper) or any Keras activation.
        output_dim: width of the output; defaults to the input width.
        use_bias, kernel_initializer, bias_initializer: for both Dense layers.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> layer = kt.layers.FeedForward(intermediate_dim=64)
    >>> tuple(layer(np.zeros((2, 5, 16))).shape)
    (2, 5, 16)
    >>> [tuple(w.shape) for w in layer.weights]  # two Dense layers: 16 -> 64 -> 16
    [(16, 64), (64,), (64, 16), (16,)]
    """

    def __init__(
        self,
        intermediate_dim: int,
        activation="gelu",
        output_dim: int | None = None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(intermediate_dim=intermediate_dim)
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.output_dim = output_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def _dense(self, units, activation, name):
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, inputs_shape):
        self.intermediate = self._dense(
            self.intermediate_dim, _activation(self.activation), "intermediate"
        )
        self.intermediate.build(inputs_shape)
        self.output_dense = self._dense(self.output_dim or inputs_shape[-1], None, "output")
        self.output_dense.build((*inputs_shape[:-1], self.intermediate_dim))
        self.built = True

    def call(self, inputs):
        return self.output_dense(self.intermediate(inputs))

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:-1], self.output_dim or inputs_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "intermediate_dim": self.intermediate_dim,
            "activation": self.activation,
            "output_dim": self.output_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def _activation(name):
    if name == "gelu_approximate":
        return _gelu_tanh
    return keras.activations.get(name)


@keras.saving.register_keras_serializable(package="keras_transformer")
def _gelu_tanh(x):
    """GELU with the tanh approximation used by GPT-2."""
    return keras.activations.gelu(x, approximate=True)

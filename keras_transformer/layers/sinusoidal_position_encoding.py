"""The fixed sinusoidal position encoding of "Attention Is All You Need"."""

from __future__ import annotations

import keras
from keras import ops

from keras_transformer.layers._checks import check_rank


@keras.saving.register_keras_serializable(package="keras_transformer")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Return the sinusoidal encoding of each position, shaped like the input.

    For position `t` and channel pair `i`:
    `PE(t, 2i) = sin(t / max_wavelength^(2i/d))` and
    `PE(t, 2i+1) = cos(t / max_wavelength^(2i/d))`. The layer returns the
    encoding; add it to the token embeddings yourself. It has no weights, so
    it works for any length; `PE(t + k)` is a fixed rotation of `PE(t)`, which
    is what lets attention read relative offsets.

    Args:
        max_wavelength: the longest wavelength, `10000` in the paper.

    Call arguments:
        inputs: `(batch, length, d)`; only its shape is used. `d` must be even.
        start_index: position of the first element (an int or scalar tensor),
            for cached decoding where one token arrives at a time.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> encoding = kt.layers.SinusoidalPositionEncoding()(np.zeros((2, 10, 16)))
    >>> tuple(encoding.shape)
    (2, 10, 16)
    >>> keras.ops.convert_to_numpy(encoding)[0, 0, :4].tolist()  # position 0: sin 0 = 0, cos 0 = 1
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(self, max_wavelength: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        if max_wavelength <= 1:
            raise ValueError(f"`max_wavelength` must be > 1; got {max_wavelength!r}.")
        self.max_wavelength = max_wavelength
        self.built = True

    def call(self, inputs, start_index=0):
        check_rank("inputs", inputs.shape, 3, "(batch, length, hidden_dim)")
        dim = inputs.shape[-1]
        if dim % 2:
            raise ValueError(f"The last axis of `inputs` must be even; got {dim}.")
        shape = ops.shape(inputs)
        positions = ops.cast(ops.arange(shape[1]) + start_index, "float32")
        # Channels 2i and 2i+1 share the frequency 1 / max_wavelength^(2i/d).
        pair = ops.arange(dim) // 2
        inverse_freq = ops.power(
            ops.cast(self.max_wavelength, "float32"),
            -ops.cast(2 * pair, "float32") / dim,
        )
        angles = positions[:, None] * inverse_freq[None, :]
        is_even = ops.equal(ops.arange(dim) % 2, 0)
        encoding = ops.where(is_even[None, :], ops.sin(angles), ops.cos(angles))
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}

"""Type aliases for the package's annotations."""

from __future__ import annotations

from typing import Any, TypeAlias

# A tensor of the running Keras backend (tf.Tensor, jax.Array, torch.Tensor) or a
# NumPy array: anything `keras.ops.convert_to_tensor` accepts.
Tensor: TypeAlias = Any

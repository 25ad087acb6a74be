"""What one forward + backward pass of a layer or model costs: seconds and working memory."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from keras_transformer._typing import Tensor


def forward_backward(layer: keras.layers.Layer, inputs: Tensor) -> Callable[[], object]:
    """Returns a compiled function that runs `layer(inputs)` and returns its gradients.

    The loss is the sum of the (first) output; the function returns the
    gradients with respect to `layer.trainable_variables`, in that order, as
    a training step needs them. The
    function is compiled with XLA on TensorFlow (`jit_compile=True`) and JAX
    (`jax.jit`); PyTorch runs eagerly. `layer` must be built (call it once).

    Example (the loss sums 3 rows of `x W + b`: every gradient entry is 3):

    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.training.step_cost import forward_backward
    >>> dense, x = keras.layers.Dense(2), np.ones((3, 4), "float32")
    >>> _ = dense(x)
    >>> kernel, bias = forward_backward(dense, x)()
    >>> keras.ops.convert_to_numpy(kernel).shape, keras.ops.convert_to_numpy(bias).tolist()
    ((4, 2), [3.0, 3.0])
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # A partial, not a nested function: TensorFlow counts traces per code
        # object, and one step per layer would read as "excessive retracing".
        step = tf.function(functools.partial(_tf_gradients, layer), jit_compile=True)
        x = tf.convert_to_tensor(inputs)
        # Embeddings' gradients come as IndexedSlices; densify them like the rest.
        return lambda: [tf.convert_to_tensor(g).numpy() for g in step(x)]
    if backend == "jax":
        import jax

        grad, state = _jax_gradient(layer)
        x = jax.numpy.asarray(inputs)
        return lambda: list(jax.block_until_ready(grad(*state, x)))
    if backend == "torch":
        x = ops.convert_to_tensor(inputs)

        def step():
            layer.zero_grad()
            _loss(layer(x, training=True)).backward()
            return [v.value.grad for v in layer.trainable_variables]

        return step
    raise ValueError(f"Unsupported Keras backend {backend!r}.")


def _tf_gradients(layer, x):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = _loss(layer(x, training=True))
    return tape.gradient(loss, layer.trainable_variables)


def _loss(outputs):
    first = keras.tree.flatten(outputs)[0]
    return ops.sum(ops.cast(first, "float32"))


def _jax_gradient(layer):
    """The jitted gradient of the layer's stateless call, and its variables' values."""
    import jax

    def loss(trainable, frozen, x):
        out, _ = layer.stateless_call(trainable, frozen, x, training=True)
        return _loss(out)

    state = ([v.value for v in layer.trainable_variables],
             [v.value for v in layer.non_trainable_variables])
    return jax.jit(jax.grad(loss)), state


def time_forward_backward(
    layer: keras.layers.Layer, inputs: Tensor, repeats: int = 5, warmup: int = 1
) -> float:
    """Returns the median seconds of `repeats` forward + backward passes after `warmup`.

    The warm-up calls absorb tracing and XLA compilation.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> from keras_transformer.training.step_cost import time_forward_backward
    >>> attention = kt.layers.MultiHeadAttention(num_heads=2, key_dim=8)
    >>> x = np.random.rand(1, 32, 16).astype("float32")
    >>> _ = attention(x)
    >>> 0.0 < time_forward_backward(attention, x, repeats=2) < 10.0
    True
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0; got {repeats} and {warmup}.")
    step = forward_backward(layer, inputs)
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def forward_backward_memory(layer: keras.layers.Layer, inputs: Tensor) -> int:
    """Returns the bytes XLA allocates for a forward + backward pass beyond its arguments.

    Read from JAX's compiled-program memory analysis (temporaries plus
    outputs: the activations kept for the backward pass and the gradients),
    so it is exact and noise-free; it needs the JAX backend.

    Example (at least the 40 bytes of the gradients: a (4, 2) kernel and 2 biases in float32):

    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.training.step_cost import forward_backward_memory
    >>> dense, x = keras.layers.Dense(2), np.ones((3, 4), "float32")
    >>> _ = dense(x)
    >>> keras.backend.backend() != "jax" or forward_backward_memory(dense, x) >= 40
    True
    """
    if keras.backend.backend() != "jax":
        raise ValueError(
            "forward_backward_memory reads XLA's memory analysis through JAX; run it "
            f"with KERAS_BACKEND=jax (the backend is {keras.backend.backend()!r})."
        )
    grad, state = _jax_gradient(layer)
    compiled = grad.lower(*state, np.asarray(inputs)).compile()
    analysis = compiled.memory_analysis()
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes)

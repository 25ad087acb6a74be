"""Backend-specific set-up: device kind, determinism, data parallelism."""

import contextlib
import importlib.util
import warnings

import keras

from keras_transformer._tensorflow_import import tensorflow_kept_out


def accelerator() -> str:
    """Returns `"gpu"`, `"tpu"` or `"cpu"`: the device the backend computes on.

    Example:

    >>> from keras_transformer.training.devices import accelerator
    >>> accelerator() in ("cpu", "gpu", "tpu")
    True
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        for kind in ("TPU", "GPU"):
            if tf.config.list_logical_devices(kind):
                return kind.lower()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return "gpu"
    return "cpu"


def tensorboard_available() -> bool:
    """Returns whether TensorFlow and TensorBoard, which Keras's logs need, exist and may be imported.

    Example (TensorFlow is a dependency; TensorBoard comes with the `chapters` extra):

    >>> import importlib.util
    >>> from keras_transformer.training.devices import tensorboard_available
    >>> tensorboard_available() == (importlib.util.find_spec("tensorboard") is not None)
    True
    """
    return not tensorflow_kept_out() and all(
        importlib.util.find_spec(name) is not None
        for name in ("tensorflow", "tensorboard")
    )


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seeds Python, NumPy and the backend; asks TensorFlow for determinism.

    On CPU every backend repeats exactly for a fixed seed. On GPU,
    TensorFlow needs op determinism (`deterministic=True`, which also makes
    Keras skip XLA); JAX needs `XLA_FLAGS=--xla_gpu_deterministic_ops=true`
    set before it starts.

    Example (the same seed, the same draws, from NumPy and from Keras):

    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.training.devices import seed_everything
    >>> def draw(seed):
    ...     seed_everything(seed, deterministic=False)
    ...     return np.random.rand(2).tolist(), keras.ops.convert_to_numpy(keras.random.uniform((2,))).tolist()
    >>> draw(3) == draw(3), draw(3) == draw(4)
    (True, False)
    """
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def distribution_scope(enabled: bool) -> contextlib.AbstractContextManager:
    """Sets up data parallelism over all devices (every process's on JAX); build and compile inside.

    JAX uses `keras.distribution.DataParallel`; TensorFlow a
    `tf.distribute.MirroredStrategy`, whose scope must hold model building
    and compiling. Each global batch is split across the devices, so the
    batch size must be divisible by the number of devices. Other backends
    warn and train on one device.

    Example (disabled, it changes nothing: build and compile as usual):

    >>> import keras
    >>> from keras_transformer.training.devices import distribution_scope
    >>> with distribution_scope(enabled=False):
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> type(distribution_scope(enabled=False)).__name__, model.count_params()
    ('nullcontext', 10)
    """
    if not enabled:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend == "jax":
        # The runner hands each process its own share of every batch.
        keras.distribution.set_distribution(keras.distribution.DataParallel(auto_shard_dataset=False))
        return contextlib.nullcontext()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    warnings.warn(
        f"--distribute supports the jax and tensorflow backends, not "
        f"{backend!r}; training on one device."
    )
    return contextlib.nullcontext()


def device_count() -> int:
    """Returns the number of devices data parallelism would use.

    Example (a CPU counts as one device):

    >>> from keras_transformer.training.devices import accelerator, device_count
    >>> device_count() == 1 if accelerator() == "cpu" else device_count() >= 1
    True
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.device_count()  # every process's devices
    if backend == "tensorflow":
        import tensorflow as tf

        kind = accelerator().upper()
        return max(1, len(tf.config.list_logical_devices(kind)))
    return 1

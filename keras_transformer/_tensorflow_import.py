"""Import TensorFlow without `tf.lite`'s optional JAX hook.

When JAX is installed, `import tensorflow` imports it too: `tf.lite` keeps a
handle on `jax.jit` for converting JAX functions, which this package never
asks of it. On the TensorFlow backend that costs every process about 0.1 GB
of resident memory and 2 s of start-up. `import keras_transformer` therefore
imports TensorFlow first, with `jax` hidden for that one import, when Keras
will run on TensorFlow and neither library is loaded yet; `import jax` works
as usual afterwards. Import the package before `keras` to get the saving.
"""

from __future__ import annotations

import json
import os
import sys


def keras_backend_name() -> str:
    """The backend Keras will choose: `KERAS_BACKEND`, else `keras.json`, else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def import_tensorflow_without_jax() -> None:
    """Import TensorFlow with `jax` unimportable, if Keras will use TensorFlow and neither is loaded."""
    if "tensorflow" in sys.modules or "jax" in sys.modules or keras_backend_name() != "tensorflow":
        return
    sys.modules["jax"] = None  # makes `import jax` raise ImportError, which tf.lite tolerates
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # Keras reports a missing TensorFlow itself
    finally:
        if sys.modules.get("jax") is None:  # still the placeholder: JAX was never imported
            sys.modules.pop("jax", None)

"""How TensorFlow enters a process: without `tf.lite`'s JAX hook, or not at all.

When JAX is installed, `import tensorflow` imports it too: `tf.lite` keeps a
handle on `jax.jit` for converting JAX functions, which this package never
asks of it. On the TensorFlow backend that costs every process about 0.1 GB
of resident memory and 2 s of start-up. `import keras_transformer` therefore
imports TensorFlow first, with `jax` hidden for that one import, when Keras
will run on TensorFlow and neither library is loaded yet; `import jax` works
as usual afterwards. Import the package before `keras` to get the saving.

On JAX and PyTorch, Keras, keras-hub and the TensorBoard callback still import
TensorFlow whenever it is installed (Keras to seed it and to recognize its
types when saving, keras-hub for its tokenizers), 0.6 GB for a run that may
use none of it. `keep_tensorflow_out` lets such a run do without. On every
backend keras-hub also imports TensorFlow Text, which only its tokenizers use
(0.12 GB more); `keep_tensorflow_text_out` lets a run without them skip it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
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


def keep_tensorflow_out() -> bool:
    """On JAX or PyTorch, makes `import tensorflow` fail in this process; returns whether it now does.

    Keras and keras-hub then behave as if TensorFlow were not installed:
    they seed, save and sample without it, keras-hub's tokenizers and tf.data
    are unavailable, and there are no TensorBoard logs. Nothing changes on
    the TensorFlow backend or once TensorFlow is loaded; the return value
    says which happened. It lasts as long as the process: `training.main`
    calls it for a task that declares `needs_tensorflow = False`, in a
    process started to run that chapter.
    """
    import keras  # the backend Keras chose, which is what decides

    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        return tensorflow_kept_out()
    return _keep_out("tensorflow", "keep_tensorflow_out")


def tensorflow_kept_out() -> bool:
    """Whether `keep_tensorflow_out` has kept TensorFlow out of this process."""
    return _kept_out("tensorflow")


def keep_tensorflow_text_out() -> bool:
    """Makes `import tensorflow_text` fail in this process, unless it is loaded; returns whether it now does.

    keras-hub then imports as it does where TensorFlow Text is not installed:
    its samplers work and its tokenizers refuse to run. It lasts as long as
    the process: `training.main` calls it for a task that declares
    `needs_tensorflow = False`, in a process started to run that chapter.
    """
    if "tensorflow_text" in sys.modules:
        return _kept_out("tensorflow_text")
    return _keep_out("tensorflow_text", "keep_tensorflow_text_out")


def _keep_out(package: str, by: str) -> bool:
    if not _kept_out(package):
        sys.meta_path.insert(0, _KeptOut(package, by))
    return True


def _kept_out(package: str) -> bool:
    return any(isinstance(finder, _KeptOut) and finder.package == package
               for finder in sys.meta_path)


class _KeptOut(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `package` and its submodules, and fails to load them as a missing package would.

    Finding them (rather than raising at once) keeps `importlib.util.find_spec`
    probes working, and the package never enters `sys.modules`, where Keras
    takes the presence of `tensorflow` for TensorFlow being loaded.
    """

    def __init__(self, package: str, by: str):
        self.package, self.by = package, by

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] != self.package:
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        raise ModuleNotFoundError(
            f"No module named {spec.name!r}: {self.package} is kept out of this process "
            f"(keras_transformer's {self.by}).", name=spec.name
        )

    def exec_module(self, module):  # never reached: create_module raises
        raise NotImplementedError

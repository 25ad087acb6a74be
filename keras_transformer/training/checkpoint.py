"""Checkpoints: every model and optimizer variable in one atomically written file."""

import json
import os
import pathlib
import zipfile

import keras
import numpy as np


def save_checkpoint(path: str | os.PathLike, model: keras.Model, state: dict) -> None:
    """Writes `model.variables`, `model.optimizer.variables` and `state`.

    `model.variables` includes the random-seed states of dropout layers and
    the optimizer's variables include its iteration count, so a restored run
    draws the same dropout masks and learning rates as an uninterrupted one.
    On PyTorch the file also holds torch's global generator states: Keras
    runs a `Dropout` layer built without a `seed` through
    `torch.nn.functional.dropout`, which draws from them, not from the
    layer's seed variable.
    `state` is any JSON-serializable dict (the runner stores the step and
    the history so far).

    The file is written under a temporary name, synced, then moved into place
    with `os.replace`, which is atomic: a kill at any moment leaves either the
    previous checkpoint or the new one, never a partial file.

    Example:

    >>> import pathlib, tempfile
    >>> import keras
    >>> from keras_transformer.training.checkpoint import restore_checkpoint, save_checkpoint
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adamw", loss="mse")
    >>> model.optimizer.build(model.trainable_variables)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
    >>> save_checkpoint(path, model, {"step": 500})
    >>> kernel = model.layers[0].kernel
    >>> saved = keras.ops.convert_to_numpy(kernel)
    >>> _ = kernel.assign(saved * 0)  # training goes on, then the run is resumed
    >>> restore_checkpoint(path, model)["step"]
    500
    >>> bool((keras.ops.convert_to_numpy(kernel) == saved).all())
    True
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"`model` must be compiled with an optimizer: a checkpoint holds the optimizer's "
            f"state too; {model.name} has none."
        )
    if not model.optimizer.built:  # as `restore_checkpoint` builds it, so the counts match
        model.optimizer.build(model.trainable_variables)
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as f:
            with zipfile.ZipFile(f, "w") as archive:
                _write_array(archive, "state", np.array(json.dumps(state)))
                for prefix, variables in _variable_groups(model).items():
                    for i, variable in enumerate(variables):
                        _write_array(archive, f"{prefix}/{i:05d}", _host_array(variable))
                for name, value in global_rng_state().items():
                    _write_array(archive, name, value)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _host_array(variable: keras.Variable) -> np.ndarray:
    # `convert_to_numpy` copies on TensorFlow and JAX; `np.asarray` views
    # a CPU tensor's buffer. On PyTorch `convert_to_numpy` is the view (a
    # variable that requires grad refuses `np.asarray`).
    if keras.backend.backend() == "torch":
        return keras.ops.convert_to_numpy(variable.value)
    return np.asarray(variable.value)


def _write_array(archive: zipfile.ZipFile, name: str, value: np.ndarray) -> None:
    # One `.npy` member at a time, as `np.savez` lays them out, each written
    # from the array's own bytes (`np.lib.format.write_array` copies them in
    # 16 MiB chunks). With `_host_array`, saving MiniLM and its AdamW state
    # rose 44 MiB above the resident memory, against 131 MiB with copies.
    value = np.asarray(value, order="C")
    if value.dtype.hasobject:
        raise ValueError(f"checkpoint array {name!r} holds Python objects ({value.dtype}); "
                         f"it needs a numeric, boolean or string dtype.")
    header = np.lib.format.header_data_from_array_1_0(value)
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(value.reshape(-1).view(np.uint8).data)


def restore_checkpoint(path: str | os.PathLike, model: keras.Model) -> dict:
    """Loads a checkpoint written by `save_checkpoint` into a compiled model.

    Builds the model's optimizer first if needed, so its variables exist.
    On PyTorch it also resets torch's global generators to their saved
    states; whatever draws from them before training continues must be
    undone with `set_global_rng_state` (the runner does, see `RunRecorder`).

    Returns:
        The `state` dict stored with the checkpoint.

    Raises:
        ValueError: the checkpoint's variables do not match the model's in
            number or shape (a different model or preset).

    Example (a checkpoint of a 2-unit layer does not fit a 3-unit one):

    >>> import pathlib, tempfile
    >>> import keras
    >>> from keras_transformer.training.checkpoint import restore_checkpoint, save_checkpoint
    >>> def model(units):
    ...     m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    ...     m.compile(optimizer="adamw", loss="mse")
    ...     m.optimizer.build(m.trainable_variables)
    ...     return m
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
    >>> save_checkpoint(path, model(2), {"step": 500})
    >>> restore_checkpoint(path, model(2))
    {'step': 500}
    >>> restore_checkpoint(path, model(3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Checkpoint ... stores model/00000 with shape (4, 2), but ... has shape (4, 3).
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    with np.load(path) as stored:
        for prefix, variables in _variable_groups(model).items():
            keys = sorted(k for k in stored.files if k.startswith(prefix + "/"))
            if len(keys) != len(variables):
                raise ValueError(
                    f"Checkpoint {path} holds {len(keys)} {prefix} variables, "
                    f"but the model has {len(variables)}. It was written by a "
                    f"different model or preset."
                )
            for key, variable in zip(keys, variables):
                value = stored[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(
                        f"Checkpoint {path} stores {key} with shape "
                        f"{value.shape}, but the model's variable "
                        f"{variable.path} has shape {variable.shape}."
                    )
                variable.assign(value)
        set_global_rng_state({k: stored[k] for k in stored.files if k.startswith(_RNG)})
        return json.loads(str(stored["state"]))


def checkpoint_state(path: str | os.PathLike) -> dict:
    """The `state` dict stored with a checkpoint, read without a model or its variables.

    Example:

    >>> import pathlib, tempfile
    >>> import keras
    >>> from keras_transformer.training.checkpoint import checkpoint_state, save_checkpoint
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adamw", loss="mse")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
    >>> save_checkpoint(path, model, {"step": 500, "history": [{"step": 500, "val_loss": 2.5}]})
    >>> checkpoint_state(path)["history"]
    [{'step': 500, 'val_loss': 2.5}]
    """
    with np.load(path) as stored:
        return json.loads(str(stored["state"]))


def _variable_groups(model: keras.Model) -> dict:
    return {"model": model.variables, "optimizer": model.optimizer.variables}


_RNG = "rng/"


def global_rng_state() -> dict[str, np.ndarray]:
    """Returns the backend's process-wide random state as arrays ({} if none).

    Only the torch backend draws from process-wide generators in training;
    the other backends' random ops all read Keras seed variables.

    Example:

    >>> import keras
    >>> from keras_transformer.training.checkpoint import global_rng_state
    >>> state = global_rng_state()
    >>> "rng/torch_cpu" in state if keras.backend.backend() == "torch" else state == {}
    True
    """
    if keras.backend.backend() != "torch":
        return {}
    import torch

    arrays = {f"{_RNG}torch_cpu": torch.get_rng_state().numpy()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"{_RNG}torch_cuda_{i:03d}"] = state.numpy()
    return arrays


def set_global_rng_state(arrays: dict[str, np.ndarray]) -> None:
    """Restores a state from `global_rng_state`; an empty dict does nothing.

    Example (on PyTorch the draws after a restore repeat; elsewhere nothing global draws):

    >>> import keras
    >>> from keras_transformer.training.checkpoint import global_rng_state, set_global_rng_state
    >>> def draw():  # what a seedless PyTorch dropout draws from
    ...     return __import__("torch").rand(3).tolist() if keras.backend.backend() == "torch" else None
    >>> state = global_rng_state()
    >>> first = draw()
    >>> set_global_rng_state(state)
    >>> draw() == first
    True
    """
    if keras.backend.backend() != "torch" or not arrays:
        return
    import torch

    torch.set_rng_state(torch.from_numpy(arrays[f"{_RNG}torch_cpu"]))
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            state = arrays.get(f"{_RNG}torch_cuda_{i:03d}")
            if state is not None:  # a checkpoint from a machine with fewer GPUs
                torch.cuda.set_rng_state(torch.from_numpy(state), device=i)

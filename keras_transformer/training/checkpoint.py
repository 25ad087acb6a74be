"""Checkpoints: every model and optimizer variable in one atomically written file."""

import json
import os
import pathlib

import keras
import numpy as np


def save_checkpoint(path: str | os.PathLike, model: keras.Model, state: dict) -> None:
    """Writes `model.variables`, `model.optimizer.variables` and `state`.

    `model.variables` includes the random-seed states of dropout layers and
    the optimizer's variables include its iteration count, so a restored run
    draws the same dropout masks and learning rates as an uninterrupted one.
    `state` is any JSON-serializable dict (the runner stores the step and
    the history so far).

    The file is written under a temporary name, synced, then moved into place
    with `os.replace`, which is atomic: a kill at any moment leaves either the
    previous checkpoint or the new one, never a partial file.

    Example:

    >>> save_checkpoint("run/checkpoint.npz", model, {"step": 500})  # doctest: +SKIP
    >>> restore_checkpoint("run/checkpoint.npz", model)["step"]  # doctest: +SKIP
    500
    """
    path = pathlib.Path(path)
    arrays = {"state": np.array(json.dumps(state))}
    for prefix, variables in _variable_groups(model).items():
        for i, variable in enumerate(variables):
            arrays[f"{prefix}/{i:05d}"] = keras.ops.convert_to_numpy(variable.value)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def restore_checkpoint(path: str | os.PathLike, model: keras.Model) -> dict:
    """Loads a checkpoint written by `save_checkpoint` into a compiled model.

    Builds the model's optimizer first if needed, so its variables exist.

    Returns:
        The `state` dict stored with the checkpoint.

    Raises:
        ValueError: the checkpoint's variables do not match the model's in
            number or shape (a different model or preset).
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
        return json.loads(str(stored["state"]))


def _variable_groups(model: keras.Model) -> dict:
    return {"model": model.variables, "optimizer": model.optimizer.variables}

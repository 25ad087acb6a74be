"""Checkpoints: complete state, atomic writes, clear mismatch errors."""

import keras
import numpy as np
import pytest

from keras_transformer.training import Preset
from keras_transformer.training import build_optimizer
from keras_transformer.training import restore_checkpoint
from keras_transformer.training import save_checkpoint
from keras_transformer.training import checkpoint as checkpoint_module


def _compiled_model(seed=0, width=8):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(width), keras.layers.Dropout(0.5),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=build_optimizer(Preset(steps=10, warmup_steps=2), model), loss="mse")
    return model


def _trained_model(seed=0, width=8):
    model = _compiled_model(seed, width)
    x = np.random.default_rng(seed).normal(size=(16, 4))
    model.fit(x, x[:, :1], epochs=1, batch_size=8, verbose=0)
    return model


def _values(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def test_round_trip_restores_every_variable(tmp_path):
    """Restoring gives back all model variables (seed states too), optimizer variables and state."""
    source, target = _trained_model(seed=0), _trained_model(seed=1)
    save_checkpoint(tmp_path / "ckpt.npz", source, {"step": 2, "note": "x"})
    assert restore_checkpoint(tmp_path / "ckpt.npz", target) == {"step": 2, "note": "x"}
    assert any("seed_generator" in v.path for v in target.variables)
    for a, b in zip(_values(source.variables), _values(target.variables)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_values(source.optimizer.variables), _values(target.optimizer.variables)):
        np.testing.assert_array_equal(a, b)
    assert int(target.optimizer.iterations) == 2


def test_a_checkpoint_taken_before_the_first_step_restores(tmp_path):
    """A model compiled but not yet trained (its optimizer unbuilt) saves a checkpoint that restores into a trained one."""
    fresh = _compiled_model(seed=0)
    save_checkpoint(tmp_path / "ckpt.npz", fresh, {"step": 0})
    target = _trained_model(seed=1)
    assert restore_checkpoint(tmp_path / "ckpt.npz", target) == {"step": 0}
    for a, b in zip(_values(fresh.trainable_variables), _values(target.trainable_variables)):
        np.testing.assert_array_equal(a, b)
    assert int(target.optimizer.iterations) == 0


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """A write that dies midway leaves the previous checkpoint intact and no stray file."""
    model = _trained_model()
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, {"step": 1})
    before = path.read_bytes()

    write_array = checkpoint_module._write_array
    written = []

    def dies_midway(archive, name, value):
        if len(written) == 2:  # after the state and one variable are in the file
            raise KeyboardInterrupt
        written.append(name)
        write_array(archive, name, value)

    monkeypatch.setattr(checkpoint_module, "_write_array", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, {"step": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def test_mismatched_model_is_a_value_error(tmp_path):
    """Restoring into a model with different shapes raises ValueError naming the variable."""
    save_checkpoint(tmp_path / "ckpt.npz", _trained_model(width=8), {"step": 1})
    with pytest.raises(ValueError, match="shape"):
        restore_checkpoint(tmp_path / "ckpt.npz", _trained_model(width=6))


def test_an_uncompiled_model_is_a_value_error(tmp_path):
    """A checkpoint holds the optimizer's state, so saving a model without an optimizer is a ValueError."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="must be compiled with an optimizer"):
        save_checkpoint(tmp_path / "checkpoint.npz", model, {"step": 0})

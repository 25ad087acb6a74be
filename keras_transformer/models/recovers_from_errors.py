"""Models that still work after a `fit`, `evaluate` or `predict` that raised.

Keras leaves a model broken when one of these loops fails while its first step
is traced (a sequence longer than the model's `max_length`, say) or is
interrupted there (Ctrl-C while XLA compiles it):

- On JAX, the loops run on a copy of the model's state and empty the
  variables meanwhile (their values are set to `None`, to save memory).
  `evaluate` and `predict` put the state back only when they end normally, and
  `fit` only once a batch has run. The trained weights are lost, and the next
  call fails with `TypeError: 'NoneType' object is not callable`.
- On TensorFlow, the step's `tf.function` counts the failed trace as its first
  call; when the next trace creates variables (the optimizer's moments), it
  fails with `Creating variables on a non-first call to a function`.

Every model runs these loops under `recovered_on_error` (through
`BuildsOnDemand`), which keeps a reference to each variable's value first. If the loop raises, every variable it left empty gets its value back
(variables the loop itself created, an optimizer's moments or a metric's totals
on the first `fit`, start again from zero, as they did when it created them),
and the compiled steps are dropped, to be made anew by the next loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras


def _state_variables(model: keras.Model) -> list[keras.Variable]:
    """The variables Keras's JAX loops empty: weights, metrics and optimizer state."""
    variables = list(model.variables) + list(model.metrics_variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return variables


def _is_emptied(variable: keras.Variable) -> bool:
    # An emptied variable has no value to read: Keras calls its initializer,
    # which it dropped once the variable was first set.
    try:
        variable.value
    except TypeError:
        return True
    return False


@contextlib.contextmanager
def recovered_on_error(model: keras.Model) -> Iterator[None]:
    """Refill the variables an enclosed Keras loop emptied and drop its steps, if it raises.

    The loop's error still reaches the caller; a loop that ends normally is
    untouched (see the module docstring).

    Example: a too-long sequence fails `predict`, and the model still predicts.
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> gpt = kt.models.GPT(vocab_size=10, max_length=4, num_layers=1, num_heads=1,
    ...                     hidden_dim=4, intermediate_dim=8)
    >>> try:
    ...     gpt.predict(np.ones((1, 6), "int32"), verbose=0)  # runs under recovered_on_error
    ... except ValueError as error:
    ...     print("exceeds `max_length`" in str(error))
    True
    >>> gpt.predict(np.ones((1, 4), "int32"), verbose=0).shape
    (1, 4, 10)
    """
    saved = {id(variable): variable.value for variable in _state_variables(model)}
    try:
        yield
    except BaseException:
        for variable in _state_variables(model):
            if _is_emptied(variable):
                value = saved.get(id(variable))
                if value is None:
                    value = keras.ops.zeros(variable.shape, variable.dtype)
                variable.assign(value)
        model.train_function = model.test_function = model.predict_function = None
        raise

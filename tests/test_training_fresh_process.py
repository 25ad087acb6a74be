"""`run_in_fresh_process` runs a function in a new interpreter and hands back its result or its error."""

from __future__ import annotations

import os

import pytest

from keras_transformer.training.fresh_process import run_in_fresh_process


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(3)


def _touch_and_report(size_mb: int) -> tuple[int, int]:
    """Write `size_mb` MiB and return (this process's id, its parent's id)."""
    block = bytearray(size_mb * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    return os.getpid(), os.getppid()


def test_result_and_arguments_travel_both_ways():
    """Positional and keyword arguments reach the function, and its return value comes back."""
    assert run_in_fresh_process(divmod, 17, 5) == (3, 2)
    assert run_in_fresh_process(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


def test_the_function_runs_in_a_child_of_this_process():
    """The call runs in a process of its own, started by this one."""
    child, parent = run_in_fresh_process(_touch_and_report, 1)
    assert child != os.getpid() and parent == os.getpid()


def test_an_error_in_the_child_is_raised_here():
    """An exception raised by the function is raised to the caller, with its type and message."""
    with pytest.raises(ValueError, match="bad preset"):
        run_in_fresh_process(_fails, "bad preset")


def test_a_child_that_dies_is_reported_by_name():
    """A child that ends without a result raises a RuntimeError naming the function."""
    with pytest.raises(RuntimeError, match="_dies ended without a result"):
        run_in_fresh_process(_dies)

"""Run a phase of a chapter in a fresh Python process, so its memory goes back when it ends."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable
from typing import Any


def run_in_fresh_process(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls `function(*args, **kwargs)` in a new Python process and returns its result.

    A chapter that trains several models in turn runs each one this way. A
    fresh Keras session is not enough: TensorFlow keeps every XLA program it
    compiled until the process exits (there is no call that evicts them), and
    each finished run of a small BERT left about 0.2 GB behind, so a chapter
    of fifteen runs climbed from 2 to 5 GB. A process that ends returns all
    of its memory, whatever the framework kept.

    The process is started with `spawn`, as a new interpreter: nothing of
    this process's framework state is shared, on any backend. `function`, its
    arguments and its result travel by pickle, so `function` must be defined
    at a module's top level (a chapter script's own functions qualify: the
    child imports the script as a module, without running its `__main__`
    block). Output goes to this process's standard output and error; an
    exception raised in the child is raised here, with the child's traceback
    attached as its cause.

    Example:
    >>> import os
    >>> from keras_transformer.training.fresh_process import run_in_fresh_process
    >>> run_in_fresh_process(os.getpid) != os.getpid()
    True
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(function, *args, **kwargs).result()
        except concurrent.futures.process.BrokenProcessPool as error:
            name = getattr(function, "__qualname__", repr(function))
            raise RuntimeError(
                f"The process running {name} ended without a result (killed, out of memory, "
                f"or it called os._exit); its output above says how far it got."
            ) from error

"""Run a phase of a chapter in a fresh Python process, so its memory goes back when it ends."""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import os
import pathlib
import pickle
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

# Set by the phase supervisor (`run_phases`) in each process it starts: the
# folder where finished phases leave their results.
JOURNAL = "KT_PHASE_JOURNAL"
NEXT_PHASE = 75  # a worker's exit status after it ran one phase of several
BEGAN = "KT_MAIN_BEGAN"  # `time.time()` when `run_phases` first called `main`
SUPERVISOR = pathlib.Path(__file__).with_name("phase_supervisor.py")
_calls = itertools.count()  # this process's `run_in_fresh_process` calls so far


def run_in_fresh_process(function: Callable[..., Any], /, *args: Any,
                         environment: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
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

    Under `run_phases` the call is served by the phase supervisor instead:
    the result of a phase that already ran is read back, and the first new
    phase runs in this process, which then ends so that the next one starts
    afresh.

    `environment` holds variables for the new process alone, such as
    settings a framework reads once, when it is imported (chapter 03's RNN
    trains without TensorFlow's oneDNN kernels). A variable already set here,
    by the user or the shell, keeps its value. Under `run_phases` a process
    whose phase needs a variable it lacks starts itself again with it
    (`exec`), replaying the phases before from their records.

    Example:
    >>> import os
    >>> from keras_transformer.training.fresh_process import run_in_fresh_process
    >>> run_in_fresh_process(os.getpid) != os.getpid()
    True
    """
    missing = _missing_variables(environment)
    if os.environ.get(JOURNAL):
        return _journal_call(pathlib.Path(os.environ[JOURNAL]), function, args, kwargs, missing)
    context = multiprocessing.get_context("spawn")
    os.environ.update(missing)  # a spawned process starts with this process's environment
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(function, *args, **kwargs).result()
    except concurrent.futures.process.BrokenProcessPool as error:
        name = getattr(function, "__qualname__", repr(function))
        raise RuntimeError(
            f"The process running {name} ended without a result (killed, out of memory, "
            f"or it called os._exit); its output above says how far it got."
        ) from error
    finally:
        for name in missing:  # they were for the new process alone
            del os.environ[name]


def _missing_variables(environment: Mapping[str, str] | None) -> dict[str, str]:
    """The variables of `environment` that this process's environment lacks."""
    for name, value in (environment or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(
                f"`environment` must map variable names to strings; got {name!r}: {value!r}."
            )
    return {name: value for name, value in (environment or {}).items() if name not in os.environ}


def run_phases(main: Callable[[], Any]) -> Any:
    """Runs a chapter's `main` so that the process the user started holds no framework.

    `run_in_fresh_process` alone leaves the starting process waiting beside
    each run with TensorFlow imported (0.27 GB of its own on a CPU). Called
    as a script's entry point, this replaces that process with a small
    supervisor (`phase_supervisor.py`, the standard library only) that runs
    the script again and again, each time in a new process: each of those
    replays the phases already done from their recorded results, runs the
    next one and ends, until `main` returns. Each phase therefore still runs
    in a fresh process, and only the supervisor waits beside it. `main` must
    call its phases in the same order each time (a chapter's do: they
    follow from its command line), and their results must pickle.

    It simply calls `main()` in a process the supervisor started, on a
    system without `exec` (Windows), and where this interpreter was not
    started to run `main`'s script (a notebook's `%run`, `runpy`): replacing
    that process would end whatever else it was doing.

        if __name__ == "__main__":
            training.run_phases(main)

    Example (a doctest's interpreter was started for pytest, so `main` simply runs here):

    >>> from keras_transformer.training.fresh_process import run_phases
    >>> def main():
    ...     return "done"
    >>> run_phases(main)
    'done'
    """
    if not callable(main):
        raise ValueError(
            f"`main` must be the chapter's main function, called with no arguments "
            f"(`training.run_phases(main)`, not `run_phases(main())`); got {main!r}."
        )
    if os.environ.get(JOURNAL) or os.name != "posix" or not process_started_for(main):
        return main()
    os.environ[BEGAN] = repr(time.time())  # kept through exec, inherited by every run
    command = [sys.executable, *sys.orig_argv[1:]]  # this script as it was started
    _replace_process([sys.executable, "-I", str(SUPERVISOR), str(NEXT_PHASE), JOURNAL, *command])


def process_started_for(main: Callable) -> bool:
    """Whether this interpreter's command line is `python [options] <main's script> <sys.argv[1:]>`.

    `main` is any function or class defined in the script.

    Example (this interpreter runs pytest, not fresh_process.py):

    >>> from keras_transformer.training.fresh_process import process_started_for, run_phases
    >>> process_started_for(run_phases)
    False
    """
    script = getattr(sys.modules.get(main.__module__), "__file__", None)
    first = len(sys.orig_argv) - len(sys.argv)  # where the script's own arguments begin, minus one
    return (script is not None and first >= 1
            and os.path.realpath(sys.orig_argv[first]) == os.path.realpath(script)
            and sys.orig_argv[first + 1:] == sys.argv[1:])


def main_began() -> float:
    """`time.time()` when the chapter's `main` began: under `run_phases`, in its first process.

    A chapter's wall time is `time.time() - main_began()`; a clock started
    inside `main` would restart in each process `run_phases` starts.
    Elsewhere it is the time of this call.

    Example (`run_phases` leaves its start time in the environment of every process it starts):

    >>> import os
    >>> from unittest import mock
    >>> from keras_transformer.training.fresh_process import BEGAN, main_began
    >>> with mock.patch.dict(os.environ, {BEGAN: "1700000000.5"}):
    ...     main_began()
    1700000000.5
    """
    return float(os.environ.get(BEGAN) or time.time())


def _journal_call(journal: pathlib.Path, function: Callable[..., Any], args: tuple,
                  kwargs: dict, missing: dict[str, str]) -> Any:
    """This process's next phase: its recorded result, or run here, recorded, and the process ended.

    A phase that needs variables this process lacks is run by this process
    started again with them, which replays the phases before it.
    """
    record = journal / f"{next(_calls)}.pickle"
    if record.exists():
        with record.open("rb") as file:
            return pickle.load(file)
    if missing:
        os.environ.update(missing)
        _replace_process([sys.executable, *sys.orig_argv[1:]])
    result = function(*args, **kwargs)
    partial = record.with_suffix(".partial")
    with partial.open("wb") as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(record)  # a record is whole or absent
    raise SystemExit(NEXT_PHASE)


def _replace_process(argv: list[str]) -> None:
    """Runs `argv` in place of this process (`exec`), its pending output written first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)

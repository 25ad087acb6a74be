"""`run_in_fresh_process` runs a function in a new interpreter and hands back its result or its error;
`run_phases` runs a chapter's phases that way too, beside a supervisor that holds no framework."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from keras_transformer.training.fresh_process import NEXT_PHASE, run_in_fresh_process, run_phases
from keras_transformer.training.phase_supervisor import supervise
from tests.helpers import needs_proc


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


PHASED_SCRIPT = '''
import json, os, pathlib, sys
import keras_transformer  # TensorFlow, as a chapter imports it
from keras_transformer import training

def phase(x, fail=False):
    if fail:
        raise ValueError("bad preset")
    maps = pathlib.Path(f"/proc/{os.getppid()}/maps").read_text()
    return {"x": x + 1, "pid": os.getpid(), "parent": os.getppid(),
            "parent_maps_tensorflow": "tensorflow" in maps, "began": training.main_began(),
            "settings": settings()}

def settings():
    return [os.environ.get(name) for name in ("KT_PHASE_SETTING", "KT_USER_SETTING")]

def main():
    first = training.run_in_fresh_process(phase, 1)
    second = training.run_in_fresh_process(
        phase, first["x"], fail=len(sys.argv) > 1,
        environment={"KT_PHASE_SETTING": "phase", "KT_USER_SETTING": "phase"})
    print("RESULT " + json.dumps({"first": first, "second": second, "pid": os.getpid(),
                                  "began": training.main_began(), "settings": settings()}))

if __name__ == "__main__":
    training.run_phases(main)
'''


def _run_phased(tmp_path, *args: str, by_runpy: bool = False
                ) -> tuple[subprocess.CompletedProcess, int]:
    """Run PHASED_SCRIPT with `args` as a chapter is run (or through `runpy`, as a notebook's
    `%run` does); returns its result and its process id."""
    script = tmp_path / "phased.py"
    script.write_text(PHASED_SCRIPT)
    env = {**os.environ, "TMPDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3",
           "KT_USER_SETTING": "user"}
    command = [sys.executable, str(script), *args]
    if by_runpy:
        command = [sys.executable, "-c", f"import runpy, sys; sys.argv = {[str(script), *args]!r}; "
                   f"runpy.run_path({str(script)!r}, run_name='__main__')"]
    process = subprocess.Popen(command, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), process.pid


def assert_phase_settings(result: dict) -> None:
    """The second phase alone sees its `environment`, and the user's own setting wins over it."""
    assert result["first"]["settings"] == [None, "user"]
    assert result["second"]["settings"] == ["phase", "user"]
    assert result["settings"] == [None, "user"]


@needs_proc
def test_run_phases_runs_each_phase_afresh_beside_a_supervisor_without_tensorflow(tmp_path):
    """Under `run_phases`, each phase runs in a new child of the process the user started, which by then maps no TensorFlow library; results flow from phase to phase, every process agrees on when `main` began, and a phase's `environment` reaches that phase alone."""
    started = time.time()
    done, root = _run_phased(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    first, second = result["first"], result["second"]
    assert (first["x"], second["x"]) == (2, 3)
    assert len({first["pid"], second["pid"], result["pid"], root}) == 4
    assert first["parent"] == second["parent"] == root
    assert not first["parent_maps_tensorflow"] and not second["parent_maps_tensorflow"]
    assert_phase_settings(result)
    assert started < first["began"] == second["began"] == result["began"] < time.time()
    assert not list(tmp_path.glob("keras-transformer-phases-*")), "the journal outlived the run"


@needs_proc
def test_run_phases_in_a_process_started_for_something_else_runs_main_in_place(tmp_path):
    """Where the interpreter was not started to run the script itself (`runpy`, a notebook's `%run`), `run_phases` replaces nothing: `main` runs in that process and its phases in children of it, each with its own `environment`."""
    done, root = _run_phased(tmp_path, by_runpy=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["pid"] == root
    assert result["first"]["parent"] == result["second"]["parent"] == root
    assert (result["first"]["x"], result["second"]["x"]) == (2, 3)
    assert_phase_settings(result)


@needs_proc
def test_run_phases_ends_with_a_failing_phases_error(tmp_path):
    """A phase that raises ends the whole run with a failure status and the error's message, and leaves no journal behind."""
    done, _ = _run_phased(tmp_path, "fail")
    assert done.returncode == 1
    assert "ValueError: bad preset" in done.stderr
    assert "RESULT" not in done.stdout
    assert not list(tmp_path.glob("keras-transformer-phases-*"))


@pytest.mark.parametrize("code, status", [
    ("import sys; sys.exit(4)", 4),  # a failure passes through
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9),  # as a shell reports it
    (f"import sys; sys.exit({NEXT_PHASE})", 1),  # 'one more phase' without a record: no endless loop
])
def test_the_supervisor_reports_how_a_run_ended(code, status):
    """The supervisor ends with its run's status, a signal's as 128 + its number, and stops a run that claims a phase it did not record."""
    assert supervise(NEXT_PHASE, "UNUSED_JOURNAL", [sys.executable, "-c", code]) == status


def test_an_environment_wants_strings():
    """An `environment` value that is not a string is a ValueError naming the variable, before any process starts."""
    with pytest.raises(ValueError, match=r"`environment` must map variable names to strings; got 'KT_X': 0"):
        run_in_fresh_process(os.getpid, environment={"KT_X": 0})


def test_run_phases_wants_the_main_function_itself():
    """`run_phases` given something other than a function (say, main's result) is a ValueError that shows the right call."""
    with pytest.raises(ValueError, match=r"`main` must be the chapter's main function.*not `run_phases\(main\(\)\)`"):
        run_phases({"f1": 9.3})

"""The command line that starts a chapter script as several processes on this machine, one cluster.

A module of its own, imported by nothing in the package, so that `python -m
keras_transformer.training.launch` runs it without a second copy already
imported (Python warns about that for `-m`). It needs the standard library
only: `-m` imports the package, TensorFlow with it, so the process then
replaces itself with a fresh interpreter running this file alone, which
waits beside the workers without holding a framework (0.66 GB and 5 s of
imports otherwise).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time


def _free_port() -> int:
    """A TCP port that nothing on this machine listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(script: str, args: list[str], num_processes: int, env: dict | None = None) -> int:
    """Runs `num_processes` copies of a chapter script on this machine as one cluster.

    Process 0 prints to this terminal; the others' output goes to temporary
    files and is printed only when one of them fails. Returns the first
    non-zero exit status, else 0. If any process fails, the others are
    stopped. From the command line:

        python -m keras_transformer.training.launch --num-processes 2 chapters/04_gpt.py --preset cpu

    Example (a script whose process 1 fails with status 3; each process gets `--process-id i` last):

    >>> import pathlib, tempfile
    >>> from keras_transformer.training.launch import launch
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "worker.py"
    >>> _ = script.write_text("import sys\\nsys.exit(3 if sys.argv[-1] == '1' else 0)\\n")
    >>> launch(str(script), [], num_processes=1), launch(str(script), [], num_processes=2)
    (0, 3)
    """
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"`num_processes` must be an integer >= 1; got {num_processes!r}.")
    coordinator = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "KERAS_BACKEND": "jax", **(env or {})}
    processes, logs = [], []
    for index in range(num_processes):
        log = None if index == 0 else tempfile.TemporaryFile("w+")
        command = [sys.executable, script, *args, "--coordinator", coordinator,
                   "--num-processes", str(num_processes), "--process-id", str(index)]
        processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log, text=True))
        logs.append(log)
    codes = _wait_for_all_or_a_failure(processes)
    for index, (code, log) in enumerate(zip(codes, logs)):
        if code and log is not None:
            log.seek(0)
            print(f"--- process {index} exited with {code}:\n{log.read()[-5000:]}", file=sys.stderr)
        if log is not None:
            log.close()
    return next((code for code in codes if code), 0)


def _wait_for_all_or_a_failure(processes: list[subprocess.Popen]) -> list[int | None]:
    """The processes' exit codes once all succeed or one fails; then the rest are killed (None)."""
    codes = [p.poll() for p in processes]
    while None in codes and not any(codes):
        time.sleep(0.2)
        codes = [p.poll() for p in processes]
    for process in processes:
        if process.poll() is None:  # it would wait for the failed one forever
            process.kill()
            process.wait()
    return codes


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m keras_transformer.training.launch",
        description="Trains a chapter script data-parallel across processes on this machine (JAX).",
    )
    parser.add_argument("--num-processes", type=int, default=2, help="processes (default: 2)")
    parser.add_argument("script", help="the chapter script, e.g. chapters/04_gpt.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own options")
    options = parser.parse_args(argv)
    return launch(options.script, options.args, options.num_processes)


if __name__ == "__main__":
    if os.name == "posix" and "keras_transformer" in sys.modules:  # started by `-m`
        os.execv(sys.executable, [sys.executable, "-I", __file__, *sys.argv[1:]])
    sys.exit(_main())

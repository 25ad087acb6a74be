"""The phase supervisor of `training.run_phases`: reruns a chapter script, one phase per process.

Run as `python -I phase_supervisor.py NEXT_PHASE JOURNAL_VARIABLE COMMAND...`
in place of the process the user started. It imports the standard library
only, so it holds a few MiB while the chapter's runs hold the rest. It makes
a journal folder, then starts COMMAND with JOURNAL_VARIABLE naming it, again
and again: a run that ends with status NEXT_PHASE has recorded one more
phase's result there; any other status ends the chapter with that status.
The journal is removed at the end.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile


def supervise(next_phase: int, journal_variable: str, command: list) -> int:
    """Runs `command` until it ends with a status other than `next_phase`; returns that status.

    Example (each run records a phase in the journal; the third ends the chapter with status 0):

    >>> import signal, sys
    >>> from keras_transformer.training.phase_supervisor import supervise
    >>> code = ("import os, sys; j = os.environ['JOURNAL']; n = len(os.listdir(j)); "
    ...         "open(os.path.join(j, str(n)), 'w').close(); sys.exit(75 if n < 2 else 0)")
    >>> handler = signal.getsignal(signal.SIGTERM)  # supervise forwards SIGTERM to its worker
    >>> supervise(75, "JOURNAL", [sys.executable, "-c", code])
    0
    >>> _ = signal.signal(signal.SIGTERM, handler)
    """
    journal = tempfile.mkdtemp(prefix="keras-transformer-phases-")
    env = dict(os.environ, **{journal_variable: journal})
    try:
        while True:
            recorded = len(os.listdir(journal))
            worker = subprocess.Popen(command, env=env)
            # A polite stop of this process stops the run too; Ctrl-C reaches both already.
            signal.signal(signal.SIGTERM, lambda signum, frame, w=worker: w.terminate())
            status = _wait(worker)
            if status != next_phase:
                return 128 - status if status < 0 else status  # killed by a signal: as a shell says
            if len(os.listdir(journal)) <= recorded:
                print(f"phase supervisor: {command} ended with status {next_phase} without "
                      f"recording a phase in {journal}", file=sys.stderr)
                return 1
    finally:
        shutil.rmtree(journal, ignore_errors=True)


def _wait(worker: subprocess.Popen) -> int:
    """The worker's exit status; Ctrl-C here waits for the worker, which got it too."""
    while True:
        try:
            return worker.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(supervise(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))

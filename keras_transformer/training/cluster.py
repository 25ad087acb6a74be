"""Data parallelism across processes: the cluster a run joins, and a launcher for one machine.

Each process runs the same chapter script with its `process_id`. They join
one JAX runtime (`keras.distribution.initialize`, which calls
`jax.distributed.initialize`), so `keras.distribution.DataParallel` sees
every process's devices; each process feeds its own slice of every global
batch and the gradients are summed across processes inside the compiled
step. On CPUs the processes exchange them through Gloo.

Example, two processes on this machine (what `launch` does for you):

    export KERAS_BACKEND=jax
    python chapters/04_gpt.py --preset cpu --coordinator localhost:1234 --num-processes 2 --process-id 0 &
    python chapters/04_gpt.py --preset cpu --coordinator localhost:1234 --num-processes 2 --process-id 1
"""

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time

import keras


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands in a multi-process run.

    Args:
        num_processes: how many processes train together (1: this one alone).
        process_id: this process's index, 0 to `num_processes - 1`; process 0
            writes the run folder, process i its `process-i` subfolder.
        coordinator: `host:port` of process 0, which every process reaches.

    >>> Cluster(num_processes=2, process_id=1, coordinator="localhost:1234").process_id
    1
    >>> Cluster(num_processes=2, process_id=2, coordinator="localhost:1234")
    Traceback (most recent call last):
    ...
    ValueError: process_id must be in 0..1 for num_processes=2, got 2.
    """

    num_processes: int = 1
    process_id: int = 0
    coordinator: str | None = None

    def __post_init__(self):
        if self.num_processes < 1:
            raise ValueError(f"num_processes must be at least 1, got {self.num_processes}.")
        if not 0 <= self.process_id < self.num_processes:
            raise ValueError(
                f"process_id must be in 0..{self.num_processes - 1} for "
                f"num_processes={self.num_processes}, got {self.process_id}."
            )
        if self.num_processes > 1 and not self.coordinator:
            raise ValueError(
                f"num_processes={self.num_processes} needs a coordinator, the "
                f"host:port of process 0 (--coordinator); got {self.coordinator!r}."
            )


def join(cluster: Cluster) -> None:
    """Connects this process to the others; call it before the backend computes anything.

    A single-process cluster is a no-op. Multi-process training needs the
    JAX backend (`KERAS_BACKEND=jax`): TensorFlow and PyTorch raise.
    """
    if cluster.num_processes == 1:
        return
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"num_processes={cluster.num_processes} needs the jax backend "
            f"(KERAS_BACKEND=jax); got {backend!r}."
        )
    import jax

    # CPU devices of different processes talk through Gloo; GPUs use NCCL either way.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)


def process_rank() -> tuple[int, int]:
    """Returns `(process index, process count)` of the backend's runtime: `(0, 1)` alone."""
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


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

        python -m keras_transformer.training.cluster --num-processes 2 chapters/04_gpt.py --preset cpu
    """
    coordinator = f"127.0.0.1:{_free_port()}"
    Cluster(num_processes, coordinator=coordinator)  # refuses a count below 1
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
        prog="python -m keras_transformer.training.cluster",
        description="Trains a chapter script data-parallel across processes on this machine (JAX).",
    )
    parser.add_argument("--num-processes", type=int, default=2, help="processes (default: 2)")
    parser.add_argument("script", help="the chapter script, e.g. chapters/04_gpt.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own options")
    options = parser.parse_args(argv)
    return launch(options.script, options.args, options.num_processes)


if __name__ == "__main__":
    sys.exit(_main())

"""Run chapter scripts in fresh processes, as a user would, and read their run folders."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A chapter must fit a student's laptop (8 GB, beside a browser and an editor).
MEMORY_CEILING_MB = 2048


def start_chapter(script: str, *args: str) -> subprocess.Popen:
    """Start `python chapters/<script> args...` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "chapters" / script), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def run_chapter(script: str, *args: str, timeout: float = 300,
                ceiling_mb: float = MEMORY_CEILING_MB) -> str:
    """Run a chapter to the end; return its output, failing with its tail if it fails or outgrows `ceiling_mb`."""
    with memory_ceiling(script, ceiling_mb):
        process = start_chapter(script, *args)
        output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-4000:]
    return output


def children_peak_mb() -> float:
    """The largest peak resident set, in MiB, of the child processes this process has waited for."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextlib.contextmanager
def memory_ceiling(script: str, ceiling_mb: float = MEMORY_CEILING_MB):
    """Fail if the child process run inside the block peaks above `ceiling_mb`.

    The kernel keeps only the largest peak of all waited-for children: when it
    grew during the block, the new value is this run's own peak.
    """
    before = children_peak_mb()
    yield
    after = children_peak_mb()
    assert after <= before or after < ceiling_mb, (
        f"{script} peaked at {after:,.0f} MiB resident, over the {ceiling_mb:,} MiB ceiling"
    )


def kill_after_first_checkpoint(process: subprocess.Popen, run_dir: pathlib.Path) -> int:
    """SIGKILL `process` once a checkpoint exists in `run_dir`; return the step it had reached."""
    deadline = time.time() + 240
    while not (run_dir / "checkpoint.npz").exists() and process.poll() is None:
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate()
    assert (run_dir / "checkpoint.npz").exists(), output[-4000:]
    # The checkpoint is written before metrics.json, so the kill may land
    # between the two: the step the run resumes from is the checkpoint's.
    with np.load(run_dir / "checkpoint.npz") as stored:
        return json.loads(str(stored["state"]))["step"]


def metrics(run_dir: pathlib.Path) -> dict:
    return json.loads((pathlib.Path(run_dir) / "metrics.json").read_text())

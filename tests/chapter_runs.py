"""Run chapter scripts in fresh processes, as a user would, and read their run folders."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def start_chapter(script: str, *args: str) -> subprocess.Popen:
    """Start `python chapters/<script> args...` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "chapters" / script), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def run_chapter(script: str, *args: str, timeout: float = 300) -> str:
    """Run a chapter to the end; return its output, failing with its tail if it fails."""
    process = start_chapter(script, *args)
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-4000:]
    return output


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

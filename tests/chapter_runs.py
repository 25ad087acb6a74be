"""Run chapter scripts (and short scripts) in fresh processes, as a user would, and read their run folders."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from keras_transformer.training.script_module import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A chapter must fit a student's laptop (8 GB, beside a browser and an editor).
MEMORY_CEILING_MB = 2048


def start_chapter(script: str, *args: str) -> subprocess.Popen:
    """Start `python chapters/<script> args...` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return start_group([sys.executable, str(ROOT / "chapters" / script), *args], cwd=ROOT, env=env)


def assert_script_prints_ok(script: str, backend: str) -> None:
    """Run `script` with `python -c` on Keras backend `backend`, this repository importable; it must end printing "ok"."""
    env = {**os.environ, "KERAS_BACKEND": backend,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def start_group(command: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start `command` as the leader of a new process group, its output (with errors) in one text pipe.

    The processes a chapter starts (`training.run_in_fresh_process`) join its
    group and share its output pipe, so a timeout must end the whole group:
    ending the chapter alone would leave a child holding the pipe open, and
    reading the output would wait for that child forever.
    """
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **popen_kwargs)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started by `start_group` and every process it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group has already ended
        pass


def run_chapter(script: str, *args: str, timeout: float = 300,
                ceiling_mb: float = MEMORY_CEILING_MB) -> str:
    """Run a chapter to the end; return its output, failing with its tail if it fails or outgrows `ceiling_mb`."""
    started = time.monotonic()
    process = start_chapter(script, *args)
    output, peak_mb = wait_with_peak(process, timeout)
    # A SIGKILL before the timeout came from elsewhere (the kernel's out-of-memory killer).
    timed_out = process.returncode == -signal.SIGKILL and time.monotonic() - started >= timeout
    assert not timed_out, f"{script} ran past {timeout:.0f} s:\n{output[-4000:]}"
    assert process.returncode == 0, output[-4000:]
    check_ceiling(script, peak_mb, ceiling_mb)
    return output


def wait_with_peak(process: subprocess.Popen, timeout: float) -> tuple[str, float]:
    """Read a child's output to its end and reap it: `(output, peak memory of its process tree in MiB)`.

    `process` comes from `start_group`; past `timeout` seconds its whole
    group is killed (its return code is then `-SIGKILL`).

    Sampled every 50 ms while it runs: the memory of the child and of every
    process it started (a chapter runs each model in a fresh process of its
    own, `training.run_in_fresh_process`). Each process's private pages count
    in full; file-backed pages, the framework's libraries that every one of
    them maps, count once. The peak is at least the child's own `VmHWM`, the
    kernel's high-water mark, which also catches a spike between samples.
    (`getrusage` would not do: a child's `ru_maxrss` also counts the image of
    this process it was forked from, and a test process holds TensorFlow.)
    """
    timer = threading.Timer(timeout, kill_group, (process,))
    peak = [0.0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_mb(process.pid), _status_mb(process.pid)["VmHWM"])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    timer.start()
    sampler.start()
    try:
        output = process.stdout.read()
        process.wait()
    finally:
        timer.cancel()
    sampler.join()
    return output, peak[0]


def _tree_mb(root: int) -> float:
    """The memory a process tree holds now: its private pages, and its file-backed pages once."""
    statuses = [_status_mb(pid) for pid in _tree(root)]
    return (sum(s["RssAnon"] + s["RssShmem"] for s in statuses)
            + max((s["RssFile"] for s in statuses), default=0.0))


def _tree(root: int) -> list[int]:
    """`root` and its descendants, found through each process's parent id in /proc."""
    children: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            # The name (field 2) may hold spaces; the parent id follows its ')'.
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process has just exited
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _status_mb(pid: int) -> dict[str, float]:
    """The memory fields of /proc/<pid>/status in MiB (all 0 once the process has exited)."""
    fields = dict.fromkeys(("VmHWM", "RssAnon", "RssFile", "RssShmem"), 0.0)
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                name = line.split(":")[0]
                if name in fields:
                    fields[name] = int(line.split()[1]) / 1024  # kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def check_ceiling(script: str, peak_mb: float, ceiling_mb: float = MEMORY_CEILING_MB) -> None:
    """Fail if a run's peak resident set reached `ceiling_mb`; print it either way (`pytest -rP` shows it)."""
    print(f"{script} peaked at {peak_mb:,.0f} MiB resident (ceiling {ceiling_mb:,} MiB)")
    assert peak_mb < ceiling_mb, (
        f"{script} peaked at {peak_mb:,.0f} MiB resident, over the {ceiling_mb:,} MiB ceiling"
    )


def kill_after_first_checkpoint(process: subprocess.Popen, run_dir: pathlib.Path) -> int:
    """SIGKILL `process` once a checkpoint exists in `run_dir`; return the step it had reached."""
    deadline = time.time() + 240
    while not (run_dir / "checkpoint.npz").exists() and process.poll() is None:
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    kill_group(process)
    output, _ = process.communicate()
    assert (run_dir / "checkpoint.npz").exists(), output[-4000:]
    # The checkpoint is written before metrics.json, so the kill may land
    # between the two: the step the run resumes from is the checkpoint's.
    with np.load(run_dir / "checkpoint.npz") as stored:
        return json.loads(str(stored["state"]))["step"]


def metrics(run_dir: pathlib.Path) -> dict:
    return json.loads((pathlib.Path(run_dir) / "metrics.json").read_text())


def load_chapter(script: str):
    """Import `chapters/<script>` as a module (its presets and classes), without running it."""
    return load_script(ROOT / "chapters" / script)

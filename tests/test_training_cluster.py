"""Data parallelism across processes: two processes on this machine train as one."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_transformer import training
from keras_transformer.training import cluster, launch
from tests import test_training_runner as tiny

SMOKE = ["--preset", "smoke"]


def checkpoint_weights(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """The model's and the optimizer's variables in a run's checkpoint."""
    with np.load(run_dir / "checkpoint.npz") as archive:
        return {name: archive[name] for name in archive.files
                if name.startswith(("model/", "optimizer/"))}


def test_two_processes_train_the_weights_of_one(tmp_path):
    """Two JAX processes, each fed its half of every batch, end with one process's weights and losses."""
    pytest.importorskip("jax", reason="multi-process training runs on the JAX backend")
    one, two = tmp_path / "one", tmp_path / "two"
    tiny.run_script([*SMOKE, "--out", str(one)], env={"KERAS_BACKEND": "jax"})
    # The README's command, as a user types it.
    launched = subprocess.run(
        [sys.executable, "-m", "keras_transformer.training.launch", "--num-processes", "2",
         tiny.__file__, *SMOKE, "--out", str(two)],
        cwd=tiny.ROOT, env={**os.environ, "PYTHONPATH": str(tiny.ROOT)},
        capture_output=True, text=True, timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "RuntimeWarning" not in launched.stderr  # `-m` runs a module nothing imported before
    config = json.loads((two / "config.json").read_text())
    assert (config["num_processes"], config["num_devices"]) == (2, 2)
    # Dropout is on, so a process fed whole batches (not its half) would differ.
    expected, got = checkpoint_weights(one), checkpoint_weights(two)
    assert expected.keys() == got.keys() and len(expected) > 4
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-6, err_msg=name)
    for a, b in zip(tiny.history(one), tiny.history(two), strict=True):
        np.testing.assert_allclose([b["train_loss"], b["val_loss"]],
                                   [a["train_loss"], a["val_loss"]], rtol=1e-5)
    # Process 1 writes its own subfolder, never over process 0's files.
    assert (two / "process-1" / "metrics.json").exists()


def test_one_failed_process_stops_the_others(tmp_path, capsys):
    """When one process of a launch fails, the others are stopped and its output and status come back."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys, time\n"
        "if sys.argv[-1] == '1':\n"
        "    sys.exit('process 1 gives up')\n"
        "time.sleep(120)\n"
    )
    started = time.monotonic()
    assert launch.launch(str(script), [], num_processes=3) == 1
    assert time.monotonic() - started < 60
    assert "process 1 gives up" in capsys.readouterr().err


@pytest.mark.skipif(not pathlib.Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
def test_the_launcher_holds_no_framework_beside_its_workers(tmp_path):
    """`python -m keras_transformer.training.launch` waits beside the workers without TensorFlow loaded."""
    script = tmp_path / "worker.py"
    script.write_text("import os\n"
                      "print('tensorflow' in open(f'/proc/{os.getppid()}/maps').read())\n")
    done = subprocess.run(
        [sys.executable, "-m", "keras_transformer.training.launch", "--num-processes", "1",
         str(script)], cwd=tiny.ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "False"


def test_processes_need_the_jax_backend(monkeypatch):
    """Joining a multi-process cluster on another backend is a ValueError that names the fix."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(ValueError, match="num_processes=2 needs the jax backend"):
        cluster.join(cluster.Cluster(num_processes=2, process_id=0, coordinator="127.0.0.1:1"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_processes=0), "num_processes must be at least 1, got 0"),
    (dict(num_processes=2, process_id=-1, coordinator="h:1"), r"process_id must be in 0\.\.1"),
    (dict(num_processes=2, process_id=1), "needs a coordinator"),
])
def test_a_bad_cluster_is_refused(kwargs, message):
    """A process count, index or coordinator that cannot form a cluster is a ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        cluster.Cluster(**kwargs)


def test_a_batch_must_split_over_the_processes():
    """A batch whose rows the processes cannot share equally is a ValueError naming both numbers."""
    from keras_transformer.training.runner import _split_rows

    batch = (np.zeros((6, 4)), np.zeros((6, 4)))
    with pytest.raises(ValueError, match="num_processes=4 must divide every batch's rows; a batch has 6"):
        _split_rows(batch, 4, "num_processes")
    halves = _split_rows(batch, 2, "num_processes")
    assert [len(h[0]) for h in halves] == [3, 3]


def test_the_process_count_is_checked_before_the_data(monkeypatch, tmp_path):
    """A batch the processes cannot share is refused before the task prepares data or builds a model."""
    from keras_transformer.training import runner

    class Untouched(tiny.TinyTask):
        def __init__(self, *args, **kwargs):
            raise AssertionError("the task was constructed")

    monkeypatch.setattr(runner, "process_rank", lambda: (0, 3))
    config = dataclasses.replace(tiny.SMOKE, batch_size=8, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match=r"batch_size=8 must split into num_processes=3 x "
                                         r"gradient_accumulation_steps=2 equal parts"):
        runner.train(config, Untouched, tmp_path)


def test_a_run_removes_the_folders_of_processes_it_does_not_have(tmp_path):
    """A fresh run's process 0 removes `process-i` folders of an earlier run with more processes, and nothing else."""
    for name in ("process-1", "process-2", "process-notes"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
    training.train(dataclasses.replace(tiny.SMOKE, steps=2, eval_interval=2), tiny.TinyTask,
                   tmp_path)
    assert sorted(p.name for p in tmp_path.glob("process-*")) == ["process-notes"]

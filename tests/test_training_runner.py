"""The chapter runner end to end, on a tiny synthetic language model.

This file is also a chapter script: `python tests/test_training_runner.py
--preset smoke` trains the tiny task, which is how the subprocess tests run it.
"""

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import types
import weakref

import keras
import numpy as np
import pytest

from keras_transformer import training
from keras_transformer.data import lm_batch
from keras_transformer.data import lm_eval_windows
from keras_transformer._tensorflow_import import tensorflow_kept_out
from keras_transformer.training import recorder as recorder_module
from keras_transformer.training.phases import PHASES, PhaseClock
from keras_transformer.training.checkpoint import checkpoint_state
from keras_transformer.training.runner import _jit_compile

ROOT = pathlib.Path(__file__).resolve().parent.parent
VOCAB = 16


@dataclasses.dataclass
class TinyConfig(training.Preset):
    block_size: int = 8
    hidden_dim: int = 32
    dropout: float = 0.1


def synthetic_ids(length: int, seed: int) -> np.ndarray:
    """A learnable sequence: next = (5 * id + 3) mod 16, with 10% random ids."""
    rng = np.random.default_rng(seed)
    ids = np.zeros(length, np.int32)
    for i in range(1, length):
        ids[i] = rng.integers(VOCAB) if rng.random() < 0.1 else (5 * ids[i - 1] + 3) % VOCAB
    return ids


class TinyTask(training.Task):
    """Next-id prediction with Embedding -> Dropout -> Dense -> Dense."""

    steps_per_epoch = 25

    def __init__(self, config, data_dir=None):
        super().__init__(config, data_dir)
        self.train_ids = synthetic_ids(4000, 0)
        # 401 ids give 50 windows: an even split over 2 replicas (see --distribute)
        self.val_ids = synthetic_ids(401, 1)

    def build_model(self):
        c = self.config
        return keras.Sequential([
            keras.Input((c.block_size,), dtype="int32"),
            keras.layers.Embedding(VOCAB, c.hidden_dim),
            keras.layers.Dropout(c.dropout),
            keras.layers.Dense(c.hidden_dim, activation="relu"),
            keras.layers.Dense(VOCAB),
        ])

    def loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_batch(self, step):
        time.sleep(float(os.environ.get("TINY_TASK_DELAY", 0)))  # widens the kill window
        c = self.config
        return lm_batch(self.train_ids, step, c.batch_size, c.block_size, c.seed)

    def evaluate(self, model):
        x, y = lm_eval_windows(self.val_ids, self.config.block_size)
        return {"val_loss": float(model.evaluate(x, y, batch_size=64, verbose=0))}

    def tokens_per_step(self):
        return self.config.batch_size * self.config.block_size

    def finish(self, model, run_dir, metrics):
        (run_dir / "finished.txt").write_text("ok\n")
        return {}


SMOKE = TinyConfig(
    steps=30, batch_size=16, eval_interval=10, checkpoint_interval=10,
    warmup_steps=3, learning_rate=1e-2, min_learning_rate=1e-3,
)
PRESETS = {"smoke": SMOKE, "cpu": SMOKE, "gpu": SMOKE}


def run_script(args, env=None, prelude="", wait=True):
    """Runs this file as a chapter script in a fresh Python process."""
    code = (
        f"{prelude}\nimport runpy, sys\nsys.argv = {[__file__] + list(args)!r}\n"
        f"runpy.run_path({__file__!r}, run_name='__main__')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if not wait:
        return process
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    return output


def history(run_dir):
    return json.loads((pathlib.Path(run_dir) / "metrics.json").read_text())["history"]


def test_run_folder_contents(tmp_path, capsys):
    """A run writes config.json, metrics.json, a checkpoint, a loss-curve PNG and prints a summary."""
    metrics = training.main(PRESETS, TinyTask, ["--preset", "smoke", "--out", str(tmp_path)])
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "metrics.json", "checkpoint.npz", "loss_curve.png", "finished.txt"} <= names
    assert (tmp_path / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"] == dataclasses.asdict(SMOKE) and config["preset"] == "smoke"
    assert config["backend"] == keras.backend.backend() and "keras" in config["versions"]
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["finished"] and stored["step"] == 30
    assert [r["step"] for r in stored["history"]] == [10, 20, 30]
    assert stored["headline"]["value"] == stored["history"][-1]["val_loss"] == metrics["headline"]["value"]
    assert stored["history"][-1]["val_loss"] < stored["history"][0]["val_loss"]
    for key in ("tokens_per_second", "flops_per_token", "peak_flops", "mfu", "energy_wh",
                "wall_time_s", "peak_rss_mb"):
        assert stored[key] > 0, key
    assert stored["device_peak_mb"] is None  # the suite runs on a CPU
    summary = [l for l in capsys.readouterr().out.splitlines() if l.startswith("summary: ")]
    assert len(summary) == 1 and "val_loss=" in summary[0] and "tok/s" in summary[0] and "MFU" in summary[0]
    assert "peak RSS" in summary[0]


class ExtrasTask(TinyTask):
    """TinyTask whose finish reports a test score computed from the final metrics."""

    def finish(self, model, run_dir, metrics):
        return {"test": {"steps_seen": metrics["step"], "score": np.float32(0.5)},
                "sizes": (1, 2)}


def test_finish_extras_reach_result_and_metrics_json(tmp_path):
    """finish's extra entries are in train()'s result and metrics.json, which are equal, also after a resume."""
    args = ["--steps", "20", "--out", str(tmp_path)]
    metrics = training.main(PRESETS, ExtrasTask, args)
    assert metrics["test"] == {"steps_seen": 20, "score": 0.5} and metrics["sizes"] == [1, 2]
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics

    resumed = training.main(PRESETS, ExtrasTask, args + ["--resume"])
    assert resumed["test"] == {"steps_seen": 20, "score": 0.5}
    assert [r["step"] for r in resumed["history"]] == [10, 20]
    assert json.loads((tmp_path / "metrics.json").read_text()) == resumed


class TwoHeadTask(TinyTask):
    """TinyTask whose model predicts the next id with two heads, each with its own loss."""

    def build_model(self):
        c = self.config
        ids = keras.Input((c.block_size,), dtype="int32")
        hidden = keras.layers.Embedding(VOCAB, c.hidden_dim)(ids)
        heads = {name: keras.layers.Dense(VOCAB, name=name)(hidden) for name in ("first", "second")}
        return keras.Model(ids, heads)

    def loss(self):
        return {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                for name in ("first", "second")}

    def train_batch(self, step):
        x, y = super().train_batch(step)
        return x, {"first": y, "second": y}

    def evaluate(self, model):
        return {"val_loss": 0.0}


def test_each_heads_training_loss_is_recorded_and_they_add_up(tmp_path):
    """A model with two outputs records each one's training loss in the history, and the
    two add up to the recorded total."""
    metrics = training.main(PRESETS, TwoHeadTask, ["--steps", "20", "--out", str(tmp_path)])
    for record in metrics["history"]:
        first, second = record["train_first_loss"], record["train_second_loss"]
        assert first > 0 and second > 0 and first != second
        assert first + second == pytest.approx(record["train_loss"], rel=1e-5)


class RecordingTask(TinyTask):
    """TinyTask that keeps a weak reference to each model it builds, and its layers' names."""

    built = []

    def build_model(self):
        model = super().build_model()
        self.built.append((weakref.ref(model), [layer.name for layer in model.layers]))
        return model


def test_runs_in_turn_start_from_a_fresh_session(tmp_path):
    """A second run in the same process names its layers as a fresh process would, and the first run's model is gone."""
    args = ["--steps", "10", "--set", "eval_interval=10"]
    for run in ("a", "b"):
        training.main(PRESETS, RecordingTask, args + ["--out", str(tmp_path / run)])
    (first, first_names), (_, second_names) = RecordingTask.built[-2:]
    assert first() is None
    assert second_names == first_names


def test_finish_extras_must_not_replace_runner_keys(tmp_path):
    """A finish that returns a key the runner writes (here "history") is a ValueError naming it."""
    class Clashing(TinyTask):
        def finish(self, model, run_dir, metrics):
            return {"history": []}

    with pytest.raises(ValueError, match="history"):
        training.main(PRESETS, Clashing, ["--steps", "10", "--out", str(tmp_path)])


def test_epochs_and_uneven_lengths(tmp_path):
    """--epochs uses steps_per_epoch, and a length that is no multiple of eval_interval still ends on its last step."""
    metrics = training.main(
        PRESETS, TinyTask, ["--preset", "smoke", "--epochs", "1", "--out", str(tmp_path)]
    )
    assert [r["step"] for r in metrics["history"]] == [10, 20, 25]
    assert json.loads((tmp_path / "config.json").read_text())["config"]["steps"] == 25


def test_epochs_need_steps_per_epoch(tmp_path):
    """--epochs on a task without steps_per_epoch is a ValueError."""
    class NoEpochs(TinyTask):
        steps_per_epoch = None

    with pytest.raises(ValueError, match="steps_per_epoch"):
        training.main(PRESETS, NoEpochs, ["--epochs", "2", "--out", str(tmp_path)])


def test_resume_with_a_different_preset_is_refused(tmp_path, capsys):
    """--resume with changed settings is a usage error naming the changed field, and `train` raises before preparing data."""
    training.main(PRESETS, TinyTask, ["--steps", "10", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as stopped:
        training.main(
            PRESETS, TinyTask,
            ["--steps", "10", "--set", "learning_rate=0.02", "--resume", "--out", str(tmp_path)],
        )
    assert stopped.value.code == 2 and "learning_rate (checkpoint 0.01, now 0.02)" in capsys.readouterr().err

    class NeverBuilt(TinyTask):
        def __init__(self, *args):
            raise AssertionError("the data were prepared before the settings were checked")

    changed = dataclasses.replace(PRESETS["cpu"], steps=10, learning_rate=0.02)
    with pytest.raises(ValueError, match="learning_rate"):
        training.train(changed, NeverBuilt, tmp_path, resume=True)


@pytest.mark.parametrize("argv, message", [
    (["--num-processes", "2", "--coordinator", "127.0.0.1:1"], "needs the jax backend"),
    (["--num-processes", "2", "--process-id", "2", "--coordinator", "h:1"], "process_id must be in 0..1"),
])
def test_a_cluster_that_cannot_form_is_a_usage_error(tmp_path, capsys, monkeypatch, argv, message):
    """Process settings this backend cannot join, or that name no process of the cluster, end with the usage line (exit 2)."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(SystemExit) as stopped:
        training.main(PRESETS, TinyTask, argv + ["--out", str(tmp_path)])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    """Killing a run after its first checkpoint and resuming gives the uninterrupted run's history."""
    args = ["--preset", "smoke", "--set", "steps=40"]
    run_script(args + ["--out", str(tmp_path / "straight")])  # a fresh process, like the others

    killed = tmp_path / "killed"
    process = run_script(
        args + ["--out", str(killed)], env={"TINY_TASK_DELAY": "0.05"}, wait=False
    )
    deadline = time.time() + 120
    while not (killed / "checkpoint.npz").exists() and process.poll() is None:
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    interrupted_at = json.loads((killed / "metrics.json").read_text())["step"]
    assert interrupted_at < 40, "the run finished before it could be killed"

    output = run_script(args + ["--out", str(killed), "--resume"])
    assert "Resuming" in output
    straight, resumed = history(tmp_path / "straight"), history(killed)
    assert [r["step"] for r in resumed] == [10, 20, 30, 40]
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(
            [a["train_loss"], a["val_loss"]], [b["train_loss"], b["val_loss"]], rtol=1e-6
        )


BLOCK_TENSORFLOW = (
    "import sys\n"
    "sys.modules['tensorflow'] = None  # as if not installed\n"
    "sys.modules['tensorboard'] = None\n"
)
TWO_TF_CPUS = (
    "import tensorflow as tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
)


def test_distribute_on_two_tensorflow_cpus(tmp_path):
    """--distribute with MirroredStrategy over 2 virtual CPUs trains and lowers the loss."""
    run_script(
        ["--preset", "smoke", "--distribute", "--out", str(tmp_path)],
        env={"KERAS_BACKEND": "tensorflow"}, prelude=TWO_TF_CPUS,
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_devices"] == 2
    assert metrics["history"][-1]["val_loss"] < metrics["history"][0]["val_loss"]


def test_distribute_on_two_jax_cpus_without_tensorflow(tmp_path):
    """With JAX and TensorFlow absent, --distribute over 2 virtual CPUs trains and lowers the loss."""
    pytest.importorskip("jax", reason="the JAX backend is not installed in this environment")
    output = run_script(
        ["--preset", "smoke", "--distribute", "--out", str(tmp_path)],
        env={"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
        prelude=BLOCK_TENSORFLOW,
    )
    assert "no TensorBoard logs" in output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_devices"] == 2
    assert metrics["history"][-1]["val_loss"] < metrics["history"][0]["val_loss"]


class BucketedTask(TinyTask):
    """TinyTask with two window lengths (length buckets): steps 0 and 1 share one, step 2 has the other."""

    def build_model(self):
        c = self.config
        return keras.Sequential([
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(VOCAB, c.hidden_dim),
            keras.layers.Dense(VOCAB),
        ])

    def train_batch(self, step):
        c = self.config
        return lm_batch(self.train_ids, step, c.batch_size, 4 + 4 * (step % 3 == 2), c.seed)


def test_batches_of_several_shapes_train(tmp_path):
    """A task whose batches come in several lengths (buckets) trains every step and learns."""
    metrics = training.main(PRESETS, BucketedTask, ["--preset", "smoke", "--out", str(tmp_path)])
    assert [r["step"] for r in metrics["history"]] == [10, 20, 30]
    assert metrics["history"][-1]["val_loss"] < metrics["history"][0]["val_loss"]


class SlowEvaluationTask(TinyTask):
    """TinyTask whose every evaluation takes at least 0.3 s more."""

    def evaluate(self, model):
        time.sleep(0.3)
        return super().evaluate(model)


def test_the_wall_time_is_split_into_phases(tmp_path, capsys):
    """metrics.json splits the wall time into phases that do not overlap and add up to it, a slow evaluation's seconds under `evaluation`."""
    metrics = training.main(PRESETS, SlowEvaluationTask, ["--preset", "smoke", "--out", str(tmp_path)])
    phases = metrics["phase_seconds"]
    assert set(phases) == {*PHASES, "other"}
    assert all(seconds >= 0 for seconds in phases.values()), phases  # `other` < 0: counted twice
    assert phases["evaluation"] >= 3 * 0.3  # evaluations at steps 10, 20 and 30
    assert phases["first_step"] > 0 and phases["train_steps"] > 0
    assert sum(phases.values()) == pytest.approx(metrics["wall_time_s"], abs=1e-6)
    assert "time: " in capsys.readouterr().out


def test_a_phase_outside_the_list_is_refused():
    """Timing a phase the breakdown does not list is a ValueError naming the phases it lists, not seconds lost in `other`."""
    with pytest.raises(ValueError, match="phase must be one of .*'evaluation'.*got 'evaluate'"):
        PhaseClock().add("evaluate", 1.0)


def test_startup_is_the_time_before_the_run(tmp_path):
    """A chapter run from the command line records the seconds its process spent before the run began: more than 0, less than the process lived."""
    began = time.time()
    output = run_script(["--preset", "smoke", "--steps", "10", "--set", "eval_interval=10",
                         "--out", str(tmp_path)])
    lived = time.time() - began
    startup = json.loads((tmp_path / "metrics.json").read_text())["startup_seconds"]
    assert 0 < startup < lived - json.loads((tmp_path / "metrics.json").read_text())["wall_time_s"]
    assert f"start-up {startup:.1f}s" in output


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow input pipeline")
def test_tensorflow_batches_are_consecutive_and_not_autotuned():
    """On TensorFlow, fit gets consecutive batches of the arrays from a tf.data pipeline with autotuning off (with it on, the end of a fit was held up by seconds)."""
    from keras_transformer.training.runner import _tensorflow_batches

    x = {"ids": np.arange(24).reshape(12, 2)}
    y, weights = np.arange(12), np.linspace(0, 1, 12)
    dataset = _tensorflow_batches(x, y, [weights], batch_size=4)
    assert dataset.options().autotune.enabled is False
    for n, (bx, by, bw) in enumerate(dataset.as_numpy_iterator()):
        rows = slice(4 * n, 4 * n + 4)
        np.testing.assert_array_equal(bx["ids"], x["ids"][rows])
        np.testing.assert_array_equal(by, y[rows])
        np.testing.assert_array_equal(bw, weights[rows])
    assert n == 2


def model_weights(run_dir) -> list:
    with np.load(pathlib.Path(run_dir) / "checkpoint.npz") as saved:
        return [saved[name] for name in sorted(saved.files) if name.startswith("model/")]


@pytest.mark.parametrize("task_class", [TinyTask, BucketedTask])
def test_gradient_accumulation_makes_the_same_updates(tmp_path, task_class):
    """Each step's rows fed as 4 micro-batches (their mean gradient applied once) train the same weights as whole batches."""
    preset = dataclasses.replace(SMOKE, dropout=0.0)  # dropout would draw other masks
    runs = {}
    for parts in (1, 4):
        config = dataclasses.replace(preset, gradient_accumulation_steps=parts)
        runs[parts] = training.train(config, task_class, tmp_path / str(parts))
    assert [r["step"] for r in runs[4]["history"]] == [10, 20, 30]
    for whole, micro in zip(model_weights(tmp_path / "1"), model_weights(tmp_path / "4")):
        np.testing.assert_allclose(micro, whole, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("micro_batches", [1, 4])
def test_throughput_counts_updates_not_micro_batches(monkeypatch, tmp_path, micro_batches):
    """tok/s is tokens per update times updates per second: 8 batches a second apart after the first are 8/k updates in 8 s."""
    now = [0.0]  # seconds on the recorder's clock
    monkeypatch.setattr(recorder_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    config = dataclasses.replace(SMOKE, gradient_accumulation_steps=micro_batches)
    task = TinyTask(config)
    recorder = recorder_module.RunRecorder(task, tmp_path, {}, None, 0.0, PhaseClock(), None)
    recorder.on_epoch_begin(0)
    logs = {}
    for batch in range(9):  # the first, which compiles, ends at 1 s, the last at 9 s
        now[0] += 1.0
        recorder.on_train_batch_end(batch, logs)
    assert logs["tok/s"] == task.tokens_per_step() * (8 / micro_batches) / 8


class TensorFlowFreeTask(TinyTask):
    needs_tensorflow = False


def test_main_leaves_tensorflow_importable_in_a_process_started_for_something_else(tmp_path):
    """`main` keeps TensorFlow out only of a process started to run the task's script, never of a test's or a notebook's."""
    training.main(PRESETS, TensorFlowFreeTask, ["--steps", "10", "--set", "eval_interval=10",
                                                "--out", str(tmp_path)])
    assert not tensorflow_kept_out()


@pytest.mark.parametrize("asked", [True, False])
def test_steps_are_compiled_as_asked_on_tensorflow(asked):
    """XLA compiles the steps on TensorFlow as `jit_compile` asks and always on JAX; PyTorch always runs them eagerly."""
    compiled = _jit_compile(dataclasses.replace(SMOKE, jit_compile=asked), distribute=False)
    backend = keras.backend.backend()
    assert compiled is (asked if backend == "tensorflow" else backend == "jax")


def test_gradient_accumulation_needs_a_divisor_of_the_batch():
    """A batch that does not split into equal micro-batches is a ValueError naming both numbers."""
    with pytest.raises(ValueError, match="batch_size=16 and gradient_accumulation_steps=3"):
        dataclasses.replace(SMOKE, gradient_accumulation_steps=3)


if __name__ == "__main__":
    training.main(PRESETS, TinyTask, chapter="tiny")


class MemoryHungryEvaluationTask(TinyTask):
    """TinyTask whose every evaluation briefly holds 512 MiB more."""

    def evaluate(self, model):
        block = np.ones(2**29, dtype=np.uint8)  # every page written, so resident
        del block
        return super().evaluate(model)


def _train_memory_hungry(out: str) -> dict:
    return training.main(PRESETS, MemoryHungryEvaluationTask, ["--preset", "smoke", "--out", out])


def test_the_peak_memory_is_split_into_the_phases_that_raised_it(tmp_path, capfd):
    """metrics.json charges every rise of the process's peak memory to the phase it happened in: the rises add up to the peak, none is negative, and an evaluation that holds 512 MiB raises it under `evaluation`."""
    # A fresh process: a test worker's peak may already be above anything this run holds.
    metrics = training.run_in_fresh_process(_train_memory_hungry, str(tmp_path))
    rises = metrics["phase_peak_rise_mb"]
    assert set(rises) == {"start", *PHASES, "other"}
    assert all(mb >= 0 for mb in rises.values()), rises
    # By at least half of it: the peak before may stand above the memory the
    # evaluation starts from, by what the first step's compilation held and freed.
    assert rises["evaluation"] >= 256, rises
    assert sum(rises.values()) == pytest.approx(metrics["peak_rss_mb"], abs=1.0)
    assert "memory: start " in capfd.readouterr().out


def _resume(out: str) -> dict:
    return training.main(PRESETS, TinyTask, ["--preset", "smoke", "--out", out, "--resume"])


def test_a_resumed_run_keeps_the_peak_of_its_earlier_processes(tmp_path):
    """Resuming a run in a lighter process reports the larger peak of all its processes, not the last one's alone."""
    first = training.run_in_fresh_process(_train_memory_hungry, str(tmp_path))
    resumed = training.run_in_fresh_process(_resume, str(tmp_path))
    assert resumed["step"] == first["step"]
    assert resumed["peak_rss_mb"] >= first["peak_rss_mb"] - 1.0


class DivergingTask(TinyTask):
    """TinyTask whose loss turns NaN from step 15 on, as a diverging run's does: its batches are marked then."""

    def loss(self):
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def loss(y, logits):
            marked = keras.ops.any(y >= VOCAB)
            return (cross_entropy(keras.ops.minimum(y, VOCAB - 1), logits)
                    + keras.ops.where(marked, np.nan, 0.0))

        return loss

    def train_batch(self, step):
        x, y = super().train_batch(step)
        return (x, y + VOCAB) if step >= 15 else (x, y)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """A training loss that turns NaN stops the run at the next evaluation, naming the step, and leaves the last checkpoint as it was."""
    with pytest.raises(FloatingPointError, match="became nan by step 20"):
        training.main(PRESETS, DivergingTask, ["--preset", "smoke", "--out", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["step"] for r in metrics["history"]] == [10]
    assert np.isfinite(metrics["history"][0]["train_loss"])
    assert checkpoint_state(tmp_path / "checkpoint.npz")["step"] == 10

"""The callback that evaluates, times, records and checkpoints a run."""

import dataclasses
import math
import pathlib
import time

import keras

from keras_transformer.training import report
from keras_transformer.training.checkpoint import save_checkpoint
from keras_transformer.training.checkpoint import set_global_rng_state
from keras_transformer.training.energy import energy_wh
from keras_transformer.training.flops import model_flops_utilization
from keras_transformer.training.memory import device_peak_mb, peak_rss_mb, release_free_heap
from keras_transformer.training.phases import PhaseClock
from keras_transformer.training.task import Task

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"


class RunRecorder(keras.callbacks.Callback):
    """Runs at the end of each Keras epoch, i.e. every `eval_interval` steps.

    It evaluates the task, appends `{"step", "train_loss", **metrics}` (and
    `train_<output>_loss` for each output of a model with several) to the
    history, adds the metrics to the epoch logs (so the progress bar and
    TensorBoard show them), rewrites `metrics.json`, and saves a checkpoint
    every `checkpoint_interval` steps and at the last step. During training
    it adds a `tok/s` figure to the batch logs.

    Throughput is measured between the ends of consecutive batches within an
    epoch, so it leaves out compilation (the first batch) and evaluation.
    The `clock` gets the time of the run's first batch (`first_step`: it
    compiles), of the other batches (`train_steps`), of evaluation and of
    checkpoints and metrics files (`checkpoints`).

    Args:
        task: the chapter's task; its `config` is the preset.
        run_dir: the run folder.
        info: fixed figures merged into metrics.json (FLOPs, peak, power).
        state: the checkpointed state to continue from, or None.
        started: `time.perf_counter()` when this run segment started.
        clock: the run's `PhaseClock`, restored with `state` when resuming.
        rng_state: the process-wide random state restored with `state`
            (`checkpoint.global_rng_state`), or None. It is set again when
            training begins: on PyTorch, Keras' first `fit` in a process
            opens a data-loader iterator before training, which draws a seed
            from torch's global generator (an uninterrupted run did that at
            step 0, not after its checkpoint).

    Example (`train` makes one; resumed from a checkpoint's state, it continues step and clock):

    >>> import pathlib, tempfile, time
    >>> from keras_transformer.training import Preset, Task
    >>> from keras_transformer.training.phases import PhaseClock
    >>> from keras_transformer.training.recorder import RunRecorder
    >>> state = {"step": 500, "history": [{"step": 500, "train_loss": 2.1}], "wall_time_s": 60.0}
    >>> recorder = RunRecorder(Task(Preset()), pathlib.Path(tempfile.mkdtemp()), {}, state,
    ...                        started=time.perf_counter(), clock=PhaseClock())
    >>> recorder.step, len(recorder.history), recorder.wall_time() >= 60.0
    (500, 1, True)
    """

    def __init__(
        self, task: Task, run_dir: pathlib.Path, info: dict,
        state: dict | None, started: float, clock: PhaseClock,
        rng_state: dict | None = None,
    ) -> None:
        super().__init__()
        self.task = task
        self.run_dir = run_dir
        self.info = info
        state = state or {}
        self.step = state.get("step", 0)
        self.history = state.get("history", [])
        self.wall_before = state.get("wall_time_s", 0.0)
        self.peak_before = state.get("peak_rss_mb", 0.0)  # a resumed run's earlier processes
        self.timed_steps = state.get("timed_steps", 0)
        self.timed_seconds = state.get("timed_seconds", 0.0)
        self.started = started
        self.clock = clock
        self._rng_state = rng_state
        self._compiled = False  # a segment's first batch compiles the step

    def on_train_begin(self, logs=None):
        if self._rng_state is not None:  # only the first fit after a resume
            set_global_rng_state(self._rng_state)
            self._rng_state = None

    def on_epoch_begin(self, epoch, logs=None):
        self._first_end = self._last_end = None
        self._batches_after_first = 0
        self._epoch_begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._first_end is None:
            self._first_end = now
            self.clock.add("train_steps" if self._compiled else "first_step", now - self._epoch_begin)
            if not self._compiled:
                release_free_heap()  # what compiling the step freed (0.1 GB for a small GPT on XLA)
            self._compiled = True
        else:
            self._batches_after_first += 1
            self.clock.add("train_steps", now - self._last_end)
        self._last_end = now
        if logs is not None:
            logs["tok/s"] = self._tokens_per_second(pending=True)

    def on_epoch_end(self, epoch, logs=None):
        config = self.task.config
        if self._first_end is not None:
            self.timed_steps += self._updates(self._batches_after_first)
            self.timed_seconds += self._last_end - self._first_end
        self.step = min((epoch + 1) * config.eval_interval, config.steps)
        self._check_finite(float(logs["loss"]))
        with self.clock("evaluation"):
            results = {k: float(v) for k, v in self.task.evaluate(self.model).items()}
            release_free_heap()  # the evaluation's batches and, the first time, its compilation
        if self.task.headline not in results:
            raise ValueError(
                f"{type(self.task).__name__}.evaluate() must return the "
                f"headline metric {self.task.headline!r}, got keys {sorted(results)}."
            )
        # A model with several heads (MLM + NSP) logs each head's loss beside the total.
        heads = {f"train_{k}": float(v) for k, v in logs.items()
                 if k.endswith("_loss") and k != "loss"}
        self.history.append(
            {"step": self.step, "train_loss": float(logs["loss"]), **heads, **results}
        )
        logs.update(results)
        with self.clock("checkpoints"):
            if self.step % config.checkpoint_interval == 0 or self.step == config.steps:
                save_checkpoint(self.run_dir / CHECKPOINT, self.model, self.state())
            report.write_json(self.run_dir / METRICS, self.metrics(finished=False))

    def _check_finite(self, train_loss: float) -> None:
        """Stop before NaN weights are evaluated or saved over the last good checkpoint."""
        if math.isfinite(train_loss):
            return
        raise FloatingPointError(
            f"The training loss became {train_loss} by step {self.step}; the run stops here and "
            "keeps its last checkpoint, if it has one. Common causes: "
            "token ids outside the vocabulary (JAX gathers NaN for them where TensorFlow "
            "raises), a learning rate too high for the preset (--set learning_rate=...), or "
            "float16 overflow (dtype_policy)."
        )

    def state(self) -> dict:
        """Returns what a checkpoint stores besides the variables."""
        return {
            "step": self.step,
            "history": self.history,
            "wall_time_s": self.wall_time(),
            "timed_steps": self.timed_steps,
            "timed_seconds": self.timed_seconds,
            "phase_seconds": self.clock.seconds,
            "peak_rss_mb": self.peak_rss(),
            "config": dataclasses.asdict(self.task.config),
        }

    def peak_rss(self) -> float:
        """Peak resident MiB over all run segments so far (a resumed run keeps the larger)."""
        return max(self.peak_before, peak_rss_mb())

    def wall_time(self) -> float:
        """Seconds of all run segments so far (resumed runs add up)."""
        return self.wall_before + time.perf_counter() - self.started

    def metrics(self, finished: bool) -> dict:
        """Returns the contents of metrics.json."""
        task = self.task
        values = [r[task.headline] for r in self.history]
        pick = min if task.headline_mode == "min" else max
        tokens_per_second = self._tokens_per_second(pending=False)
        wall = self.wall_time()
        power = self.info["power_watts"]
        return {
            "finished": finished,
            "step": self.step,
            "headline": {
                "name": task.headline,
                "mode": task.headline_mode,
                "value": values[-1] if values else None,
                "best": pick(values) if values else None,
            },
            "history": self.history,
            "wall_time_s": wall,
            "tokens_per_second": tokens_per_second,
            "mfu": model_flops_utilization(
                self.info["flops_per_token"], tokens_per_second, self.info["peak_flops"]
            ),
            "energy_wh": energy_wh(power, wall),
            "phase_seconds": self.clock.breakdown(wall),
            "phase_peak_rise_mb": self.clock.memory_breakdown(),
            "peak_rss_mb": self.peak_rss(),
            "device_peak_mb": device_peak_mb(),
            **self.info,
        }

    def _tokens_per_second(self, pending: bool) -> float:
        steps, seconds = self.timed_steps, self.timed_seconds
        if pending and self._first_end is not None:
            steps += self._updates(self._batches_after_first)
            seconds += self._last_end - self._first_end
        if seconds <= 0:  # every epoch had a single step: nothing steady to time
            steps, seconds = self.step, max(self.wall_time(), 1e-9)
        return self.task.tokens_per_step() * steps / seconds

    def _updates(self, batches: int) -> float:
        # With gradient accumulation Keras sees each step's micro-batches.
        return batches / self.task.config.gradient_accumulation_steps

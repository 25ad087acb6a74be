"""The chapter runner: command line → preset → model.fit → run folder."""

import dataclasses
import importlib.metadata
import json
import os
import pathlib
import platform
import pprint
import shutil
import sys
import time
import warnings

import keras
import numpy as np

from keras_transformer._tensorflow_import import keep_tensorflow_out
from keras_transformer._tensorflow_import import keep_tensorflow_text_out
from keras_transformer._tensorflow_import import tensorflow_kept_out
from keras_transformer.training import devices
from keras_transformer.training import report
from keras_transformer.training.checkpoint import checkpoint_state
from keras_transformer.training.checkpoint import global_rng_state
from keras_transformer.training.checkpoint import restore_checkpoint
from keras_transformer.training.cluster import Cluster
from keras_transformer.training.cluster import check_backend
from keras_transformer.training.cluster import join
from keras_transformer.training.cluster import process_rank
from keras_transformer.training.cli import build_parser
from keras_transformer.training.energy import assumed_power_watts
from keras_transformer.training.flops import measure_matmul_peak
from keras_transformer.training.fresh_process import process_started_for
from keras_transformer.training.memory import release_free_heap
from keras_transformer.training.memory import reuse_freed_blocks
from keras_transformer.training.optimizer import build_optimizer
from keras_transformer.training.phases import PhaseClock
from keras_transformer.training.phases import memory_line
from keras_transformer.training.phases import phase_line
from keras_transformer.training.phases import seconds_since_process_start
from keras_transformer.training.preset import Preset
from keras_transformer.training.recorder import CHECKPOINT
from keras_transformer.training.recorder import METRICS
from keras_transformer.training.recorder import RunRecorder
from keras_transformer.training.task import Task

CONFIG = "config.json"
LOSS_CURVE = "loss_curve.png"
TENSORBOARD = "tensorboard"


def main(
    presets: dict[str, Preset],
    task_class: type[Task],
    argv: list[str] | None = None,
    chapter: str | None = None,
) -> dict:
    """Runs a chapter from the command line; returns the final metrics.

    A task with `needs_tensorflow = False` runs with TensorFlow Text kept out
    of the process (`keep_tensorflow_text_out`), and on JAX and PyTorch
    TensorFlow too (`keep_tensorflow_out`), when the process was started to
    run the task's script; a notebook's kernel or a test's process keeps them.

    Args:
        presets: named presets, normally `smoke`, `cpu` and `gpu`.
        task_class: the chapter's `Task` subclass.
        argv: command-line arguments (default: `sys.argv[1:]`).
        chapter: run-folder prefix (default: the script's file name).

    Example, at the bottom of `chapters/04_gpt.py`:

    >>> if __name__ == "__main__":  # doctest: +SKIP
    ...     training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, GPTTask)
    """
    startup = seconds_since_process_start()  # Python and the imports, before any work
    chapter = chapter or pathlib.Path(sys.argv[0]).stem
    parser = build_parser(presets, task_class.__doc__)
    args = parser.parse_args(argv)
    config = args.config
    run_dir = pathlib.Path(args.out or f"runs/{chapter}-{args.preset}")
    if args.resume:
        try:  # a usage error, before the data or the model cost anything
            check_resumable(run_dir, config, args.epochs)
        except ValueError as error:
            parser.error(str(error))
    if not task_class.needs_tensorflow and process_started_for(task_class):
        # For good: not in a notebook's kernel (%run) or a test's process.
        keep_tensorflow_out()
        keep_tensorflow_text_out()  # on TensorFlow too: only keras-hub's tokenizers use it
    try:  # a usage error too: a process count this backend cannot join
        cluster = Cluster(args.num_processes, args.process_id, args.coordinator)
        check_backend(cluster)
    except ValueError as error:
        parser.error(str(error))
    join(cluster)
    return train(
        config,
        task_class,
        run_dir,
        data_dir=args.data_dir,
        epochs=args.epochs,
        resume=args.resume,
        distribute=args.distribute,
        power_watts=args.power_watts,
        labels={"chapter": chapter, "preset": args.preset},
        startup_seconds=startup,
    )


def train(
    config: Preset,
    task_class: type[Task],
    run_dir: str | os.PathLike,
    *,
    data_dir: str | None = None,
    epochs: float | None = None,
    resume: bool = False,
    distribute: bool = False,
    power_watts: float | None = None,
    labels: dict | None = None,
    startup_seconds: float | None = None,
) -> dict:
    """Trains `task_class(config, data_dir)` and fills `run_dir`; returns metrics.

    The run is cut into Keras epochs of `config.eval_interval` steps; each
    epoch ends with evaluation, metrics.json and (every
    `checkpoint_interval` steps) a checkpoint. With `resume=True` and a
    checkpoint in `run_dir`, training continues from it and ends with the
    same history as an uninterrupted run. Without `resume`, a previous
    run's checkpoint, metrics and TensorBoard logs in `run_dir` are removed.
    At the end, `task.finish` adds its entries to the final metrics, which
    are written to metrics.json and returned: the two hold the same. Each
    run starts from a fresh Keras session (`keras.backend.clear_session()`),
    which releases an earlier run's model, optimizer state and traced
    functions; TensorFlow still keeps every program XLA compiled until the
    process ends, so runs made one after another each belong in a fresh
    process (`run_in_fresh_process`).

    In a multi-process run (`cluster.join` first) every process calls
    `train` alike: training is data parallel across all processes' devices,
    each feeding its own equal share of every batch; process 0 writes
    `run_dir` and process i its `run_dir/process-i` (a fresh run's process 0
    removes the folders of processes beyond its count). A batch that the
    processes and micro-batches cannot share equally is a ValueError before
    any data is prepared.

    metrics.json's `phase_seconds` splits the wall time into phases
    (`phases.PHASES`: data, build, the matmul-peak measurement, drawing
    batches, the first step with its compilation, the other steps,
    evaluation, checkpoints, finish, and the rest as `other`);
    `startup_seconds` (given by `main`: Python and the imports, before the
    run) is stored beside it. `phase_peak_rise_mb` splits the process's
    peak memory the same way: the peak when the run began (`start`), then
    how far each phase raised it. The run prints all three.

    Example (a whole run is a chapter's smoke test; here `resume=True` meets a checkpoint
    of another seed and stops before any data or model is made):

    >>> import dataclasses, pathlib, tempfile
    >>> import keras
    >>> from keras_transformer.training import Preset, Task, save_checkpoint, train
    >>> run_dir = pathlib.Path(tempfile.mkdtemp())
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adamw", loss="mse")
    >>> save_checkpoint(run_dir / "checkpoint.npz", model, {"config": dataclasses.asdict(Preset(seed=1))})
    >>> train(Preset(seed=2), Task, run_dir, resume=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --resume needs the preset the checkpoint in ... differ: seed (checkpoint 1, now 2)
    """
    started = time.perf_counter()
    clock = PhaseClock()
    config = dataclasses.replace(config)  # never mutate the caller's preset
    rank, ranks = process_rank()
    _check_split(config, ranks)  # before the data and the model cost anything
    distribute = distribute or ranks > 1
    run_dir = pathlib.Path(run_dir) / (f"process-{rank}" if rank else "")
    if resume:
        check_resumable(run_dir, config, epochs)  # before the data and the model cost anything
    keras.backend.clear_session()  # a refused run leaves the caller's Keras state alone
    run_dir.mkdir(parents=True, exist_ok=True)
    devices.seed_everything(config.seed, config.deterministic)
    keras.config.set_dtype_policy(config.dtype_policy or "float32")

    if keras.backend.backend() == "jax":  # before XLA starts its threads: see the function
        reuse_freed_blocks()  # XLA's per-step temporaries, else faulted in again every step
    with clock("data"):
        task = task_class(config, data_dir)
        release_free_heap()  # what preparing the data freed, before the model needs memory
    if epochs is not None:
        config.steps = _steps_for_epochs(epochs, task)
    print(f"{type(config).__name__} ({(labels or {}).get('preset', '')} preset):")
    print(pprint.pformat(dataclasses.asdict(config), sort_dicts=False))

    with clock("build"), devices.distribution_scope(distribute):
        model = task.build_model()
        if not model.built:  # traced, not run: JAX would compile every op of an eager call
            model(keras.tree.map_structure(_symbolic, task.train_batch(0)[0]))
        model.compile(
            optimizer=build_optimizer(config, model),
            loss=task.loss(),
            jit_compile=_jit_compile(config, distribute),
        )
        state = _resume_state(run_dir, model, config) if resume else None
    if state is None:
        _clear_previous_run(run_dir, ranks if rank == 0 else None)
    else:
        clock.merge(state.get("phase_seconds", {}))  # the earlier segments' phases

    num_devices = devices.device_count() if distribute else 1
    compute_dtype = keras.config.dtype_policy().compute_dtype
    with clock("peak_measurement"):
        # Data parallelism can at best use every device's peak.
        peak_flops = num_devices * measure_matmul_peak(compute_dtype)
    info = {
        "tokens_per_step": task.tokens_per_step(),
        "flops_per_token": float(task.flops_per_token(model)),
        "num_params": int(model.count_params()),
        "peak_flops": peak_flops,
        "peak_dtype": compute_dtype,
        "num_devices": num_devices,
        "power_watts": power_watts or assumed_power_watts(devices.accelerator(), num_devices),
        "startup_seconds": startup_seconds,
    }
    report.write_json(run_dir / CONFIG, {
        **(labels or {}),
        "config": dataclasses.asdict(config),
        "task": f"{task_class.__module__}.{task_class.__qualname__}",
        "data_dir": data_dir,
        "distribute": distribute,
        "backend": keras.backend.backend(),
        "device": devices.accelerator(),
        "num_devices": num_devices,
        "num_processes": ranks,
        "versions": _versions(),
    })

    # The generators as the checkpoint left them, before anything below draws.
    rng_state = global_rng_state() if state is not None else None
    recorder = RunRecorder(task, run_dir, info, state, started, clock, rng_state)
    callbacks = [recorder]
    if devices.tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(
            run_dir / TENSORBOARD, write_graph=False, update_freq="epoch"
        ))
    elif tensorflow_kept_out():
        print(f"TensorFlow is kept out of this {keras.backend.backend()} run, which has no use "
              f"for it: no TensorBoard logs (metrics.json and {LOSS_CURVE} hold the history).")
    else:
        warnings.warn("TensorFlow or TensorBoard is not installed: no TensorBoard logs.")
    _fit(model, task, recorder.step, callbacks, clock, (rank, ranks))

    with clock("finish"):
        metrics = recorder.metrics(finished=True)
        report.plot_history(metrics["history"], run_dir / LOSS_CURVE, task.headline)
        extras = task.finish(model, run_dir, metrics)
    metrics = _merge_extras(recorder.metrics(finished=True), extras, task)
    report.write_json(run_dir / METRICS, metrics)
    print(report.summary_line(metrics))
    print(phase_line(metrics["phase_seconds"], startup_seconds))
    print(memory_line(metrics["phase_peak_rise_mb"]))
    return metrics


def _symbolic(array) -> keras.KerasTensor:
    """A placeholder of `array`'s shape and dtype, to build a model without computing."""
    return keras.KerasTensor(np.shape(array), dtype=keras.backend.standardize_dtype(array.dtype))


def _merge_extras(metrics: dict, extras: dict | None, task: Task) -> dict:
    """Adds `finish`'s entries to the metrics, as metrics.json will hold them."""
    name = f"{type(task).__name__}.finish()"
    if extras is None:  # a finish that only writes files
        extras = {}
    if not isinstance(extras, dict):
        raise ValueError(f"{name} must return a dict of extra metrics, got {type(extras).__name__}.")
    clashes = sorted(set(extras) & set(metrics))
    if clashes:
        raise ValueError(
            f"{name} returned keys the runner already writes: {clashes}; "
            f"it needs new names for its extra metrics."
        )
    try:
        # A JSON round trip makes the returned dict equal to the file's content
        # (tuples become lists, NumPy scalars become floats).
        return json.loads(json.dumps({**metrics, **extras}, default=_json_scalar))
    except TypeError as error:
        raise ValueError(f"{name} must return JSON-serializable values: {error}") from None


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serializable")


def _fit(model: keras.Model, task: Task, start_step: int, callbacks: list,
         clock: PhaseClock, process: tuple[int, int] = (0, 1)) -> None:
    """Trains one Keras epoch per eval interval (the last one may be shorter).

    Each interval's batches are drawn up front. When they all have one shape
    they go to `fit` as arrays (on TensorFlow as a `tf.data.Dataset` of
    them): sliced inside the compiled input pipeline, a quarter faster per
    step than pulling from a Python generator.
    Batches of several shapes (length buckets) are fed one by one. Either way a
    batch is a pure function of its step, so resuming stays exact. With
    gradient accumulation each batch goes in as its micro-batches, in order.
    `process` is `(index, count)`: in a multi-process run each process feeds
    its own consecutive share of every (micro-)batch's rows.
    """
    interval, steps = task.config.eval_interval, task.config.steps
    splits = task.config.gradient_accumulation_steps
    rank, ranks = process
    for epoch in range(start_step // interval, -(-steps // interval)):
        first, last = epoch * interval, min((epoch + 1) * interval, steps)
        with clock("batches"):
            batches = [_split_rows(micro, ranks, "num_processes")[rank]
                       for step in range(first, last)
                       for micro in _split_rows(task.train_batch(step), splits,
                                                "gradient_accumulation_steps")]
            shapes = {tuple(np.shape(a) for a in keras.tree.flatten(b)) for b in batches}
        common = dict(epochs=epoch + 1, initial_epoch=epoch, callbacks=callbacks, shuffle=False)
        if len(shapes) > 1:
            model.fit(_stream(batches), steps_per_epoch=len(batches), **common)
            continue
        with clock("batches"):
            # A model that defines its own loss trains on `(x, None)` batches.
            x, y, *weights = (
                None if parts[0] is None
                else keras.tree.map_structure(lambda *arrays: np.concatenate(arrays), *parts)
                for parts in zip(*batches)
            )
        batch_size = _rows(batches[0])
        if keras.backend.backend() == "tensorflow":
            model.fit(_tensorflow_batches(x, y, weights, batch_size), **common)
        else:
            model.fit(x, y, sample_weight=weights[0] if weights else None,
                      batch_size=batch_size, **common)


def _tensorflow_batches(x, y, weights: list, batch_size: int):
    """The arrays as a `tf.data.Dataset` of consecutive batches, without autotuning.

    Keras builds the same pipeline from arrays with tf.data's autotuning on;
    letting go of that pipeline held up the end of a `fit` by up to 15 s
    (chapter 04's cpu run: 13 to 38 s of 150), and not at all with
    autotuning off.
    """
    import tensorflow as tf

    parts = (x,) if y is None else (x, y, *weights)
    dataset = tf.data.Dataset.from_tensor_slices(parts).batch(batch_size).prefetch(1)
    return _without_autotuning(dataset)


def _without_autotuning(dataset):
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _rows(batch: tuple) -> int:
    """How many rows a `(x, y, ...)` batch holds: the length of x's first array."""
    return len(keras.tree.flatten(batch[0])[0])


def _split_rows(batch: tuple, parts: int, setting: str) -> list[tuple]:
    """Splits a batch's rows into `parts` equal consecutive parts; `setting` names what asks for them."""
    if parts == 1:
        return [batch]
    rows = _rows(batch)
    if rows % parts:
        raise ValueError(
            f"{setting}={parts} must divide every batch's rows; a batch has {rows} rows."
        )
    size = rows // parts
    cuts = [slice(i * size, (i + 1) * size) for i in range(parts)]
    return [
        tuple(None if part is None else keras.tree.map_structure(lambda a, cut=cut: a[cut], part)
              for part in batch)
        for cut in cuts
    ]


def _stream(batches: list):
    """The batches, one by one, in a form `fit` accepts whatever their shapes.

    Keras reads a generator's tensor spec from its first two batches, so two
    equal first shapes would fix every dimension and reject a later bucket.
    On TensorFlow the batches therefore go in as a `tf.data.Dataset` whose
    spec leaves every dimension open; JAX and PyTorch take the generator.
    """
    if keras.backend.backend() != "tensorflow":
        return (b for b in batches)
    import tensorflow as tf

    spec = keras.tree.map_structure(
        lambda a: tf.TensorSpec((None,) * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)),
        batches[0],
    )
    return _without_autotuning(
        tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=spec)
    )


def _jit_compile(config: Preset, distribute: bool) -> bool:
    """Whether XLA compiles the step: as `config.jit_compile` says on TensorFlow, always on JAX.

    `jit_compile=False` picks TensorFlow's graph mode, which some presets
    find lighter or no slower. JAX has no such mode: unjitted, it dispatches
    op by op (chapter 03's smoke steps 88 times slower, chapters 03 and 05
    peaking over 3 GB), so it compiles whatever the preset says. PyTorch runs
    eagerly, as Keras does there by default: `torch.compile` recompiles for
    each layer of these models (chapter 04's smoke preset: 44 s to the first
    step, then 17 times slower). XLA cannot compile a step whose replicas'
    variables live on several logical CPU devices, so TensorFlow's data
    parallelism on CPU runs unjitted too.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return backend == "jax"
    mirrored_on_cpu = distribute and devices.accelerator() == "cpu"
    return config.jit_compile and not mirrored_on_cpu


def _steps_for_epochs(epochs: float, task: Task) -> int:
    if task.steps_per_epoch is None:
        raise ValueError(
            f"--epochs needs {type(task).__name__}.steps_per_epoch, which is "
            f"None for this task; pass --steps instead."
        )
    steps = round(epochs * task.steps_per_epoch)
    if steps < 1:
        raise ValueError(
            f"--epochs must give at least one step, got {epochs} epochs of "
            f"{task.steps_per_epoch} steps."
        )
    return steps


def check_resumable(run_dir: str | os.PathLike, config: Preset, epochs: float | None = None) -> None:
    """Raises a ValueError if `run_dir` holds a checkpoint trained with other settings than `config`.

    With `epochs`, `config.steps` is not known yet (the task sets it) and is
    not compared; `train` compares it once it is.

    Example (a checkpoint of a 100-step run):

    >>> import dataclasses, pathlib, tempfile
    >>> import keras
    >>> from keras_transformer.training import Preset, save_checkpoint
    >>> from keras_transformer.training.runner import check_resumable
    >>> run_dir = pathlib.Path(tempfile.mkdtemp())
    >>> check_resumable(run_dir, Preset(steps=200))  # no checkpoint yet: nothing to compare
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adamw", loss="mse")
    >>> save_checkpoint(run_dir / "checkpoint.npz", model, {"config": dataclasses.asdict(Preset(steps=100))})
    >>> check_resumable(run_dir, Preset(steps=200), epochs=2.0)  # steps will come from the epochs
    >>> check_resumable(run_dir, Preset(steps=200))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --resume needs the preset ... differ: steps (checkpoint 100, now 200)
    """
    path = pathlib.Path(run_dir) / CHECKPOINT
    if path.exists():
        _check_same_settings(run_dir, checkpoint_state(path)["config"], config,
                             ignore=("steps",) if epochs is not None else ())


def _check_same_settings(run_dir, saved: dict, config: Preset, ignore=()) -> None:
    current = json.loads(json.dumps(dataclasses.asdict(config)))
    changed = sorted(k for k in current if k not in ignore and current[k] != saved.get(k))
    if changed:
        raise ValueError(
            f"--resume needs the preset the checkpoint in {run_dir} was "
            f"trained with; these fields differ: "
            + ", ".join(f"{k} (checkpoint {saved.get(k)!r}, now {current[k]!r})" for k in changed)
        )


def _resume_state(run_dir: pathlib.Path, model: keras.Model, config: Preset) -> dict | None:
    path = run_dir / CHECKPOINT
    if not path.exists():
        print(f"No checkpoint in {run_dir}: starting from step 0.")
        return None
    state = restore_checkpoint(path, model)
    _check_same_settings(run_dir, state["config"], config)
    print(f"Resuming {run_dir} at step {state['step']}.")
    return state


def _clear_previous_run(run_dir: pathlib.Path, ranks: int | None) -> None:
    """Removes an earlier run's results; with `ranks` (process 0), the folders of processes beyond them."""
    for name in (CHECKPOINT, METRICS):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / TENSORBOARD, ignore_errors=True)
    for folder in run_dir.glob("process-*") if ranks else ():
        # The other processes clear their own folders, perhaps while this one runs.
        index = folder.name.removeprefix("process-")
        if index.isdigit() and int(index) >= ranks:
            shutil.rmtree(folder, ignore_errors=True)


def _check_split(config: Preset, ranks: int) -> None:
    """Every process takes an equal share of every micro-batch's rows, so `ranks * k` divides the batch."""
    parts = ranks * config.gradient_accumulation_steps
    if ranks > 1 and config.batch_size % parts:
        raise ValueError(
            f"batch_size={config.batch_size} must split into num_processes={ranks} x "
            f"gradient_accumulation_steps={config.gradient_accumulation_steps} equal parts."
        )


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in ("keras", "numpy", "tensorflow", "jax", "jaxlib", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions

"""The run folder's human-facing outputs: metrics.json, loss curve, summary line."""

import json
import math
import os
import pathlib

from matplotlib.figure import Figure

from keras_transformer.plots import save_figure


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Writes `data` as indented JSON, atomically (temporary file + `os.replace`).

    Example (no temporary file is left behind):

    >>> import json, pathlib, tempfile
    >>> from keras_transformer.training.report import write_json
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_json(folder / "metrics.json", {"step": 20, "val_loss": 1.5})
    >>> [path.name for path in folder.iterdir()], json.loads((folder / "metrics.json").read_text())
    (['metrics.json'], {'step': 20, 'val_loss': 1.5})
    """
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temporary, path)


def join_histories(histories: dict[str, list[dict]], prefix: str = "") -> list[dict]:
    """One record per step from runs that each trained one model: every run's `<name>_<prefix>` entries.

    A chapter that trains its models in turn, each in a run of its own,
    gathers their histories this way (the runs name their entries after
    their model). Steps come in order; a step only some runs evaluated holds
    only theirs.

    Example:

    >>> from keras_transformer.training.report import join_histories
    >>> join_histories({"rnn": [{"step": 10, "loss": 3.0, "rnn_val_loss": 2.5}],
    ...                 "gpt": [{"step": 10, "gpt_val_loss": 2.0}, {"step": 20, "gpt_val_loss": 1.8}]},
    ...                prefix="val_")
    [{'step': 10, 'rnn_val_loss': 2.5, 'gpt_val_loss': 2.0}, {'step': 20, 'gpt_val_loss': 1.8}]
    """
    by_step = {}
    for name, history in histories.items():
        for record in history:
            row = by_step.setdefault(record["step"], {"step": record["step"]})
            row.update({k: v for k, v in record.items() if k.startswith(f"{name}_{prefix}")})
    return [by_step[step] for step in sorted(by_step)]


def plot_history(history: list[dict], path: str | os.PathLike, headline: str) -> None:
    """Saves a PNG of the training loss and evaluation metrics against step.

    Loss-like metrics (names containing "loss") share the left panel; a
    headline that is not a loss (accuracy, BLEU, ...) gets its own panel. A
    metric missing from a row (evaluated at some steps only) leaves a gap. The
    folder of `path` is created if need be.

    Example (accuracy gets a panel of its own: the PNG is two 600-pixel panels wide):

    >>> import pathlib, struct, tempfile
    >>> from keras_transformer.training.report import plot_history
    >>> history = [{"step": 10, "train_loss": 2.0, "val_loss": 2.1, "accuracy": 0.4},
    ...            {"step": 20, "train_loss": 1.5, "val_loss": 1.7, "accuracy": 0.6}]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "new" / "loss_curve.png"
    >>> plot_history(history, path, headline="accuracy")
    >>> struct.unpack(">II", path.read_bytes()[16:24])  # PNG (width, height)
    (1200, 400)
    """
    steps = [record["step"] for record in history]
    loss_keys = dict.fromkeys(k for record in history for k in record if "loss" in k)
    panels = 1 if "loss" in headline else 2
    # Figure without pyplot: no global backend switch, works headless.
    figure = Figure(figsize=(6 * panels, 4), layout="tight")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for key in loss_keys:
        axes[0].plot(steps, column(history, key), marker=".", label=key)
    axes[0].set(xlabel="step", ylabel="loss", title="loss")
    axes[0].legend()
    if panels == 2:
        axes[1].plot(steps, column(history, headline), marker=".")
        axes[1].set(xlabel="step", ylabel=headline, title=headline)
    save_figure(figure, path)


def column(history: list[dict], key: str) -> list[float]:
    """`key`'s value in every row of `history`, NaN (a gap in the plot) where a row lacks it.

    Example:

    >>> from keras_transformer.training.report import column
    >>> column([{"step": 10, "bleu": 12.5}, {"step": 20}], "bleu")
    [12.5, nan]
    """
    return [record.get(key, math.nan) for record in history]


def summary_line(metrics: dict) -> str:
    """Returns the one-line result of a run, from the contents of metrics.json.

    Example:

    >>> from keras_transformer.training.report import summary_line
    >>> summary_line({"headline": {"name": "val_loss", "value": 1.874},
    ...     "wall_time_s": 71.2, "tokens_per_second": 21500,
    ...     "flops_per_token": 5.1e6, "mfu": 0.42, "peak_flops": 2.6e11,
    ...     "energy_wh": 0.9, "peak_rss_mb": 950.4, "device_peak_mb": None})
    'summary: val_loss=1.874 | wall 71.2s | 21,500 tok/s | 5.1 MFLOP/token | MFU 42.0% of 260 GFLOP/s measured peak | ~0.9 Wh | peak RSS 950 MiB'
    """
    headline = metrics["headline"]
    return " | ".join([
        f"summary: {headline['name']}={_four_digits(headline['value'])}",
        f"wall {metrics['wall_time_s']:.1f}s",
        f"{metrics['tokens_per_second']:,.0f} tok/s",
        f"{_si(metrics['flops_per_token'])}FLOP/token",
        f"MFU {100 * metrics['mfu']:.1f}% of "
        f"{_si(metrics['peak_flops'])}FLOP/s measured peak",
        f"~{metrics['energy_wh']:.2g} Wh",
        f"peak RSS {metrics['peak_rss_mb']:,.0f} MiB",
    ] + ([f"device peak {metrics['device_peak_mb']:,.0f} MiB"]
         if metrics.get("device_peak_mb") is not None else []))


def _four_digits(value: float) -> str:
    """Four significant digits, trailing zeros kept (an MCC of 0 reads 0.000, not 0)."""
    return f"{value:#.4g}".rstrip(".")


def _si(value: float) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}"
    return f"{value:.3g} "

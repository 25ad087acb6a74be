"""Figures the chapters save into their run folders: heatmaps, matrices, bars, lines.

Every helper draws on a `matplotlib.figure.Figure` without pyplot, so it works
headless and never switches the global backend, and writes a PNG to `path`.
Shapes are checked first: a wrong shape is a `ValueError` naming the argument.

Example:

>>> import pathlib, tempfile
>>> import numpy as np
>>> from keras_transformer import plots
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> weights = np.full((2, 1, 4), 0.25)   # (heads, queries, keys)
>>> path = plots.attention_heatmap(weights, ["a", "b", "c", "d"], ["q"], folder / "attention.png")
>>> path.name, path.read_bytes()[1:4]
('attention.png', b'PNG')
>>> plots.bar_chart({"attention": 1.0, "mean pooling": 0.11}, folder / "accuracy.png").exists()
True
>>> plots.line_chart([0, 1, 2], {"train": [2.0, 1.5, 1.2]}, folder / "loss.png").exists()
True
>>> plots.matrix_plot(np.eye(3), folder / "identity.png").exists()
True
>>> plots.attention_heatmap(np.ones((2, 3)), ["a"], None, folder / "bad.png")
Traceback (most recent call last):
...
ValueError: `x_labels` must have one label per keys (last axis of `weights`): expected 3, got 1.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["attention_heatmap", "bar_chart", "bar_panels", "line_chart", "matrix_plot", "save_figure"]


def attention_heatmap(
    weights: ArrayLike,
    x_labels: Sequence[str] | None,
    y_labels: Sequence[str] | None,
    path: str | os.PathLike,
    title: str | None = None,
    head_titles: Sequence[str] | None = None,
    max_columns: int = 4,
) -> pathlib.Path:
    """Saves attention weights as a heatmap, one panel per head.

    Args:
        weights: `(queries, keys)` for one head or `(heads, queries, keys)`
            for a grid of heads (e.g. one example of the `(batch, heads, T, S)`
            scores `MultiHeadAttention(..., return_attention_scores=True)` returns).
        x_labels: one label per key (columns), or None for indices.
        y_labels: one label per query (rows), or None for indices.
        path: the PNG to write.
        title: the figure's title.
        head_titles: one title per head; default "head 0", "head 1", ...
        max_columns: panels per row of the grid.

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        ValueError: `weights` is not rank 2 or 3 or is empty, or a label list
            does not match its axis.

    Example (one head, then two heads side by side: the PNG doubles in width):

    >>> import pathlib, struct, tempfile
    >>> import numpy as np
    >>> from keras_transformer import plots
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> one = plots.attention_heatmap(np.eye(3), list("abc"), list("xyz"), folder / "one.png")
    >>> two = plots.attention_heatmap(np.stack([np.eye(3)] * 2), None, None, folder / "two.png")
    >>> [struct.unpack(">II", p.read_bytes()[16:24]) for p in (one, two)]  # PNG (width, height)
    [(300, 255), (600, 255)]
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 2:
        weights = weights[None]
    if weights.ndim != 3 or 0 in weights.shape:
        raise ValueError(
            "`weights` must have shape (queries, keys) or (heads, queries, keys) "
            f"with no empty axis; got shape {weights.shape}."
        )
    heads, queries, keys = weights.shape
    x_labels = _labels("x_labels", x_labels, keys, "keys (last axis of `weights`)")
    y_labels = _labels("y_labels", y_labels, queries, "queries (axis -2 of `weights`)")
    head_titles = _labels("head_titles", head_titles, heads, "heads (axis 0 of `weights`)",
                          default=[f"head {h}" for h in range(heads)])
    if max_columns < 1:
        raise ValueError(f"`max_columns` must be >= 1; got {max_columns}.")

    columns = min(heads, max_columns)
    rows = -(-heads // columns)
    cell_w, cell_h = 0.45, 0.45
    width = max(3.0, min(keys * cell_w + 1.5, 12.0)) * columns
    height = max(1.6, min(queries * cell_h + 1.2, 10.0)) * rows + (0.5 if title else 0)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    image = None
    for h, ax in enumerate(axes):
        if h >= heads:
            ax.set_axis_off()
            continue
        image = ax.imshow(weights[h], cmap="viridis", vmin=0.0, vmax=max(1e-9, weights.max()),
                          aspect="auto", interpolation="nearest")
        ax.set_xticks(range(keys), x_labels, rotation=90, fontsize=8)
        ax.set_yticks(range(queries), y_labels, fontsize=8)
        ax.set_title(head_titles[h], fontsize=9)
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    figure.colorbar(image, ax=list(axes[:heads]), shrink=0.8, label="weight")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def matrix_plot(
    matrix: ArrayLike,
    path: str | os.PathLike,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    cmap: str = "RdBu_r",
    symmetric: bool = True,
    colorbar_label: str | None = None,
) -> pathlib.Path:
    """Saves a 2-D array as an image (rows down, columns across) with a colorbar.

    Args:
        matrix: a `(rows, columns)` array, e.g. a `(positions, channels)`
            encoding or a `(positions, positions)` similarity.
        path: the PNG to write.
        title, xlabel, ylabel: text for the axes.
        cmap: a matplotlib colormap name.
        symmetric: center the color scale on 0 (for signed values).
        colorbar_label: label of the colorbar.

    Raises:
        ValueError: `matrix` is not 2-D, is empty, or holds NaN/inf.

    Example:

    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from keras_transformer import plots
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = plots.matrix_plot(np.eye(3) - 0.5, folder / "matrix.png", xlabel="column")
    >>> path.name, path.read_bytes()[1:4]
    ('matrix.png', b'PNG')
    >>> plots.matrix_plot(np.ones(3), folder / "vector.png")
    Traceback (most recent call last):
    ...
    ValueError: `matrix` must be 2-D (rows, columns) and non-empty; got shape (3,).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(
            f"`matrix` must be 2-D (rows, columns) and non-empty; got shape {matrix.shape}."
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError("`matrix` holds NaN or inf values; it cannot be plotted.")
    limits = {}
    if symmetric:
        bound = max(1e-12, float(np.abs(matrix).max()))
        limits = {"vmin": -bound, "vmax": bound}
    figure = Figure(figsize=(7, 5), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest", **limits)
    figure.colorbar(image, ax=ax, label=colorbar_label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return save_figure(figure, path)


def bar_chart(
    values: Mapping[str, float],
    path: str | os.PathLike,
    title: str | None = None,
    ylabel: str | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
) -> pathlib.Path:
    """Saves a bar chart of named values (e.g. accuracy per model), labelled on top.

    Args:
        values: `{name: value}`, drawn in insertion order.
        path: the PNG to write.
        title, ylabel: text for the axes.
        reference: draw a dashed horizontal line at this value (e.g. chance).
        reference_label: legend text of the reference line.

    Raises:
        ValueError: `values` is empty or holds a non-finite value.

    Example:

    >>> import pathlib, tempfile
    >>> from keras_transformer import plots
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = plots.bar_chart({"model": 0.82, "majority": 0.69}, folder / "accuracy.png",
    ...                        ylabel="accuracy", reference=0.5)
    >>> path.exists(), path.suffix
    (True, '.png')
    """
    heights = _bar_heights("values", values)
    figure = Figure(figsize=(max(4.0, 1.2 * len(heights) + 2), 4), layout="constrained")
    ax = figure.subplots()
    _draw_bars(ax, heights, ylabel, reference, reference_label)
    ax.set(title=title)
    return save_figure(figure, path)


def bar_panels(
    panels: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike,
    references: Mapping[str, float] | None = None,
    reference_label: str = "chance",
) -> pathlib.Path:
    """Saves bar charts side by side, one per measure, each labelled on top.

    Args:
        panels: `{measure: {name: value}}`; the measure labels the panel's
            y axis, and each panel may name other models.
        path: the PNG to write.
        references: `{measure: value}`, a dashed line across that panel.
        reference_label: legend text of the reference lines.

    Raises:
        ValueError: no panels, a panel without values or with a non-finite
            value, or a reference for a measure not in `panels`.

    Example (the scores of every model beside random weights' score):

    >>> import pathlib, tempfile
    >>> from keras_transformer import plots
    >>> path = plots.bar_panels(
    ...     {"F1": {"bert": 9.2, "random": 8.8}, "parameters (M)": {"bert": 1.8, "random": 1.8}},
    ...     pathlib.Path(tempfile.mkdtemp()) / "family.png", references={"F1": 8.8},
    ...     reference_label="random weights")
    >>> path.read_bytes()[1:4]
    b'PNG'
    """
    if not panels:
        raise ValueError("`panels` must hold at least one {measure: {name: value}} panel.")
    references = dict(references or {})
    unknown = sorted(set(references) - set(panels))
    if unknown:
        raise ValueError(f"`references` names measures {unknown} that `panels` lacks; "
                         f"the panels are {list(panels)}.")
    heights = {measure: _bar_heights(f"panels[{measure!r}]", values)
               for measure, values in panels.items()}
    width = sum(max(3.0, 0.8 * len(h) + 1) for h in heights.values())
    figure = Figure(figsize=(width, 3.8), layout="constrained")
    lines = []
    for ax, (measure, values) in zip(figure.subplots(1, len(heights), squeeze=False)[0],
                                     heights.items()):
        lines.append(_draw_bars(ax, values, measure, references.get(measure), reference_label,
                                legend=False))
        ax.tick_params(axis="x", rotation=30)
    drawn = [line for line in lines if line is not None]
    if drawn:  # one legend for the figure, clear of every panel's bars
        figure.legend(handles=drawn[:1], loc="outside upper center")
    return save_figure(figure, path)


def _bar_heights(name: str, values: Mapping[str, float]) -> dict[str, float]:
    if not values:
        raise ValueError(f"`{name}` must hold at least one {{name: value}} pair.")
    try:
        heights = {str(k): float(v) for k, v in values.items()}
    except (TypeError, ValueError):  # a string, an array, None
        heights = {"": float("nan")}
    if not np.all(np.isfinite(list(heights.values()))):
        raise ValueError(f"`{name}` must map names to finite numbers; got {dict(values)!r}.")
    return heights


def _draw_bars(ax, heights: dict[str, float], ylabel: str | None, reference: float | None,
               reference_label: str, legend: bool = True):
    """Draws labelled bars and the reference line on `ax`; returns the line, or None."""
    bars = ax.bar(list(heights), list(heights.values()), color="tab:blue")
    ax.bar_label(bars, fmt="%.3g")  # a value of 0 still shows as a label
    ax.margins(y=0.12)  # room for the labels under the frame
    ax.set_ylabel(ylabel)
    if reference is None:
        return None
    line = ax.axhline(reference, color="tab:red", linestyle="--", label=reference_label)
    if legend:
        ax.legend()
    return line


def line_chart(
    x: Sequence[float] | np.ndarray | Mapping[str, Sequence[float] | np.ndarray],
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
    vline: float | None = None,
    vline_label: str | None = None,
    log_scale: bool = False,
) -> pathlib.Path:
    """Saves one line per named series against shared x values (or each its own).

    Args:
        x: the x values, shape `(n,)`, shared by every series; or a mapping
            `{name: x values}` giving each series its own.
        series: `{name: y values}`, each of the shape of its x values. NaN
            leaves a gap (e.g. a length that did not fit in memory).
        path: the PNG to write.
        title, xlabel, ylabel: text for the axes.
        reference: dashed horizontal line (e.g. chance).
        vline: dotted vertical line (e.g. the longest training length).
        log_scale: logarithmic x and y axes (e.g. cost against length); an
            axis with no positive value to show (every value NaN) stays linear.

    Raises:
        ValueError: an x is not 1-D and non-empty, `series` is empty, or a
            series' length differs from its x's.

    Example:
    >>> import tempfile, pathlib
    >>> from keras_transformer import plots
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> plots.line_chart({"a": [1, 2], "b": [1, 3, 9]}, {"a": [0.5, 0.4], "b": [0.6, 0.5, 0.3]},
    ...                  folder / "curves.png", xlabel="seconds").name
    'curves.png'
    """
    if not series:
        raise ValueError("`series` must hold at least one {name: values} pair.")
    xs = x if isinstance(x, Mapping) else {name: x for name in series}
    figure = Figure(figsize=(6.5, 4), layout="constrained")
    ax = figure.subplots()
    for name, values in series.items():
        where = f"`x[{name!r}]`" if isinstance(x, Mapping) else "`x`"
        if name not in xs:
            raise ValueError(f"`x` has no values for series {name!r}; it has {sorted(xs)}.")
        xv = np.asarray(xs[name], dtype=np.float64)
        if xv.ndim != 1 or xv.size == 0:
            raise ValueError(f"{where} must be 1-D and non-empty; got shape {xv.shape}.")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != xv.shape:
            raise ValueError(
                f"`series[{name!r}]` must have the shape of {where} {xv.shape}; "
                f"got {values.shape}."
            )
        ax.plot(xv, values, marker="o", label=str(name))
    if reference is not None:
        ax.axhline(reference, color="gray", linestyle="--", label=reference_label)
    if vline is not None:
        ax.axvline(vline, color="black", linestyle=":", label=vline_label)
    if log_scale:
        # `minpos` is an axis's smallest positive value, inf if it has none: a log
        # scale then has no range and matplotlib fails to save.
        has_x, has_y = np.isfinite(ax.dataLim.minpos)
        if has_x:
            ax.set_xscale("log", base=2)
        if has_y:
            ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return save_figure(figure, path)


def _labels(name, labels, size, axis, default=None):
    if labels is None:
        return default if default is not None else [str(i) for i in range(size)]
    labels = [str(label) for label in labels]
    if len(labels) != size:
        raise ValueError(
            f"`{name}` must have one label per {axis}: expected {size}, got {len(labels)}."
        )
    return labels


def save_figure(figure: Figure, path: str | os.PathLike) -> pathlib.Path:
    """Writes `figure` to `path`, creating its folder, and returns `path`: the file written.

    The format follows the suffix, PNG without one; naming it stops matplotlib
    from writing "name" as "name.png".

    Example (the missing folder is created; a path without suffix stays as given):

    >>> import pathlib, tempfile
    >>> from matplotlib.figure import Figure
    >>> from keras_transformer import plots
    >>> figure = Figure(figsize=(2, 1))
    >>> path = plots.save_figure(figure, pathlib.Path(tempfile.mkdtemp()) / "new" / "figure")
    >>> path.name, path.read_bytes()[1:4], path.with_suffix(".png").exists()
    ('figure', b'PNG', False)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, format=path.suffix[1:] or "png")
    return path

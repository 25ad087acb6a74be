"""The chapters' figure helpers: they write real PNGs and refuse bad shapes by name."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    """The file exists, starts with the PNG signature and decodes to an RGB(A) image."""
    assert path.exists()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4) and min(image.shape[:2]) > 50


@settings(max_examples=6)
@given(heads=st.integers(0, 5), queries=st.integers(1, 4), keys=st.integers(1, 7),
       seed=st.integers(0, 2**16))
def test_attention_heatmap_writes_a_png_for_one_head_or_a_grid(tmp_path_factory, heads,
                                                               queries, keys, seed):
    """Weights `(T, S)` (heads=0 here) or `(H, T, S)` with matching labels give a valid PNG."""
    rng = np.random.default_rng(seed)
    shape = (queries, keys) if heads == 0 else (heads, queries, keys)
    weights = rng.dirichlet(np.ones(keys), size=shape[:-1])
    path = tmp_path_factory.mktemp("heatmap") / "sub" / "attention.png"
    returned = plots.attention_heatmap(
        weights, [f"k{i}" for i in range(keys)], [f"q{i}" for i in range(queries)], path,
        title="t", max_columns=2,
    )
    assert returned == path
    assert_png(path)


def test_attention_heatmap_accepts_none_labels(tmp_path):
    """Labels may be omitted: the axes are then numbered."""
    plots.attention_heatmap(np.eye(3), None, None, tmp_path / "a.png")
    assert_png(tmp_path / "a.png")


@pytest.mark.parametrize("weights, x_labels, y_labels, name", [
    (np.zeros(4), None, None, "weights"),
    (np.zeros((1, 2, 3, 4)), None, None, "weights"),
    (np.zeros((2, 0)), None, None, "weights"),
    (np.zeros((2, 3)), ["a", "b"], None, "x_labels"),
    (np.zeros((2, 3)), None, ["a", "b", "c"], "y_labels"),
])
def test_attention_heatmap_bad_shapes_name_the_argument(tmp_path, weights, x_labels,
                                                        y_labels, name):
    """A wrong rank, an empty axis or a label list of the wrong length is a ValueError naming it."""
    with pytest.raises(ValueError, match=f"`{name}`"):
        plots.attention_heatmap(weights, x_labels, y_labels, tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_attention_heatmap_head_titles_must_match_heads(tmp_path):
    """One title per head, or a ValueError naming `head_titles`."""
    with pytest.raises(ValueError, match="`head_titles`"):
        plots.attention_heatmap(np.zeros((2, 1, 3)), None, None, tmp_path / "a.png",
                                head_titles=["only one"])


@pytest.mark.parametrize("symmetric", [True, False])
def test_matrix_plot_writes_a_png(tmp_path, symmetric):
    """A 2-D array, signed or not, becomes a PNG."""
    matrix = np.sin(np.arange(30).reshape(5, 6))
    plots.matrix_plot(matrix, tmp_path / "m.png", title="m", xlabel="x", ylabel="y",
                      symmetric=symmetric)
    assert_png(tmp_path / "m.png")


@pytest.mark.parametrize("matrix", [np.zeros(3), np.zeros((2, 2, 2)), np.zeros((0, 3)),
                                    np.array([[1.0, np.nan]])])
def test_matrix_plot_bad_input_names_the_argument(tmp_path, matrix):
    """Not 2-D, empty or non-finite is a ValueError naming `matrix`."""
    with pytest.raises(ValueError, match="`matrix`"):
        plots.matrix_plot(matrix, tmp_path / "m.png")


def test_bar_chart_writes_a_png_with_a_reference_line(tmp_path):
    """Named values, with an optional chance line, become a PNG."""
    plots.bar_chart({"attention": 1.0, "baseline": 0.12}, tmp_path / "b.png",
                    title="acc", ylabel="accuracy", reference=0.125)
    assert_png(tmp_path / "b.png")


@pytest.mark.parametrize("values", [{}, {"a": float("nan")}, {"a": "high"}, {"a": [1.0, 2.0]}])
def test_bar_chart_bad_values_name_the_argument(tmp_path, values):
    """No values, or a value that is not one finite number, is a ValueError naming `values`."""
    with pytest.raises(ValueError, match="`values`"):
        plots.bar_chart(values, tmp_path / "b.png")


def test_bar_panels_write_one_png_with_a_panel_per_measure(tmp_path):
    """Measures of differently named models, zeros and a reference per panel, become one PNG."""
    panels = {"F1": {"bert": 9.2, "random": 8.8, "student": 8.8},
              "MCC": {"bert": 0.0, "random": 0.0}}
    assert_png(plots.bar_panels(panels, tmp_path / "p.png", references={"F1": 8.8, "MCC": 0.0},
                                reference_label="random weights"))


@pytest.mark.parametrize("panels, references, name", [
    ({}, None, "`panels`"),
    ({"F1": {}}, None, r"`panels\['F1'\]`"),
    ({"F1": {"a": float("inf")}}, None, r"`panels\['F1'\]`"),
    ({"F1": {"a": 1.0}}, {"MCC": 0.0}, "`references` names measures \\['MCC'\\]"),
])
def test_bar_panels_bad_input_names_the_argument(tmp_path, panels, references, name):
    """No panels, an empty panel, a non-finite value or a reference without its panel is a ValueError naming the argument."""
    with pytest.raises(ValueError, match=name):
        plots.bar_panels(panels, tmp_path / "p.png", references=references)


def test_line_chart_writes_a_png(tmp_path):
    """Several series against shared x, with reference and vertical lines, become a PNG."""
    plots.line_chart([8, 12, 16], {"a": [1, 0.5, 0.2], "b": [0.1, 0.1, 0.1]},
                     tmp_path / "l.png", reference=0.1, vline=8, vline_label="train")
    assert_png(tmp_path / "l.png")


def test_line_chart_takes_one_x_per_series(tmp_path):
    """Series with their own x values (different lengths, a NaN gap) on log axes become a PNG."""
    plots.line_chart({"a": [512, 1024], "b": [512, 1024, 2048]},
                     {"a": [0.01, 0.04], "b": [0.01, float("nan"), 0.03]},
                     tmp_path / "l.png", log_scale=True)
    assert_png(tmp_path / "l.png")


@pytest.mark.parametrize("series, lines", [
    ({"a": [float("nan")] * 2}, {}),
    ({"a": [0.0, -1.0]}, {}),  # nothing positive for a log axis either
    ({"a": [float("nan")] * 2}, {"reference": 0.5, "vline": 2}),
])
def test_line_chart_on_log_axes_without_positive_values_still_writes(tmp_path, series, lines):
    """A series with no positive value (all NaN: all gaps) on log axes still gives a PNG."""
    assert_png(plots.line_chart([1, 2], series, tmp_path / "l.png", log_scale=True, **lines))


@pytest.mark.parametrize("name", ["noext", "sub/chart.png"])
def test_line_chart_returns_the_file_it_wrote(tmp_path, name):
    """The returned path is the PNG written, with no suffix added, in a folder created if need be."""
    path = plots.line_chart([1], {"a": [1.0]}, tmp_path / name)
    assert path == tmp_path / name
    assert_png(path)


@pytest.mark.parametrize("x, series, name", [
    ([], {"a": []}, "x"),
    ([[1, 2]], {"a": [1, 2]}, "x"),
    ([1, 2], {}, "series"),
    ([1, 2], {"a": [1, 2, 3]}, "series"),
    ({"b": [1, 2]}, {"a": [1, 2]}, "x"),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, "series"),
])
def test_line_chart_bad_shapes_name_the_argument(tmp_path, x, series, name):
    """Empty or non-1-D x, no series, or a series whose length differs from x is a ValueError naming it."""
    with pytest.raises(ValueError, match=f"`{name}"):
        plots.line_chart(x, series, tmp_path / "l.png")

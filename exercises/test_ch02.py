"""2장 연습문제 확인: 답을 `kt.layers.SinusoidalPositionEncoding`의 실제 출력과 비교합니다."""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

CHAPTER = "ch02"

even_dims = st.integers(1, 16).map(lambda n: 2 * n)
wavelengths = st.sampled_from([10000.0, 1000.0, 100.0])
FAST = settings(max_examples=25, deadline=None)


def layer_table(length: int, dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """The package's encoding of positions 0..length-1, as a float64 `(length, dim)` array."""
    layer = kt.layers.SinusoidalPositionEncoding(max_wavelength=max_wavelength)
    out = layer(np.zeros((1, length, dim), "float32"))
    return keras.ops.convert_to_numpy(out)[0].astype(np.float64)


@FAST
@given(st.integers(1, 64), even_dims, wavelengths)
def test_sinusoidal_table_matches_the_layer(ex, length, dim, wavelength):
    """The NumPy table equals the layer's output, value for value, in shape and content."""
    table = np.asarray(ex.sinusoidal_table(length, dim, wavelength))
    assert table.shape == (length, dim)
    np.testing.assert_allclose(table, layer_table(length, dim, wavelength), atol=1e-4)


@FAST
@given(st.integers(1, 20), even_dims, wavelengths)
def test_shift_matrix_moves_every_position_by_k(ex, k, dim, wavelength):
    """M_k maps the layer's PE(t) to its PE(t + k) for every t at once, and is orthogonal."""
    m = np.asarray(ex.shift_matrix(k, dim, wavelength))
    pe = layer_table(32 + k, dim, wavelength)
    np.testing.assert_allclose(pe[:32] @ m.T, pe[k:], atol=1e-4)
    np.testing.assert_allclose(m @ m.T, np.eye(dim), atol=1e-9)


@FAST
@given(st.integers(0, 60), st.integers(-30, 30), even_dims, wavelengths)
def test_offset_similarity_is_the_dot_product_at_any_position(ex, t, k, dim, wavelength):
    """The closed form equals the layer's PE(t) · PE(t + k) for a drawn t, so it depends on k alone."""
    if t + k < 0:
        t = -k
    pe = layer_table(t + max(k, 0) + 1, dim, wavelength)
    expected = pe[t] @ pe[t + k]
    np.testing.assert_allclose(ex.offset_similarity(k, dim, wavelength), expected, atol=1e-3)

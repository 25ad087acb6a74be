"""Positional encodings: the paper's sinusoid, learned tables and their `start_index`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.layers import (
    PositionEmbedding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
)
from tests.helpers import MAX_BATCH, MAX_LEN, WIDTH, assert_close, rng, seeds, to_numpy, token_embedding

even_widths = st.integers(1, 8).map(lambda n: 2 * n)
wavelengths = st.sampled_from([10000.0, 100.0, 500.0])
SINUSOID = SinusoidalPositionEncoding()


def paper_encoding(positions, dim, max_wavelength=10000.0):
    """PE(t, 2i) = sin(t / w^(2i/d)), PE(t, 2i+1) = cos(t / w^(2i/d)), in float64."""
    positions = np.asarray(positions, np.float64)[:, None]
    two_i = 2 * (np.arange(dim) // 2)
    angles = positions / np.power(max_wavelength, two_i / dim)
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


def shift_matrix(k, dim, max_wavelength=10000.0):
    """The block-diagonal rotation M_k with PE(t + k) = M_k PE(t) for every t."""
    matrix = np.zeros((dim, dim))
    for i in range(dim // 2):
        angle = k / max_wavelength ** (2 * i / dim)
        c, s = np.cos(angle), np.sin(angle)
        matrix[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return matrix


@given(st.integers(1, MAX_BATCH), st.integers(1, 64), even_widths, wavelengths,
       st.integers(0, 100))
def test_sinusoid_matches_the_paper_formula(batch, length, dim, wavelength, start):
    """Every batch row equals PE(t, 2i) = sin(t / w^(2i/d)), PE(t, 2i+1) = cos(t / w^(2i/d)) at t = start_index + position."""
    layer = SinusoidalPositionEncoding(max_wavelength=wavelength)
    out = to_numpy(layer(np.zeros((batch, length, dim), "float32"), start_index=start))
    expected = paper_encoding(np.arange(start, start + length), dim, wavelength)
    assert_close(out, np.broadcast_to(expected, out.shape), atol=1e-4)


@given(st.integers(1, 256), even_widths, st.integers(0, 10_000))
def test_sinusoid_lies_in_unit_interval(length, dim, start):
    """Every value of the encoding lies in [-1, 1], for any position."""
    out = to_numpy(SINUSOID(np.zeros((1, length, dim), "float32"), start_index=start))
    assert np.all(np.abs(out) <= 1.0)


@given(st.integers(1, 32), even_widths, st.integers(1, 20))
def test_sinusoid_shift_is_a_fixed_linear_map(length, dim, k):
    """PE(t + k) = M_k · PE(t) for one matrix M_k (a rotation per channel pair) that does not depend on t."""
    pe = to_numpy(SINUSOID(np.zeros((1, length + k, dim), "float32")))[0]
    shifted = pe[:length] @ shift_matrix(k, dim).T
    assert_close(shifted, pe[k:], atol=1e-4)


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), even_widths, seeds,
       st.integers(0, MAX_LEN))
def test_learned_positions_are_table_rows(batch, length, dim, seed, start):
    """`PositionEmbedding` returns rows start_index..start_index+T-1 of its table, for every batch row, whatever the input values."""
    layer = PositionEmbedding(max_length=2 * MAX_LEN)
    x = rng(seed).standard_normal((batch, length, dim)).astype("float32")
    out = to_numpy(layer(x, start_index=start))
    table = to_numpy(layer.embeddings)
    assert_close(out, np.broadcast_to(table[start:start + length], out.shape))


@pytest.mark.parametrize("position", ["learned", "sinusoidal"])
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), seeds)
def test_token_and_position_is_the_sum_of_table_lookups(position, batch, length, seed):
    """`TokenAndPositionEmbedding` = token_table[ids] + position vector, from the tables read back as arrays."""
    layer = token_embedding(position)
    ids = rng(seed).integers(0, 11, (batch, length))
    out = to_numpy(layer(ids))
    tokens = to_numpy(layer.token_embedding.embeddings)[ids]
    positions = (to_numpy(layer.position_embedding.embeddings)[:length]
                 if position == "learned" else paper_encoding(np.arange(length), WIDTH))
    assert_close(out, tokens + positions, atol=1e-5)


@pytest.mark.parametrize("position", ["learned", "sinusoidal"])
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), st.data(), seeds)
def test_start_index_equals_slicing_a_longer_input(position, batch, total, data, seed):
    """emb(x[:, k:], start_index=k) equals emb(x)[:, k:], for learned and sinusoidal positions."""
    k = data.draw(st.integers(0, total - 1))
    layer = token_embedding(position)
    ids = rng(seed).integers(0, 11, (batch, total))
    assert_close(layer(ids[:, k:], start_index=k), to_numpy(layer(ids))[:, k:], atol=1e-6)


@pytest.mark.parametrize("position", ["learned", "sinusoidal"])
@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), st.data(), seeds)
def test_prefix_is_consistent(position, batch, total, data, seed):
    """The embedding of a prefix equals the prefix of the embedding."""
    t = data.draw(st.integers(1, total))
    layer = token_embedding(position)
    ids = rng(seed).integers(0, 11, (batch, total))
    assert_close(layer(ids[:, :t]), to_numpy(layer(ids))[:, :t], atol=1e-6)


@pytest.mark.parametrize("position", ["learned", "sinusoidal"])
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 6))
def test_too_long_input_is_a_clear_error(position, max_length, over, start):
    """start_index + length > max_length raises a ValueError that names `max_length`, for both position kinds."""
    length = max(max_length - start, 0) + over
    layer = TokenAndPositionEmbedding(7, max_length, 4, position=position)
    with pytest.raises(ValueError, match="max_length"):
        layer(np.ones((1, length), "int32"), start_index=start)
    if position == "learned":
        with pytest.raises(ValueError, match="max_length"):
            PositionEmbedding(max_length)(np.zeros((1, length, 4)), start_index=start)

"""Encoder blocks take their self-attention kind by name: full, BigBird or LSH."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_transformer as kt
from tests.helpers import assert_close, to_numpy


@given(st.integers(0, 2**16), st.booleans())
def test_bigbird_block_covering_every_block_equals_the_full_block(seed, padded):
    """With window and globals covering all blocks, a BigBird encoder block computes the full block's output."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 16, 8)).astype("float32")
    padding = np.ones((2, 16), bool)
    if padded:
        padding[1, 11:] = False
    full = kt.layers.EncoderBlock(2, 16, norm_first=True)
    sparse = kt.layers.EncoderBlock(
        2, 16, norm_first=True, attention="bigbird",
        attention_options={"block_size": 4, "num_random_blocks": 1, "seed": seed},
    )
    full(x, padding_mask=padding)
    sparse(x, padding_mask=padding)
    sparse.set_weights(full.get_weights())
    real = padding[..., None]
    assert_close(np.where(real, to_numpy(sparse(x, padding_mask=padding)), 0.0),
                 np.where(real, to_numpy(full(x, padding_mask=padding)), 0.0), atol=1e-5)


def test_the_kind_and_its_options_survive_the_config():
    """An encoder's attention kind and options come back from its config, with the same weights' shapes."""
    encoder = kt.layers.Encoder(1, num_heads=2, intermediate_dim=16, attention="lsh",
                                attention_options={"num_buckets": 4, "num_hashes": 1,
                                                   "chunk_length": 4, "seed": 3})
    x = np.ones((1, 8, 8), "float32")
    encoder(x)
    twin = kt.layers.Encoder.from_config(encoder.get_config())
    twin(x)
    assert isinstance(twin.blocks[0].self_attention, kt.layers.LSHAttention)
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in encoder.get_weights()]


def test_unknown_kinds_and_sparse_decoders_are_refused():
    """An unknown attention name, or a sparse kind in a decoder block, is a ValueError naming `attention`."""
    with pytest.raises(ValueError, match="`attention` must be one of"):
        kt.layers.EncoderBlock(2, 16, attention="sparse")
    with pytest.raises(ValueError, match="`attention` must be 'full' in a decoder block"):
        kt.layers.DecoderBlock(2, 16, attention="bigbird")

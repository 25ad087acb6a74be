"""The KV cache: incremental decoding equals one full forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keras import ops

from tests.helpers import (
    MAX_BATCH,
    MAX_LEN,
    WIDTH,
    assert_close,
    decoder,
    decoder_block,
    heads,
    lengths,
    normal,
    padding_masks,
    project,
    rng,
    seeds,
    self_attention,
    to_numpy,
)

KEY_DIM = 4


@st.composite
def chunkings(draw, total):
    """Split `total` tokens into consecutive chunks of random sizes (all ones = token by token)."""
    if draw(st.booleans()):
        return [1] * total
    sizes = []
    while sum(sizes) < total:
        sizes.append(draw(st.integers(1, total - sum(sizes))))
    return sizes


def index_value(index, as_tensor):
    return ops.convert_to_tensor(index, "int32") if as_tensor else index


@pytest.mark.parametrize("cross", [False, True], ids=["decoder-only", "encoder-decoder"])
@given(st.integers(1, MAX_BATCH), lengths(), heads, st.booleans(), st.data(), seeds)
def test_incremental_decoding_equals_the_full_pass(cross, b, sizes, n, tensor_index, data, seed):
    """Decoding in chunks (token by token or random prefill sizes) with `init_cache`/`cache_update_index` equals one full pass, padding included."""
    t, s = sizes
    spare = data.draw(st.integers(0, 3))  # cache longer than the sequence
    layer = decoder(n, cross=cross, norm_first=data.draw(st.booleans()))
    real = data.draw(padding_masks(b, t))
    g = rng(seed)
    x = normal(g, (b, t, WIDTH))
    y = normal(g, (b, s, WIDTH)) if cross else None
    full = to_numpy(layer(x, y, decoder_padding_mask=real))
    slots_real = np.concatenate([real, np.zeros((b, spare), bool)], axis=1)
    cache = layer.init_cache(b, t + spare)
    source, cross_cache = y, None
    if cross and data.draw(st.booleans()):  # encoder keys/values computed once
        source, cross_cache = None, layer.compute_cross_attention_cache(y)
    outputs, start = [], 0
    for size in data.draw(chunkings(t)):
        out, cache = layer(
            x[:, start:start + size], source, decoder_padding_mask=slots_real, cache=cache,
            cache_update_index=index_value(start, tensor_index),
            cross_attention_cache=cross_cache,
        )
        outputs.append(to_numpy(out))
        start += size
    assert_close(np.concatenate(outputs, axis=1), full, atol=2e-5)


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_LEN), heads, st.data(), seeds)
def test_chunked_prefill_fills_the_same_cache(b, t, n, data, seed):
    """Prefilling in random chunks leaves the same cache as prefilling token by token."""
    layer = decoder(n)
    x = normal(rng(seed), (b, t, WIDTH))

    def fill(chunks):
        cache, start = layer.init_cache(b, MAX_LEN), 0
        for size in chunks:
            _, cache = layer(x[:, start:start + size], cache=cache, cache_update_index=start)
            start += size
        return to_numpy(cache)

    assert_close(fill(data.draw(chunkings(t))), fill([1] * t), atol=1e-5)


@given(st.integers(1, MAX_BATCH), heads, st.integers(1, MAX_LEN), st.data(), seeds)
def test_cache_writes_touch_only_their_slots(b, n, length, data, seed):
    """A call writes the new keys and values at [index, index + T) and leaves every other slot unchanged."""
    t = data.draw(st.integers(1, length))
    index = data.draw(st.integers(0, length - t))
    layer = self_attention(n, KEY_DIM)
    g = rng(seed)
    x = normal(g, (b, t, WIDTH))
    old = normal(g, (b, 2, length, n, KEY_DIM))
    _, new = layer(x, cache=old, cache_update_index=index, use_causal_mask=True)
    new = to_numpy(new)
    outside = np.ones(length, bool)
    outside[index:index + t] = False
    np.testing.assert_array_equal(new[:, :, outside], old[:, :, outside])
    qkv = project(x, to_numpy(layer.qkv.kernel), to_numpy(layer.qkv.bias))
    assert_close(new[:, 0, index:index + t], qkv[:, :, 1], atol=1e-5)
    assert_close(new[:, 1, index:index + t], qkv[:, :, 2], atol=1e-5)


@given(st.integers(1, MAX_BATCH), st.integers(2, MAX_LEN), heads, st.data(), seeds)
def test_cached_queries_see_the_prefix_with_an_offset_causal_mask(b, total, n, data, seed):
    """Queries written at index P attend to slots j <= P + i, exactly the rows P.. of full causal self-attention."""
    prefix = data.draw(st.integers(1, total - 1))
    layer = self_attention(n, KEY_DIM)
    x = normal(rng(seed), (b, total, WIDTH))
    full = to_numpy(layer(x, use_causal_mask=True))
    cache = ops.zeros((b, 2, total, n, KEY_DIM))
    _, cache = layer(x[:, :prefix], cache=cache, cache_update_index=0, use_causal_mask=True)
    out, _ = layer(x[:, prefix:], cache=cache, cache_update_index=prefix, use_causal_mask=True)
    assert_close(out, full[:, prefix:], atol=1e-5)


@pytest.mark.parametrize("stacked", [False, True], ids=["DecoderBlock", "Decoder"])
@given(st.integers(1, MAX_BATCH), lengths(), heads, st.data(), seeds)
def test_cross_attention_cache_equals_passing_the_encoder_sequence(stacked, b, sizes, n, data, seed):
    """`compute_cross_attention_cache(encoder_sequence)` passed as `cross_attention_cache` gives the same outputs as the sequence itself."""
    t, s = sizes
    layer = decoder(n, cross=True) if stacked else decoder_block(n, cross=True)
    source_real = data.draw(padding_masks(b, s))
    g = rng(seed)
    x, y = normal(g, (b, t, WIDTH)), normal(g, (b, s, WIDTH))
    expected = to_numpy(layer(x, y, encoder_padding_mask=source_real))
    cross = layer.compute_cross_attention_cache(y)
    assert_close(layer(x, cross_attention_cache=cross, encoder_padding_mask=source_real),
                 expected, atol=1e-5)


@pytest.mark.parametrize("stacked", [False, True], ids=["DecoderBlock", "Decoder"])
@given(st.integers(1, MAX_BATCH), st.integers(2, MAX_LEN), heads, st.data(), seeds)
def test_cached_padding_mask_must_cover_every_slot(stacked, b, slots, n, data, seed):
    """In cached decoding a `decoder_padding_mask` shorter than the cache (e.g. `(B, 1)` for one new token) is a ValueError, not a mask broadcast over all slots."""
    layer = decoder(n) if stacked else decoder_block(n)
    x = normal(rng(seed), (b, 1, WIDTH))
    short = np.ones((b, data.draw(st.integers(1, slots - 1))), bool)
    if stacked:
        cache = layer.init_cache(b, slots)
        call = dict(cache=cache, cache_update_index=0)
    else:
        cache = ops.zeros((b, 2, slots, n, WIDTH // n))
        call = dict(self_attention_cache=cache, self_attention_cache_update_index=0)
    with pytest.raises(ValueError, match=f"decoder_padding_mask.*\\(batch, max_length\\)|\\(batch, {slots}\\)"):
        layer(x, decoder_padding_mask=short, **call)
    out = layer(x, decoder_padding_mask=np.ones((b, slots), bool), **call)[0]
    assert np.isfinite(to_numpy(out)).all()

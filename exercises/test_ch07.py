"""7장 연습문제 검사: 답을 패키지의 검증된 코드와 NumPy 참조와 비교합니다.

`pytest exercises/test_ch07.py`는 참고 답안을, `--reader`를 붙이면
`exercises/ch07.py`의 여러분 답을 검사합니다.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import keras_transformer as kt
from keras_transformer.layers.bigbird_attention import bigbird_block_pattern

CHAPTER = "ch07"
FAST = settings(max_examples=25, deadline=None)
LAYER = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**16)


def to_numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


window_args = st.tuples(
    st.integers(1, 12),               # num_blocks
    st.sampled_from([1, 3, 5, 7]),    # num_window_blocks
    st.integers(0, 3),                # num_global_blocks
)


@FAST
@given(window_args)
def test_window_mask_equals_the_bigbird_pattern_without_random_blocks(ex, args):
    """With no random blocks, the mask equals `bigbird_block_pattern` of one head, globals included."""
    nb, w, g = args
    mask = np.asarray(ex.window_block_mask(nb, w, g))
    assert mask.shape == (nb, nb) and mask.dtype == bool
    expected = bigbird_block_pattern(nb, num_heads=1, num_random_blocks=0,
                                     num_global_blocks=g, num_window_blocks=w)[0]
    np.testing.assert_array_equal(mask, expected)


def test_window_mask_without_globals_is_a_band(ex):
    """Without globals, 6 blocks and a window of 3 give the tridiagonal band, clipped at the ends."""
    expected = np.eye(6, dtype=bool) | np.eye(6, k=1, dtype=bool) | np.eye(6, k=-1, dtype=bool)
    np.testing.assert_array_equal(np.asarray(ex.window_block_mask(6, 3)), expected)


@st.composite
def vectors_and_rotation(draw):
    """`(T, d)` Gaussian vectors and a `(d, b // 2)` Gaussian rotation, b even."""
    g = np.random.default_rng(draw(seeds))
    t, d, half = draw(st.integers(1, 6)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    return g.normal(size=(t, d)), g.normal(size=(d, half))


@functools.cache
def identity_lsh(key_dim: int, num_buckets: int, num_hashes: int, seed: int):
    """A built one-head `LSHAttention` whose shared query/key projection is the identity."""
    layer = kt.layers.LSHAttention(1, key_dim, num_buckets, num_hashes, chunk_length=4,
                                   use_bias=False, seed=seed)
    layer.build((None, None, key_dim))
    layer.qk.kernel.assign(np.eye(key_dim, dtype="float32").reshape(key_dim, 1, key_dim))
    return layer


@LAYER
@given(st.integers(1, 8), st.sampled_from([2, 4, 8]), st.integers(1, 3), st.integers(0, 3), seeds)
def test_lsh_bucket_equals_the_layer_hash(ex, key_dim, num_buckets, num_hashes, layer_seed, seed):
    """Per hash round, the bucket equals `LSHAttention.hash_buckets` with that round's rotation, on vectors the layer sees unchanged."""
    layer = identity_lsh(key_dim, num_buckets, num_hashes, layer_seed)
    x = np.random.default_rng(seed).normal(size=(5, key_dim)).astype("float32")
    rotations = layer.rotations                       # (rounds, heads, d, b // 2)
    rotated = np.einsum("td,rdk->rtk", x, rotations[:, 0])
    scores = np.sort(np.concatenate([rotated, -rotated], axis=-1), axis=-1)
    assume(num_buckets == 2 or np.min(scores[..., -1] - scores[..., -2]) > 1e-4)  # no near ties
    expected = to_numpy(layer.hash_buckets(x[None]))[0, 0]   # (rounds, T)
    for r in range(num_hashes):
        result = np.asarray(ex.angular_lsh_bucket(x, rotations[r, 0]))
        assert result.shape == (5,)
        np.testing.assert_array_equal(result, expected[r])


@FAST
@given(vectors_and_rotation(), st.floats(1e-3, 1e3))
def test_lsh_bucket_ignores_a_positive_scale(ex, case, scale):
    """Multiplying a vector by a positive number does not change its bucket: only its direction counts."""
    x, rotation = case
    np.testing.assert_array_equal(np.asarray(ex.angular_lsh_bucket(scale * x, rotation)),
                                  np.asarray(ex.angular_lsh_bucket(x, rotation)))


@FAST
@given(vectors_and_rotation())
def test_lsh_bucket_of_the_opposite_vector_is_half_a_turn_away(ex, case):
    """Buckets lie in [0, b) and `-x` falls in bucket `(bucket(x) + b/2) mod b`."""
    x, rotation = case
    b = 2 * rotation.shape[1]
    bucket = np.asarray(ex.angular_lsh_bucket(x, rotation))
    assert bucket.shape == x.shape[:-1] and np.all((0 <= bucket) & (bucket < b))
    np.testing.assert_array_equal(np.asarray(ex.angular_lsh_bucket(-x, rotation)),
                                  (bucket + b // 2) % b)


@FAST
@given(seeds, st.integers(1, 5), st.integers(1, 6))
def test_reversible_inverse_recovers_the_inputs_of_numpy_branches(ex, seed, t, d):
    """For non-invertible NumPy branches f and g, the inverse of `(x1 + f(x2), x2 + g(y1))` is `(x1, x2)`."""
    rng = np.random.default_rng(seed)
    w_f, w_g = rng.normal(size=(2, d, d))

    def f(h):
        return np.tanh(h @ w_f) ** 2

    def g(h):
        return np.maximum(h @ w_g, 0.0)

    x1, x2 = rng.normal(size=(2, t, d))
    y1 = x1 + f(x2)
    y2 = x2 + g(y1)
    r1, r2 = ex.reversible_inverse(y1, y2, f, g)
    np.testing.assert_allclose(r1, x1, atol=1e-10)
    np.testing.assert_allclose(r2, x2, atol=1e-10)


@functools.cache
def reversible_block() -> kt.layers.ReversibleBlock:
    """A built `ReversibleBlock` on width 8 (two heads) with random biases."""
    block = kt.layers.ReversibleBlock(num_heads=2, intermediate_dim=16,
                                      bias_initializer="random_normal")
    block.build((None, None, 8))
    return block


@LAYER
@given(seeds, st.integers(1, 6))
def test_reversible_inverse_equals_the_block_inverse(ex, seed, t):
    """With the block's own attention and feed-forward branches, the inverse equals `ReversibleBlock.inverse` and recovers the block's inputs."""
    block = reversible_block()
    x1, x2 = np.random.default_rng(seed).normal(size=(2, 1, t, 8)).astype("float32")
    y1, y2 = (to_numpy(y) for y in block(x1, x2))

    def f(h):
        return to_numpy(block.branches(h, h)[0])

    def g(h):
        return to_numpy(block.branches(h, h)[1])

    r1, r2 = (np.asarray(r) for r in ex.reversible_inverse(y1, y2, f, g))
    e1, e2 = (to_numpy(e) for e in block.inverse(y1, y2))
    np.testing.assert_allclose(r1, e1, atol=1e-5)
    np.testing.assert_allclose(r2, e2, atol=1e-5)
    np.testing.assert_allclose(r1, x1, atol=1e-4)
    np.testing.assert_allclose(r2, x2, atol=1e-4)

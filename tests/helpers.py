"""Independent references, gradient helpers and hypothesis strategies shared by the tests.

Nothing here calls the code under test to compute an expected value: the
references are written in plain NumPy (float64) from the formulas.
"""

from __future__ import annotations

import functools
import os
import tempfile

import keras
import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

BACKEND = keras.backend.backend()
# Tests that read the kernel's own accounts of a process run where Linux's /proc is.
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")

# Small sizes keep the suite fast; T != S is drawn often because top-left vs
# bottom-right alignment bugs only show when the lengths differ.
MAX_BATCH, MAX_LEN, MAX_HEADS, MAX_HEAD_DIM = 3, 8, 4, 8


# --------------------------------------------------------------------------- numpy


def to_numpy(x):
    """A NumPy copy of a backend tensor: float64 for numbers, bool for masks."""
    x = np.asarray(ops.convert_to_numpy(x))
    return x if x.dtype == bool else x.astype(np.float64)


def mask_to_rank4(mask):
    """`(T, S)` -> `(1, 1, T, S)`, `(B, T, S)` -> `(B, 1, T, S)`, rank 4 unchanged."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 2:
        return mask[None, None]
    return mask[:, None] if mask.ndim == 3 else mask


def reference_attention(q, k, v, mask=None):
    """softmax(Q Kᵀ / √H) V in float64 NumPy; rows with no visible key give zeros.

    `q` is `(B, T, N, H)`, `k`/`v` are `(B, S, N, H)`, `mask` any accepted mask
    shape with True = may attend. Returns `(output (B, T, N, H), weights (B, N, T, S))`.
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    visible = np.ones(logits.shape, bool) if mask is None \
        else np.broadcast_to(mask_to_rank4(mask), logits.shape)
    shifted = np.where(visible, logits, -np.inf)
    row_max = shifted.max(axis=-1, keepdims=True)
    exp = np.exp(shifted - np.where(np.isfinite(row_max), row_max, 0.0))
    total = exp.sum(axis=-1, keepdims=True)
    weights = np.where(total > 0, exp / np.where(total > 0, total, 1.0), 0.0)
    return np.einsum("bnts,bsnh->btnh", weights, v), weights


def causal_reference(query_length, key_length, offset=0):
    """The `(T, S)` mask where query `i` may see key `j` iff `i + offset >= j`."""
    i = np.arange(query_length)[:, None]
    j = np.arange(key_length)[None, :]
    return i + offset >= j


def project(x, kernel, bias=None, axes=1):
    """NumPy EinsumDense: contract the last `axes` axes of `x` with the first of `kernel` (+ bias)."""
    out = np.tensordot(np.asarray(x, np.float64), np.asarray(kernel, np.float64), axes=axes)
    return out if bias is None else out + np.asarray(bias, np.float64)


def reload_keras_file(model: keras.Model) -> keras.Model:
    """`model` saved to a `.keras` file and loaded back with `safe_mode=True` (no custom objects)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return keras.saving.load_model(path, safe_mode=True)


def assert_close(actual, expected, atol=1e-5, rtol=1e-5, err_msg=""):
    np.testing.assert_allclose(
        to_numpy(actual), np.asarray(expected, np.float64), atol=atol, rtol=rtol,
        err_msg=err_msg,
    )


def assert_relative_error(actual, expected, tol, err_msg=""):
    """max |actual - expected| <= tol * max |expected| (a scale-aware tolerance)."""
    actual, expected = to_numpy(actual), np.asarray(expected, np.float64)
    assert np.all(np.isfinite(actual)), f"non-finite values {err_msg}"
    scale = max(np.abs(expected).max(), 1e-6)
    error = np.abs(actual - expected).max()
    assert error <= tol * scale, f"max error {error:.3g} > {tol} x {scale:.3g} {err_msg}"


# ------------------------------------------------------------------------ gradients


def gradient(fn, x):
    """d sum(fn(x)) / dx as a float64 NumPy array, on whichever backend is active."""
    x = np.asarray(x, np.float32)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            total = tf.reduce_sum(tf.cast(fn(xt), "float32"))
        grad = tape.gradient(total, xt)
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        grad = jax.grad(lambda a: jnp.sum(jnp.asarray(fn(a), jnp.float32)))(x)
    elif BACKEND == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        fn(xt).float().sum().backward()
        grad = xt.grad
    else:  # pragma: no cover - numpy / openvino have no autodiff
        import pytest

        pytest.skip(f"no gradients on the {BACKEND} backend")
    return np.asarray(ops.convert_to_numpy(grad), np.float64)


def gradients(fn, *xs):
    """d sum(fn(*xs)) / d xs, one float64 array per argument."""
    return [
        gradient(lambda a, i=i: fn(*xs[:i], a, *xs[i + 1:]), x) for i, x in enumerate(xs)
    ]


def weight_gradients(loss, arrays, variables, jit=False):
    """d loss / d (arrays, variables) as float64 NumPy arrays, optionally XLA-compiled.

    (JAX runs the property tests compiled: op-by-op it would compile every
    operation again for every new shape.)

    The variables' values are fed through a `keras.StatelessScope`, so the
    same code differentiates with respect to weights on every backend; the
    scope also keeps the blocks' seed generators where they are, so two
    calls draw the same dropout masks.
    """
    tensors = [ops.convert_to_tensor(np.asarray(a, np.float32)) for a in arrays]
    tensors += [ops.convert_to_tensor(to_numpy(v.value).astype(np.float32)) for v in variables]

    def pure(*all_tensors):
        xs, ws = all_tensors[:len(arrays)], all_tensors[len(arrays):]
        with keras.StatelessScope(state_mapping=list(zip(variables, ws))):
            return loss(*xs)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        def grad_fn(ts):
            with tf.GradientTape() as tape:
                tape.watch(ts)
                total = pure(*ts)
            return tape.gradient(total, ts)

        grads = (tf.function(grad_fn, jit_compile=True) if jit else grad_fn)(tensors)
    elif BACKEND == "jax":
        import jax

        grad_fn = jax.grad(lambda ts: pure(*ts))
        grads = (jax.jit(grad_fn) if jit else grad_fn)(tensors)
    else:
        leaves = [t.detach().requires_grad_(True) for t in tensors]
        pure(*leaves).backward()
        grads = [t.grad for t in leaves]
    return [None if g is None else to_numpy(g) for g in grads]  # None: no path to it


# ----------------------------------------------------------------------- strategies

seeds = st.integers(0, 2**31 - 1)
heads = st.sampled_from([1, 2, 4])


def rng(seed):
    return np.random.default_rng(seed)


def normal(generator, shape, scale=1.0):
    return (scale * generator.standard_normal(shape)).astype("float32")


@st.composite
def lengths(draw, max_len=MAX_LEN):
    """(T, S) with T != S in most draws."""
    t = draw(st.integers(1, max_len))
    s = draw(st.one_of(st.integers(1, max_len).filter(lambda s: s != t), st.just(t)))
    return t, s


@st.composite
def attention_shapes(draw):
    """(B, T, S, N, H) for the attention kernel."""
    t, s = draw(lengths())
    return (draw(st.integers(1, MAX_BATCH)), t, s, draw(st.integers(1, MAX_HEADS)),
            draw(st.integers(1, MAX_HEAD_DIM)))


@st.composite
def padding_masks(draw, batch, length, kinds=("right", "left", "arbitrary")):
    """A `(batch, length)` bool mask, True at real tokens, with at least one real token per row.

    Right padding (`[x x x 0 0]`), left padding (`[0 0 x x x]`) or an arbitrary pattern.
    """
    kind = draw(st.sampled_from(kinds))
    if kind == "arbitrary":
        mask = draw(hnp.arrays(np.bool_, (batch, length)))
        keep = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(0, length - 1)))
        mask[np.arange(batch), keep] = True
        return mask
    real = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(1, length)))
    positions = np.arange(length)[None, :]
    if kind == "right":
        return positions < real[:, None]
    return positions >= (length - real)[:, None]


def attention_masks(shape, batch, heads_, t, s):
    """Random bool attention masks of a given layout name: '(T,S)', '(B,T,S)', ..."""
    dims = {"(T,S)": (t, s), "(B,T,S)": (batch, t, s), "(B,1,T,S)": (batch, 1, t, s),
            "(B,N,T,S)": (batch, heads_, t, s), "(1,T,S)": (1, t, s)}[shape]
    return hnp.arrays(np.bool_, dims)


MASK_LAYOUTS = ("(T,S)", "(B,T,S)", "(B,1,T,S)", "(B,N,T,S)")


def replace_where(x, keep, generator, token_range=None):
    """A copy of `x` whose entries where `keep` is False are replaced by fresh random values.

    `keep` is `(B, T)`; `x` is `(B, T)` ids (then `token_range=(low, high)`) or `(B, T, d)` vectors.
    """
    x = np.array(x, copy=True)
    if token_range is not None:
        fresh = generator.integers(*token_range, size=x.shape).astype(x.dtype)
        return np.where(keep, x, fresh)
    fresh = normal(generator, x.shape, scale=3.0)
    return np.where(keep[..., None], x, fresh)


# ----------------------------------------------------------- shared, reused layers

WIDTH = 8  # hidden width of the reused blocks; heads drawn from {1, 2, 4}


def _build(layer, *shapes):
    layer.build(*shapes)
    return layer


@functools.lru_cache(maxsize=None)
def encoder_block(num_heads, norm_first=False, dropout=0.0):
    from keras_transformer.layers import EncoderBlock

    return _build(EncoderBlock(num_heads, 16, dropout=dropout, norm_first=norm_first,
                               bias_initializer="random_normal"), (None, None, WIDTH))


@functools.lru_cache(maxsize=None)
def decoder_block(num_heads, cross=False, norm_first=False, dropout=0.0):
    from keras_transformer.layers import DecoderBlock

    block = DecoderBlock(num_heads, 16, dropout=dropout, norm_first=norm_first,
                         bias_initializer="random_normal")
    return _build(block, (None, None, WIDTH), (None, None, WIDTH) if cross else None)


@functools.lru_cache(maxsize=None)
def encoder(num_heads, norm_first=False, num_layers=2):
    from keras_transformer.layers import Encoder

    return _build(Encoder(num_layers, num_heads=num_heads, intermediate_dim=16,
                          norm_first=norm_first, bias_initializer="random_normal"),
                  (None, None, WIDTH))


@functools.lru_cache(maxsize=None)
def decoder(num_heads, cross=False, norm_first=False, dropout=0.0, num_layers=2):
    from keras_transformer.layers import Decoder

    stack = Decoder(num_layers, num_heads=num_heads, intermediate_dim=16, dropout=dropout,
                    norm_first=norm_first, bias_initializer="random_normal")
    return _build(stack, (None, None, WIDTH), (None, None, WIDTH) if cross else None)


@functools.lru_cache(maxsize=None)
def self_attention(num_heads, key_dim, width=WIDTH, dropout=0.0):
    from keras_transformer.layers import MultiHeadAttention

    layer = MultiHeadAttention(num_heads, key_dim, dropout=dropout,
                               bias_initializer="random_normal")
    return _build(layer, (None, None, width))


@functools.lru_cache(maxsize=None)
def cross_attention(num_heads, key_dim, width=WIDTH, source_width=WIDTH):
    from keras_transformer.layers import MultiHeadAttention

    layer = MultiHeadAttention(num_heads, key_dim, bias_initializer="random_normal")
    return _build(layer, (None, None, width), (None, None, source_width))


@functools.lru_cache(maxsize=None)
def token_embedding(position="learned", mask_zero=True, vocab_size=11, max_length=MAX_LEN):
    from keras_transformer.layers import TokenAndPositionEmbedding

    layer = TokenAndPositionEmbedding(vocab_size, max_length, WIDTH, position=position,
                                      mask_zero=mask_zero)
    return _build(layer, (None, None))

"""`BigBirdAttention`: block-sparse self-attention against dense attention under its own pattern.

The references are independent of the sparse code path: `reference_attention`
(float64 NumPy) with the layer's own projection weights and `dense_pattern` as
the mask, the package's `MultiHeadAttention` where the pattern is full, and
the pattern rule rewritten here with Python sets.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_transformer.layers.bigbird_attention import (
    BigBirdAttention,
    bigbird_block_pattern,
)
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from tests.helpers import (
    BACKEND,
    MAX_BATCH,
    WIDTH,
    assert_close,
    assert_relative_error,
    gradient,
    heads,
    normal,
    padding_masks,
    project,
    reference_attention,
    reload_keras_file,
    replace_where,
    rng,
    seeds,
    to_numpy,
)

KEY_DIM = 4


@st.composite
def configs(draw, max_blocks=8):
    """(constructor arguments, number of blocks) for a small layer."""
    kwargs = {
        "num_heads": draw(heads),
        "block_size": draw(st.integers(1, 3)),
        "num_random_blocks": draw(st.integers(0, 2)),
        "num_global_blocks": draw(st.integers(0, 2)),
        "num_window_blocks": draw(st.sampled_from([1, 3, 5])),
        "seed": draw(seeds),
    }
    return kwargs, draw(st.integers(1, max_blocks))


def bigbird(**kwargs):
    return BigBirdAttention(key_dim=KEY_DIM, bias_initializer="random_normal", **kwargs)


def dense_reference(layer, x, pattern, query_mask=None, key_mask=None):
    """The layer's output recomputed in float64 NumPy: its projections, then attention masked by `pattern`."""
    b, t, _ = x.shape
    query_mask = np.ones((b, t), bool) if query_mask is None else query_mask
    key_mask = np.ones((b, t), bool) if key_mask is None else key_mask
    qkv = project(x, to_numpy(layer.qkv.kernel), to_numpy(layer.qkv.bias))
    mask = pattern[None] & key_mask[:, None, None, :] & query_mask[:, None, :, None]
    attended, _ = reference_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], mask)
    return project(attended, to_numpy(layer.output_dense.kernel),
                   to_numpy(layer.output_dense.bias), axes=2)


@given(configs(), st.integers(1, MAX_BATCH), st.sampled_from(["none", "keras", "both"]),
       st.data(), seeds)
def test_block_sparse_attention_equals_dense_attention_under_its_pattern(
    config, batch, masking, data, seed
):
    """The output equals float64 dense attention with the layer's weights masked by `dense_pattern` and the padding masks (padded keys unseen, padded queries zero)."""
    kwargs, nb = config
    layer = bigbird(**kwargs)
    t = nb * kwargs["block_size"]
    g = rng(seed)
    x = normal(g, (batch, t, WIDTH))
    pattern = layer.dense_pattern(t)
    if masking == "none":
        out = layer(x)
        expected = dense_reference(layer, x, pattern)
    elif masking == "keras":  # zero vectors are padding, for keras.layers.Masking
        real = data.draw(padding_masks(batch, t))
        x = np.where(real[..., None], x, 0.0).astype("float32")
        out = layer(keras.layers.Masking()(x))
        expected = dense_reference(layer, x, pattern, real, real)
        # Whatever sits at the padded positions, the real rows do not change.
        changed = layer(replace_where(x, real, g), query_mask=real)
        assert_close(to_numpy(changed)[real], to_numpy(out)[real])
    else:  # independent query and key masks; a query row may see no key at all
        keys = data.draw(padding_masks(batch, t))
        queries = data.draw(hnp.arrays(np.bool_, (batch, t)))
        out = layer(x, query_mask=queries, key_mask=keys)
        expected = dense_reference(layer, x, pattern, queries, keys)
    assert_close(out, expected)


@st.composite
def full_configs(draw):
    """(constructor arguments, number of blocks) where the window and the globals cover every block."""
    kind = draw(st.sampled_from(["window of 3 and 1 global", "wide window", "all global"]))
    r = draw(st.integers(0, 3))
    if kind == "window of 3 and 1 global":
        nb, g, w = draw(st.integers(1, 4)), 1, 3
    elif kind == "wide window":
        nb, g = draw(st.integers(1, 5)), 0
        w = 2 * nb - 1 + 2 * draw(st.integers(0, 1))
    else:
        g = draw(st.integers(1, 3))
        nb, w = draw(st.integers(1, 2 * g)), draw(st.sampled_from([1, 3]))
    kwargs = {"num_heads": draw(heads), "block_size": draw(st.integers(1, 3)),
              "num_random_blocks": r, "num_global_blocks": g, "num_window_blocks": w,
              "seed": draw(seeds)}
    return kwargs, nb


@given(full_configs(), st.integers(1, MAX_BATCH), st.data(), seeds)
def test_full_coverage_equals_multi_head_attention_with_the_same_weights(
    config, batch, data, seed
):
    """Where window and globals cover every block, the layer holds MultiHeadAttention's variables (same shapes, same order) and, given its weights, returns its outputs."""
    kwargs, nb = config
    t = nb * kwargs["block_size"]
    x = normal(rng(seed), (batch, t, WIDTH))
    mha = MultiHeadAttention(kwargs["num_heads"], KEY_DIM, bias_initializer="random_normal")
    layer = BigBirdAttention(key_dim=KEY_DIM, **kwargs)
    mha.build(x.shape)
    layer.build(x.shape)

    def names(model):
        return [(w.path.split("/", 1)[1], tuple(w.shape)) for w in model.weights]

    assert names(layer) == names(mha)
    layer.set_weights(mha.get_weights())
    keys = data.draw(padding_masks(batch, t))
    queries = data.draw(st.sampled_from([None, keys]))
    expected = mha(x, query_mask=queries, key_mask=keys)
    assert_close(layer(x, query_mask=queries, key_mask=keys), to_numpy(expected))


pattern_args = st.fixed_dictionaries({
    "num_blocks": st.integers(1, 12),
    "num_heads": heads,
    "num_random_blocks": st.integers(0, 4),
    "num_global_blocks": st.integers(0, 3),
    "num_window_blocks": st.sampled_from([1, 3, 5, 7]),
    "seed": seeds,
})


@given(pattern_args, st.integers(1, 3))
def test_pattern_follows_the_bigbird_rule(args, block_size):
    """Global rows and columns are full; every other row holds its globals and clipped window plus min(r, candidates) other blocks; the dense pattern expands it block by block."""
    nb, g, r = args["num_blocks"], args["num_global_blocks"], args["num_random_blocks"]
    half = args["num_window_blocks"] // 2
    pattern = bigbird_block_pattern(**args)
    assert pattern.shape == (args["num_heads"], nb, nb) and pattern.dtype == bool
    globals_ = set(range(min(g, nb))) | set(range(max(nb - g, 0), nb))
    for head in range(args["num_heads"]):
        for i in range(nb):
            row = set(np.flatnonzero(pattern[head, i]).tolist())
            if i in globals_:
                assert row == set(range(nb))
                continue
            fixed = globals_ | set(range(max(i - half, 0), min(i + half + 1, nb)))
            assert fixed <= row
            assert len(row) == len(fixed) + min(r, nb - len(fixed))
    for j in globals_:
        assert pattern[:, :, j].all()
    layer = BigBirdAttention(args["num_heads"], KEY_DIM, block_size, r, g,
                             args["num_window_blocks"], seed=args["seed"])
    np.testing.assert_array_equal(layer.block_pattern(nb * block_size), pattern)
    dense = layer.dense_pattern(nb * block_size)
    positions = np.arange(nb * block_size) // block_size
    np.testing.assert_array_equal(dense, pattern[:, positions][:, :, positions])


@given(seeds)
def test_random_blocks_depend_on_the_head_and_the_seed_only(seed):
    """Heads and seeds draw different random blocks; the same seed (also through a JSON `get_config`, or drawn by `seed=None`) gives the same pattern."""
    args = {"num_heads": 4, "key_dim": KEY_DIM, "block_size": 2, "num_random_blocks": 2}
    length = 32  # 16 blocks: 11 candidates for most rows, 55 ways to pick 2
    pattern = BigBirdAttention(**args, seed=seed).block_pattern(length)
    np.testing.assert_array_equal(BigBirdAttention(**args, seed=seed).block_pattern(length),
                                  pattern)
    other = BigBirdAttention(**args, seed=seed + 1).block_pattern(length)
    assert not np.array_equal(other, pattern)
    for a in range(4):
        for b in range(a):
            assert not np.array_equal(pattern[a], pattern[b])
    drawn = BigBirdAttention(**args)
    config = drawn.get_config()
    assert isinstance(config["seed"], int)
    restored = BigBirdAttention.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    np.testing.assert_array_equal(restored.block_pattern(length), drawn.block_pattern(length))


@settings(max_examples=2)
@given(seeds)
def test_saved_model_reloads_with_the_same_pattern_and_outputs(seed):
    """A model saved to `.keras` and reloaded keeps the seed, hence the random blocks, and gives the same outputs."""
    layer = BigBirdAttention(2, KEY_DIM, block_size=2, num_random_blocks=2,
                             bias_initializer="random_normal")
    inputs = keras.Input((24, WIDTH))
    model = keras.Model(inputs, layer(inputs))
    x = normal(rng(seed), (2, 24, WIDTH))
    expected = to_numpy(model(x))
    loaded = reload_keras_file(model)
    twin = loaded.layers[-1]
    assert isinstance(twin, BigBirdAttention) and twin.seed == layer.seed
    np.testing.assert_array_equal(twin.block_pattern(24), layer.block_pattern(24))
    assert_close(loaded(x), expected, atol=1e-6)


def output_shapes(fn, x):
    """The shapes of every intermediate tensor of `fn(x)` and its gradient, from the traced graph."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def forward_backward(a):
            with tf.GradientTape() as tape:
                tape.watch(a)
                total = tf.reduce_sum(fn(a))
            return tape.gradient(total, a)

        graph = tf.function(forward_backward).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        return [tuple(out.shape) for op in graph.get_operations() for out in op.outputs
                if out.shape.rank is not None]
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp
        from jax.extend import core

        def walk(jaxpr):
            for eqn in jaxpr.eqns:
                yield from (tuple(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape"))
                for param in eqn.params.values():
                    for sub in param if isinstance(param, (list, tuple)) else (param,):
                        if isinstance(sub, core.ClosedJaxpr):
                            yield from walk(sub.jaxpr)
                        elif isinstance(sub, core.Jaxpr):
                            yield from walk(sub)

        closed = jax.make_jaxpr(jax.grad(lambda a: jnp.sum(fn(a))))(x)
        return list(walk(closed.jaxpr))
    pytest.skip(f"no traced graph to inspect on the {BACKEND} backend")


@settings(max_examples=3)
@given(st.sampled_from([4, 8]), st.sampled_from([12, 16]), st.sampled_from([1, 2]),
       st.integers(1, 2), seeds)
def test_no_length_by_length_tensor_is_formed(block_size, nb, num_heads, r, seed):
    """Forward and backward, no intermediate tensor has two axes of the sequence length (MultiHeadAttention's do)."""
    t = nb * block_size
    x = normal(rng(seed), (1, t, WIDTH))
    layer = BigBirdAttention(num_heads, KEY_DIM, block_size, r, seed=seed)
    mha = MultiHeadAttention(num_heads, KEY_DIM)
    found = {}
    for name, attention in (("bigbird", layer), ("mha", mha)):
        attention.build(x.shape)
        shapes = output_shapes(lambda a, attention=attention: attention(a), x)
        assert shapes
        found[name] = [s for s in shapes if sum(d == t for d in s) >= 2]
    assert found["mha"], "the detector finds MultiHeadAttention's (T, T) logits"
    assert not found["bigbird"]


@given(st.integers(1, 6), st.integers(1, 40))
def test_length_not_a_multiple_of_block_size_names_the_nearest_lengths(block_size, length):
    """A length that is not a multiple of `block_size` raises a ValueError naming the multiples below and above."""
    assume(length % block_size)
    layer = BigBirdAttention(1, KEY_DIM, block_size, 1, seed=0)
    below, above = length // block_size * block_size, (length // block_size + 1) * block_size
    with pytest.raises(ValueError, match="`block_size`") as error:
        layer(np.zeros((1, length, WIDTH), "float32"))
    message = str(error.value)
    assert f"got length {length}" in message and str(above) in message
    assert below == 0 or f"{below} or {above}" in message
    with pytest.raises(ValueError, match="`block_size`"):
        layer.dense_pattern(length)


BAD_ARGUMENTS = [
    ("num_heads", 0), ("key_dim", -1), ("block_size", 0), ("block_size", 2.0),
    ("block_size", True), ("num_random_blocks", -1), ("num_random_blocks", 1.5),
    ("num_global_blocks", -2), ("num_window_blocks", 0), ("num_window_blocks", 2),
    ("num_window_blocks", 4), ("num_window_blocks", -3), ("seed", -1), ("seed", "7"),
]


@given(st.sampled_from(BAD_ARGUMENTS))
def test_bad_constructor_arguments_name_the_argument_and_the_value(bad):
    """An invalid constructor argument raises a ValueError naming it and the value it got."""
    name, value = bad
    kwargs = {"num_heads": 2, "key_dim": 4, "block_size": 2, "num_random_blocks": 1,
              "num_global_blocks": 1, "num_window_blocks": 3, "seed": 0, name: value}
    with pytest.raises(ValueError, match=f"`{name}`.*got {value!r}"):
        BigBirdAttention(**kwargs)
    if name not in ("key_dim",):
        pattern_kwargs = {k: v for k, v in kwargs.items() if k not in ("key_dim", "block_size")}
        if name != "block_size":
            with pytest.raises(ValueError, match=f"`{name}`"):
                bigbird_block_pattern(4, **pattern_kwargs)


UNSUPPORTED = ["value", "key", "attention_mask", "use_causal_mask", "cache",
               "return_attention_scores"]


@given(st.sampled_from(UNSUPPORTED), st.integers(1, MAX_BATCH))
def test_unsupported_call_arguments_are_rejected_by_name(name, batch):
    """Cross-attention, an explicit attention mask, causality, a cache and returned scores raise a ValueError naming the argument."""
    t = 8
    layer = BigBirdAttention(2, KEY_DIM, block_size=2, num_random_blocks=1, seed=0)
    x = np.zeros((batch, t, WIDTH), "float32")
    value = {"value": np.ones((batch, t, WIDTH), "float32"),
             "key": np.ones((batch, t, WIDTH), "float32"),
             "attention_mask": np.ones((t, t), bool),
             "use_causal_mask": True,
             "cache": np.zeros((batch, 2, t, 2, KEY_DIM), "float32"),
             "return_attention_scores": True}[name]
    with pytest.raises(ValueError, match=f"`{name}`"):
        layer(x, **{name: value})


@given(configs(max_blocks=6), st.integers(2, MAX_BATCH), st.data(), seeds)
def test_gradients_are_finite_and_ignore_padding(config, batch, data, seed):
    """With a fully padded sequence in the batch, the input gradient is finite, exactly zero at padded tokens and nonzero elsewhere."""
    kwargs, nb = config
    t = nb * kwargs["block_size"]
    layer = bigbird(**kwargs)
    real = data.draw(padding_masks(batch, t))
    real[0] = False
    g = rng(seed)
    x = normal(g, (batch, t, WIDTH))
    weights = keras.ops.convert_to_tensor(normal(g, (batch, t, WIDTH)))
    grad = gradient(lambda a: layer(a, query_mask=real) * weights, x)
    assert np.all(np.isfinite(grad))
    assert np.all(grad[~real] == 0.0)
    assert np.any(grad[real] != 0.0)


@settings(max_examples=1)  # XLA compiles a training step for ~10 s on 2 cores
@given(seeds, st.integers(2, 4))
def test_jit_compiled_model_equals_eager(seed, nb):
    """Under `jit_compile=True`, a model with BigBird attention and padded inputs predicts and takes a training step as it does eagerly."""
    if BACKEND == "torch":
        pytest.skip("jit_compile on PyTorch is torch.compile: ~2 minutes for this model on 2 CPU cores")
    t = 4 * nb
    g = rng(seed)
    real = np.arange(t)[None, :] < g.integers(1, t + 1, (3, 1))
    x = np.where(real[..., None], normal(g, (3, t, WIDTH)), 0.0).astype("float32")
    labels = normal(g, (3, t, 1))
    results = []
    for jit in (False, True):  # the twin runs eagerly: no graph, nothing compiled
        keras.utils.set_random_seed(seed % 1000)
        inputs = keras.Input((t, WIDTH))
        hidden = BigBirdAttention(2, KEY_DIM, block_size=4, num_random_blocks=1,
                                  num_window_blocks=1)(keras.layers.Masking()(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit, run_eagerly=not jit)
        before = to_numpy(model.predict(x, verbose=0))
        model.fit(x, labels, epochs=1, batch_size=3, verbose=0)
        results.append((before, [to_numpy(w) for w in model.weights]))
    (eager, eager_weights), (jitted, jit_weights) = results
    assert np.all(np.isfinite(jitted))
    np.testing.assert_allclose(jitted, eager, atol=1e-5)
    for a, b in zip(jit_weights, eager_weights):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, atol=1e-5)


@given(configs(max_blocks=6), st.sampled_from(["mixed_float16", "mixed_bfloat16"]),
       st.data(), seeds)
def test_mixed_precision_stays_close_to_the_float64_reference(config, policy, data, seed):
    """Under mixed precision the output has the compute dtype, is finite and stays within half-precision error of the float64 reference."""
    kwargs, nb = config
    t = nb * kwargs["block_size"]
    layer = BigBirdAttention(key_dim=KEY_DIM, dtype=policy, **kwargs)
    x = normal(rng(seed), (2, t, WIDTH), scale=4.0)
    real = data.draw(padding_masks(2, t))
    out = layer(x, query_mask=real)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    expected = dense_reference(layer, x, layer.dense_pattern(t), real, real)
    assert_relative_error(out, expected, {"mixed_float16": 1e-2, "mixed_bfloat16": 3e-2}[policy])

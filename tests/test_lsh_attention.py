"""`LSHAttention` (Reformer) against NumPy float64 references of the hashed and the dense algorithm.

The references are written from the layer's documented definition: shared
query/key vectors, unit keys, logits `q·k/√H`, the self logit replaced by
-1e5, per-round stable sort by `(bucket, position)`, chunks that see
themselves and the previous chunk, and rounds combined by softmax of their
log-sum-exps. They read only the layer's weights, rotations and (for the
hashed reference) its bucket assignment, which is itself checked against a
NumPy argmax.
"""

from __future__ import annotations

import functools
import json

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_transformer.layers.lsh_attention import LSHAttention
from tests.helpers import (
    BACKEND,
    WIDTH,
    assert_close,
    assert_relative_error,
    gradient,
    mask_to_rank4,
    normal,
    padding_masks,
    project,
    reload_keras_file,
    replace_where,
    rng,
    seeds,
    to_numpy,
    token_embedding,
)

KEY_DIM = 4
SELF_LOGIT = -1e5


def at_most(n):
    """`settings(max_examples=n)`, capped by the active hypothesis profile (JAX's runs two)."""
    return settings(max_examples=min(n, settings.default.max_examples))


@functools.cache
def lsh_layer(num_heads, num_buckets, num_hashes, chunk_length, causal, seed=7):
    """A built layer with random biases, cached per configuration."""
    layer = LSHAttention(num_heads, KEY_DIM, num_buckets, num_hashes, chunk_length,
                         causal=causal, seed=seed, bias_initializer="random_normal")
    layer.build((None, None, WIDTH))
    return layer


def weights_of(layer):
    return {name: (to_numpy(dense.kernel), to_numpy(dense.bias)) for name, dense in
            (("qk", layer.qk), ("value", layer.value_dense), ("output", layer.output_dense))}


def shared_qk(x, layer):
    """(q (B, N, T, H), unit keys, values (B, N, T, H)) in float64 from the layer's weights."""
    w = weights_of(layer)
    q = project(x, *w["qk"]).transpose(0, 2, 1, 3)
    v = project(x, *w["value"]).transpose(0, 2, 1, 3)
    return q, q / np.sqrt((q ** 2).sum(-1, keepdims=True) + 1e-12), v


def output_projection(attended, layer):
    """(B, N, T, H) attended values -> (B, T, d) through the layer's output kernel."""
    return project(attended.transpose(0, 2, 1, 3), *weights_of(layer)["output"], axes=2)


def reference_dense(x, layer, real, allowed_pairs=None):
    """Dense shared-QK attention with self-masking, as promised: (output, (B, N, T, T) weights).

    A real query attends with softmax(q·k/√H) to the real keys it may see
    (not later ones if causal; those an attention mask `allowed_pairs`
    allows) other than itself, or to itself alone when there is no such key
    and it may see itself; otherwise (and at padded queries) to nothing.
    """
    q, k, v = shared_qk(x, layer)
    t, h = q.shape[2:]
    logits = np.einsum("bnih,bnjh->bnij", q, k) / np.sqrt(h)
    allowed = real[:, None, :, None] & real[:, None, None, :]
    if allowed_pairs is not None:
        allowed = allowed & mask_to_rank4(allowed_pairs)
    if layer.causal:
        allowed = allowed & np.tril(np.ones((t, t), bool))
    others = allowed & ~np.eye(t, dtype=bool)
    shifted = np.where(others, logits, -np.inf)
    top = shifted.max(-1, keepdims=True)
    exp = np.where(others, np.exp(shifted - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = exp.sum(-1, keepdims=True)
    weights = np.where(total > 0, exp / np.where(total > 0, total, 1.0), 0.0)
    alone = (total[..., 0] == 0) & np.diagonal(allowed, axis1=-2, axis2=-1)
    weights = weights + alone[..., None] * np.eye(t)
    return output_projection(np.einsum("bnij,bnjh->bnih", weights, v), layer), weights


def reference_lsh(x, layer, real, buckets, allowed_pairs=None):
    """The hashed algorithm in float64 loops, given each token's bucket per round.

    Returns (output, effective (B, N, T, T) weights: round weight x chunk weight).
    """
    q, k, v = shared_qk(x, layer)
    b, n, t, h = q.shape
    allowed_pairs = np.ones((b, n, t, t), bool) if allowed_pairs is None \
        else np.broadcast_to(mask_to_rank4(allowed_pairs), (b, n, t, t))
    c, rounds = layer.chunk_length, layer.num_hashes
    num_chunks = -(-t // c)
    length = num_chunks * c
    valid = np.zeros((b, length), bool)
    valid[:, :t] = real
    attended = np.zeros((b, n, t, h))
    scores = np.zeros((b, n, t, t))
    for i in range(b):
        for head in range(n):
            outs = np.zeros((rounds, t, h))
            lses = np.full((rounds, t), -np.inf)
            rows = np.zeros((rounds, t, t))
            for r in range(rounds):
                bucket = np.full(length, layer.num_buckets)
                bucket[:t] = buckets[i, head, r]
                order = np.lexsort((np.arange(length), bucket))  # by bucket, then position
                for chunk in range(num_chunks):
                    mine = order[chunk * c:(chunk + 1) * c]
                    before = order[((chunk - 1) % num_chunks) * c:][:c]
                    window = mine if num_chunks == 1 else np.concatenate([mine, before])
                    for p in mine:
                        if not valid[i, p]:
                            continue
                        seen = [j for j in window if valid[i, j] and allowed_pairs[i, head, p, j]
                                and (not layer.causal or j <= p)]
                        if not seen:
                            continue
                        logits = np.array([SELF_LOGIT if j == p else
                                           q[i, head, p] @ k[i, head, j] / np.sqrt(h) for j in seen])
                        lses[r, p] = np.log(np.exp(logits - logits.max()).sum()) + logits.max()
                        w = np.exp(logits - lses[r, p])
                        outs[r, p] = w @ v[i, head, seen]
                        np.add.at(rows[r, p], seen, w)
            for p in range(t):
                if np.isfinite(lses[:, p]).any():
                    rw = np.exp(lses[:, p] - lses[:, p].max())
                    rw /= rw.sum()
                    attended[i, head, p] = rw @ outs[:, p]
                    scores[i, head, p] = rw @ rows[:, p]
    return output_projection(attended, layer), scores


configs = st.tuples(
    st.sampled_from([1, 2]),          # heads
    st.sampled_from([2, 4, 6]),       # buckets
    st.integers(1, 3),                # hashes
    st.integers(1, 5),                # chunk_length
    st.booleans(),                    # causal
)


@st.composite
def lsh_inputs(draw, max_len=12, padded=None):
    """(x (B, T, WIDTH), real-token mask (B, T)); padding drawn unless `padded` is given."""
    b, t = draw(st.integers(1, 2)), draw(st.integers(1, max_len))
    use_padding = draw(st.booleans()) if padded is None else padded
    real = draw(padding_masks(b, t)) if use_padding else np.ones((b, t), bool)
    return normal(rng(draw(seeds)), (b, t, WIDTH)), real


@st.composite
def pair_masks(draw, inputs, heads):
    """None, or a random attention mask (mostly True) of shape (T, T), (B, T, T) or (B, N, T, T)."""
    b, t = inputs[1].shape
    shape = draw(st.sampled_from([None, None, (t, t), (b, t, t), (b, heads, t, t)]))
    if shape is None:
        return None
    return draw(hnp.arrays(np.bool_, shape, elements=st.sampled_from([True, True, False])))


def call(layer, x, real, attention_mask=None, return_attention_scores=False):
    """`layer(x, query_mask=real, ...)`; on JAX one compiled function instead of op-by-op dispatch."""
    if BACKEND != "jax":
        return layer(x, query_mask=real, attention_mask=attention_mask,
                     return_attention_scores=return_attention_scores)
    import jax

    return jax.jit(lambda a, m, pairs: layer(a, query_mask=m, attention_mask=pairs,
                                             return_attention_scores=return_attention_scores)
                   )(x, real, attention_mask)


@given(configs, lsh_inputs())
def test_hash_buckets_are_the_argmax_of_the_rotated_vectors(config, inputs):
    """Each token's bucket per round is argmax([qR, -qR]) of its shared vector with that round's rotation; padded tokens get bucket `num_buckets`."""
    layer = lsh_layer(*config)
    x, real = inputs
    buckets = to_numpy(layer.hash_buckets(x, query_mask=real)).astype(int)
    q, _, _ = shared_qk(x, layer)
    rotated = np.einsum("bnth,rnhk->bnrtk", q, layer.rotations.astype(np.float64))
    both = np.concatenate([rotated, -rotated], axis=-1)
    expected = np.where(real[:, None, None, :], both.argmax(-1), layer.num_buckets)
    top2 = np.sort(both, axis=-1)[..., -2:]
    clear = (top2[..., 1] - top2[..., 0] > 1e-4) | ~real[:, None, None, :]  # skip float32 near-ties
    np.testing.assert_array_equal(buckets[clear], expected[clear])
    assert buckets.shape == (x.shape[0], config[0], config[2], x.shape[1])



def test_inspection_methods_work_on_a_layer_that_was_only_constructed():
    """`hash_buckets` and `dense_attention` on a never-called layer build it and agree with a call made afterwards."""
    x = normal(rng(0), (1, 6, WIDTH))
    layer = LSHAttention(2, KEY_DIM, num_buckets=2, num_hashes=2, chunk_length=3, seed=3)
    buckets, dense = to_numpy(layer.hash_buckets(x)), to_numpy(layer.dense_attention(x))
    layer(x)
    np.testing.assert_array_equal(to_numpy(layer.hash_buckets(x)), buckets)
    np.testing.assert_allclose(to_numpy(layer.dense_attention(x)), dense, rtol=1e-6, atol=1e-6)

@given(configs, lsh_inputs(), st.data())
def test_hashed_attention_equals_the_numpy_lsh_reference(config, inputs, data):
    """Outputs and effective attention weights equal a float64 loop implementation of sort, chunk, look back one chunk, mask (padding, causal, attention mask), self-mask and combine rounds by log-sum-exp (lengths not divisible by the chunk included)."""
    layer = lsh_layer(*config)
    x, real = inputs
    pairs = data.draw(pair_masks(inputs, config[0]))
    buckets = to_numpy(layer.hash_buckets(x, query_mask=real)).astype(int)
    expected, expected_scores = reference_lsh(x, layer, real, buckets, pairs)
    out, scores = call(layer, x, real, attention_mask=pairs, return_attention_scores=True)
    assert_close(out, expected)
    assert_close(scores, expected_scores)


@given(configs, lsh_inputs(), st.data())
def test_one_chunk_equals_dense_shared_qk_attention(config, inputs, data):
    """With `chunk_length >= T` the layer, and its `dense_attention` oracle, equal the float64 dense shared-QK reference with self-masking, causal, padding and attention masks."""
    x, real = inputs
    heads, buckets, hashes, _, causal = config
    chunk = data.draw(st.integers(x.shape[1], x.shape[1] + 3))
    layer = lsh_layer(heads, buckets, hashes, chunk, causal)
    pairs = data.draw(pair_masks(inputs, heads))
    expected, expected_weights = reference_dense(x, layer, real, pairs)
    out, scores = call(layer, x, real, attention_mask=pairs, return_attention_scores=True)
    assert_close(out, expected)
    assert_close(scores, expected_weights)
    dense, dense_weights = layer.dense_attention(x, query_mask=real, attention_mask=pairs,
                                                 return_attention_scores=True)
    assert_close(dense, expected)
    assert_close(dense_weights, expected_weights)


@given(configs, lsh_inputs(max_len=14), st.data())
def test_causal_attention_puts_no_weight_on_later_positions(config, inputs, data):
    """With `causal=True` the effective weights on later keys are exactly zero, and so is the gradient of earlier outputs with respect to later inputs."""
    x, real = inputs
    heads, buckets, hashes, chunk, _ = config
    layer = lsh_layer(heads, buckets, hashes, chunk, True)
    t = x.shape[1]
    _, scores = call(layer, x, real, return_attention_scores=True)
    assert np.all(np.triu(to_numpy(scores), k=1) == 0.0)
    cut = data.draw(st.integers(0, t - 1))
    probe = keras.ops.convert_to_tensor(normal(rng(cut), (x.shape[0], cut + 1, WIDTH)))
    grad = gradient(lambda a: call(layer, a, real)[:, :cut + 1] * probe, x)
    assert np.all(grad[:, cut + 1:] == 0.0)


@given(configs, lsh_inputs(), st.data(), seeds)
def test_causal_outputs_ignore_the_future_within_one_chunk(config, inputs, data, seed):
    """With one chunk and `causal=True`, changing the tokens after position t leaves the outputs up to t unchanged."""
    x, real = inputs
    heads, buckets, hashes, _, _ = config
    t = x.shape[1]
    layer = lsh_layer(heads, buckets, hashes, t + 1, True)
    cut = data.draw(st.integers(0, t - 1))
    changed = x.copy()
    changed[:, cut + 1:] = normal(rng(seed), changed[:, cut + 1:].shape, scale=3.0)
    before, after = to_numpy(call(layer, x, real)), to_numpy(call(layer, changed, real))
    assert_close(after[:, :cut + 1], before[:, :cut + 1], atol=1e-6)


@given(configs, lsh_inputs(max_len=16, padded=True), seeds)
def test_outputs_at_real_positions_ignore_padded_content(config, inputs, seed):
    """Outputs at real positions do not change when padded positions hold other vectors (padded tokens sort last whatever they hold)."""
    x, real = inputs
    layer = lsh_layer(*config)
    other = replace_where(x, real, rng(seed))
    expected = to_numpy(call(layer, x, real))[real]
    assert_close(to_numpy(call(layer, other, real))[real], expected, atol=1e-6)


@given(configs, lsh_inputs())
def test_weights_are_distributions_that_skip_self_unless_alone(config, inputs):
    """Each real row's weights sum to 1 and are 0 on padded keys; a token weighs itself only in rows where it has no other visible key in any round."""
    layer = lsh_layer(*config)
    x, real = inputs
    scores = to_numpy(call(layer, x, real, return_attention_scores=True)[1])
    rows = np.broadcast_to(real[:, None, :], scores.shape[:3])
    assert_close(scores.sum(-1)[rows], np.ones(rows.sum()))
    assert np.all(scores[~rows] == 0.0)
    assert np.all(np.where(real[:, None, None, :], 0.0, scores) == 0.0)
    t = x.shape[1]
    self_weight = scores[..., np.arange(t), np.arange(t)]
    others = scores.sum(-1) - self_weight
    alone = np.isclose(self_weight, 1.0, atol=1e-5) & np.isclose(others, 0.0, atol=1e-5)
    assert np.all(alone | (self_weight < 1e-6))


@given(st.sampled_from([2, 4, 8]), st.integers(1, 3), seeds)
@at_most(6)
def test_rotations_are_a_function_of_the_seed(buckets, hashes, seed):
    """Two layers with the same seed and weights hash identically, also across calls; another seed hashes differently."""
    x = normal(rng(seed), (2, 32, WIDTH))
    layers = [LSHAttention(2, KEY_DIM, buckets, hashes, 4, seed=s) for s in (seed, seed, seed + 1)]
    for layer in layers:
        layer.build((None, None, WIDTH))
    for layer in layers[1:]:
        for mine, theirs in zip(layer.trainable_variables, layers[0].trainable_variables):
            mine.assign(theirs)
    same, again, other = (to_numpy(layer.hash_buckets(x)) for layer in layers)
    np.testing.assert_array_equal(same, again)
    np.testing.assert_array_equal(same, to_numpy(layers[0].hash_buckets(x)))
    assert np.any(same != other)
    np.testing.assert_array_equal(to_numpy(layers[0](x)), to_numpy(layers[1](x)))
    drawn = LSHAttention(2, KEY_DIM, buckets, hashes, 4)
    assert isinstance(drawn.seed, int) and drawn.get_config()["seed"] == drawn.seed


BAD_ARGUMENTS = [
    ({"num_buckets": 5}, "num_buckets"),
    ({"num_buckets": 0}, "num_buckets"),
    ({"num_hashes": 0}, "num_hashes"),
    ({"chunk_length": 0}, "chunk_length"),
    ({"num_heads": 0}, "num_heads"),
    ({"key_dim": -1}, "key_dim"),
    ({"dropout": 1.0}, "dropout"),
    ({"seed": -3}, "seed"),
    ({"output_dim": 0}, "output_dim"),
]


@pytest.mark.parametrize("change, name", BAD_ARGUMENTS)
def test_bad_constructor_arguments_raise_value_errors_naming_them(change, name):
    """An invalid constructor argument raises a ValueError that names it."""
    kwargs = {"num_heads": 2, "key_dim": 4, "num_buckets": 4, "num_hashes": 1,
              "chunk_length": 4, **change}
    with pytest.raises(ValueError, match=f"`{name}`"):
        LSHAttention(**kwargs)


def test_bad_call_inputs_raise_value_errors_naming_them():
    """A query that is not rank 3, a padding or attention mask of the wrong shape, or a KV cache raise a ValueError that names it."""
    layer = lsh_layer(2, 4, 1, 4, False)
    x = np.zeros((2, 5, WIDTH), "float32")
    with pytest.raises(ValueError, match="`query`"):
        layer(np.zeros((2, WIDTH), "float32"))
    with pytest.raises(ValueError, match="`query_mask`"):
        layer(x, query_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="`key_mask`"):
        layer(x, key_mask=np.ones((2, 6), bool))
    with pytest.raises(ValueError, match="attention mask"):
        layer(x, attention_mask=np.ones((5, 4), bool))
    with pytest.raises(ValueError, match="`value`"):
        layer(x, x + 1.0)
    with pytest.raises(ValueError, match="`cache`"):
        layer(x, cache=np.zeros((2, 2, 5, 2, KEY_DIM), "float32"), cache_update_index=0)


@given(configs, lsh_inputs(padded=True))
@at_most(4)
def test_block_calling_convention_equals_the_query_mask(config, inputs):
    """Called as the blocks call self-attention (`key_mask=padding`, `attention_mask=None`, `use_causal_mask`), the layer equals `query_mask=padding` with `causal` set."""
    heads, buckets, hashes, chunk, _ = config
    x, real = inputs
    layer, causal = lsh_layer(heads, buckets, hashes, chunk, False), lsh_layer(
        heads, buckets, hashes, chunk, True)
    for mine, theirs in zip(causal.trainable_variables, layer.trainable_variables):
        mine.assign(theirs)
    expected = to_numpy(call(causal, x, real))
    out = layer(x, attention_mask=None, key_mask=real, use_causal_mask=True, training=False)
    assert_close(out, expected, atol=1e-6)


@given(configs, lsh_inputs(), st.sampled_from([1.0, 0.0, 100.0]))
@at_most(8)
def test_gradients_are_finite(config, inputs, scale):
    """Gradients with respect to the inputs are finite, for zero, ordinary and large inputs with padding."""
    layer = lsh_layer(*config)
    x, real = inputs
    grad = gradient(lambda a: call(layer, a, real), x * scale)
    assert np.all(np.isfinite(grad))


@given(lsh_inputs(max_len=10))
@at_most(4)
def test_keras_implicit_mask_equals_explicit_query_mask(inputs):
    """An input carrying a Keras mask (`mask_zero=True` embedding) gives the same outputs at real positions as the explicit `query_mask`."""
    _, real = inputs
    ids = np.where(real, rng(0).integers(1, 11, real.shape), 0)
    embedded = token_embedding("learned", mask_zero=True, max_length=16)(ids)
    layer = lsh_layer(2, 4, 2, 3, False)
    explicit = call(layer, to_numpy(embedded).astype("float32"), real)
    assert_close(to_numpy(layer(embedded))[real], to_numpy(explicit)[real])


def lsh_model(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, WIDTH))
    x = LSHAttention(2, KEY_DIM, 4, 2, 3, causal=True, seed=seed, dropout=0.0)(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


@at_most(1)
@given(seeds, st.integers(4, 10))
def test_jit_compiled_training_step_equals_eager(seed, length):
    """Under `jit_compile=True` (XLA) predictions and one `fit` step equal those run eagerly."""
    if BACKEND == "torch":
        pytest.skip("Keras compiles PyTorch with torch.compile; the layer runs eagerly there")
    g = rng(seed)
    x, y = normal(g, (2, length, WIDTH)), normal(g, (2, length, 3))
    results = []
    for jit in (False, True):
        model = lsh_model(seed % 1000)
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit, run_eagerly=not jit)
        before = to_numpy(model.predict(x, verbose=0))
        model.fit(x, y, epochs=1, batch_size=2, verbose=0)
        results.append((before, [to_numpy(w) for w in model.weights]))
    (eager, eager_weights), (jitted, jit_weights) = results
    np.testing.assert_allclose(jitted, eager, atol=1e-5)
    for a, b in zip(jit_weights, eager_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_unknown_length_in_a_traced_function_equals_eager():
    """Traced with an unknown sequence length (TensorFlow `input_signature`), the layer pads and chunks at run time and equals the eager result."""
    if BACKEND != "tensorflow":
        pytest.skip("only TensorFlow traces with unknown dimensions")
    import tensorflow as tf

    for chunk in (3, 16):
        layer = lsh_layer(2, 4, 2, chunk, True)
        traced = tf.function(lambda a, m, layer=layer: layer(a, query_mask=m), input_signature=[
            tf.TensorSpec((None, None, WIDTH)), tf.TensorSpec((None, None), tf.bool)])
        for length in (5, 9):
            x = normal(rng(length), (2, length, WIDTH))
            real = np.arange(length)[None, :] < np.array([[length], [length - 2]])
            assert_close(traced(x, real), to_numpy(call(layer, x, real)), atol=1e-6)


def test_config_round_trips_and_keras_file_reloads_identically():
    """`from_config(get_config())` (through JSON) reproduces the config, and a `.keras` file reloads (safe_mode) to identical predictions."""
    layer = LSHAttention(2, 4, 6, 3, 5, causal=True, seed=11, dropout=0.1, use_bias=False,
                         output_dim=7, kernel_initializer="he_normal")
    config = layer.get_config()
    assert LSHAttention.from_config(json.loads(json.dumps(config))).get_config() == config
    model = lsh_model(3)
    x = normal(rng(0), (2, 9, WIDTH))
    expected = to_numpy(model.predict(x, verbose=0))
    loaded = reload_keras_file(model)
    np.testing.assert_array_equal(to_numpy(loaded.predict(x, verbose=0)), expected)


@functools.cache
def precision_twins(policy):
    """(float32 layer, `policy` layer with the same weights, `policy` layer with 2-token chunks)."""
    full = LSHAttention(2, KEY_DIM, 4, 2, 16, causal=True, seed=1)
    half = LSHAttention(2, KEY_DIM, 4, 2, 16, causal=True, seed=1, dtype=policy)
    chunked = LSHAttention(2, KEY_DIM, 4, 2, 2, causal=True, seed=1, dtype=policy)
    for layer in (full, half, chunked):
        layer.build((None, None, WIDTH))
    half.set_weights(full.get_weights())
    chunked.set_weights(full.get_weights())
    return full, half, chunked


@pytest.mark.parametrize("policy, tolerance", [("mixed_float16", 1e-2), ("mixed_bfloat16", 2e-2)])
@given(lsh_inputs(max_len=10))
@at_most(4)
def test_mixed_precision_is_finite_and_close_to_float32(policy, tolerance, inputs):
    """Under a mixed policy the output is half precision, finite (also with several chunks) and, with one chunk, close to float32."""
    x, real = inputs
    full, half, chunked = precision_twins(policy)
    out = call(half, x, real)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert_relative_error(out, to_numpy(call(full, x, real)), tolerance)
    assert np.all(np.isfinite(to_numpy(call(chunked, x, real))))
    assert np.all(np.isfinite(gradient(lambda a: call(chunked, a, real), x)))

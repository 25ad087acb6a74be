"""`keras_transformer.ops.scaled_dot_product_attention`: the one attention kernel.

Every expected value comes from `helpers.reference_attention`, a float64 NumPy
softmax(QKᵀ/√H)V written from the formula.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

from keras_transformer.ops import scaled_dot_product_attention as sdpa
from tests.helpers import (
    MASK_LAYOUTS,
    assert_close,
    attention_masks,
    attention_shapes,
    causal_reference,
    gradients,
    mask_to_rank4,
    normal,
    reference_attention,
    rng,
    seeds,
    to_numpy,
)

DTYPES = ["float32", "float16", "bfloat16"]
TOLERANCE = {"float32": 1e-5, "float16": 1e-2, "bfloat16": 2e-2}


@st.composite
def qkv_and_mask(draw, layouts=MASK_LAYOUTS + ("none",)):
    """Random q, k, v of drawn sizes and a mask in a drawn layout (or None)."""
    b, t, s, n, h = draw(attention_shapes())
    g = rng(draw(seeds))
    q, k, v = normal(g, (b, t, n, h)), normal(g, (b, s, n, h)), normal(g, (b, s, n, h))
    layout = draw(st.sampled_from(layouts))
    mask = None if layout == "none" else draw(attention_masks(layout, b, n, t, s))
    return q, k, v, mask


# ----------------------------------------------------------------- the reference


def _masked_cross_example():
    """Queries and keys of different lengths, a padded key tail and a fully masked query row.

    Stated outright so that every backend's run sees them, JAX's single drawn example included.
    """
    g = rng(7)
    mask = np.ones((2, 2, 3, 5), bool)
    mask[0, :, 1, :] = False  # a query that sees no key
    mask[1, :, :, 3:] = False  # padded keys
    mask[1, 1, 0, :2] = False  # one head masks more than the other
    return normal(g, (2, 3, 2, 4)), normal(g, (2, 5, 2, 4)), normal(g, (2, 5, 2, 4)), mask


@given(qkv_and_mask(), st.booleans())
@example(_masked_cross_example(), True)
@example(_masked_cross_example(), False)
def test_attention_equals_numpy_reference(inputs, return_weights):
    """Output (and weights) equal float64 softmax(QKᵀ/√H)V for every accepted mask layout and either path."""
    q, k, v, mask = inputs
    expected, expected_weights = reference_attention(q, k, v, mask)
    result = sdpa(q, k, v, mask=mask, return_weights=return_weights)
    if return_weights:
        result, weights = result
        assert_close(weights, expected_weights)
    assert_close(result, expected)


@given(qkv_and_mask(), st.floats(0.1, 0.9))
def test_fast_path_equals_explicit_path(inputs, dropout_rate):
    """The fused path (no weights asked) and the explicit path (weights returned, or dropout configured at inference) agree."""
    q, k, v, mask = inputs
    fast = sdpa(q, k, v, mask=mask)
    explicit, _ = sdpa(q, k, v, mask=mask, return_weights=True)
    inference = sdpa(q, k, v, mask=mask, dropout_rate=dropout_rate, training=False)
    assert_close(explicit, to_numpy(fast))
    assert_close(inference, to_numpy(fast))


@given(attention_shapes(), seeds, st.booleans())
def test_is_causal_equals_lower_triangular_reference(shape, seed, return_weights):
    """`is_causal=True` equals the reference with the mask `j <= i`."""
    b, t, _, n, h = shape  # self-attention: S = T
    g = rng(seed)
    q, k, v = (normal(g, (b, t, n, h)) for _ in range(3))
    result = sdpa(q, k, v, is_causal=True, return_weights=return_weights)
    result = result[0] if return_weights else result
    assert_close(result, reference_attention(q, k, v, causal_reference(t, t))[0])


@given(qkv_and_mask(layouts=MASK_LAYOUTS))
def test_integer_zero_one_mask_equals_boolean_mask(inputs):
    """A 0/1 integer mask means the same as the boolean mask."""
    q, k, v, mask = inputs
    assert_close(sdpa(q, k, v, mask=mask.astype("int32")), to_numpy(sdpa(q, k, v, mask=mask)))


@given(qkv_and_mask(layouts=MASK_LAYOUTS), st.booleans())
def test_all_true_mask_equals_no_mask(inputs, return_weights):
    """A mask that lets every query see every key changes nothing."""
    q, k, v, mask = inputs
    everything = np.ones_like(mask)
    with_mask = sdpa(q, k, v, mask=everything, return_weights=return_weights)
    without = sdpa(q, k, v, return_weights=return_weights)
    if return_weights:
        assert_close(with_mask[1], to_numpy(without[1]))
        with_mask, without = with_mask[0], without[0]
    assert_close(with_mask, to_numpy(without))


# ---------------------------------------------------------------- the weights


@given(qkv_and_mask(layouts=MASK_LAYOUTS))
def test_weights_are_a_distribution_over_unmasked_keys(inputs):
    """Each row with a visible key sums to 1, is exactly 0 at masked keys, and a row with none is all 0."""
    q, k, v, mask = inputs
    _, weights = sdpa(q, k, v, mask=mask, return_weights=True)
    weights = to_numpy(weights)
    visible = np.broadcast_to(mask_to_rank4(mask), weights.shape)
    assert np.all(weights >= 0)
    assert np.all(weights[~visible] == 0.0), "masked keys must get exactly zero weight"
    has_key = visible.any(axis=-1)
    np.testing.assert_allclose(weights.sum(-1)[has_key], 1.0, atol=1e-6)
    assert np.all(weights.sum(-1)[~has_key] == 0.0)


@given(qkv_and_mask(layouts=MASK_LAYOUTS), st.floats(0.1, 0.9), seeds)
def test_training_dropout_zeroes_or_rescales_each_weight(inputs, rate, seed):
    """With dropout in training, each weight is 0 or the inference weight / (1 - rate), and the output uses those weights."""
    q, k, v, mask = inputs
    _, clean = sdpa(q, k, v, mask=mask, return_weights=True)
    out, dropped = sdpa(q, k, v, mask=mask, dropout_rate=rate, training=True,
                        return_weights=True, seed=seed)
    clean, dropped = to_numpy(clean), to_numpy(dropped)
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], clean[kept] / (1 - rate), rtol=1e-5)
    assert_close(out, np.einsum("bnts,bsnh->btnh", dropped, v))


@st.composite
def one_key(draw):
    """q, k, v with a single key (S = 1) and a mask in a drawn layout (or None)."""
    b, t, _, n, h = draw(attention_shapes())
    g = rng(draw(seeds))
    q, k, v = normal(g, (b, t, n, h)), normal(g, (b, 1, n, h)), normal(g, (b, 1, n, h))
    layout = draw(st.sampled_from(MASK_LAYOUTS + ("none",)))
    mask = None if layout == "none" else draw(attention_masks(layout, b, n, t, 1))
    return q, k, v, mask


@given(one_key(), st.booleans())
def test_a_single_key_passes_its_value_through_without_a_warning(inputs, return_weights):
    """With one key, a query that may see it outputs its value, one that may not outputs 0, and nothing warns."""
    q, k, v, mask = inputs
    b, t, n, _ = q.shape
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keras.ops.softmax warns on an axis of size 1
        result = sdpa(q, k, v, mask=mask, return_weights=return_weights)
    out = to_numpy(result[0] if return_weights else result)
    visible = np.ones((b, n, t, 1), bool) if mask is None else np.broadcast_to(
        mask_to_rank4(mask), (b, n, t, 1))
    expected = np.where(visible[..., 0].transpose(0, 2, 1)[..., None], np.asarray(v)[:, :1], 0.0)
    assert_close(out, expected)


# --------------------------------------------------------------------- numerics


@st.composite
def rows_fully_masked(draw):
    """q, k, v and a `(B, T, S)` mask in which some query rows see no key at all."""
    q, k, v, mask = draw(qkv_and_mask(layouts=("(B,T,S)",)))
    b, t = mask.shape[:2]
    blocked = draw(hnp.arrays(np.bool_, (b, t)))
    blocked[draw(st.integers(0, b - 1)), draw(st.integers(0, t - 1))] = True
    mask = mask & ~blocked[:, :, None]
    return q, k, v, mask, blocked


@pytest.mark.parametrize("dtype", DTYPES)
@given(inputs=rows_fully_masked(), explicit=st.booleans())
def test_fully_masked_rows_are_zero_with_finite_gradients(dtype, inputs, explicit):
    """A query row with no visible key outputs exactly 0 (not NaN) and all gradients stay finite, on both paths and in every float dtype."""
    q, k, v, mask, blocked = inputs

    def attend(q_, k_, v_):
        args = (ops.cast(q_, dtype), ops.cast(k_, dtype), ops.cast(v_, dtype))
        out = sdpa(*args, mask=mask, return_weights=explicit)
        return out[0] if explicit else out

    out = to_numpy(attend(q, k, v))
    assert np.all(np.isfinite(out))
    assert np.all(out[blocked] == 0.0)
    for grad in gradients(attend, q, k, v):
        assert np.all(np.isfinite(grad))
    expected = reference_attention(*(to_numpy(ops.cast(x, dtype)) for x in (q, k, v)), mask)[0]
    assert_close(out, expected, atol=TOLERANCE[dtype] * 4, rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@given(qkv_and_mask(), st.booleans())
def test_large_logits_stay_finite(dtype, inputs, explicit):
    """Queries and keys scaled so logits reach ~1e4 give finite outputs that match the reference."""
    q, k, v, mask = inputs
    h = q.shape[-1]
    scale = np.sqrt(1e4 * np.sqrt(h) / h).astype("float32")
    q, k, v = (to_numpy(ops.cast(x, dtype)) for x in (q * scale, k * scale, v))
    out = sdpa(*(ops.cast(x, dtype) for x in (q, k, v)), mask=mask, return_weights=explicit)
    out = to_numpy(out[0] if explicit else out)
    assert np.all(np.isfinite(out))
    expected = reference_attention(q, k, v, mask)[0]
    np.testing.assert_allclose(out, expected, atol=4 * TOLERANCE[dtype], rtol=TOLERANCE[dtype])

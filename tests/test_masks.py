"""`keras_transformer.masks`: one boolean vocabulary, True = may attend / is real."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_transformer import masks
from tests.helpers import MAX_BATCH, MAX_LEN, causal_reference, lengths, padding_masks, to_numpy


@given(lengths(), st.integers(0, 2 * MAX_LEN))
def test_causal_mask_is_offset_lower_triangle(sizes, offset):
    """`causal_mask(T, S, offset)[i, j]` is `i + offset >= j`."""
    t, s = sizes
    mask = to_numpy(masks.causal_mask(t, s, offset))
    np.testing.assert_array_equal(mask, causal_reference(t, s, offset))


@given(hnp.arrays(np.int32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=MAX_LEN),
                  elements=st.integers(0, 5)), st.integers(0, 5))
def test_padding_mask_marks_non_pad_tokens(ids, pad_id):
    """`padding_mask(ids, pad_id)` is True exactly where `ids != pad_id`."""
    np.testing.assert_array_equal(to_numpy(masks.padding_mask(ids, pad_id)), ids != pad_id)


@st.composite
def mask_parts(draw):
    b, (t, s) = draw(st.integers(1, MAX_BATCH)), draw(lengths())
    query = draw(st.none() | padding_masks(b, t))
    key = draw(st.none() | padding_masks(b, s))
    custom = draw(st.none() | hnp.arrays(np.bool_, draw(st.sampled_from([(t, s), (b, t, s)]))))
    return b, t, s, query, key, custom, draw(st.booleans()), draw(st.integers(0, MAX_LEN))


@given(mask_parts())
def test_attention_mask_is_the_and_of_its_parts(parts):
    """`attention_mask` equals the logical AND of query, key, custom and offset-causal masks (None when nothing is masked)."""
    b, t, s, query, key, custom, causal, offset = parts
    result = masks.attention_mask(query, key, causal=causal, mask=custom,
                                  query_length=t, key_length=s, offset=offset)
    if query is None and key is None and custom is None and not causal:
        assert result is None
        return
    expected = np.ones((b, t, s), bool)
    if query is not None:
        expected &= query[:, :, None]
    if key is not None:
        expected &= key[:, None, :]
    if custom is not None:
        expected &= custom
    if causal:
        expected &= causal_reference(t, s, offset)
    result = to_numpy(result)
    assert result.ndim == 3
    np.testing.assert_array_equal(np.broadcast_to(result, (b, t, s)), expected)


@given(mask_parts())
def test_causal_lengths_are_read_from_the_masks_given(parts):
    """With `causal=True` and no lengths, the padding masks (or the custom mask) fix T and S, even when one is 1."""
    b, t, s, query, key, custom, _, offset = parts
    # A custom mask's axis of length 1 may be a broadcast one, so it fixes only longer lengths.
    assume(query is not None or (custom is not None and t > 1))
    assume(key is not None or (custom is not None and s > 1))
    explicit = masks.attention_mask(query, key, causal=True, mask=custom,
                                    query_length=t, key_length=s, offset=offset)
    inferred = masks.attention_mask(query, key, causal=True, mask=custom, offset=offset)
    np.testing.assert_array_equal(to_numpy(inferred), to_numpy(explicit))

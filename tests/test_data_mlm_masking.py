"""Masked-LM inputs: seeded masking, static (BERT) vs dynamic (RoBERTa)."""

import random

import keras_hub
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.data import MaskedLMData, masked_lm

PAD, MASK, VOCAB, SLOTS = 0, 1, 60, 8


def masker(rate=0.3, slots=SLOTS):
    return keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=VOCAB, mask_selection_rate=rate, mask_token_id=MASK,
        mask_selection_length=slots, unselectable_token_ids=[PAD],
    )


@st.composite
def packed_rows(draw):
    """Right-padded rows of 12 to 24 real tokens (ids 2..VOCAB-1)."""
    rows, length = draw(st.integers(1, 4)), draw(st.integers(24, 32))
    g = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    real = np.arange(length)[None, :] < g.integers(12, 25, rows)[:, None]
    return np.where(real, g.integers(2, VOCAB, (rows, length)), PAD).astype("int32")


def positions(batch, row):
    return tuple(sorted(batch["mask_positions"][row][batch["mask_weights"][row] > 0].tolist()))


@settings(max_examples=6)
@given(packed_rows(), st.integers(0, 1000))
def test_dynamic_masking_changes_over_epochs_and_static_masking_does_not(ids, seed):
    """Over six epochs a row keeps one set of masked positions with static masking and gets several with dynamic masking."""
    static = MaskedLMData(ids, masker(), dynamic=False, seed=seed)
    dynamic = MaskedLMData(ids, masker(), dynamic=True, seed=seed)
    for row in range(len(ids)):
        seen = {kind: {positions(data.batch([row], epoch), 0) for epoch in range(6)}
                for kind, data in (("static", static), ("dynamic", dynamic))}
        assert len(seen["static"]) == 1
        assert len(seen["dynamic"]) >= 2


@settings(max_examples=6)
@given(packed_rows(), st.integers(0, 1000), st.integers(0, 10**6), st.booleans())
def test_a_batch_is_a_pure_function_of_seed_rows_and_step(ids, seed, step, dynamic):
    """Asking twice for the same rows at the same step gives the same masked inputs, whatever ran in between."""
    data = MaskedLMData(ids, masker(), dynamic=dynamic, seed=seed)
    rows = np.arange(len(ids))[::-1]
    first = data.batch(rows, step)
    data.batch(rows, step + 1)
    random.random()
    second = data.batch(rows, step)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@settings(max_examples=6)
@given(packed_rows(), st.integers(0, 1000))
def test_masking_touches_only_the_chosen_real_positions(ids, seed):
    """Only the listed positions may change, they are never padding, and `mask_ids` holds their original tokens."""
    out = masked_lm(masker(), ids, seed)
    for row in range(len(ids)):
        chosen = list(positions(out, row))
        assert all(ids[row, p] != PAD for p in chosen)
        untouched = np.setdiff1d(np.arange(ids.shape[1]), chosen)
        np.testing.assert_array_equal(out["token_ids"][row, untouched], ids[row, untouched])
        used = out["mask_weights"][row] > 0
        np.testing.assert_array_equal(out["mask_ids"][row][used],
                                      ids[row, out["mask_positions"][row][used]])


def test_masking_leaves_pythons_random_generator_as_it_was():
    """Seeding the masker does not reset the caller's `random` stream."""
    random.seed(123)
    expected = [random.random() for _ in range(3)]
    random.seed(123)
    masked_lm(masker(), np.arange(2, 20)[None], seed=5)
    assert [random.random() for _ in range(3)] == expected


def test_bad_inputs_are_value_errors():
    """A masker without a fixed number of slots, or rows that are not 2-D, is a ValueError."""
    with pytest.raises(ValueError, match="mask_selection_length"):
        masked_lm(masker(slots=None), np.arange(2, 20)[None], seed=0)
    with pytest.raises(ValueError, match="rows, length"):
        MaskedLMData(np.arange(2, 20), masker())


@pytest.mark.parametrize("token_ids, seed, match", [
    (np.array([[2, 3, VOCAB, VOCAB + 10]]), 0, "`token_ids` must lie in"),
    (np.array([[2.0, 3.5, 4.0, 5.0]]), 0, "non-empty int array"),
    (np.zeros((0, 8), "int32"), 0, "non-empty int array"),
    (np.array([[2, 3, 4, 5]]), -1, "`seed` must be an int >= 0"),
])
def test_bad_rows_and_seeds_are_value_errors(token_ids, seed, match):
    """Ids outside the masker's vocabulary, float or empty rows and a negative seed are ValueErrors naming the argument."""
    with pytest.raises(ValueError, match=match):
        masked_lm(masker(), token_ids, seed)

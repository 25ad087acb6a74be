"""Inference batched by length gives the outputs of inference on the padded rows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.models import BERT, BertClassifier
from keras_transformer.training import predict_by_length

PADDED = 12


@pytest.fixture(scope="module")
def classifier():
    bert = BERT(vocab_size=40, max_length=PADDED, num_layers=1, num_heads=2, hidden_dim=8,
                intermediate_dim=16)
    return BertClassifier(bert, num_classes=3)


def padded_rows(lengths, seed):
    """Token ids with `lengths` real positions each, then padding (id 0)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 40, size=(len(lengths), PADDED))
    ids[np.arange(PADDED) >= np.asarray(lengths)[:, None]] = 0
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}


@settings(max_examples=8, deadline=None)
@given(lengths=st.lists(st.integers(1, PADDED), min_size=1, max_size=9),
       batch_size=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_outputs_equal_those_of_the_padded_rows_in_their_order(classifier, lengths, batch_size, seed):
    """Sorting rows by length, batching them and cutting each batch to a bucket changes no output and no row order."""
    x = padded_rows(lengths, seed)
    expected = classifier.predict(x, verbose=0)
    got = predict_by_length(classifier, x, lengths, batch_size, bucket_lengths=(4, 8, PADDED))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_buckets_must_hold_the_longest_row(classifier):
    """A row longer than every bucket is a ValueError naming both lengths."""
    x = padded_rows([3, 9], seed=0)
    with pytest.raises(ValueError, match="the largest is 8, a row has 9 positions"):
        predict_by_length(classifier, x, [3, 9], batch_size=2, bucket_lengths=(4, 8))


@pytest.mark.parametrize("lengths, buckets, message", [
    ([3], (4, 8), r"lengths must give one length per row of inputs \(2 rows"),
    ([3, 5], (), "`bucket_lengths` must be one or more integers >= 1"),
])
def test_lengths_and_buckets_are_checked(classifier, lengths, buckets, message):
    """Lengths that are not one per row, or no bucket, are a ValueError saying what is needed."""
    x = padded_rows([3, 5], seed=0)
    with pytest.raises(ValueError, match=message):
        predict_by_length(classifier, x, lengths, batch_size=2, bucket_lengths=buckets)

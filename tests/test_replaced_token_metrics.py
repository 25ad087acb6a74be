"""An ELECTRA discriminator's scores (`metrics.replaced_token_scores`) against a brute-force count of ranked pairs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.metrics import replaced_token_scores


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 60))
def test_replaced_token_scores_rank_every_replaced_token_against_every_original(seed, size):
    """RTD AUC is the share of (replaced, original) pairs of real tokens the logits order right, ties counting half; the baseline is the share of originals."""
    g = np.random.default_rng(seed)
    logits = g.integers(-3, 4, size).astype("float32")  # small integers: ties happen
    labels, real = g.integers(0, 2, size), g.random(size) < 0.8
    labels[:2], real[:2] = (0, 1), True  # both classes among the real tokens
    scores = replaced_token_scores(logits, labels, real)
    replaced, original = logits[real & (labels == 1)], logits[real & (labels == 0)]
    pairs = replaced[:, None] - original[None, :]
    expected_auc = ((pairs > 0).sum() + 0.5 * (pairs == 0).sum()) / pairs.size
    assert scores["rtd_auc"] == pytest.approx(expected_auc)
    assert scores["rtd_baseline_accuracy"] == pytest.approx(len(original) / real.sum())
    calls = np.concatenate([replaced > 0, original <= 0])
    assert scores["rtd_accuracy"] == pytest.approx(calls.mean())


def test_one_class_has_no_pair_to_rank_and_bad_input_is_a_value_error():
    """With no replaced token the AUC is chance (0.5); mismatched shapes, no real token or a label other than 0/1 are ValueErrors that name the arguments."""
    scores = replaced_token_scores(np.array([-1.0, 2.0]), np.array([0, 0]))
    assert scores == {"rtd_accuracy": 0.5, "rtd_baseline_accuracy": 1.0, "rtd_auc": 0.5}
    with pytest.raises(ValueError, match="`logits`, `labels` and `real` must have one shape"):
        replaced_token_scores(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="with 0 real"):
        replaced_token_scores(np.zeros(3), np.zeros(3), np.zeros(3, bool))
    with pytest.raises(ValueError, match="`labels` must be 0 .* got values \\[0, 2\\]"):
        replaced_token_scores(np.zeros(3), np.array([0, 2, 0]))

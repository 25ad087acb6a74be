"""The synthetic tasks of chapters 01 and 02: labels are right and batches are reproducible."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data.synthetic import (
    recall_examples,
    reversal_examples,
    step_rng,
    topic_pair_examples,
)

recall_sizes = st.integers(1, 6).flatmap(lambda pairs: st.tuples(
    st.just(pairs), st.integers(pairs, pairs + 6), st.integers(pairs, pairs + 6)))


@given(sizes=recall_sizes, batch=st.integers(1, 8), seed=st.integers(0, 2**20),
       step=st.integers(0, 10**6))
def test_recall_label_is_the_value_paired_with_the_query_key(sizes, batch, seed, step):
    """The label is the value right after the query key's occurrence, and answer_position points at it."""
    num_pairs, num_keys, num_values = sizes
    tokens, labels, answer = recall_examples(step_rng(seed, step), batch, num_pairs, num_keys, num_values)
    assert tokens.shape == (batch, 2 * num_pairs + 1) and tokens.dtype == np.int32
    for row, label, position in zip(tokens, labels, answer):
        keys, values, query = row[0:-1:2], row[1:-1:2], row[-1]
        assert np.all((1 <= keys) & (keys <= num_keys))
        assert np.all((num_keys < values) & (values <= num_keys + num_values))
        assert len(set(keys)) == num_pairs and len(set(values)) == num_pairs
        (index,) = np.flatnonzero(keys == query)  # exactly one pair holds the query key
        assert label == values[index] - 1 - num_keys
        assert position == 2 * index + 1 and row[position] == values[index]


@given(seed=st.integers(0, 2**20), step=st.integers(0, 10**6))
def test_recall_batches_are_a_pure_function_of_seed_and_step(seed, step):
    """The same (seed, step) gives the same batch; the next step gives another one."""
    first = recall_examples(step_rng(seed, step), 16, 8, 16, 8)
    again = recall_examples(step_rng(seed, step), 16, 8, 16, 8)
    other = recall_examples(step_rng(seed, step + 1), 16, 8, 16, 8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@given(vocab=st.integers(3, 20), lengths=st.tuples(st.integers(1, 10), st.integers(0, 6)),
       extra=st.integers(0, 3), batch=st.integers(1, 8), seed=st.integers(0, 2**20),
       step=st.integers(0, 10**6))
def test_reversal_labels_are_the_sequence_read_backwards(vocab, lengths, extra, batch, seed,
                                                         step):
    """Label t is token n-1-t on real positions; padding is 0 with weight 0; lengths stay in range."""
    low, high = lengths[0], lengths[0] + lengths[1]
    tokens, labels, weights = reversal_examples(step_rng(seed, step), batch, vocab, low, high, high + extra)
    assert tokens.shape == labels.shape == weights.shape == (batch, high + extra)
    for row, label, weight in zip(tokens, labels, weights):
        n = int((row != 0).sum())
        assert low <= n <= high
        assert np.all(row[:n] > 0) and np.all(row[:n] < vocab) and np.all(row[n:] == 0)
        np.testing.assert_array_equal(label[:n], row[:n][::-1])
        np.testing.assert_array_equal(label[n:], 0)
        np.testing.assert_array_equal(weight, row != 0)


@given(seed=st.integers(0, 2**20), step=st.integers(0, 10**6))
def test_reversal_batches_are_a_pure_function_of_seed_and_step(seed, step):
    """The same (seed, step) gives the same batch; the next step gives another one."""
    first = reversal_examples(step_rng(seed, step), 16, 17, 2, 16)
    again = reversal_examples(step_rng(seed, step), 16, 17, 2, 16)
    other = reversal_examples(step_rng(seed, step + 1), 16, 17, 2, 16)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@given(num_topics=st.integers(2, 6), topic_words=st.integers(1, 5), shared_words=st.integers(1, 5),
       segment_length=st.integers(1, 8), rate=st.sampled_from([0.0, 0.5, 1.0]),
       batch=st.integers(1, 12), seed=st.integers(0, 2**20))
def test_topic_pairs_are_next_exactly_when_both_segments_share_a_topic(
        num_topics, topic_words, shared_words, segment_length, rate, batch, seed):
    """Rows are `[CLS] A [SEP] B [SEP]` with segment ids 0 then 1; every topical word of a segment
    belongs to one topic, B's topic equals A's exactly in the IsNext rows, and half the rows
    (rounded down) are NotNext."""
    x, labels = topic_pair_examples(step_rng(seed, 0), batch, num_topics, topic_words,
                                    shared_words, segment_length, rate)
    ids, first_topic = x["token_ids"], 5 + shared_words
    assert ids.shape == x["segment_ids"].shape == (batch, 2 * segment_length + 3)
    assert np.all(ids[:, [0, segment_length + 1, -1]] == [2, 3, 3])
    assert np.all(x["segment_ids"] == (np.arange(ids.shape[1]) > segment_length + 1))
    assert x["padding_mask"].all() and int(labels.sum()) == batch // 2
    words = {"A": ids[:, 1:segment_length + 1], "B": ids[:, segment_length + 2:-1]}
    assert all(np.all((5 <= w) & (w < first_topic + num_topics * topic_words)) for w in words.values())
    topics = {}
    for name, segment in words.items():
        topical = [set((row[row >= first_topic] - first_topic) // topic_words) for row in segment]
        assert all(len(t) <= 1 for t in topical), name
        topics[name] = topical
    if rate == 1.0:
        assert [a == b for a, b in zip(topics["A"], topics["B"], strict=True)] == (labels == 0).tolist()
    if rate == 0.0:
        assert not any(topics["A"]) and not any(topics["B"])


def test_topic_pairs_reject_what_cannot_make_a_pair():
    """One topic (no NotNext partner), an empty batch or segment, or shared words asked for with
    none to draw, is a ValueError."""
    with pytest.raises(ValueError, match="num_topics must be >= 2"):
        topic_pair_examples(step_rng(0, 0), 4, 1, 5, 5, 4, 0.5)
    with pytest.raises(ValueError, match="batch_size, topic_words and segment_length >= 1"):
        topic_pair_examples(step_rng(0, 0), 0, 3, 5, 5, 4, 0.5)
    with pytest.raises(ValueError, match="got 3, 4, 5 and 0"):
        topic_pair_examples(step_rng(0, 0), 4, 3, 5, 5, 0, 0.5)
    with pytest.raises(ValueError, match="shared_words >= 1"):
        topic_pair_examples(step_rng(0, 0), 4, 3, 5, 0, 4, 0.5)

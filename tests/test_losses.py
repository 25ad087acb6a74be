"""What `keras_transformer.losses.SmoothedSparseCrossentropy` promises, against NumPy."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_transformer as kt


def logits_and_labels(seed, batch, length, vocab, pad_id=0):
    """Random logits and labels with a random padded tail (label `pad_id`) per row; real labels are any other id."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, length, vocab)).astype("float32") * 3
    labels = rng.integers(0, vocab - 1, (batch, length))
    labels += labels >= pad_id  # skip the pad id: real labels may be 0 when it is not the pad
    for row, real in enumerate(rng.integers(0, length + 1, batch)):
        labels[row, real:] = pad_id
    return logits, labels


def numpy_smoothed_loss(logits, labels, e, pad_id=0):
    """The smoothed cross-entropy, from its definition, averaged over real labels."""
    z = logits.astype(np.float64)
    log_probs = z - z.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    vocab = logits.shape[-1]
    target = (1 - e) * np.eye(vocab)[labels] + e / vocab
    per_token = -(target * log_probs).sum(-1)
    real = labels != pad_id
    return per_token[real].sum() / max(real.sum(), 1)


@given(st.integers(0, 2**16), st.integers(1, 3), st.integers(1, 6), st.integers(2, 12))
def test_loss_without_smoothing_is_keras_cross_entropy_ignoring_padding(seed, batch, length, vocab):
    """With smoothing 0 the loss equals Keras's sparse cross-entropy with `ignore_class=pad_id`."""
    logits, labels = logits_and_labels(seed, batch, length, vocab)
    labels[0, 0] = 1  # Keras's loss is 0/0 for an all-padding batch
    ours = kt.losses.SmoothedSparseCrossentropy(0.0)(labels, logits)
    reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    np.testing.assert_allclose(float(ours), float(reference(labels, logits)), rtol=1e-5)


@given(st.integers(0, 2**16), st.integers(1, 3), st.integers(1, 6), st.integers(2, 12),
       st.floats(0.0, 0.5), st.integers(0, 11))
def test_smoothed_loss_is_cross_entropy_to_the_smoothed_distribution(seed, batch, length, vocab, e,
                                                                     pad):
    """The loss is the mean, over labels other than `pad_id`, of cross-entropy to (1-e)·onehot + e/V."""
    pad_id = pad % vocab
    logits, labels = logits_and_labels(seed, batch, length, vocab, pad_id)
    loss = kt.losses.SmoothedSparseCrossentropy(e, pad_id=pad_id)(labels, logits)
    np.testing.assert_allclose(float(loss), numpy_smoothed_loss(logits, labels, e, pad_id),
                               rtol=1e-5, atol=1e-6)


@given(st.integers(0, 2**16))
def test_logits_at_padded_labels_do_not_matter(seed):
    """Changing the logits where the label is padding does not change the loss."""
    logits, labels = logits_and_labels(seed, 3, 6, 9)
    labels[:, 0] = 3  # at least one real label per row
    loss = kt.losses.SmoothedSparseCrossentropy(0.1)
    changed = logits.copy()
    padded = labels == 0
    changed[padded] = np.random.default_rng(seed + 1).normal(size=(padded.sum(), 9)) * 10
    np.testing.assert_allclose(float(loss(labels, changed)), float(loss(labels, logits)), rtol=1e-6)


def test_bad_smoothing_is_a_value_error():
    """A smoothing outside [0, 1) is a ValueError naming `label_smoothing`."""
    with pytest.raises(ValueError, match="label_smoothing"):
        kt.losses.SmoothedSparseCrossentropy(1.0)


def test_loss_round_trips_through_its_config():
    """`from_config(get_config())` rebuilds the same loss."""
    loss = kt.losses.SmoothedSparseCrossentropy(0.2, pad_id=3)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (clone.label_smoothing, clone.pad_id) == (0.2, 3)

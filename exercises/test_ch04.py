"""4장 연습문제 확인: 패키지의 데이터 함수, NumPy 참조, Keras 손실과 비교합니다."""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.data import lm_eval_windows

CHAPTER = "ch04"

FAST = settings(max_examples=25, deadline=None)


def distinct_logits(seed: int, batch: int, vocab: int) -> np.ndarray:
    """Logits without ties: a random permutation of spread-out values per row."""
    rng = np.random.default_rng(seed)
    values = np.linspace(-4.0, 4.0, vocab)
    return np.stack([rng.permutation(values) for _ in range(batch)])


@FAST
@given(st.integers(2, 200), st.integers(1, 16), st.integers(0, 2**16))
def test_next_token_windows_match_the_package(ex, length, block_size, seed):
    """The windows and targets equal `lm_eval_windows`, and each target row is its input row shifted by one."""
    if (length - 1) // block_size < 1:
        length = block_size + 1
    ids = np.random.default_rng(seed).integers(0, 65, length)
    x, y = ex.next_token_windows(ids, block_size)
    ref_x, ref_y = lm_eval_windows(ids, block_size)
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])


@FAST
@given(st.integers(0, 2**16), st.integers(2, 30), st.data(),
       st.sampled_from([0.25, 0.5, 1.0, 2.0]))
def test_top_k_probabilities_keep_the_k_best_in_softmax_ratios(ex, seed, vocab, data, temperature):
    """Exactly the k largest logits get mass, it sums to 1, and kept tokens keep softmax(l / T) ratios."""
    k = data.draw(st.integers(1, vocab))
    logits = distinct_logits(seed, 3, vocab)
    probs = np.asarray(ex.top_k_probabilities(logits, k, temperature))
    top = np.argsort(-logits, axis=-1)[:, :k]
    kept = np.zeros_like(logits, dtype=bool)
    np.put_along_axis(kept, top, True, axis=-1)
    assert probs.shape == logits.shape
    assert np.all(probs[~kept] == 0.0) and np.all(probs[kept] > 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-9)
    reference = np.where(kept, np.exp(logits / temperature), 0.0)
    np.testing.assert_allclose(probs, reference / reference.sum(-1, keepdims=True), rtol=1e-6)


def test_top_k_probabilities_limits(ex):
    """k = 1 is a one-hot at the argmax; k = V at temperature 1 is the plain softmax."""
    logits = distinct_logits(0, 4, 12)
    one_hot = np.asarray(ex.top_k_probabilities(logits, 1))
    np.testing.assert_array_equal(one_hot.argmax(-1), logits.argmax(-1))
    np.testing.assert_allclose(one_hot.max(-1), 1.0)
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(ex.top_k_probabilities(logits, 12), softmax, rtol=1e-6)


@FAST
@given(st.integers(0, 2**16), st.integers(1, 3), st.integers(1, 8), st.integers(2, 20))
def test_perplexity_is_exp_of_keras_cross_entropy(ex, seed, batch, length, vocab):
    """Perplexity equals exp of Keras's mean sparse cross-entropy from logits."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, (batch, length, vocab))
    targets = rng.integers(0, vocab, (batch, length))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, logits)
    expected = np.exp(float(keras.ops.convert_to_numpy(loss)))
    np.testing.assert_allclose(ex.perplexity(logits, targets), expected, rtol=1e-4)


def test_uniform_logits_have_the_vocabulary_size_as_perplexity(ex):
    """Equal logits over V tokens give perplexity V, whatever the targets."""
    targets = np.array([[0, 3, 6], [1, 1, 2]])
    assert abs(ex.perplexity(np.zeros((2, 3, 7)), targets) - 7.0) < 1e-9

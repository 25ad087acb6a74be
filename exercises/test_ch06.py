"""6장 연습문제 검사: 패키지의 임베딩 층, 원소별 규칙, Keras의 KL 발산과 비교합니다.

`pytest exercises/test_ch06.py`는 참고 답안을, `--reader`를 붙이면
`exercises/ch06.py`의 여러분 답을 검사합니다.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

CHAPTER = "ch06"
FAST = settings(max_examples=20, deadline=None)


def test_embedding_parameters_at_bert_base_size(ex):
    """At V=30522, H=768 the table has 23,440,896 weights, and E=128 factorizes it to 4,005,120."""
    assert ex.embedding_parameters(30522, 768) == 23_440_896
    assert ex.embedding_parameters(30522, 768, 768) == 23_440_896
    assert ex.embedding_parameters(30522, 768, 128) == 4_005_120


@FAST
@given(st.integers(2, 60), st.integers(1, 24), st.none() | st.integers(1, 24))
def test_embedding_parameters_match_the_package_layer(ex, vocab_size, hidden_dim, embedding_dim):
    """The count equals the token table plus the projection kernel of `kt.layers.TokenAndPositionEmbedding(embedding_dim=E)`."""
    layer = kt.layers.TokenAndPositionEmbedding(vocab_size, 4, hidden_dim, embedding_dim=embedding_dim)
    layer.build((1, 4))
    expected = layer.token_embedding.count_params()
    if layer.projection is not None:
        expected += int(np.prod(layer.projection.kernel.shape))
    assert ex.embedding_parameters(vocab_size, hidden_dim, embedding_dim) == expected


@st.composite
def rtd_case(draw):
    """Original ids `(B, T)`, a selection and generator samples that sometimes equal the original."""
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    original = g.integers(0, 6, (b, t))
    return original, g.random((b, t)) < 0.5, g.integers(0, 6, (b, t))


@FAST
@given(rtd_case())
def test_replaced_token_detection_labels_exactly_the_changed_tokens(ex, case):
    """Selected positions take the sample, the others keep the original, and the label is 1 exactly where the token changed."""
    original, selected, samples = case
    corrupted, labels = (np.asarray(a) for a in ex.replaced_token_detection(original, selected, samples))
    for index in np.ndindex(original.shape):
        token = samples[index] if selected[index] else original[index]
        assert corrupted[index] == token
        assert labels[index] == int(token != original[index])
    assert labels.shape == original.shape


def test_a_sample_equal_to_the_original_is_labelled_original(ex):
    """A selected position whose sample is the original token is labelled 0, not 1."""
    original = np.array([[7, 8, 9, 10]])
    selected = np.array([[True, True, False, False]])
    corrupted, labels = ex.replaced_token_detection(original, selected, np.array([[7, 3, 0, 0]]))
    np.testing.assert_array_equal(np.asarray(corrupted), [[7, 3, 9, 10]])
    np.testing.assert_array_equal(np.asarray(labels), [[0, 1, 0, 0]])


@st.composite
def logits_pair(draw):
    """Student and teacher logits `(B, C)` in [-4, 4] and a temperature >= 1.

    Keras's `KLDivergence` clips probabilities at 1e-7; at these sizes none is that small.
    """
    b, c = draw(st.integers(1, 4)), draw(st.integers(2, 8))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    return g.uniform(-4, 4, (b, c)), g.uniform(-4, 4, (b, c)), draw(st.sampled_from([1.0, 2.0, 8.0]))


@FAST
@given(logits_pair())
def test_distillation_loss_is_t_squared_times_keras_kl_divergence(ex, case):
    """The loss equals T² times `keras.losses.KLDivergence` between the temperature-softened teacher and student."""
    student, teacher, t = case
    p, q = (keras.ops.softmax(z / t, axis=-1) for z in (teacher, student))
    expected = t**2 * float(keras.losses.KLDivergence()(p, q))
    assert ex.distillation_loss(student, teacher, t) == pytest.approx(expected, rel=1e-4, abs=1e-5)


@FAST
@given(logits_pair())
def test_distillation_loss_is_zero_for_a_perfect_student(ex, case):
    """A student whose logits equal the teacher's has loss 0 at every temperature."""
    _, teacher, t = case
    assert ex.distillation_loss(teacher, teacher, t) == pytest.approx(0.0, abs=1e-9)


def test_soft_targets_approach_uniform_as_the_temperature_grows(ex):
    """Against a uniform student, loss / T² (the KL to uniform) shrinks toward 0 as T grows."""
    teacher = np.array([[4.0, 1.0, 0.0, -2.0]])
    uniform = np.zeros_like(teacher)
    kl = [ex.distillation_loss(uniform, teacher, t) / t**2 for t in (1.0, 2.0, 4.0, 16.0, 64.0)]
    assert all(a > b for a, b in itertools.pairwise(kl))
    assert kl[-1] < 1e-3

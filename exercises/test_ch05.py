"""5장 연습문제 검사: MLM 입력은 원소별 규칙과, 지표는 패키지의 검증된 함수와 비교합니다.

`pytest exercises/test_ch05.py`는 참고 답안을, `--reader`를 붙이면
`exercises/ch05.py`의 여러분 답을 검사합니다.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer import metrics

CHAPTER = "ch05"
FAST = settings(max_examples=30, deadline=None)
MASK_ID = 4


@st.composite
def mlm_case(draw):
    """Token ids `(B, T)`, a selection, uniform draws and random replacement ids."""
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    ids = g.integers(5, 50, (b, t))
    selected = g.random((b, t)) < draw(st.sampled_from([0.15, 0.5, 1.0]))
    return ids, selected, g.random((b, t)), g.integers(5, 50, (b, t))


def _expected_mlm(ids, selected, draws, random_ids):
    """The 80/10/10 rule applied one position at a time."""
    corrupted, labels = ids.copy(), np.full(ids.shape, -1)
    for index in np.ndindex(ids.shape):
        if not selected[index]:
            continue
        labels[index] = ids[index]
        if draws[index] < 0.8:
            corrupted[index] = MASK_ID
        elif draws[index] < 0.9:
            corrupted[index] = random_ids[index]
    return corrupted, labels


@FAST
@given(mlm_case())
def test_mlm_corrupt_follows_the_80_10_10_rule(ex, case):
    """Each selected position becomes [MASK], the random id or itself by its draw, others stay, and labels keep the selected originals."""
    ids, selected, draws, random_ids = case
    before = ids.copy()
    corrupted, labels = ex.mlm_corrupt(ids, selected, draws, random_ids, MASK_ID)
    expected_corrupted, expected_labels = _expected_mlm(ids, selected, draws, random_ids)
    np.testing.assert_array_equal(np.asarray(corrupted), expected_corrupted)
    np.testing.assert_array_equal(np.asarray(labels), expected_labels)
    np.testing.assert_array_equal(ids, before)


def test_mlm_corrupt_proportions_on_many_positions(ex):
    """Over 100,000 selected positions about 80% become [MASK], 10% change to another id and 10% stay."""
    g = np.random.default_rng(0)
    ids = g.integers(5, 1000, 100_000)
    random_ids = (ids + g.integers(1, 900, ids.shape)) % 995 + 5  # never the original id
    corrupted, _ = ex.mlm_corrupt(ids, np.ones(ids.shape, bool), g.random(ids.shape), random_ids, MASK_ID)
    corrupted = np.asarray(corrupted)
    masked, kept = np.mean(corrupted == MASK_ID), np.mean(corrupted == ids)
    assert abs(masked - 0.8) < 0.01 and abs(kept - 0.1) < 0.01
    assert abs(1 - masked - kept - 0.1) < 0.01


@FAST
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=40))
def test_mcc_equals_the_package(ex, pairs):
    """For any 0/1 labels and predictions the MCC equals `keras_transformer.metrics.matthews_corrcoef` (scikit-learn)."""
    y_true, y_pred = (np.array(column) for column in zip(*pairs))
    expected = metrics.matthews_corrcoef(y_true, y_pred)
    assert float(ex.matthews_corrcoef(y_true, y_pred)) == pytest.approx(expected, abs=1e-9)


def test_mcc_of_a_constant_prediction_is_zero(ex):
    """Always predicting "acceptable" scores MCC 0 however unbalanced the labels (accuracy would be 0.7)."""
    y_true = np.array([1] * 7 + [0] * 3)
    assert float(ex.matthews_corrcoef(y_true, np.ones(10, int))) == 0.0


WORDS = ["the", "a", "an", "The", "Denver", "broncos", "1990", "in", "AN", "theater", "apple"]
PUNCTUATION = ["", ".", ",", "!", "'s", "-"]


@st.composite
def answer(draw):
    """A short answer string of words, articles, case and punctuation."""
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(PUNCTUATION)), max_size=6))
    return " ".join(word + mark for word, mark in parts)


@FAST
@given(answer(), answer())
def test_squad_f1_equals_the_package(ex, prediction, gold):
    """For any pair of answers the F1 equals `keras_transformer.metrics.token_f1`, SQuAD's official definition."""
    expected = metrics.token_f1(prediction, gold)
    assert float(ex.squad_f1(prediction, gold)) == pytest.approx(expected, abs=1e-12)


def test_squad_f1_on_a_worked_example(ex):
    """'the Denver Broncos' against 'Denver Broncos' is a full match; 'Denver' alone has F1 2/3."""
    assert ex.squad_f1("the Denver Broncos!", "Denver Broncos") == pytest.approx(1.0)
    assert ex.squad_f1("Denver", "Denver Broncos") == pytest.approx(2 / 3)
    assert ex.squad_f1("Carolina Panthers", "Denver Broncos") == 0.0

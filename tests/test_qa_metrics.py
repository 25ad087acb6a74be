"""What SQuAD's exact match and F1 (`keras_transformer.metrics.squad`) promise."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.metrics import squad as qa

words = st.lists(st.sampled_from(["the", "a", "an", "cat", "Cat", "sat,", "mat.", "on", "1990"]),
                 max_size=8).map(" ".join)


@pytest.mark.parametrize("text, normalized", [
    ("The Denver Broncos", "denver broncos"),
    ("  an   apple!  ", "apple"),
    ("Theatre, the end.", "theatre end"),  # "the" only as a whole word
    ("U.S.-based", "usbased"),  # punctuation is removed, not replaced by a space
])
def test_normalization_follows_the_official_script(text, normalized):
    """Normalizing lower-cases, strips punctuation and whole-word articles, and collapses spaces."""
    assert qa.normalize_answer(text) == normalized


@given(words, words)
def test_exact_match_implies_full_f1_and_f1_is_symmetric(prediction, gold):
    """EM 1 gives F1 1 (for non-empty answers), F1 lies in [0, 1] and does not depend on argument order."""
    f1 = qa.token_f1(prediction, gold)
    assert 0.0 <= f1 <= 1.0
    assert f1 == pytest.approx(qa.token_f1(gold, prediction))
    if qa.exact_match(prediction, gold) and qa.normalize_answer(gold):
        assert f1 == 1.0


@given(words)
def test_normalization_is_idempotent_and_punctuation_free(text):
    """Normalizing twice changes nothing, and the result has no punctuation or article words."""
    once = qa.normalize_answer(text)
    assert qa.normalize_answer(once) == once
    assert not set(once) & set(string.punctuation)
    assert not {"a", "an", "the"} & set(once.split())


def test_corpus_scores_take_the_best_gold_answer_per_question():
    """Per question the best gold answer counts; the corpus score is the mean, in percent."""
    scores = qa.squad_scores(["Denver Broncos", "in 1990", "nothing"],
                             [("the Denver Broncos",), ("1990", "1991"), ("yes",)])
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)


def test_f1_counts_repeated_words_as_a_bag():
    """F1 counts shared words with their multiplicity, as the official script's Counter does: "cat cat sat" against "cat cat" shares two words (P = 2/3, R = 1), not one."""
    assert qa.token_f1("cat cat sat", "cat cat") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert qa.token_f1("cat sat", "cat cat") == pytest.approx(0.5)  # one shared "cat": P = R = 1/2


def test_mismatched_lists_raise():
    """Predictions and gold lists of different lengths are a ValueError."""
    with pytest.raises(ValueError, match="predictions"):
        qa.squad_scores(["a"], [])


@pytest.mark.parametrize("predictions, golds, match", [
    (["D"], ["Denver"], r"`golds\[0\]` is a str"),
    ([None], [("a",)], r"`predictions\[0\]` is a NoneType"),
    ([""], [()], "needs at least one gold answer"),
])
def test_bad_answers_name_the_argument(predictions, golds, match):
    """A gold given as a string (it would count each letter as an answer), a missing prediction or no gold answer is a ValueError."""
    with pytest.raises(ValueError, match=match):
        qa.squad_scores(predictions, golds)

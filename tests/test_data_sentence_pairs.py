"""Next-sentence-prediction pairs for BERT pretraining."""

import numpy as np
import pytest

from keras_transformer.data import next_sentence_pairs


def articles(count: int, paragraphs: int = 3, sentences: int = 5) -> list:
    """Articles whose sentences name their article, paragraph and position: "a1 p2 s3"."""
    return [
        [[f"a{a} p{p} s{s}" for s in range(sentences)] for p in range(paragraphs)]
        for a in range(count)
    ]


def article_of(sentence: str) -> str:
    return sentence.split()[0]


def test_exactly_half_of_the_pairs_are_not_next():
    """n pairs hold exactly n // 2 NotNext (1) and the rest IsNext (0) labels."""
    for count, sentences in [(2, 5), (3, 4), (4, 2)]:
        first, second, labels = next_sentence_pairs(articles(count, sentences=sentences), seed=1)
        n = count * 3 * (sentences - 1)
        assert len(first) == len(second) == len(labels) == n
        assert labels.dtype == np.int32 and set(labels.tolist()) <= {0, 1}
        assert int(labels.sum()) == n // 2


def test_is_next_is_the_successor_and_not_next_another_article():
    """IsNext B follows A in its paragraph; NotNext B always comes from another article."""
    first, second, labels = next_sentence_pairs(articles(3), seed=0)
    for a, b, label in zip(first, second, labels):
        if label == 0:
            article, paragraph, s = a.split()
            assert b == f"{article} {paragraph} s{int(s[1:]) + 1}"
        else:
            assert article_of(b) != article_of(a)


def test_not_next_draws_from_every_other_article():
    """NotNext B sentences of each article come from all other articles, before and after it."""
    first, second, labels = next_sentence_pairs(articles(3, paragraphs=20), seed=0)
    drawn = {(article_of(a), article_of(b)) for a, b, l in zip(first, second, labels) if l}
    assert drawn == {(f"a{i}", f"a{j}") for i in range(3) for j in range(3) if i != j}


def test_one_article_is_a_value_error():
    """A single article cannot give NotNext pairs: a ValueError says two are needed."""
    with pytest.raises(ValueError, match="at least two articles"):
        next_sentence_pairs(articles(1), seed=0)
    with pytest.raises(ValueError, match="at least two articles"):
        next_sentence_pairs(articles(1) + [[]], seed=0)


def test_no_pair_is_a_value_error():
    """Paragraphs of single sentences give no pair: a ValueError."""
    with pytest.raises(ValueError, match="at least two sentences"):
        next_sentence_pairs(articles(3, sentences=1), seed=0)


def test_same_seed_same_pairs():
    """The same seed gives the same pairs; another seed other labels."""
    a = next_sentence_pairs(articles(4), seed=7)
    b = next_sentence_pairs(articles(4), seed=np.random.default_rng(7))
    c = next_sentence_pairs(articles(4), seed=8)
    assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])
    assert not np.array_equal(a[2], c[2])

"""Sentence pairs for BERT (next sentence) and ALBERT (sentence order) pretraining."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data import (
    join_sentences,
    next_sentence_pairs,
    sentence_order_pairs,
    split_sentences,
)


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


@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_sentence_order_negatives_are_exactly_the_positives_swapped(count, paragraphs, sentences, seed):
    """Every SOP pair is two consecutive sentences, in order under label 0 and swapped under label 1, with n // 2 swapped."""
    source = articles(count, paragraphs, sentences)
    first, second, labels = sentence_order_pairs(source, seed=seed)
    consecutive = [(p[i], p[i + 1]) for a in source for p in a for i in range(len(p) - 1)]
    restored = [(a, b) if label == 0 else (b, a) for a, b, label in zip(first, second, labels)]
    assert restored == consecutive
    assert labels.dtype == np.int32 and int(labels.sum()) == len(consecutive) // 2
    assert all((a, b) not in consecutive for a, b, label in zip(first, second, labels) if label == 1)


def test_sentence_order_needs_a_pair_and_repeats_with_its_seed():
    """Single-sentence paragraphs are a ValueError; the same seed gives the same pairs."""
    with pytest.raises(ValueError, match="at least two sentences"):
        sentence_order_pairs(articles(2, sentences=1), seed=0)
    a = sentence_order_pairs(articles(2), seed=3)
    b = sentence_order_pairs(articles(2), seed=np.random.default_rng(3))
    assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])


@given(st.lists(st.integers(1, 12), max_size=20), st.integers(1, 30))
def test_joined_segments_keep_the_text_and_are_as_long_as_allowed(word_counts, max_words):
    """Segments keep every sentence in order; each fits `max_words` unless it is one long sentence, and none could take the next sentence in."""
    sentences = [" ".join(f"s{i}w{j}" for j in range(n)) + "." for i, n in enumerate(word_counts)]
    segments = join_sentences(sentences, max_words)
    assert " ".join(segments) == " ".join(sentences)
    sizes = [len(s.split()) for s in segments]
    for segment, size in zip(segments, sizes):
        assert size <= max_words or segment in sentences
    starts = [int(s.split()[0][1:].split("w")[0]) for s in segments]
    for size, start in zip(sizes[:-1], starts[1:]):
        assert size + word_counts[start] > max_words


def test_join_sentences_rejects_a_zero_length():
    """`max_words` below 1 is a ValueError naming it."""
    with pytest.raises(ValueError, match="max_words"):
        join_sentences(["A."], 0)


@given(st.lists(st.tuples(st.sampled_from(["Rain", "Ann (a cook", "3 cats", '"Stay']),
                          st.sampled_from([".", "!", "?"]),
                          st.sampled_from(["", '"', "'", ")", "]"]),
                          st.sampled_from([" ", "  ", "\n"])), min_size=1, max_size=8))
def test_split_sentences_drops_only_the_space_between_sentences(parts):
    """Sentences come back whole and in order, each with its closing punctuation, quote or bracket; only the space after it goes."""
    sentences = [words + stop + closer for words, stop, closer, _ in parts]
    paragraph = "".join(sentence + space for sentence, (*_, space) in zip(sentences, parts))
    assert split_sentences(paragraph) == sentences


@pytest.mark.parametrize("call", [
    lambda: next_sentence_pairs([["One. Two.", "Three. Four."], ["Five. Six."]], 0),
    lambda: sentence_order_pairs([["One. Two."]], 0),
    lambda: next_sentence_pairs(["One. Two."], 0),
])
def test_paragraph_strings_are_not_taken_for_lists_of_sentences(call):
    """Articles whose paragraphs are strings, not lists of sentences, raise a ValueError naming `articles` instead of pairing characters."""
    with pytest.raises(ValueError, match="`articles` must be articles.*is a str"):
        call()


def test_join_sentences_refuses_a_lone_string():
    """`join_sentences` of a paragraph string raises a ValueError instead of joining its letters."""
    with pytest.raises(ValueError, match="`sentences` must be a list of sentences"):
        join_sentences("One two. Three.", 3)

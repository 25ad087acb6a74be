"""Sentence-pair objectives: next-sentence prediction (NSP, BERT) and sentence order (SOP, ALBERT)."""

import re

import numpy as np

from keras_transformer.layers._checks import check_strings

# A sentence ends at . ! or ? (maybe closed by a quote or bracket, which stays
# with it) followed by a space and an upper-case letter, a digit or a quote:
# good enough for Wikipedia. Only the space between two sentences is dropped.
SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[A-Z0-9\"'(])")

IS_NEXT = 0
NOT_NEXT = 1
IN_ORDER = 0
SWAPPED = 1


def split_sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences (see `SENTENCE_END`), stripped, empty ones dropped.

    Example:
    >>> split_sentences('It rained. "Stay in," she said. "Why?" Then at 3 p.m. it stopped!')
    ['It rained.', '"Stay in," she said.', '"Why?"', 'Then at 3 p.m. it stopped!']
    """
    return [s.strip() for s in SENTENCE_END.split(paragraph) if s.strip()]


def join_sentences(sentences: list[str], max_words: int) -> list[str]:
    """Consecutive sentences joined into segments of at most `max_words` words.

    BERT's "sentences" A and B are spans of text, not single sentences: a
    segment grows sentence by sentence while it stays within `max_words`
    words (a longer sentence is a segment of its own), so a pair fills
    more of its row and gives next-sentence prediction more text to judge
    the topic from.

    Example:
    >>> join_sentences(["One two.", "Three.", "Four five six.", "Seven."], max_words=3)
    ['One two. Three.', 'Four five six.', 'Seven.']
    """
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}.")
    check_strings("sentences", sentences, 1, "a list of sentences (`split_sentences` makes one)")
    segments, words = [], 0
    for sentence in sentences:
        count = len(sentence.split())
        if segments and words + count <= max_words:
            segments[-1] += " " + sentence
            words += count
        else:
            segments.append(sentence)
            words = count
    return segments


def next_sentence_pairs(
    articles: list[list[list[str]]], seed: int | np.random.Generator
) -> tuple[list[str], list[str], np.ndarray]:
    """Returns `(A sentences, B sentences, labels)` for next-sentence prediction.

    Every sentence A that has a successor in its paragraph gives one pair.
    Exactly `n // 2` of the `n` pairs, chosen at random, are NotNext (label
    1): B is a sentence drawn uniformly from the other articles, never from
    A's own. The rest are IsNext (label 0): B is A's successor. The same
    `seed` gives the same pairs.

    Args:
        articles: articles, each a list of paragraphs, each a list of
            sentences.
        seed: an int, or a `np.random.Generator` to draw from.

    Raises:
        ValueError: the articles give no pair, or fewer than two articles
            hold sentences (NotNext needs a sentence from another article).

    Example:

    >>> from keras_transformer.data import next_sentence_pairs
    >>> articles = [[["A1.", "A2.", "A3."]], [["B1.", "B2.", "B3."]]]
    >>> first, second, labels = next_sentence_pairs(articles, seed=0)
    >>> len(first), int(labels.sum())
    (4, 2)
    """
    _check_articles(articles)
    firsts, successors, owners = _consecutive_sentences(articles)
    pool, pool_owners = _sentence_pool(articles)
    if not firsts:
        raise ValueError(
            "articles must hold a paragraph of at least two sentences to make "
            "a next-sentence pair, got none."
        )
    if len(set(pool_owners)) < 2:
        raise ValueError(
            "articles must hold sentences from at least two articles (a NotNext "
            f"pair takes B from another article), got {len(set(pool_owners))}."
        )
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(len(firsts), NOT_NEXT, rng)
    starts = np.searchsorted(pool_owners, np.arange(len(articles) + 1))
    second = [
        _other_article_sentence(pool, starts, owner, rng) if label == NOT_NEXT else successor
        for successor, owner, label in zip(successors, owners, labels)
    ]
    return firsts, second, labels


def sentence_order_pairs(
    articles: list[list[list[str]]], seed: int | np.random.Generator
) -> tuple[list[str], list[str], np.ndarray]:
    """Returns `(first segments, second segments, labels)` for sentence-order prediction.

    ALBERT's replacement for NSP: every two consecutive sentences of a
    paragraph give one pair, in order (label 0) or swapped (label 1), so both
    segments always share a topic and only their order tells the classes
    apart. Exactly `n // 2` of the `n` pairs, chosen at random, are swapped.
    The same `seed` gives the same pairs.

    Args:
        articles: articles, each a list of paragraphs, each a list of
            sentences.
        seed: an int, or a `np.random.Generator` to draw from.

    Raises:
        ValueError: no paragraph holds two sentences.

    Example:

    >>> from keras_transformer.data import sentence_order_pairs
    >>> first, second, labels = sentence_order_pairs([[["S1.", "S2.", "S3."]]], seed=0)
    >>> [(a, b) if label == 0 else (b, a) for a, b, label in zip(first, second, labels)]
    [('S1.', 'S2.'), ('S2.', 'S3.')]
    """
    _check_articles(articles)
    firsts, successors, _ = _consecutive_sentences(articles)
    if not firsts:
        raise ValueError(
            "articles must hold a paragraph of at least two sentences to make "
            "a sentence-order pair, got none."
        )
    labels = _balanced_labels(len(firsts), SWAPPED, np.random.default_rng(seed))
    pairs = [(b, a) if label == SWAPPED else (a, b) for a, b, label in zip(firsts, successors, labels)]
    return [a for a, _ in pairs], [b for _, b in pairs], labels


def _check_articles(articles) -> None:
    check_strings("articles", articles, 3,
                  "articles, each a list of paragraphs, each a list of sentences; "
                  "`split_sentences` splits a paragraph string")


def _balanced_labels(n: int, negative: int, rng: np.random.Generator) -> np.ndarray:
    """`n` int32 labels, exactly `n // 2` of them `negative` (1) and the rest 0, in random order."""
    labels = np.zeros(n, "int32")
    labels[: n // 2] = negative
    rng.shuffle(labels)
    return labels


def _consecutive_sentences(articles: list[list[list[str]]]) -> tuple[list, list, list]:
    firsts, successors, owners = [], [], []
    for a, paragraphs in enumerate(articles):
        for sentences in paragraphs:
            firsts += sentences[:-1]
            successors += sentences[1:]
            owners += [a] * (len(sentences) - 1)
    return firsts, successors, owners


def _sentence_pool(articles: list[list[list[str]]]) -> tuple[list[str], np.ndarray]:
    # Ordered by article, so each article's sentences are one slice of the pool.
    pool = [s for paragraphs in articles for sentences in paragraphs for s in sentences]
    owners = [a for a, paragraphs in enumerate(articles)
              for sentences in paragraphs for _ in sentences]
    return pool, np.asarray(owners, "int64")


def _other_article_sentence(
    pool: list[str], starts: np.ndarray, owner: int, rng: np.random.Generator
) -> str:
    # Draw among the sentences outside the owner's slice, then step over the
    # slice: one draw, uniform over the other articles' sentences.
    start, end = starts[owner], starts[owner + 1]
    index = int(rng.integers(len(pool) - (end - start)))
    return pool[index + (end - start) * (index >= start)]

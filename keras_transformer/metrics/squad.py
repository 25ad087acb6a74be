"""SQuAD's exact match and F1, as its official v1.1 evaluation script defines them."""

from __future__ import annotations

import collections
import re
import string

from keras_transformer.layers._checks import check_strings

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace.

    Example:

    >>> from keras_transformer.metrics import normalize_answer
    >>> normalize_answer("  The Denver  Broncos!")
    'denver broncos'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalized strings are equal, else 0.0.

    Example (case, punctuation and articles do not count; an extra word does):

    >>> from keras_transformer.metrics import exact_match
    >>> exact_match("the Broncos.", "Broncos"), exact_match("Denver Broncos", "Broncos")
    (1.0, 0.0)
    """
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """F1 of the bags of normalized words (0.0 when they share none).

    Example (1 shared word: precision 1/2, recall 1/1, F1 = 2/3):

    >>> from keras_transformer.metrics import token_f1
    >>> round(token_f1("Denver Broncos", "the Broncos"), 4), token_f1("1990", "1991")
    (0.6667, 0.0)
    """
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], golds: list[tuple[str, ...]]) -> dict[str, float]:
    """Corpus EM and F1 in percent: per question the best over its gold answers, then the mean.

    Example:

    >>> from keras_transformer.metrics import squad_scores
    >>> squad_scores(["the Denver Broncos", "1990"], [("Denver Broncos",), ("1991", "in 1990")])
    {'exact_match': 50.0, 'f1': 83.33333333333333}
    """
    check_strings("predictions", predictions, 1, "one predicted answer per question")
    check_strings("golds", golds, 2, "one tuple of gold answers per question")
    if any(not answers for answers in golds):
        raise ValueError("Every question of `golds` needs at least one gold answer; one has none.")
    if len(predictions) != len(golds) or not golds:
        raise ValueError(
            f"`predictions` and `golds` must be equally long and non-empty; got "
            f"{len(predictions)} and {len(golds)}."
        )
    em = sum(max(exact_match(p, g) for g in gs) for p, gs in zip(predictions, golds))
    f1 = sum(max(token_f1(p, g) for g in gs) for p, gs in zip(predictions, golds))
    return {"exact_match": 100.0 * em / len(golds), "f1": 100.0 * f1 / len(golds)}

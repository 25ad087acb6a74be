"""The Wikipedia pretraining corpus of chapters 05 and 06: SQuAD's training articles and WikiText-2."""

from __future__ import annotations

import os

from keras_transformer.data import squad
from keras_transformer.data.wikitext2 import load_wikitext2_articles


def pretraining_articles(
    data_dir: str | os.PathLike | None = None, heldout_articles: int = 4, limit: int = 0
) -> tuple[list[list[str]], list[list[str]]]:
    """`(training articles, held-out articles)`, each article a list of paragraph strings.

    The corpus is the paragraphs of SQuAD's QA-training articles (see
    `squad.squad_splits`) followed by the 120 articles of WikiText-2's
    validation and test splits. The articles whose questions score QA are
    never part of it, so a QA probe measures transfer to unseen text. The
    last `heldout_articles` articles (WikiText ones, unless `limit` is
    small) are kept apart to measure the pretraining objectives.

    Args:
        data_dir: the data folder (else `KT_DATA_DIR`, else a download).
        heldout_articles: how many of the last articles to hold out; at
            least 2 (a NotNext pair takes its second sentence from another
            article).
        limit: 0 for the whole corpus; n for its first n articles (tests).

    Example:
    >>> import os
    >>> train, heldout = pretraining_articles(os.environ["KT_DATA_DIR"])
    >>> len(train), len(heldout)
    (154, 4)
    """
    if heldout_articles < 2:
        raise ValueError(
            f"heldout_articles must be >= 2 (a held-out NotNext pair takes its second "
            f"sentence from another article), got {heldout_articles}."
        )
    if limit < 0 or (limit and limit <= heldout_articles):
        raise ValueError(
            f"limit must be 0 (the whole corpus) or more than heldout_articles "
            f"({heldout_articles}), got {limit}."
        )
    articles = squad.article_paragraphs(squad.squad_splits(data_dir)["train"])
    for split in ("valid", "test"):
        articles += load_wikitext2_articles(split, data_dir)
    articles = articles[:limit or None]
    if heldout_articles >= len(articles):
        raise ValueError(
            f"heldout_articles ({heldout_articles}) must leave articles to train on: the "
            f"corpus has {len(articles)}."
        )
    return articles[:-heldout_articles], articles[-heldout_articles:]

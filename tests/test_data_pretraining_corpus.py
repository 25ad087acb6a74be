"""The pretraining corpus that chapters 05 and 06 share: Wikipedia text that the QA probe never scores on."""

import pytest

from keras_transformer.data import load_wikitext2_articles, pretraining_articles, squad
from tests.data_folder import DATA_DIR, needs_data



@needs_data("squad_v1.1")
@needs_data("wikitext2")
def test_corpus_is_squad_training_articles_then_wikitext_and_never_the_qa_articles():
    """Training and held-out articles are SQuAD's QA-training articles then WikiText-2's 120, in order; no paragraph of a QA-evaluation article is among them."""
    train, heldout = pretraining_articles(DATA_DIR, heldout_articles=3)
    splits = squad.squad_splits(DATA_DIR)
    wiki = load_wikitext2_articles("valid", DATA_DIR) + load_wikitext2_articles("test", DATA_DIR)
    assert train + heldout == squad.article_paragraphs(splits["train"]) + wiki
    assert heldout == wiki[-3:]
    scored = {p for article in squad.article_paragraphs(splits["eval"]) for p in article}
    assert not scored & {p for article in train + heldout for p in article}


@needs_data("squad_v1.1")
@needs_data("wikitext2")
def test_limit_keeps_the_first_articles():
    """`limit=n` keeps the corpus's first n articles, the last of them held out."""
    full_train, _ = pretraining_articles(DATA_DIR)
    train, heldout = pretraining_articles(DATA_DIR, heldout_articles=2, limit=6)
    assert train + heldout == full_train[:6]


@pytest.mark.parametrize("kwargs, named", [
    ({"heldout_articles": 1}, "heldout_articles"),
    ({"heldout_articles": 4, "limit": 4}, "limit"),
    ({"limit": -1}, "limit"),
])
def test_bad_counts_are_value_errors(kwargs, named):
    """Fewer than two held-out articles, or a limit that leaves none to train on, is a ValueError naming the argument."""
    with pytest.raises(ValueError, match=named):
        pretraining_articles(**kwargs)


@needs_data("squad_v1.1")
@needs_data("wikitext2")
def test_holding_out_every_article_is_a_value_error():
    """`heldout_articles` at least the corpus's article count is a ValueError, not an empty training set."""
    with pytest.raises(ValueError, match="heldout_articles .* must leave articles to train on"):
        pretraining_articles(DATA_DIR, heldout_articles=500)

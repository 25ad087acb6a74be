"""WikiText-2 loader: articles of detokenized paragraphs."""

import pathlib

import pytest

from keras_transformer.data import load_wikitext2_articles
from keras_transformer.data.wikitext2 import detokenize
from tests.data_folder import DATA_DIR, needs_data


@needs_data("wikitext2")
@pytest.mark.parametrize("split", ["valid", "test"])
def test_each_split_holds_its_sixty_articles_without_headings(split):
    """Each split gives its 60 articles (the dataset's count), none empty, with no heading line or `@-@` join left in a paragraph."""
    articles = load_wikitext2_articles(split, DATA_DIR)
    text = (pathlib.Path(DATA_DIR) / "wikitext2" / f"{split}.txt").read_text(encoding="utf-8")
    assert len(articles) == 60
    assert all(articles)
    paragraphs = [p for article in articles for p in article]
    assert not any(p.startswith("= =") or "@-@" in p or "@,@" in p for p in paragraphs)
    first_title = next(line for line in text.splitlines() if line.startswith(" = "))
    assert articles[0][0].startswith(first_title.strip(" =").split()[0])


def test_detokenize_joins_wikitext_splits():
    """`@-@`, `@.@` and `@,@` joins close up and punctuation meets its word again."""
    assert detokenize(" 1 @,@ 000 men , a well @-@ known ( and 2 @.@ 5 m ) wall . ") == \
        "1,000 men, a well-known (and 2.5 m) wall."


def test_unknown_split_is_a_value_error():
    """Asking for the train split (not stored) names the splits there are."""
    with pytest.raises(ValueError, match="'test', 'valid'"):
        load_wikitext2_articles("train")

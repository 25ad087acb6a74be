"""RoBERTa's byte-level BPE: learned with `tokenizers`, applied by keras-hub."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.data import load_wikitext2_articles, train_byte_level_bpe
from keras_transformer.data.byte_bpe import SPECIAL_TOKENS
from tests.data_folder import DATA_DIR, needs_data

VOCAB = 1000


@pytest.fixture(scope="module")
def corpus():
    train = [p for article in load_wikitext2_articles("valid", DATA_DIR) for p in article]
    test = [p for article in load_wikitext2_articles("test", DATA_DIR)[:5] for p in article][:40]
    return train, test


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return train_byte_level_bpe(corpus[0], VOCAB)


@needs_data("wikitext2")
def test_keras_hub_applies_the_learned_merges_as_tokenizers_does(corpus, tokenizer):
    """On unseen WikiText paragraphs keras-hub's tokenizer gives the ids the `tokenizers` library's own encoder gives."""
    from tokenizers import ByteLevelBPETokenizer

    reference = ByteLevelBPETokenizer()
    reference.train_from_iterator(corpus[0], vocab_size=VOCAB, min_frequency=2,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    for paragraph in corpus[1]:
        assert np.asarray(tokenizer(paragraph)).tolist() == reference.encode(paragraph).ids


@needs_data("wikitext2")
def test_every_text_round_trips_with_ids_inside_the_vocabulary(corpus, tokenizer):
    """Detokenizing the ids gives the text back, every id is below the vocabulary size, and the special tokens take ids 0-4."""
    assert tokenizer.vocabulary_size() == VOCAB
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    for paragraph in corpus[1]:
        ids = np.asarray(tokenizer(paragraph))
        assert ids.max() < VOCAB
        assert tokenizer.detokenize(ids) == paragraph


@needs_data("wikitext2")
@settings(max_examples=20)
@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40))
def test_any_text_has_a_spelling_no_token_is_unknown(tokenizer, text):
    """Byte-level BPE spells any UTF-8 text in its vocabulary: no `<unk>`, and decoding gives the text back."""
    ids = np.asarray(tokenizer(text)).tolist()
    assert tokenizer.token_to_id("<unk>") not in ids
    assert tokenizer.detokenize(np.asarray(ids)) == text


def test_a_vocabulary_smaller_than_the_bytes_is_a_value_error():
    """`vocab_size` below 256 byte symbols plus the special tokens is a ValueError that says the minimum."""
    with pytest.raises(ValueError, match=">= 261"):
        train_byte_level_bpe(["a b c"], vocab_size=100)


@needs_data("wikitext2")
def test_a_tokenizer_rebuilt_from_its_plain_data_tokenizes_the_same(corpus, tokenizer):
    """`byte_level_bpe` on a learned tokenizer's vocabulary and merges, pickled as another process gets them, gives the same ids on unseen text."""
    import pickle

    from keras_transformer.data import byte_level_bpe

    plain = (dict(tokenizer.vocabulary), list(tokenizer.merges))
    vocabulary, merges = pickle.loads(pickle.dumps(plain))
    rebuilt = byte_level_bpe(vocabulary, merges)
    for text in corpus[1]:
        np.testing.assert_array_equal(rebuilt(text), tokenizer(text))


@pytest.mark.parametrize("texts, kwargs, match", [
    ([], {}, "holds no text"),
    (["  ", ""], {}, "holds no text"),
    ("the cat sat", {}, "`texts` must be the training corpus"),
    (["the cat sat"] * 5, {"sequence_length": -1}, "`sequence_length` must be None"),
])
def test_bad_corpora_and_lengths_are_value_errors(texts, kwargs, match):
    """An empty corpus, a lone string or a negative `sequence_length` is a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        train_byte_level_bpe(texts, 300, **kwargs)

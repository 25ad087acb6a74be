"""Tiny Shakespeare loader and the character corpus it returns."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data import CharCorpus, load_tiny_shakespeare
from keras_transformer.data.tiny_shakespeare import ORIGIN

needs_data = pytest.mark.skipif(
    not os.environ.get("KT_DATA_DIR"), reason="set KT_DATA_DIR to the shared data folder"
)


@pytest.fixture(scope="module")
def corpus():
    return load_tiny_shakespeare()


@needs_data
def test_split_sizes_and_vocabulary_match_nanogpt(corpus):
    """The corpus splits 1,003,854 / 111,540 characters over a 65-character vocabulary."""
    assert len(corpus.train) == 1_003_854
    assert len(corpus.val) == 111_540
    assert corpus.vocab_size == 65
    assert corpus.vocab == sorted(corpus.vocab)
    assert corpus.vocab[:2] == ["\n", " "]


@needs_data
def test_decoding_both_splits_gives_back_the_file(corpus):
    """decode(train) + decode(val) is exactly the text of input.txt."""
    path = os.path.join(os.environ["KT_DATA_DIR"], "tiny_shakespeare", "input.txt")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert corpus.decode(corpus.train) + corpus.decode(corpus.val) == text
    assert corpus.decode(corpus.train[:14]) == "First Citizen:"
    assert corpus.train.dtype == np.int32


def test_missing_file_error_names_the_origin(tmp_path):
    """A data folder without Tiny Shakespeare raises FileNotFoundError naming path and origin."""
    with pytest.raises(FileNotFoundError) as error:
        load_tiny_shakespeare(tmp_path)
    assert "tiny_shakespeare/input.txt" in str(error.value)
    assert ORIGIN in str(error.value)


def test_a_different_file_fails_the_checksum(tmp_path):
    """A wrong input.txt in the data folder raises ValueError about its sha256."""
    (tmp_path / "tiny_shakespeare").mkdir()
    (tmp_path / "tiny_shakespeare" / "input.txt").write_text("First Citizen:\n")
    with pytest.raises(ValueError, match="sha256"):
        load_tiny_shakespeare(tmp_path)


@given(st.text(min_size=1, max_size=200))
def test_encode_decode_round_trip(text):
    """decode(encode(s)) == s for any text over the corpus's own vocabulary."""
    corpus = CharCorpus.from_text(text)
    assert corpus.decode(corpus.encode(text)) == text
    assert corpus.decode(np.concatenate([corpus.train, corpus.val])) == text


def test_unknown_character_is_a_value_error():
    """Encoding a character outside the vocabulary raises ValueError naming it and its index."""
    corpus = CharCorpus.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' at index 2"):
        corpus.encode("abz")


def test_out_of_range_ids_are_a_value_error():
    """Decoding an id outside [0, vocab_size) raises ValueError."""
    corpus = CharCorpus.from_text("abc")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        corpus.decode([0, 3])

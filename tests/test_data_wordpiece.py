"""WordPiece rows from the `tokenizers` library equal keras-hub's tokenizer and packer's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.data import cola
from keras_transformer.data.bert_inputs import BertWordPieceTokenizer, bert_inputs
from keras_transformer.data.wordpiece import sentence_rows, wordpiece_counts, wordpiece_tokenizer
from tests.data_folder import DATA_DIR, needs_data

PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat", "on", "mat",
          "é", "a", "##b", ".", ","]
WORDS = ["The", "cats", "SAT", "on", "the", "mat", "catb", "dog", ".", ",", "É", "Mat"]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(PIECES), encoding="utf-8")
    return path


@settings(max_examples=25, deadline=None)
@given(sentences=st.lists(st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join),
                          min_size=1, max_size=6),
       max_length=st.integers(3, 16))
def test_rows_equal_keras_hubs_tokenizer_and_packer(vocab_file, sentences, max_length):
    """`sentence_rows` gives, id for id, the rows keras-hub's WordPiece tokenizer and
    `MultiSegmentPacker` make of the same sentences (uncased, truncated, padded), from the
    `tokenizers` library's tokenizer or from keras-hub's own."""
    keras_hub_tokenizer = BertWordPieceTokenizer(vocabulary=PIECES, lowercase=True,
                                                 strip_accents=True)
    reference = bert_inputs(keras_hub_tokenizer, sentences, max_length=max_length)
    for tokenizer in (wordpiece_tokenizer(vocab_file), keras_hub_tokenizer):
        rows = sentence_rows(tokenizer, sentences, max_length)
        for key in ("token_ids", "segment_ids", "padding_mask"):
            np.testing.assert_array_equal(rows[key], reference[key], err_msg=key)
            assert rows[key].dtype == reference[key].dtype, key


@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(*[st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)] * 2),
                      min_size=1, max_size=6),
       max_length=st.integers(5, 20))
def test_pair_rows_equal_keras_hubs_round_robin_packing(vocab_file, pairs, max_length):
    """With a second segment, `sentence_rows` gives keras-hub's `[CLS] A [SEP] B [SEP]` rows id for
    id, segment ids included, where a pair too long for the row is cut round-robin (from either
    kind of tokenizer)."""
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    keras_hub_tokenizer = BertWordPieceTokenizer(vocabulary=PIECES, lowercase=True,
                                                 strip_accents=True)
    reference = bert_inputs(keras_hub_tokenizer, first, second, max_length=max_length)
    for tokenizer in (wordpiece_tokenizer(vocab_file), keras_hub_tokenizer):
        rows = sentence_rows(tokenizer, first, max_length, second=second)
        for key in ("token_ids", "segment_ids", "padding_mask"):
            np.testing.assert_array_equal(rows[key], reference[key], err_msg=key)


def test_a_list_of_pieces_makes_the_same_tokenizer_as_its_file(vocab_file):
    """`wordpiece_tokenizer` of the pieces themselves cuts text as the tokenizer of their file."""
    text = "The cats sat on the mat, É catb."
    from_list = wordpiece_tokenizer(PIECES).encode(text, add_special_tokens=False).ids
    assert from_list == wordpiece_tokenizer(vocab_file).encode(text, add_special_tokens=False).ids
    assert from_list[:3] == [PIECES.index("the"), PIECES.index("cat"), PIECES.index("##s")]


@needs_data("cola/raw")
def test_every_cola_sentence_packs_as_keras_hub_packs_it():
    """On all of CoLA's training and dev sentences, MiniLM's vocabulary, the `tokenizers` rows
    equal keras-hub's."""
    from keras_transformer.data.bert_inputs import load_hf_tokenizer
    from keras_transformer.data.checkpoint_folders import minilm_checkpoint_dir

    sentences = [s for split in cola.load_cola(DATA_DIR).values() for s in split.sentences]
    reference = bert_inputs(load_hf_tokenizer(minilm_checkpoint_dir()), sentences, max_length=64)
    rows = cola.cola_inputs(sentences)
    np.testing.assert_array_equal(rows["token_ids"], reference["token_ids"])
    np.testing.assert_array_equal(rows["padding_mask"], reference["padding_mask"])


def test_counts_leave_out_cls_and_sep(vocab_file):
    """`wordpiece_counts` counts the pieces of each sentence alone."""
    counts = wordpiece_counts(wordpiece_tokenizer(vocab_file), ["the cats", "", "catb ."])
    assert counts.tolist() == [3, 0, 3]


def test_bad_input_names_the_argument(vocab_file, tmp_path):
    """A missing vocabulary file, one (or a list of pieces) without `[CLS]`, `[SEP]` or `[PAD]`,
    something else than a WordPiece tokenizer, a lone string for the list of sentences, second
    segments that do not pair up, or rows too short for `[CLS] piece [SEP]` (and `piece [SEP]`
    again with a second segment), is a clear error."""
    with pytest.raises(FileNotFoundError, match="vocab_file"):
        wordpiece_tokenizer(tmp_path / "nowhere.txt")
    with pytest.raises(ValueError, match="tokenizer must be .* got dict"):
        sentence_rows({"the": 5}, ["the cat"], 8)
    with pytest.raises(ValueError, match=r"pass \[sentence\]"):
        sentence_rows(wordpiece_tokenizer(vocab_file), "the cat", 8)
    with pytest.raises(ValueError, match="max_length must be >= 3"):
        sentence_rows(wordpiece_tokenizer(vocab_file), ["the cat"], 2)
    with pytest.raises(ValueError, match="max_length must be >= 5"):
        sentence_rows(wordpiece_tokenizer(vocab_file), ["the cat"], 4, second=["the"])
    with pytest.raises(ValueError, match=r"second must be a list of strings.*pass \[segment\]"):
        sentence_rows(wordpiece_tokenizer(vocab_file), ["the cat"], 8, second="the")
    with pytest.raises(ValueError, match="one segment per sentence; got 2 for 1"):
        sentence_rows(wordpiece_tokenizer(vocab_file), ["the cat"], 8, second=["the", "cat"])
    with pytest.raises(ValueError, match="a list of pieces"):
        wordpiece_tokenizer(["[PAD]", "[UNK]", "the"])
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\nthe\n", encoding="utf-8")
    with pytest.raises(ValueError, match="sep_token"):
        wordpiece_tokenizer(tmp_path / "vocab.txt")
    (tmp_path / "vocab.txt").write_text("[UNK]\n[CLS]\n[SEP]\nthe\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[PAD\]"):
        sentence_rows(wordpiece_tokenizer(tmp_path / "vocab.txt"), ["the"], 8)


def test_a_list_of_pieces_without_unk_is_a_value_error():
    """Pieces without `[UNK]` are a ValueError that names the missing piece."""
    with pytest.raises(ValueError, match=r"must hold '\[UNK\]'"):
        wordpiece_tokenizer(["[PAD]", "[CLS]", "[SEP]", "the"])

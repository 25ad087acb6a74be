"""CoLA loading and WordPiece packing (needs the data folder: KT_DATA_DIR or ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_transformer.data import cola
from tests.data_folder import DATA_DIR, needs_data

pytestmark = needs_data("cola/raw")


@pytest.fixture(scope="module")
def splits():
    return cola.load_cola(DATA_DIR)


@pytest.fixture(scope="module")
def tokenizer():
    return cola.cola_tokenizer()


def test_split_sizes_and_label_counts_match_the_release(splits):
    """The three labelled splits hold 8,551 / 527 / 516 sentences with the release's label counts."""
    expected = {
        "in_domain_train": (8551, 2528, 6023),
        "in_domain_dev": (527, 162, 365),
        "out_of_domain_dev": (516, 162, 354),
    }
    for name, (size, zeros, ones) in expected.items():
        split = splits[name]
        assert len(split) == len(split.labels) == len(split.sources) == size, name
        assert set(np.unique(split.labels)) == {0, 1}, name
        assert (np.sum(split.labels == 0), np.sum(split.labels == 1)) == (zeros, ones), name


def test_rows_parse_with_quotes_and_without_a_trailing_newline(splits):
    """Sentences with a `"` stay one row, and the last out-of-domain row (no final newline) is read."""
    train = splits["in_domain_train"]
    assert train.sentences[0] == (
        "Our friends won't buy this analysis, let alone the next one we propose."
    )
    assert sum('"' in s for s in train.sentences) == 2
    assert all(s and "\t" not in s for split in splits.values() for s in split.sentences)
    assert splits["out_of_domain_dev"].sentences[-1].strip()


def test_unknown_split_is_a_clear_error():
    """Asking for a split the release does not have names the valid splits."""
    with pytest.raises(ValueError, match="in_domain_train"):
        cola.load_cola_split("test", DATA_DIR)


def test_missing_file_names_the_origin(tmp_path):
    """A data folder without the CoLA files is a FileNotFoundError naming the file and its origin."""
    with pytest.raises(FileNotFoundError, match="nyu-mll/CoLA-baselines"):
        cola.load_cola_split("in_domain_dev", tmp_path)


def test_every_sentence_fits_in_64_tokens(splits, tokenizer):
    """No CoLA sentence needs truncation at max_length 64: word pieces + [CLS] + [SEP] <= 64."""
    for name, split in splits.items():
        assert cola.wordpiece_lengths(split.sentences, tokenizer).max() + 2 <= cola.MAX_LENGTH, name


def test_packed_rows_are_cls_sentence_sep_then_padding(splits, tokenizer):
    """Each row is [CLS] word pieces [SEP] then [PAD]s, shaped (n, max_length), with segment 0 and a matching mask."""
    dev = splits["in_domain_dev"]
    x = cola.cola_inputs(dev.sentences, tokenizer)
    cls_id, sep_id, pad_id = (tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    ids, mask = x["token_ids"], x["padding_mask"]
    assert ids.shape == x["segment_ids"].shape == mask.shape == (len(dev), cola.MAX_LENGTH)
    assert ids.dtype == np.int32 and mask.dtype == bool
    assert np.all(x["segment_ids"] == 0)
    lengths = mask.sum(axis=1)
    expected = cola.wordpiece_lengths(dev.sentences, tokenizer) + 2
    np.testing.assert_array_equal(lengths, expected)
    assert np.all(ids[:, 0] == cls_id)
    assert np.all(ids[np.arange(len(ids)), lengths - 1] == sep_id)
    assert np.all(mask == (np.arange(cola.MAX_LENGTH) < lengths[:, None]))
    assert np.all(ids[~mask] == pad_id)
    assert np.sum(ids == sep_id) == np.sum(ids == cls_id) == len(dev)


def test_short_max_length_truncates_but_keeps_sep(splits, tokenizer):
    """At a max_length shorter than a sentence, the row is cut to max_length and still ends in [SEP]."""
    sentences = splits["in_domain_train"].sentences[:32]
    x = cola.cola_inputs(sentences, tokenizer, max_length=6)
    sep_id = tokenizer.token_to_id("[SEP]")
    lengths = x["padding_mask"].sum(axis=1)
    assert x["token_ids"].shape == (32, 6) and lengths.max() == 6
    assert np.all(x["token_ids"][np.arange(32), lengths - 1] == sep_id)


def test_tokenizer_is_the_checkpoints_uncased_wordpiece(tokenizer):
    """The tokenizer lowercases and splits into the checkpoint's word pieces."""
    ids = cola.cola_inputs(["The Sailors rode."], tokenizer, max_length=8)["token_ids"][0]
    tokens = [tokenizer.id_to_token(int(i)) for i in ids]
    assert tokens[:5] == ["[CLS]", "the", "sailors", "rode", "."]
    assert tokens[5] == "[SEP]"

"""RoBERTa's FULL-SENTENCES packing: whole sentences, in order, rows filled across documents."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data import pack_full_sentences

PAD, CLS, SEP = 0, 1, 2
sentences = st.lists(st.integers(3, 50), min_size=1, max_size=9)
documents = st.lists(st.lists(sentences, min_size=1, max_size=4), min_size=1, max_size=4)


def real(row):
    return row[row != PAD].tolist()


@given(documents, st.integers(3, 16))
def test_rows_hold_every_sentence_in_order_between_cls_and_sep(docs, max_length):
    """Every row is `[CLS] ... [SEP]` then padding, and the rows' contents, read in order, are the sentences with one `[SEP]` at each document boundary that falls inside a row."""
    rows = pack_full_sentences(docs, max_length, CLS, SEP, PAD)
    assert rows.shape[1] == max_length and rows.dtype == np.int32
    contents = []
    for row in rows:
        tokens = real(row)
        assert tokens[0] == CLS and tokens[-1] == SEP and len(tokens) >= 3
        assert np.all(row[len(tokens):] == PAD)
        contents += tokens[1:-1]
    text_tokens = [t for t in contents if t != SEP]
    assert text_tokens == [t for doc in docs for s in doc for t in s]
    assert contents.count(SEP) <= len(docs) - 1


@given(documents, st.integers(3, 16))
def test_sentences_stay_whole_and_rows_are_filled_greedily(docs, max_length):
    """A sentence that fits in a row lies inside one row, and each row ends only when the next sentence piece (with its document's `[SEP]`) would not have fitted."""
    rows = [real(row)[1:-1] for row in pack_full_sentences(docs, max_length, CLS, SEP, PAD)]
    room = max_length - 2
    # Per text token: its sentence, its place in it, and whether it opens a later document.
    tokens = [(sentence, offset, d > 0 and k == 0)
              for d, doc in enumerate(docs) for k, sentence in enumerate(doc)
              for offset in range(len(sentence))]
    row_of, position = [], 0
    for r, row in enumerate(rows):
        for t in row:
            if t != SEP:
                row_of.append(r)
    starts = {}
    for n, (sentence, offset, _) in enumerate(tokens):
        starts.setdefault(id(sentence), n)
        if offset == len(sentence) - 1 and len(sentence) <= room:
            first = starts[id(sentence)]
            assert len(set(row_of[first:n + 1])) == 1, sentence
    for r in range(len(rows) - 1):
        position += sum(t != SEP for t in rows[r])
        sentence, offset, opens_document = tokens[position]
        piece = min(len(sentence) - offset, room)
        joiner = 1 if opens_document and offset == 0 else 0
        assert len(rows[r]) + joiner + piece > room


def test_short_rows_are_a_value_error():
    """A row too short for `[CLS]`, one token and `[SEP]` is a ValueError naming `max_length`."""
    with pytest.raises(ValueError, match="max_length"):
        pack_full_sentences([[[5]]], 2, CLS, SEP, PAD)

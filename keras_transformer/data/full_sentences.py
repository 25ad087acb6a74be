"""RoBERTa's FULL-SENTENCES inputs: rows packed with whole consecutive sentences, across documents."""

from __future__ import annotations

import numpy as np


def pack_full_sentences(
    documents: list[list[list[int]]], max_length: int, cls_id: int, sep_id: int, pad_id: int
) -> np.ndarray:
    """Pack tokenized sentences into rows `[CLS] s1 s2 ... [SEP]`, filled greedily with whole sentences.

    Sentences keep their order and a row may run on into the next document;
    there a `[SEP]` marks the boundary (RoBERTa's extra separator between
    documents), so rows are filled while text remains. A sentence that does
    not fit the room left starts the next row; one longer than a whole row
    (`max_length - 2` tokens) is cut into row-sized pieces.

    Args:
        documents: documents, each a list of sentences, each a list of token ids.
        max_length: tokens per row, `[CLS]` and the closing `[SEP]` included.
        cls_id, sep_id, pad_id: the special ids.

    Returns:
        int32 `(rows, max_length)`, padded with `pad_id` after the closing `[SEP]`.

    Example:
    >>> documents = [[[5, 6], [7]], [[8, 9], [10, 11, 12]]]
    >>> pack_full_sentences(documents, max_length=8, cls_id=1, sep_id=2, pad_id=0).tolist()
    [[1, 5, 6, 7, 2, 8, 9, 2], [1, 10, 11, 12, 2, 0, 0, 0]]
    """
    if not isinstance(max_length, int) or max_length < 3:
        raise ValueError(
            f"`max_length` must be an integer >= 3 ([CLS], one token, [SEP]); got {max_length!r}."
        )
    room = max_length - 2
    rows: list[list[int]] = []
    row: list[int] = []
    for d, document in enumerate(documents):
        boundary = d > 0
        for sentence in document:
            for start in range(0, len(sentence), room):
                piece = list(sentence[start:start + room])
                joiner = [sep_id] if boundary and row else []
                if row and len(row) + len(joiner) + len(piece) > room:
                    rows.append(row)
                    row, joiner = [], []
                row += joiner + piece
                boundary = False
    if row:
        rows.append(row)
    out = np.full((len(rows), max_length), pad_id, "int32")
    for n, tokens in enumerate(rows):
        out[n, :len(tokens) + 2] = [cls_id, *tokens, sep_id]
    return out

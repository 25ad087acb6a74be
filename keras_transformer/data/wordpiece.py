"""WordPiece with the `tokenizers` library: a `vocab.txt`'s tokenizer, and sentences packed as BERT rows.

keras-hub's `WordPieceTokenizer` and `MultiSegmentPacker` run as TensorFlow
text ops; importing them and tokenizing CoLA's 8,551 training sentences with
them raised a process's peak memory by 0.29 GB, the `tokenizers` library's
Rust tokenizer by 0.08 GB, with the same ids. Single-sentence classification
(chapter 05's CoLA) therefore tokenizes and packs here.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


def wordpiece_tokenizer(vocab_file: str | os.PathLike, lowercase: bool = True):
    """A `tokenizers.BertWordPieceTokenizer` for `vocab_file`, normalizing as BERT does.

    With `lowercase` it lowercases and strips accents, as Hugging Face's
    `BertTokenizer` and this package's keras-hub `BertWordPieceTokenizer` do
    for uncased vocabularies, so the three give the same ids.

    Example:
    >>> import pathlib, tempfile
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]))
    >>> wordpiece_tokenizer(vocab).encode("The cats", add_special_tokens=False).ids
    [4, 5, 6]
    """
    from tokenizers import BertWordPieceTokenizer

    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(
            f"vocab_file {str(vocab_file)!r} does not exist: it needs a WordPiece vocabulary, one "
            f"piece a line (a BERT checkpoint's or `save_bert_folder`'s vocab.txt)."
        )
    try:
        return BertWordPieceTokenizer(str(vocab_file), lowercase=lowercase)
    except TypeError as error:  # the library's word for a vocabulary without [CLS] or [SEP]
        raise ValueError(f"vocab_file {str(vocab_file)!r}: {error}; BERT rows need both.") from error


def _piece_ids(tokenizer, sentences: Sequence[str]) -> list[list[int]]:
    """Each sentence's word-piece ids, from a `tokenizers` or a keras-hub WordPiece tokenizer."""
    if isinstance(sentences, str):
        raise ValueError("sentences must be a list of strings, got one string; pass [sentence].")
    if hasattr(tokenizer, "encode_batch"):  # the `tokenizers` library's
        return [e.ids for e in tokenizer.encode_batch(list(sentences), add_special_tokens=False)]
    if callable(tokenizer) and hasattr(tokenizer, "token_to_id"):  # keras-hub's
        ids = tokenizer(list(sentences))
        return ids.to_list() if hasattr(ids, "to_list") else [list(row) for row in ids]
    raise ValueError(
        f"tokenizer must be a `wordpiece_tokenizer` or a keras-hub WordPiece tokenizer "
        f"(e.g. `load_hf_tokenizer`'s); got {type(tokenizer).__name__}."
    )


def wordpiece_counts(tokenizer, sentences: Sequence[str]) -> np.ndarray:
    """Word pieces per sentence, `[CLS]` and `[SEP]` not counted: int64 `(n,)`."""
    return np.asarray([len(ids) for ids in _piece_ids(tokenizer, sentences)], dtype="int64")


def sentence_rows(tokenizer, sentences: Sequence[str], max_length: int) -> dict[str, np.ndarray]:
    """Packs each sentence as `[CLS] pieces [SEP] [PAD]...`, `max_length` ids a row.

    A sentence with more than `max_length - 2` pieces loses its last ones;
    the row still ends in `[SEP]`. The rows equal `bert_inputs`' for the same
    vocabulary (keras-hub's packer), which a test checks on every CoLA sentence.

    Args:
        tokenizer: a `wordpiece_tokenizer`, or a keras-hub WordPiece tokenizer
            (`bert_inputs.load_hf_tokenizer`'s) for the same rows at keras-hub's cost.
        sentences: the texts, one row each.
        max_length: the row length, at least 3 (`[CLS]`, one piece, `[SEP]`).

    Returns:
        int32 `"token_ids"` and `"segment_ids"` (all 0) and bool
        `"padding_mask"` (True at real tokens), each `(n, max_length)`.

    Example:
    >>> import pathlib, tempfile
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]))
    >>> rows = sentence_rows(wordpiece_tokenizer(vocab), ["The cats", "the cat the cat"], 5)
    >>> rows["token_ids"].tolist()
    [[2, 4, 5, 6, 3], [2, 4, 5, 4, 3]]
    """
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3 ([CLS], a word piece, [SEP]); got {max_length}.")
    pieces = _piece_ids(tokenizer, sentences)
    special = {t: tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
    lacking = [t for t, i in special.items() if i is None]
    if lacking:
        raise ValueError(f"The tokenizer's vocabulary has no {lacking} token(s); BERT rows need them.")
    ids = np.full((len(pieces), max_length), special["[PAD]"], dtype="int32")
    lengths = np.empty((len(pieces), 1), dtype="int64")
    for row, length, piece_ids in zip(ids, lengths, pieces, strict=True):
        length[0] = min(len(piece_ids), max_length - 2) + 2
        row[: length[0]] = [special["[CLS]"], *piece_ids[: max_length - 2], special["[SEP]"]]
    return {
        "token_ids": ids,
        "segment_ids": np.zeros_like(ids),
        "padding_mask": np.arange(max_length) < lengths,
    }

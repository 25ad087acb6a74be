"""WordPiece with the `tokenizers` library: a `vocab.txt`'s tokenizer, and sentences packed as BERT rows.

keras-hub's `WordPieceTokenizer` and `MultiSegmentPacker` run as TensorFlow
text ops; importing them and tokenizing CoLA's 8,551 training sentences with
them raised a process's peak memory by 0.29 GB, the `tokenizers` library's
Rust tokenizer by 0.08 GB, with the same ids; the packer took 16.6 s for one
copy of chapter 05's 12,042 pretraining pairs, `sentence_rows` 1.1 s for the
same rows. Chapter 05's CoLA and pretraining therefore tokenize and pack here,
and chapter 06 packs its sentence pairs here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import keras_hub
    import tokenizers


def wordpiece_tokenizer(
    vocab_file: str | os.PathLike | Sequence[str], lowercase: bool = True
) -> tokenizers.BertWordPieceTokenizer:
    """A `tokenizers.BertWordPieceTokenizer` for `vocab_file`, normalizing as BERT does.

    `vocab_file` is a `vocab.txt` path, or the list of pieces itself (id =
    position), as keras-hub's `compute_word_piece_vocabulary` returns it.

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

    if isinstance(vocab_file, (list, tuple)):
        vocabulary = {piece: index for index, piece in enumerate(vocab_file)}
        if "[UNK]" not in vocabulary:  # the library raises a bare Exception
            raise ValueError("vocab_file (a list of pieces) must hold '[UNK]', the unknown-word piece.")
        try:
            return BertWordPieceTokenizer(vocabulary, lowercase=lowercase)
        except TypeError as error:
            raise ValueError(f"vocab_file (a list of pieces): {error}; BERT rows need both.") from error
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(
            f"vocab_file {str(vocab_file)!r} does not exist: it needs a WordPiece vocabulary, one "
            f"piece a line (a BERT checkpoint's or `save_bert_folder`'s vocab.txt)."
        )
    try:
        return BertWordPieceTokenizer(str(vocab_file), lowercase=lowercase)
    except TypeError as error:  # the library's word for a vocabulary without [CLS] or [SEP]
        raise ValueError(f"vocab_file {str(vocab_file)!r}: {error}; BERT rows need both.") from error


def _piece_ids(tokenizer, sentences: Sequence[str], name: str = "sentences",
               item: str = "sentence") -> list[list[int]]:
    """Each sentence's word-piece ids, from a `tokenizers` or a keras-hub WordPiece tokenizer.

    `name` and `item` are the caller's argument and what it holds, for the
    error a lone string raises.
    """
    if isinstance(sentences, str):
        raise ValueError(f"{name} must be a list of strings, got one string; pass [{item}].")
    if hasattr(tokenizer, "encode_batch"):  # the `tokenizers` library's
        return [e.ids for e in tokenizer.encode_batch(list(sentences), add_special_tokens=False)]
    if callable(tokenizer) and hasattr(tokenizer, "token_to_id"):  # keras-hub's
        ids = tokenizer(list(sentences))
        return ids.to_list() if hasattr(ids, "to_list") else [list(row) for row in ids]
    raise ValueError(
        f"tokenizer must be a `wordpiece_tokenizer` or a keras-hub WordPiece tokenizer "
        f"(e.g. `load_hf_tokenizer`'s); got {type(tokenizer).__name__}."
    )


def wordpiece_counts(
    tokenizer: tokenizers.BertWordPieceTokenizer | keras_hub.tokenizers.WordPieceTokenizer,
    sentences: Sequence[str],
) -> np.ndarray:
    """Word pieces per sentence, `[CLS]` and `[SEP]` not counted: int64 `(n,)`.

    Example ("cats" is two pieces, cat ##s):

    >>> import pathlib, tempfile
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]))
    >>> wordpiece_counts(wordpiece_tokenizer(vocab), ["The cats", "the cat the cat"]).tolist()
    [3, 4]
    """
    return np.asarray([len(ids) for ids in _piece_ids(tokenizer, sentences)], dtype="int64")


def sentence_rows(tokenizer: tokenizers.BertWordPieceTokenizer | keras_hub.tokenizers.WordPieceTokenizer,
                  sentences: Sequence[str], max_length: int,
                  second: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Packs each sentence as `[CLS] pieces [SEP] [PAD]...`, or with `second` as
    `[CLS] A [SEP] B [SEP] [PAD]...`: `max_length` ids a row.

    Rows too long lose their last pieces; with two segments the room is
    shared round-robin (one piece to A, one to B, in turn), as keras-hub's
    `MultiSegmentPacker` shares it. The rows equal `bert_inputs`' for the
    same vocabulary, which the tests check (every CoLA sentence; pairs drawn
    by hypothesis).

    Args:
        tokenizer: a `wordpiece_tokenizer`, or a keras-hub WordPiece tokenizer
            (`bert_inputs.load_hf_tokenizer`'s) for the same rows at keras-hub's cost.
        sentences: the texts, one row each (segment A with `second`).
        max_length: the row length, at least 3 (`[CLS]`, one piece, `[SEP]`),
            or 5 with `second`.
        second: segment B of each row, as many as `sentences`; None for
            single-segment rows.

    Returns:
        int32 `"token_ids"` and `"segment_ids"` (0 for `[CLS] A [SEP]`, 1 for
        `B [SEP]`) and bool `"padding_mask"` (True at real tokens), each
        `(n, max_length)`.

    Example:
    >>> import pathlib, tempfile
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]))
    >>> rows = sentence_rows(wordpiece_tokenizer(vocab), ["The cats", "the cat the cat"], 5)
    >>> rows["token_ids"].tolist()
    [[2, 4, 5, 6, 3], [2, 4, 5, 4, 3]]
    >>> pair = sentence_rows(wordpiece_tokenizer(vocab), ["the cat"], 8, second=["cats"])
    >>> pair["token_ids"].tolist(), pair["segment_ids"].tolist()
    ([[2, 4, 5, 3, 5, 6, 3, 0]], [[0, 0, 0, 0, 1, 1, 1, 0]])
    """
    shortest = 3 if second is None else 5
    if max_length < shortest:
        raise ValueError(
            f"max_length must be >= {shortest} ([CLS], a word piece, [SEP] for each segment); "
            f"got {max_length}."
        )
    pieces = _piece_ids(tokenizer, sentences)
    pieces_b = None if second is None else _piece_ids(tokenizer, second, "second", "segment")
    if pieces_b is not None and len(pieces_b) != len(pieces):
        raise ValueError(
            f"second must hold one segment per sentence; got {len(pieces_b)} for "
            f"{len(pieces)} sentences."
        )
    special = {t: tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
    lacking = [t for t, i in special.items() if i is None]
    if lacking:
        raise ValueError(f"The tokenizer's vocabulary has no {lacking} token(s); BERT rows need them.")
    cls, sep = special["[CLS]"], special["[SEP]"]
    ids = np.full((len(pieces), max_length), special["[PAD]"], dtype="int32")
    segment_ids = np.zeros_like(ids)
    lengths = np.empty((len(pieces), 1), dtype="int64")
    for i, a in enumerate(pieces):
        if pieces_b is None:
            row = [cls, *a[: max_length - 2], sep]
            a_end = len(row)
        else:
            keep_a, keep_b = _round_robin(len(a), len(pieces_b[i]), max_length - 3)
            a_end = keep_a + 2
            row = [cls, *a[:keep_a], sep, *pieces_b[i][:keep_b], sep]
        ids[i, : len(row)] = row
        segment_ids[i, a_end: len(row)] = 1
        lengths[i, 0] = len(row)
    return {"token_ids": ids, "segment_ids": segment_ids,
            "padding_mask": np.arange(max_length) < lengths}


def _round_robin(length_a: int, length_b: int, room: int) -> tuple[int, int]:
    """How many pieces of A and of B fit in `room`, handed out one each in turn, A first."""
    if length_a + length_b <= room:
        return length_a, length_b
    half_a, half_b = (room + 1) // 2, room // 2
    if length_a < half_a:
        return length_a, room - length_a
    if length_b < half_b:
        return room - length_b, length_b
    return half_a, half_b

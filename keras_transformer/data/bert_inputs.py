"""BERT's text side: the WordPiece tokenizer of a checkpoint, and `[CLS] A [SEP] B [SEP]` packing.

Uses keras-hub (TensorFlow text ops); the model itself does not need it, so
packed arrays can be made once and fed to a model on any backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import keras_hub
import numpy as np

from keras_transformer._typing import Tensor


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertWordPieceTokenizer(keras_hub.tokenizers.WordPieceTokenizer):
    """keras-hub's `WordPieceTokenizer`, lowercasing the way BERT's own tokenizer does.

    keras-hub lowercases with Unicode NFKC case folding after stripping
    accents; NFKC recomposes what the accent stripping's NFD decomposed, so
    Hangul syllables come back whole and miss an uncased BERT vocabulary,
    which holds Hangul as jamo (`안` -> `ᄋ ##ᅡ ##ᆫ`), and `ß` becomes `ss`.
    Hugging Face's `BertTokenizer` lowercases first (plain `str.lower`) and
    then strips accents (NFD, drop combining marks). This class does the same:
    with `lowercase=True` it lowercases the text first and hands it to the
    parent with the parent's own lowercasing off. Every other argument is
    `WordPieceTokenizer`'s.

    Example:
    >>> import numpy as np
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "sat"]
    >>> tokenizer = BertWordPieceTokenizer(vocabulary=vocabulary, lowercase=True)
    >>> np.asarray(tokenizer("The CATS sat")).tolist()
    [4, 5, 6, 7]
    """

    def __init__(self, vocabulary=None, lowercase: bool = False, **kwargs):
        super().__init__(vocabulary=vocabulary, lowercase=False, **kwargs)
        self.lowercase_first = lowercase

    def tokenize(self, inputs: str | Sequence[str] | Tensor) -> Tensor:
        if self.lowercase_first:
            inputs = _lower(inputs, self._use_tf_workflow())
        return super().tokenize(inputs)

    def get_config(self):
        return {**super().get_config(), "lowercase": self.lowercase_first}


def _lower(inputs, use_tf: bool):
    """Unicode lowercase, per code point (like `str.lower`), of strings in any container."""
    if isinstance(inputs, str):
        return inputs.lower()
    if isinstance(inputs, (list, tuple)) and all(isinstance(x, str) for x in inputs):
        return [x.lower() for x in inputs]
    if not use_tf:
        return np.vectorize(lambda x: x.lower(), otypes=[object])(np.asarray(inputs, object))
    import tensorflow as tf

    if isinstance(inputs, tf.RaggedTensor):
        return tf.ragged.map_flat_values(tf.strings.lower, inputs, encoding="utf-8")
    return tf.strings.lower(tf.convert_to_tensor(inputs), encoding="utf-8")


def load_hf_tokenizer(
    folder: str | os.PathLike, sequence_length: int | None = None
) -> BertWordPieceTokenizer:
    """A WordPiece tokenizer (`BertWordPieceTokenizer`) for a Hugging Face BERT folder.

    Reads `vocab.txt` and, when present, `tokenizer_config.json`:
    `do_lower_case` (default True) sets `lowercase`, and `strip_accents`
    (default: same as `do_lower_case`, as in Hugging Face's `BertTokenizer`)
    sets `strip_accents`.

    Args:
        folder: the checkpoint folder.
        sequence_length: pad/truncate each output to this length (default:
            ragged output, which is what `bert_inputs` packs).

    Example:
    >>> import tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> pieces = ["[PAD]", "[UNK]", "the", "cat", "##s"]
    >>> _ = (Path(folder) / "vocab.txt").write_text("\\n".join(pieces))
    >>> np.asarray(load_hf_tokenizer(folder)("The cats")).tolist()
    [2, 3, 4]
    """
    folder = Path(folder)
    vocab_path = folder / "vocab.txt"
    if not vocab_path.is_file():
        raise FileNotFoundError(f"No `vocab.txt` in {folder}: not a BERT WordPiece folder.")
    settings = {}
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        settings = json.loads(config_path.read_text())
    lowercase = settings.get("do_lower_case", True)
    strip_accents = settings.get("strip_accents")
    if strip_accents is None:
        strip_accents = lowercase
    vocabulary = vocab_path.read_text(encoding="utf-8").splitlines()
    return BertWordPieceTokenizer(
        vocabulary=vocabulary,
        sequence_length=sequence_length,
        lowercase=bool(lowercase),
        strip_accents=bool(strip_accents),
        oov_token=settings.get("unk_token", "[UNK]"),
    )


def bert_inputs(
    tokenizer: keras_hub.tokenizers.Tokenizer,
    texts_a: str | Iterable[str],
    texts_b: str | Iterable[str] | None = None,
    max_length: int = 128,
    cls_token: str = "[CLS]",
    sep_token: str = "[SEP]",
    pad_token: str = "[PAD]",
) -> dict[str, np.ndarray]:
    """Tokenize and pack `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` into BERT's input dict.

    Packing uses keras-hub's `MultiSegmentPacker`; pairs too long for
    `max_length` are truncated round-robin (one token from each segment in turn).

    Args:
        tokenizer: a WordPiece tokenizer (e.g. from `load_hf_tokenizer`).
        texts_a: a list of strings (first segments).
        texts_b: an optional list of strings of the same length (second segments).
        max_length: length of every packed row.

    Returns:
        NumPy arrays `(len(texts_a), max_length)`: int32 `"token_ids"` and
        `"segment_ids"` (0 for `[CLS] A [SEP]`, 1 for `B [SEP]`), bool
        `"padding_mask"` (True at real tokens).

    Example:
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "sat"]
    >>> tokenizer = BertWordPieceTokenizer(vocabulary=vocabulary, lowercase=True)
    >>> batch = bert_inputs(tokenizer, ["the cat"], ["cats sat"], max_length=9)
    >>> batch["token_ids"].tolist(), batch["segment_ids"].tolist()
    ([[2, 4, 5, 3, 5, 6, 7, 3, 0]], [[0, 0, 0, 0, 1, 1, 1, 1, 0]])
    """
    texts_a = [texts_a] if isinstance(texts_a, str) else list(texts_a)
    segments = [texts_a]
    if texts_b is not None:
        texts_b = [texts_b] if isinstance(texts_b, str) else list(texts_b)
        if len(texts_b) != len(texts_a):
            raise ValueError(
                f"`texts_a` and `texts_b` must pair up; got {len(texts_a)} and "
                f"{len(texts_b)} texts."
            )
        segments.append(texts_b)
    ids = {}
    for token in (cls_token, sep_token, pad_token):
        ids[token] = tokenizer.token_to_id(token)
        if ids[token] is None:
            raise ValueError(f"The tokenizer's vocabulary has no {token!r} token.")
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=max_length,
        start_value=ids[cls_token],
        end_value=ids[sep_token],
        pad_value=ids[pad_token],
    )
    token_ids, segment_ids = packer(tuple(tokenizer(texts) for texts in segments))
    token_ids = np.asarray(token_ids, dtype="int32")
    return {
        "token_ids": token_ids,
        "segment_ids": np.asarray(segment_ids, dtype="int32"),
        "padding_mask": token_ids != ids[pad_token],
    }

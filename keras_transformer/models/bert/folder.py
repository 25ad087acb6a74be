"""A BERT backbone and its WordPiece vocabulary saved together in one folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_transformer.models.bert.backbone import BERT

if TYPE_CHECKING:
    from keras_transformer.data.bert_inputs import BertWordPieceTokenizer

FILES = ("backbone.json", "backbone.weights.h5", "vocab.txt")


def save_bert_folder(folder: str | os.PathLike, backbone: BERT, vocabulary: list[str]) -> None:
    """Writes `backbone.json` (its config), `backbone.weights.h5` and `vocab.txt` into `folder`.

    Example:
    >>> import tempfile
    >>> bert = BERT(vocab_size=8, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"]
    >>> folder = tempfile.mkdtemp()
    >>> save_bert_folder(folder, bert, vocabulary)
    >>> sorted(p.name for p in Path(folder).iterdir())
    ['backbone.json', 'backbone.weights.h5', 'vocab.txt']
    """
    if len(vocabulary) != backbone.vocab_size:
        raise ValueError(
            f"`vocabulary` has {len(vocabulary)} pieces but the backbone's vocab_size is "
            f"{backbone.vocab_size}."
        )
    if not backbone.built:  # a fresh backbone has no variables to write yet
        shapes = {"token_ids": (None, None)}
        if backbone.num_segments:
            shapes["segment_ids"] = (None, None)
        backbone.build(shapes)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "backbone.json").write_text(json.dumps(backbone.get_config(), indent=1) + "\n")
    backbone.save_weights(folder / "backbone.weights.h5")
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")


def load_bert_folder(
    folder: str | os.PathLike, name: str | None = None, lowercase: bool = True
) -> tuple[BERT, BertWordPieceTokenizer]:
    """`(BERT backbone, BertWordPieceTokenizer)` from a folder written by `save_bert_folder`.

    Args:
        folder: the folder.
        name: a new layer name for the backbone (e.g. to hold two in one model).
        lowercase: whether the vocabulary is uncased (lower-case and strip
            accents before WordPiece).

    Example:
    >>> import tempfile
    >>> bert = BERT(vocab_size=8, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"]
    >>> folder = tempfile.mkdtemp()
    >>> save_bert_folder(folder, bert, vocabulary)
    >>> backbone, tokenizer = load_bert_folder(folder)
    >>> backbone.vocab_size, np.asarray(tokenizer("The cats")).tolist()
    (8, [5, 6, 7])
    """
    return load_bert_backbone(folder, name), load_bert_folder_tokenizer(folder, lowercase)


def load_bert_backbone(
    folder: str | os.PathLike, name: str | None = None, weights: bool = True,
    dropout: float | None = None,
) -> BERT:
    """The `BERT` of a `save_bert_folder` folder, whatever its vocabulary's kind.

    Args:
        folder: the folder.
        name: a new layer name for the backbone.
        weights: load the saved weights; `False` gives the same architecture
            freshly initialized (the "random" baseline of a transfer probe).
        dropout: a dropout rate in [0, 1) to fine-tune with instead of the
            saved one (an encoder pretrained without dropout); None keeps it.
            `BERT` rejects a rate outside that range.

    Example:
    >>> import tempfile
    >>> bert = BERT(vocab_size=4, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> folder = tempfile.mkdtemp()
    >>> save_bert_folder(folder, bert, ["<s>", "<pad>", "</s>", "Ġthe"])  # a byte-level BPE one
    >>> load_bert_backbone(folder, name="encoder").name
    'encoder'
    >>> load_bert_backbone(folder, weights=False).count_params() == bert.count_params()
    True
    >>> load_bert_backbone(folder, dropout=0.1).dropout
    0.1
    """
    folder = _named_folder(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}: not a folder from `save_bert_folder`.")
    config = json.loads((folder / "backbone.json").read_text())
    if name is not None:
        config["name"] = name
    if dropout is not None:
        config["dropout"] = dropout
    backbone = BERT.from_config(config)
    inputs = {"token_ids": np.ones((1, 2), "int32"), "padding_mask": np.ones((1, 2), bool)}
    if backbone.num_segments:
        inputs["segment_ids"] = np.zeros((1, 2), "int32")
    backbone(inputs)  # creates the variables the weights file fills
    if weights:
        backbone.load_weights(folder / "backbone.weights.h5")
    return backbone


def vocabulary_file(folder: str | os.PathLike) -> Path:
    """The `vocab.txt` of a `save_bert_folder` folder; a FileNotFoundError if it has none.

    Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "vocab.txt").write_text("[PAD]\\n[UNK]\\n")
    >>> vocabulary_file(folder).read_text().split()
    ['[PAD]', '[UNK]']
    >>> vocabulary_file(folder / "missing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...missing lacks vocab.txt: not a folder from `save_bert_folder`.
    """
    path = _named_folder(folder) / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} lacks vocab.txt: not a folder from `save_bert_folder`.")
    return path


def _named_folder(folder: str | os.PathLike) -> Path:
    """`folder` as a Path; an empty name would be the working directory, so it is a ValueError."""
    if not str(folder):
        raise ValueError(
            "The encoder folder is empty (''): give the folder `save_bert_folder` wrote "
            "(a preset's `encoder_dir`)."
        )
    return Path(folder)


def load_bert_folder_tokenizer(
    folder: str | os.PathLike, lowercase: bool = True
) -> BertWordPieceTokenizer:
    """The `BertWordPieceTokenizer` of a `save_bert_folder` folder, without its weights.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> pieces = ["[PAD]", "[UNK]", "the", "cat", "##s"]
    >>> _ = (Path(folder) / "vocab.txt").write_text("\\n".join(pieces))
    >>> np.asarray(load_bert_folder_tokenizer(folder)("The cats")).tolist()
    [2, 3, 4]
    """
    path = vocabulary_file(folder)
    # keras-hub (0.15 GB of TensorFlow text ops) loads only for the tokenizer:
    # a run that brings its own tokenizer, as SQuAD's does, never pays for it.
    from keras_transformer.data.bert_inputs import BertWordPieceTokenizer

    vocabulary = path.read_text(encoding="utf-8").splitlines()
    return BertWordPieceTokenizer(
        vocabulary=vocabulary, lowercase=lowercase, strip_accents=lowercase
    )

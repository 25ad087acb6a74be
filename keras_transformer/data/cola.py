"""CoLA, the Corpus of Linguistic Acceptability (public release v1.1), for BERT fine-tuning.

Each sentence is labelled 1 (acceptable) or 0 (unacceptable). The public
release has three labelled files: `in_domain_train` (8,551 sentences),
`in_domain_dev` (527, the same 17 sources as train) and `out_of_domain_dev`
(516, 6 other sources); the test sets were never published with labels. GLUE
trains on `in_domain_train` and scores Matthews correlation on the dev sets.

Files are read with `resolve_data_file` from `cola/raw/<split>.tsv` (the
release's untokenized, original-case files): `data_dir`, then `KT_DATA_DIR`,
then a checksummed download cache filled from `nyu-mll/CoLA-baselines`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_transformer.data.files import resolve_data_file

if TYPE_CHECKING:
    import keras_hub
    import tokenizers

#: The commit of `nyu-mll/CoLA-baselines` the files are pinned to.
COMMIT = "dd095d3646ed05a315280aaa8ed4ec84ba435b3e"
ORIGIN = (
    "https://raw.githubusercontent.com/nyu-mll/CoLA-baselines/"
    f"{COMMIT}/acceptability_corpus/cola_public/raw/"
)
SPLITS = ("in_domain_train", "in_domain_dev", "out_of_domain_dev")
SHA256 = {
    "in_domain_train": "f320a10f92d3bce6b29152fde322a362eac39238e50d8de0c8815457fdf4fc12",
    "in_domain_dev": "77176f6a03faa5a1c4f23c69971fc1bff565931112fb65af47b2d6e24b7f42f7",
    "out_of_domain_dev": "201b9c57b2a20f1282242eec0ed8995729e3be19c29a46c047b3727338836c05",
}
#: The longest packed sequence (`[CLS] sentence [SEP]`) the chapter uses.
MAX_LENGTH = 64


@dataclasses.dataclass(frozen=True)
class CoLASplit:
    """One labelled CoLA file.

    Attributes:
        sentences: the sentences, original casing and punctuation.
        labels: int32 `(n,)`, 1 = acceptable, 0 = unacceptable.
        sources: the publication code of each sentence (e.g. `"gj04"`).

    Example:

    >>> import numpy as np
    >>> from keras_transformer.data.cola import CoLASplit
    >>> split = CoLASplit(["The cat sat.", "Cat the sat."], np.array([1, 0], "int32"), ["gj04"] * 2)
    >>> len(split), split.labels.tolist()  # 1 = acceptable
    (2, [1, 0])
    """

    sentences: list[str]
    labels: np.ndarray
    sources: list[str]

    def __len__(self) -> int:
        return len(self.sentences)


def load_cola_split(split: str, data_dir: str | os.PathLike | None = None) -> CoLASplit:
    """Reads one CoLA split (`"in_domain_train"`, `"in_domain_dev"` or `"out_of_domain_dev"`).

    The TSV has no header and 4 columns (source, label, original mark,
    sentence); it is read with quoting off, since two sentences hold a `"`.

    Raises:
        ValueError: an unknown split, or a row that is not 4 columns with a 0/1 label.

    Example (from the shared data folder; 365 of the 527 sentences are acceptable):

    >>> import os
    >>> from keras_transformer.data.cola import load_cola_split
    >>> dev = load_cola_split("in_domain_dev", os.environ["KT_DATA_DIR"])
    >>> len(dev), int(dev.labels.sum()), dev.sources[0], dev.sentences[0]
    (527, 365, 'gj04', 'The sailors rode the breeze clear of the rocks.')
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown CoLA split {split!r}; the splits are {list(SPLITS)}.")
    path = resolve_data_file(
        f"cola/raw/{split}.tsv", origin=ORIGIN + f"{split}.tsv",
        sha256=SHA256[split], data_dir=data_dir,
    )
    text = path.read_text(encoding="utf-8")
    sentences, labels, sources = [], [], []
    for line, row in enumerate(csv.reader(io.StringIO(text), delimiter="\t",
                                          quoting=csv.QUOTE_NONE), start=1):
        if len(row) != 4 or row[1] not in ("0", "1"):
            raise ValueError(
                f"{path}:{line} is not a CoLA row (source, 0/1 label, mark, sentence): {row!r}."
            )
        sources.append(row[0])
        labels.append(int(row[1]))
        sentences.append(row[3])
    return CoLASplit(sentences, np.asarray(labels, dtype="int32"), sources)


def load_cola(data_dir: str | os.PathLike | None = None) -> dict[str, CoLASplit]:
    """Reads the three labelled CoLA splits: `{split name: CoLASplit}`, in `SPLITS` order.

    Example:

    >>> import os
    >>> cola = load_cola(os.environ["KT_DATA_DIR"])
    >>> {name: len(split) for name, split in cola.items()}
    {'in_domain_train': 8551, 'in_domain_dev': 527, 'out_of_domain_dev': 516}
    """
    return {split: load_cola_split(split, data_dir) for split in SPLITS}


def cola_tokenizer() -> tokenizers.BertWordPieceTokenizer:
    """The MiniLM checkpoint's uncased WordPiece tokenizer (`wordpiece_tokenizer` of its vocab.txt).

    Example (lower-cased; a rare word splits into `##` continuation pieces):

    >>> from keras_transformer.data.cola import cola_tokenizer
    >>> cola_tokenizer().encode("Unbelievably, they agreed.", add_special_tokens=False).tokens
    ['un', '##bel', '##ie', '##va', '##bly', ',', 'they', 'agreed', '.']
    """
    from keras_transformer.data.checkpoint_folders import minilm_checkpoint_dir
    from keras_transformer.data.wordpiece import wordpiece_tokenizer

    return wordpiece_tokenizer(minilm_checkpoint_dir() / "vocab.txt")


def cola_inputs(
    sentences: Sequence[str],
    tokenizer: tokenizers.BertWordPieceTokenizer | keras_hub.tokenizers.WordPieceTokenizer | None = None,
    max_length: int = MAX_LENGTH,
) -> dict[str, np.ndarray]:
    """Packs sentences as `[CLS] sentence [SEP] [PAD]...` into BERT's input arrays.

    Args:
        sentences: a list of strings (e.g. `CoLASplit.sentences`).
        tokenizer: a `wordpiece.wordpiece_tokenizer` or a keras-hub WordPiece
            tokenizer (`load_hf_tokenizer`'s); default `cola_tokenizer()`.
        max_length: the row length; longer sentences are truncated (their
            last word pieces dropped, the final `[SEP]` kept).

    Returns:
        `wordpiece.sentence_rows`' dict of `(n, max_length)` arrays: int32
        `"token_ids"`, `"segment_ids"` (all 0) and bool `"padding_mask"`.

    Example (BERT's ids: `[CLS]` = 101, `[SEP]` = 102, `[PAD]` = 0):

    >>> from keras_transformer.data.cola import cola_inputs
    >>> rows = cola_inputs(["The cat sat."], max_length=8)
    >>> rows["token_ids"].tolist(), rows["padding_mask"].sum(axis=1).tolist()
    ([[101, 1996, 4937, 2938, 1012, 102, 0, 0]], [6])
    """
    from keras_transformer.data.wordpiece import sentence_rows

    return sentence_rows(tokenizer or cola_tokenizer(), sentences, max_length)


def wordpiece_lengths(
    sentences: Sequence[str],
    tokenizer: tokenizers.BertWordPieceTokenizer | keras_hub.tokenizers.WordPieceTokenizer | None = None,
) -> np.ndarray:
    """Word pieces per sentence, without `[CLS]`/`[SEP]`: int `(n,)`.

    A sentence fits in `max_length` untruncated iff its length is `<= max_length - 2`.

    Example ("unbelievably" alone is five pieces: un ##bel ##ie ##va ##bly):

    >>> from keras_transformer.data.cola import wordpiece_lengths
    >>> wordpiece_lengths(["The cats sat.", "Unbelievably, they agreed."]).tolist()
    [4, 9]
    """
    from keras_transformer.data.wordpiece import wordpiece_counts

    return wordpiece_counts(tokenizer or cola_tokenizer(), sentences)

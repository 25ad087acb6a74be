"""Tiny Shakespeare: the character-level corpus of char-rnn and nanoGPT."""

import os

from keras_transformer.data.char_corpus import CharCorpus
from keras_transformer.data.files import resolve_data_file

ORIGIN = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/"
    "data/tinyshakespeare/input.txt"
)
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def load_tiny_shakespeare(
    data_dir: str | os.PathLike | None = None,
) -> CharCorpus:
    """Loads Tiny Shakespeare as character ids, split 90% / 10%.

    The 1,115,394 characters (65 distinct) split into the first 1,003,854 for
    training and the last 111,540 for validation, as in nanoGPT's
    `shakespeare_char`. The file is looked up by `resolve_data_file`:
    `data_dir`, then `KT_DATA_DIR`, then a checksummed download cache.

    Args:
        data_dir: optional folder holding `tiny_shakespeare/input.txt`.

    Returns:
        A `CharCorpus`.

    Example:

    >>> import os
    >>> corpus = load_tiny_shakespeare(os.environ["KT_DATA_DIR"])
    >>> corpus.vocab_size, len(corpus.train), len(corpus.val)
    (65, 1003854, 111540)
    >>> corpus.decode(corpus.train[:14])
    'First Citizen:'
    """
    path = resolve_data_file(
        "tiny_shakespeare/input.txt",
        origin=ORIGIN,
        sha256=SHA256,
        data_dir=data_dir,
    )
    return CharCorpus.from_text(path.read_text(encoding="utf-8"), 0.1)

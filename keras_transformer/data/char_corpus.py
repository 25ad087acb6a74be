"""A character-level corpus: a vocabulary, encode/decode, and a train/val split."""

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class CharCorpus:
    """Character ids of a text split into a training and a validation part.

    The vocabulary is the sorted set of characters of the whole text, so a
    character's id is its rank (char-rnn and nanoGPT do the same).

    Attributes:
        train: int32 ids of the training text.
        val: int32 ids of the validation text.
        vocab: the characters, `vocab[i]` being the character with id `i`.

    Example:

    >>> from keras_transformer.data.char_corpus import CharCorpus
    >>> corpus = CharCorpus.from_text("hello world", val_fraction=0.2)
    >>> corpus.vocab_size
    8
    >>> corpus.decode(corpus.encode("hello"))
    'hello'
    >>> len(corpus.train), len(corpus.val)
    (8, 3)
    """

    train: np.ndarray
    val: np.ndarray
    vocab: list[str]

    @classmethod
    def from_text(cls, text: str, val_fraction: float = 0.1) -> "CharCorpus":
        """Builds the vocabulary of `text`; the last `val_fraction` is validation.

        The split point is `int(len(text) * (1 - val_fraction))` characters.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(
                f"val_fraction must be in [0, 1), got {val_fraction!r}."
            )
        if not text:
            raise ValueError("text must not be empty, got ''.")
        vocab = sorted(set(text))
        corpus = cls(np.zeros(0, np.int32), np.zeros(0, np.int32), vocab)
        ids = corpus.encode(text)
        split = int(len(ids) * (1.0 - val_fraction))
        return cls(ids[:split], ids[split:], vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """Returns the int32 ids of the characters of `text`.

        Raises:
            ValueError: `text` has a character outside the vocabulary.
        """
        # Vectorized lookup by code point: 1 MB of text encodes in milliseconds.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = self._code_points()
        ids = np.searchsorted(table, codes)
        known = table[np.minimum(ids, len(table) - 1)] == codes
        if not known.all():
            position = int(np.argmin(known))
            raise ValueError(
                f"text has the character {text[position]!r} at index "
                f"{position}, which is not in the vocabulary of "
                f"{self.vocab_size} characters."
            )
        return ids.astype(np.int32)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Returns the text of a 1-D sequence of ids.

        Raises:
            ValueError: an id is outside `[0, vocab_size)`.
        """
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids must be in [0, {self.vocab_size}), got values from "
                f"{ids.min()} to {ids.max()}."
            )
        return "".join(self.vocab[i] for i in ids.tolist())

    def _code_points(self) -> np.ndarray:
        return np.array([ord(c) for c in self.vocab], dtype=np.uint32)

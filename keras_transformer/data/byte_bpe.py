"""RoBERTa's vocabulary: byte-level BPE learned on a corpus, applied with keras-hub.

Byte-level BPE (GPT-2, RoBERTa) starts from the 256 byte values, so every
string has a spelling and no token is ever unknown; merges of frequent
pairs then build the vocabulary up to its size. The Hugging Face
`tokenizers` library learns the merges (fast, in Rust); keras-hub's
`BytePairTokenizer` applies them inside Keras preprocessing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from keras_transformer.layers._checks import check_strings

if TYPE_CHECKING:
    import keras_hub

#: RoBERTa's special tokens, in RoBERTa's order: ids 0-4.
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def train_byte_level_bpe(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: tuple[str, ...] = SPECIAL_TOKENS,
    min_frequency: int = 2,
    sequence_length: int | None = None,
) -> keras_hub.tokenizers.BytePairTokenizer:
    """Learn a byte-level BPE vocabulary of `vocab_size` tokens on `texts`; return a keras-hub tokenizer.

    The special tokens take the first ids, in the order given, and are never
    split. Words keep their leading space as the `Ġ` byte symbol, as in
    GPT-2 and RoBERTa.

    Args:
        texts: the training corpus, e.g. paragraphs.
        vocab_size: size of the vocabulary, special tokens and the 256 byte
            symbols included.
        special_tokens: tokens added whole, before the learned ones.
        min_frequency: a pair must occur this often to be merged.
        sequence_length: pad/truncate the tokenizer's output to this length
            (default: ragged).

    Returns:
        A `keras_hub.tokenizers.BytePairTokenizer`.

    Example:
    >>> corpus = ["the cat sat on the mat", "the cat ate the rat"] * 20
    >>> tokenizer = train_byte_level_bpe(corpus, vocab_size=300)
    >>> tokenizer.vocabulary_size() <= 300, tokenizer.token_to_id("<mask>")
    (True, 4)
    >>> tokenizer.detokenize(tokenizer("the cat sat on a rat"))
    'the cat sat on a rat'
    """
    from tokenizers import ByteLevelBPETokenizer

    minimum = 256 + len(special_tokens)
    if not isinstance(vocab_size, int) or vocab_size < minimum:
        raise ValueError(
            f"`vocab_size` must be an integer >= {minimum} (the 256 byte symbols and "
            f"{len(special_tokens)} special tokens); got {vocab_size!r}."
        )
    texts = texts if isinstance(texts, str) else list(texts)  # a lone string is refused below
    check_strings("texts", texts, 1, "the training corpus, e.g. a list of paragraphs")
    if not any(text.strip() for text in texts):
        raise ValueError("`texts` holds no text to learn a vocabulary from.")
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=min_frequency,
        special_tokens=list(special_tokens), show_progress=False,
    )
    model = json.loads(trainer.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return byte_level_bpe(model["vocab"], merges, special_tokens, sequence_length)


def byte_level_bpe(
    vocabulary: dict[str, int],
    merges: list[str],
    special_tokens: tuple[str, ...] = SPECIAL_TOKENS,
    sequence_length: int | None = None,
) -> keras_hub.tokenizers.BytePairTokenizer:
    """The keras-hub tokenizer of a learned byte-level BPE: its `vocabulary` and `merges` (`"a b"` each).

    A tokenizer is rebuilt this way from the plain data a trained one holds
    (`dict(tokenizer.vocabulary)`, `list(tokenizer.merges)`), e.g. in another process.

    Example:
    >>> import numpy as np
    >>> learned = train_byte_level_bpe(["the cat sat on the mat"] * 20, vocab_size=280)
    >>> again = byte_level_bpe(learned.vocabulary, learned.merges)
    >>> np.array_equal(again("the mat on the cat"), learned("the mat on the cat"))
    True
    """
    from keras_hub.tokenizers import BytePairTokenizer

    if sequence_length is not None and (not isinstance(sequence_length, int) or sequence_length < 1):
        raise ValueError(
            f"`sequence_length` must be None (ragged output) or an int >= 1; got {sequence_length!r}."
        )
    return BytePairTokenizer(
        vocabulary=vocabulary, merges=merges, sequence_length=sequence_length,
        unsplittable_tokens=list(special_tokens),
    )

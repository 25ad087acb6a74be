"""BLEU, through sacreBLEU, for the translation chapter.

`corpus_bleu` wraps sacrebleu (Post, 2018), the reference BLEU implementation:
it tokenizes detokenized text itself (13a, as WMT's `mteval-v13a.pl`), so
scores from different tokenizers and papers compare, and it returns the
signature string that states exactly how the score was computed. sacrebleu is
imported on first use (`pip install sacrebleu`, in the `chapters` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from keras_transformer.layers._checks import check_strings


class Bleu(NamedTuple):
    """A corpus BLEU score in [0, 100] and the sacrebleu signature that defines it.

    `score, signature = corpus_bleu(...)` unpacks it; `details` is sacrebleu's
    one-line summary (n-gram precisions, brevity penalty, lengths).

    Example (a hypothesis equal to its reference scores 100):

    >>> from keras_transformer.metrics import corpus_bleu
    >>> score, signature, details = corpus_bleu(["The cat sat on the mat."], ["The cat sat on the mat."])
    >>> round(score, 2), signature.split("|")[:4]
    (100.0, ['nrefs:1', 'case:mixed', 'eff:no', 'tok:13a'])
    """

    score: float
    signature: str
    details: str


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    lowercase: bool = False,
    tokenize: str = "13a",
) -> Bleu:
    """Corpus-level BLEU of detokenized `hypotheses` against `references`, by sacrebleu.

    Args:
        hypotheses: one detokenized output sentence per source.
        references: one reference per hypothesis (a list of strings), or
            several reference streams (a list of such lists, each as long as
            `hypotheses`).
        lowercase: case-insensitive BLEU (the signature then says `case:lc`).
        tokenize: sacrebleu's tokenizer; `"13a"` is the WMT standard.

    Returns:
        `Bleu(score, signature, details)`.

    Raises:
        ValueError: a reference stream's length differs from the hypotheses'.

    Example (sacrebleu's README, two reference streams):

    >>> from keras_transformer.metrics import corpus_bleu
    >>> refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ...         ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    >>> hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    >>> round(corpus_bleu(hyps, refs).score, 2)
    48.53
    """
    from sacrebleu.metrics import BLEU

    check_strings("hypotheses", hypotheses, 1, "one detokenized sentence per source")
    if not hypotheses:
        raise ValueError("`hypotheses` is empty; give one output sentence per source.")
    several = isinstance(references, (list, tuple)) and references and not isinstance(
        references[0], str)
    check_strings("references", references, 2 if several else 1,
                  "one reference per hypothesis, or a list of such reference streams")
    streams = [list(stream) for stream in references] if several else [list(references)]
    for i, stream in enumerate(streams):
        if len(stream) != len(hypotheses):
            raise ValueError(
                f"reference stream {i} has {len(stream)} sentences but there are "
                f"{len(hypotheses)} hypotheses; give one reference per hypothesis."
            )
    bleu = BLEU(lowercase=lowercase, tokenize=tokenize)
    result = bleu.corpus_score(hypotheses, streams)
    return Bleu(float(result.score), str(bleu.get_signature()), str(result))


__all__ = ["Bleu", "corpus_bleu"]

"""SQuAD v1.1 for extractive QA: examples, a fixed article split, and sliding windows.

Only the dev file may be at hand (`squad_v1.1/dev-v1.1.json`: 48 articles,
10,570 questions). `squad_splits` then trains on the first
`TRAIN_ARTICLES` = 38 articles (8,582 questions) and evaluates on the last 10
(1,988), a fixed split by article, so no paragraph is in both. When
`squad_v1.1/train-v1.1.json` is also in the data folder, the standard
protocol applies: train on train, evaluate on all of dev.

A context is usually longer than what fits beside its question, so every
example becomes one or more windows (`windows`): `[CLS] question [SEP]
context piece [SEP]`, consecutive pieces starting `doc_stride` word pieces
apart (BERT's recipe). Each window keeps the character offsets of its context
tokens, which map a predicted token span back to the answer's text.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_transformer.data.files import resolve_data_file
from keras_transformer.data.sentence_pairs import split_sentences

if TYPE_CHECKING:
    import tokenizers
    import tokenizers.implementations

ORIGIN = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
SHA256 = {"dev": "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"}
TRAIN_ARTICLES = 38


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph, with every gold answer (dev has several).

    Example:

    >>> from keras_transformer.data.squad import SquadExample
    >>> example = SquadExample("q1", "Weather", "Who stopped?", "It rained. Then Ann stopped.",
    ...                        ("Ann",), (16,))
    >>> start = example.answer_starts[0]
    >>> example.context[start:start + len(example.answers[0])]
    'Ann'
    """

    id: str
    title: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]  # character offsets into `context`


def read_squad_file(path: str | os.PathLike) -> list[list[SquadExample]]:
    """Examples of a SQuAD v1.1 JSON file, grouped by article (in file order).

    Example (the dev file in the shared data folder):

    >>> import os, pathlib
    >>> from keras_transformer.data.squad import read_squad_file
    >>> articles = read_squad_file(pathlib.Path(os.environ["KT_DATA_DIR"], "squad_v1.1", "dev-v1.1.json"))
    >>> len(articles), sum(len(article) for article in articles), articles[0][0].answers[0]
    (48, 10570, 'Denver Broncos')
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not str(data.get("version", "")).startswith("1.1"):
        raise ValueError(f"{path} is not SQuAD v1.1 (version {data.get('version')!r}).")
    articles = []
    for article in data["data"]:
        examples = []
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                examples.append(SquadExample(
                    id=qa["id"], title=article["title"], question=qa["question"],
                    context=paragraph["context"],
                    answers=tuple(a["text"] for a in qa["answers"]),
                    answer_starts=tuple(int(a["answer_start"]) for a in qa["answers"]),
                ))
        articles.append(examples)
    return articles


def squad_splits(data_dir: str | os.PathLike | None = None) -> dict[str, list[SquadExample]]:
    """`{"train": [...], "eval": [...]}` and how they were made (`"protocol"`).

    With only the dev file: train = its first `TRAIN_ARTICLES` articles,
    eval = the rest. With `train-v1.1.json` beside it (in `data_dir` or
    `KT_DATA_DIR`): train = train, eval = all of dev.

    Example (the shared data folder has only the dev file):

    >>> import os
    >>> from keras_transformer.data.squad import squad_splits
    >>> splits = squad_splits(os.environ["KT_DATA_DIR"])
    >>> len(splits["train"]), len(splits["eval"]), splits["protocol"]
    (8582, 1988, 'dev-v1.1.json articles 1-38 / 39-48')
    """
    dev = read_squad_file(resolve_data_file(
        "squad_v1.1/dev-v1.1.json", origin=ORIGIN + "dev-v1.1.json",
        sha256=SHA256["dev"], data_dir=data_dir,
    ))
    folder = data_dir or os.environ.get("KT_DATA_DIR")
    train_file = Path(folder, "squad_v1.1", "train-v1.1.json") if folder else None
    if train_file is not None and train_file.is_file():
        train = read_squad_file(train_file)
        return {"train": _flat(train), "eval": _flat(dev),
                "protocol": "train-v1.1.json / all of dev-v1.1.json"}
    return {
        "train": _flat(dev[:TRAIN_ARTICLES]),
        "eval": _flat(dev[TRAIN_ARTICLES:]),
        "protocol": f"dev-v1.1.json articles 1-{TRAIN_ARTICLES} / {TRAIN_ARTICLES + 1}-{len(dev)}",
    }


def _flat(articles):
    return [example for article in articles for example in article]


def article_paragraphs(examples: list[SquadExample]) -> list[list[str]]:
    """The distinct paragraphs of `examples`, grouped by article (first-seen order).

    Example (two questions about one paragraph give it once):

    >>> from keras_transformer.data.squad import SquadExample, article_paragraphs
    >>> pairs = [("A", "p1"), ("A", "p1"), ("A", "p2"), ("B", "p3")]  # (title, context)
    >>> examples = [SquadExample(str(i), title, "?", context, (), ())
    ...             for i, (title, context) in enumerate(pairs)]
    >>> article_paragraphs(examples)
    [['p1', 'p2'], ['p3']]
    """
    articles: dict[str, dict[str, None]] = {}
    for example in examples:
        articles.setdefault(example.title, {})[example.context] = None
    return [list(paragraphs) for paragraphs in articles.values()]


def answer_sentence(example: SquadExample) -> tuple[list[str], int | None]:
    """The paragraph's sentences (`split_sentences`) and which one holds the first gold answer's start.

    The index is None when the answer starts in the space between two
    sentences. GLUE's QNLI was made from SQuAD this way: a question, one
    sentence of its paragraph, and whether that sentence holds the answer.

    Example:
    >>> example = SquadExample("q1", "Weather", "Who stopped?", "It rained. Then Ann stopped.",
    ...                        ("Ann",), (16,))
    >>> answer_sentence(example)
    (['It rained.', 'Then Ann stopped.'], 1)
    """
    sentences = split_sentences(example.context)
    answer, end = example.answer_starts[0], 0
    for index, sentence in enumerate(sentences):
        start = example.context.index(sentence, end)
        end = start + len(sentence)
        if start <= answer < end:
            return sentences, index
    return sentences, None


def offsets_tokenizer(
    vocab_file: str | os.PathLike, lowercase: bool = True
) -> tokenizers.BertWordPieceTokenizer:
    """A WordPiece tokenizer that reports character offsets (the `tokenizers` library).

    It reads the same `vocab.txt` as the model's keras-hub tokenizer and
    normalizes the same way (lower-casing and accent stripping for uncased
    checkpoints), so it gives the same ids, plus where each token came from.

    Example (`[start, end)` characters of each piece):

    >>> import pathlib, tempfile
    >>> from keras_transformer.data.squad import offsets_tokenizer
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]))
    >>> encoding = offsets_tokenizer(vocab).encode("The cats", add_special_tokens=False)
    >>> encoding.tokens, encoding.offsets
    (['the', 'cat', '##s'], [(0, 3), (4, 7), (7, 8)])
    """
    from keras_transformer.data.wordpiece import wordpiece_tokenizer

    return wordpiece_tokenizer(vocab_file, lowercase)


@dataclasses.dataclass
class SquadWindows:
    """Packed windows of `[CLS] question [SEP] context piece [SEP]`, as arrays.

    Attributes:
        inputs: `"token_ids"`, `"segment_ids"` (int32) and `"padding_mask"`
            (bool), each `(windows, max_length)`.
        start_positions, end_positions: int32 `(windows,)`, the answer's first
            and last token in the window, or 0 (`[CLS]`) when the window does
            not hold the whole (first) answer.
        example_index: int `(windows,)`, which example each window came from.
        offsets: int32 `(windows, max_length, 2)`, each context token's
            `[start, end)` characters in its context; `(-1, -1)` elsewhere.
        lengths: int `(windows,)`, real tokens per window.

    Example (`windows` makes them; the answer "Ann" is characters 16 to 19 of the context):

    >>> import pathlib, tempfile
    >>> from keras_transformer.data.squad import SquadExample, offsets_tokenizer, windows
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> pieces = "[PAD] [UNK] [CLS] [SEP] who stopped ? it rained . then ann".split()
    >>> _ = vocab.write_text("\\n".join(pieces))
    >>> example = SquadExample("q1", "Weather", "Who stopped?", "It rained. Then Ann stopped.",
    ...                        ("Ann",), (16,))
    >>> w = windows([example], offsets_tokenizer(vocab), max_length=10, doc_stride=2,
    ...             max_question_length=3)
    >>> len(w), w.inputs["token_ids"].shape, w.lengths.tolist()
    (3, (3, 10), [10, 10, 9])
    >>> w.offsets[1, w.start_positions[1]].tolist()
    [16, 19]
    """

    inputs: dict[str, np.ndarray]
    start_positions: np.ndarray
    end_positions: np.ndarray
    example_index: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.example_index)


def windows(examples: list[SquadExample], tokenizer: tokenizers.implementations.BaseTokenizer,
            max_length: int = 192, doc_stride: int = 128, max_question_length: int = 64,
            special_tokens: tuple[str, str, str] = ("[CLS]", "[SEP]", "[PAD]")) -> SquadWindows:
    """Cut every example into windows over its context (BERT's SQuAD recipe).

    The question (cut to `max_question_length` word pieces) leads every
    window; the context pieces that fit beside it start at word piece 0,
    `doc_stride`, `2 * doc_stride`, ... until one reaches the context's end
    (the stride shrinks to the room beside a long question, so every context
    token is in some window).
    A training label is the token span of the first gold answer when the
    window holds all of it, else `[CLS]` (position 0) for both ends.

    Args:
        examples: `SquadExample`s.
        tokenizer: a `tokenizers` tokenizer that reports offsets, e.g. from
            `offsets_tokenizer`.
        max_length: tokens per window.
        doc_stride: word pieces between consecutive windows' starts.
        max_question_length: the longest question kept, in word pieces.
        special_tokens: the tokenizer's start, separator and padding tokens
            (RoBERTa's byte-level BPE: `("<s>", "</s>", "<pad>")`).

    Example (3 question pieces leave room for 4 of the 7 context pieces; windows start at
    pieces 0, 2 and 4, and the first does not hold the answer, "ann", context piece 4):

    >>> import pathlib, tempfile
    >>> from keras_transformer.data.squad import SquadExample, offsets_tokenizer, windows
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> pieces = "[PAD] [UNK] [CLS] [SEP] who stopped ? it rained . then ann".split()
    >>> _ = vocab.write_text("\\n".join(pieces))
    >>> example = SquadExample("q1", "Weather", "Who stopped?", "It rained. Then Ann stopped.",
    ...                        ("Ann",), (16,))
    >>> w = windows([example], offsets_tokenizer(vocab), max_length=10, doc_stride=2,
    ...             max_question_length=3)
    >>> w.start_positions.tolist(), w.end_positions.tolist(), w.example_index.tolist()
    ([0, 7, 5], [0, 7, 5], [0, 0, 0])
    """
    if not examples:
        raise ValueError("`examples` is empty: windows need at least one SQuAD example.")
    if max_question_length < 1:
        raise ValueError(f"`max_question_length` must be >= 1, got {max_question_length}.")
    context_room = max_length - min(max_question_length, max_length) - 3
    if context_room < 1 or doc_stride < 1:
        raise ValueError(
            f"max_length ({max_length}) must leave room for a context piece beside a "
            f"question of max_question_length ({max_question_length}) and 3 special "
            f"tokens, and doc_stride ({doc_stride}) must be >= 1."
        )
    cls_id, sep_id, pad_id = (tokenizer.token_to_id(t) for t in special_tokens)
    if None in (cls_id, sep_id, pad_id):
        missing = [t for t in special_tokens if tokenizer.token_to_id(t) is None]
        raise ValueError(
            f"`special_tokens` {special_tokens} must all be in the tokenizer's vocabulary; "
            f"missing {missing}."
        )
    questions = tokenizer.encode_batch([e.question for e in examples], add_special_tokens=False)
    contexts = _encode_contexts(tokenizer, examples)
    rows = {k: [] for k in ("ids", "segments", "offsets", "start", "end", "example")}
    for i, (example, question) in enumerate(zip(examples, questions)):
        q_ids = question.ids[:max_question_length]
        c_ids, c_offsets = contexts[example.context]
        room = max_length - len(q_ids) - 3
        answer = _answer_chars(example)
        # A stride wider than the room would skip context tokens.
        for first in range(0, max(len(c_ids), 1), min(doc_stride, room)):
            piece = slice(first, first + room)
            ids = [cls_id, *q_ids, sep_id, *c_ids[piece], sep_id]
            lead = len(q_ids) + 2  # where the context piece begins in the window
            offsets = np.full((max_length, 2), -1, "int32")
            offsets[lead:lead + len(c_ids[piece])] = c_offsets[piece]
            start, end = _token_span(offsets, answer)
            rows["ids"].append(ids)
            rows["segments"].append([0] * lead + [1] * (len(ids) - lead))
            rows["offsets"].append(offsets)
            rows["start"].append(start)
            rows["end"].append(end)
            rows["example"].append(i)
            if first + room >= len(c_ids):
                break
    count = len(rows["ids"])
    token_ids = np.full((count, max_length), pad_id, "int32")
    segment_ids = np.zeros((count, max_length), "int32")
    lengths = np.array([len(r) for r in rows["ids"]])
    for n, (ids, segments) in enumerate(zip(rows["ids"], rows["segments"])):
        token_ids[n, :len(ids)] = ids
        segment_ids[n, :len(ids)] = segments
    return SquadWindows(
        inputs={"token_ids": token_ids, "segment_ids": segment_ids,
                "padding_mask": np.arange(max_length)[None] < lengths[:, None]},
        start_positions=np.asarray(rows["start"], "int32"),
        end_positions=np.asarray(rows["end"], "int32"),
        example_index=np.asarray(rows["example"]),
        offsets=np.stack(rows["offsets"]),
        lengths=lengths,
    )


def _encode_contexts(tokenizer, examples):
    """`{context: (ids, offsets (n, 2))}`, each distinct paragraph encoded once."""
    distinct = list(dict.fromkeys(e.context for e in examples))
    encoded = tokenizer.encode_batch(distinct, add_special_tokens=False)
    return {c: (e.ids, np.asarray(e.offsets, "int32").reshape(-1, 2))
            for c, e in zip(distinct, encoded)}


def _answer_chars(example: SquadExample) -> tuple[int, int] | None:
    """`[start, end)` characters of the first gold answer, or None without one."""
    if not example.answers:
        return None
    start = example.answer_starts[0]
    return start, start + len(example.answers[0])


def _token_span(offsets: np.ndarray, answer: tuple[int, int] | None) -> tuple[int, int]:
    """First and last window token overlapping `answer`, or (0, 0) if it is not all inside."""
    if answer is None:
        return 0, 0
    start_char, end_char = answer
    is_context = offsets[:, 0] >= 0
    inside = np.flatnonzero(is_context & (offsets[:, 1] > start_char) & (offsets[:, 0] < end_char))
    context = np.flatnonzero(is_context)
    if (len(inside) == 0 or offsets[context[0], 0] > start_char
            or offsets[context[-1], 1] < end_char):
        return 0, 0
    return int(inside[0]), int(inside[-1])


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: np.ndarray,
               example_index: np.ndarray, contexts: list[str], max_answer_length: int = 30,
               top_k: int = 20) -> list[str]:
    """Each example's answer text: the best-scoring span over all its windows.

    A span `(s, e)` of one window scores `start_logits[s] + end_logits[e]`;
    it must lie in the context (`offsets >= 0`), with `s <= e < s +
    max_answer_length`. Only each window's `top_k` starts and ends are
    tried, as in BERT's reference code. An example with no valid span gets "".

    Args:
        start_logits, end_logits: `(windows, length)`.
        offsets: `(windows, length, 2)` from `SquadWindows.offsets`.
        example_index: `(windows,)`, the example of each window.
        contexts: each example's context string.

    Example (logits that point at token 7 of window 1, "ann"; the answer keeps its case):

    >>> import pathlib, tempfile
    >>> from keras_transformer.data.squad import SquadExample, offsets_tokenizer, windows
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> pieces = "[PAD] [UNK] [CLS] [SEP] who stopped ? it rained . then ann".split()
    >>> _ = vocab.write_text("\\n".join(pieces))
    >>> example = SquadExample("q1", "Weather", "Who stopped?", "It rained. Then Ann stopped.",
    ...                        ("Ann",), (16,))
    >>> import numpy as np
    >>> from keras_transformer.data.squad import best_spans
    >>> w = windows([example], offsets_tokenizer(vocab), max_length=10, doc_stride=2,
    ...             max_question_length=3)
    >>> logits = np.zeros((3, 10))
    >>> logits[1, 7] = 5.0
    >>> best_spans(logits, logits, w.offsets, w.example_index, [example.context])
    ['Ann']
    """
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if not (start_logits.shape == end_logits.shape == offsets.shape[:2]
            and len(example_index) == len(start_logits)):
        raise ValueError(
            f"`start_logits` {start_logits.shape}, `end_logits` {end_logits.shape}, `offsets` "
            f"{offsets.shape} and `example_index` ({len(example_index)},) must describe the same "
            "windows: (windows, length), (windows, length), (windows, length, 2), (windows,)."
        )
    best = [(-np.inf, "")] * len(contexts)
    for w in range(len(example_index)):
        i = int(example_index[w])
        valid = offsets[w, :, 0] >= 0
        starts = [s for s in np.argsort(-start_logits[w])[:top_k] if valid[s]]
        ends = [e for e in np.argsort(-end_logits[w])[:top_k] if valid[e]]
        for s in starts:
            for e in ends:
                if s <= e < s + max_answer_length:
                    score = float(start_logits[w, s] + end_logits[w, e])
                    if score > best[i][0]:
                        text = contexts[i][offsets[w, s, 0]:offsets[w, e, 1]]
                        best[i] = (score, text)
    return [text for _, text in best]

"""Synthetic tasks for the chapters that are meant to be synthetic.

Every generator takes a `numpy.random.Generator`; `step_rng(seed, step)` gives
the one for training batch `step`, so a batch is a pure function of
`(seed, step)` and resuming a run sees exactly the batches it would have seen.
Held-out sets use another `stream`.
"""

from __future__ import annotations

import numpy as np


def step_rng(seed: int, step: int, stream: int = 0) -> np.random.Generator:
    """The generator of batch `step` in `stream` (0: training; others: held-out sets).

    Example (the same `(seed, step)` draws the same batch, another stream another one):

    >>> from keras_transformer.data.synthetic import step_rng
    >>> draw = lambda rng: rng.integers(0, 1000, 4).tolist()
    >>> draw(step_rng(0, 7)) == draw(step_rng(0, 7)), draw(step_rng(0, 7)) == draw(step_rng(0, 7, stream=1))
    (True, False)
    """
    return np.random.default_rng([seed, stream, step])


def recall_examples(rng: np.random.Generator, batch_size: int, num_pairs: int,
                    num_keys: int, num_values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws associative-recall examples.

    Token ids: 0 is unused (padding elsewhere in the package), keys are
    `1 .. num_keys`, values are `num_keys + 1 .. num_keys + num_values`.

    Returns:
        `tokens` int32 `(batch, 2 * num_pairs + 1)`: `k v k v ... k_query`;
        `labels` int32 `(batch,)`: the value *index* in `[0, num_values)`
        paired with the query key; `answer_position` int32 `(batch,)`: the
        position of that value token in `tokens`.

    Example:

    >>> from keras_transformer.data.synthetic import recall_examples, step_rng
    >>> tokens, labels, answer_position = recall_examples(
    ...     step_rng(seed=0, step=0), batch_size=4, num_pairs=3, num_keys=8, num_values=8)
    >>> tokens.shape, labels.shape
    ((4, 7), (4,))
    >>> bool((tokens[range(4), answer_position] == 8 + 1 + labels).all())
    True
    """
    keys = np.argsort(rng.random((batch_size, num_keys)), axis=1)[:, :num_pairs]
    values = np.argsort(rng.random((batch_size, num_values)), axis=1)[:, :num_pairs]
    pick = rng.integers(0, num_pairs, batch_size)
    rows = np.arange(batch_size)
    tokens = np.empty((batch_size, 2 * num_pairs + 1), dtype=np.int32)
    tokens[:, 0:-1:2] = 1 + keys
    tokens[:, 1:-1:2] = 1 + num_keys + values
    tokens[:, -1] = 1 + keys[rows, pick]
    return tokens, values[rows, pick].astype(np.int32), (2 * pick + 1).astype(np.int32)


def reversal_examples(rng: np.random.Generator, batch_size: int, vocab_size: int,
                      min_length: int, max_length: int,
                      width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws sequences to reverse, padded with 0 to `width` (default `max_length`).

    Returns:
        `tokens` int32 `(batch, width)`: lengths uniform in
        `[min_length, max_length]`, symbols uniform in `[1, vocab_size)`;
        `labels` int32 `(batch, width)`: `labels[b, t] = tokens[b, n_b - 1 - t]`
        for `t < n_b`, 0 at padding; `weights` float32 `(batch, width)`: 1 at
        real positions, 0 at padding.

    Example:

    >>> from keras_transformer.data.synthetic import reversal_examples, step_rng
    >>> tokens, labels, weights = reversal_examples(
    ...     step_rng(seed=0, step=0), batch_size=2, vocab_size=10, min_length=3, max_length=5)
    >>> tokens.shape, bool((labels[weights == 1] > 0).all())
    ((2, 5), True)
    >>> n = int(weights[0].sum())
    >>> labels[0, :n].tolist() == tokens[0, :n][::-1].tolist()
    True
    """
    width = width or max_length
    if width < max_length:
        raise ValueError(f"width ({width}) must be >= max_length ({max_length}).")
    lengths = rng.integers(min_length, max_length + 1, batch_size)
    positions = np.arange(width)[None]
    real = positions < lengths[:, None]
    tokens = np.where(real, rng.integers(1, vocab_size, (batch_size, width)), 0)
    mirror = np.clip(lengths[:, None] - 1 - positions, 0, width - 1)
    labels = np.where(real, np.take_along_axis(tokens, mirror, axis=1), 0)
    return tokens.astype(np.int32), labels.astype(np.int32), real.astype(np.float32)


def topic_pair_examples(rng: np.random.Generator, batch_size: int, num_topics: int,
                        topic_words: int, shared_words: int, segment_length: int,
                        topical_rate: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws next-sentence pairs whose label is decided by topic alone.

    Each topic owns `topic_words` words of its own; `shared_words` words
    belong to no topic. A segment of topic t draws each of its
    `segment_length` words from t's words with probability `topical_rate`,
    else from the shared words. Segment A has a random topic; B has A's
    topic (IsNext, label 0) or another one (NotNext, label 1), exactly
    `batch_size // 2` of them NotNext. Telling the two apart means comparing
    A with B: a control for next-sentence prediction with no cue but the
    topic, learnable by construction.

    Token ids follow BERT's reserved order (`[PAD]` 0, `[UNK]` 1, `[CLS]` 2,
    `[SEP]` 3, `[MASK]` 4); shared words are `5 .. 4 + shared_words`, then
    each topic's words in turn, so the vocabulary has
    `5 + shared_words + num_topics * topic_words` ids.

    Returns:
        `x`: int32 `"token_ids"` and `"segment_ids"` `(batch, 2 * segment_length + 3)`
        packed as `[CLS] A [SEP] B [SEP]`, and a bool `"padding_mask"` (all
        True); `labels` int32 `(batch,)`.

    Example:

    >>> from keras_transformer.data.synthetic import step_rng, topic_pair_examples
    >>> x, labels = topic_pair_examples(step_rng(0, 0), batch_size=4, num_topics=3, topic_words=5,
    ...                                 shared_words=5, segment_length=4, topical_rate=1.0)
    >>> x["token_ids"].shape, labels.tolist().count(1)
    ((4, 11), 2)
    """
    if num_topics < 2 or min(batch_size, topic_words, segment_length) < 1:
        raise ValueError(
            f"num_topics must be >= 2 (NotNext takes another topic), batch_size, topic_words "
            f"and segment_length >= 1; got {num_topics}, {batch_size}, {topic_words} and "
            f"{segment_length}."
        )
    if not 0.0 <= topical_rate <= 1.0 or (topical_rate < 1.0 and shared_words < 1):
        raise ValueError(
            f"topical_rate must be in [0, 1], and below 1 only with shared_words >= 1; got "
            f"topical_rate={topical_rate} and shared_words={shared_words}."
        )
    labels = np.zeros(batch_size, "int32")
    labels[: batch_size // 2] = 1
    rng.shuffle(labels)
    topics_a = rng.integers(num_topics, size=batch_size)
    topics_b = (topics_a + labels * rng.integers(1, num_topics, size=batch_size)) % num_topics

    def segments(topics):
        own = 5 + shared_words + topics[:, None] * topic_words + rng.integers(
            topic_words, size=(batch_size, segment_length))
        shared = 5 + rng.integers(max(shared_words, 1), size=(batch_size, segment_length))
        return np.where(rng.random((batch_size, segment_length)) < topical_rate, own, shared)

    column = lambda token: np.full((batch_size, 1), token)  # noqa: E731
    token_ids = np.concatenate(
        [column(2), segments(topics_a), column(3), segments(topics_b), column(3)], axis=1)
    segment_ids = np.repeat([[0] * (segment_length + 2) + [1] * (segment_length + 1)],
                            batch_size, axis=0)
    x = {"token_ids": token_ids.astype("int32"), "segment_ids": segment_ids.astype("int32"),
         "padding_mask": np.ones(token_ids.shape, bool)}
    return x, labels

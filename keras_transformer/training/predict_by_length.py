"""Inference over padded sequences, batched by length so that padding costs little."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from keras_transformer.data.buckets import smallest_bucket, sorted_buckets


def predict_by_length(
    model: keras.Model,
    inputs: np.ndarray | dict[str, np.ndarray] | list[np.ndarray],
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    bucket_lengths: tuple[int, ...],
) -> np.ndarray | dict[str, np.ndarray] | list[np.ndarray] | tuple[np.ndarray, ...]:
    """`model.predict(inputs)`, computed on batches of similar length cut to a bucket.

    `inputs` holds arrays padded to one length (a dict, list or array, the
    time axis second); `lengths` says how many leading positions of each row
    are real. The rows are sorted by length and cut into batches of
    `batch_size`, each cut to the smallest of `bucket_lengths` that holds
    its longest row: a few shapes, each traced once. For a model that
    ignores what lies past a row's length (a padding mask), the outputs
    equal `model.predict(inputs)`, in the same order, at a fraction of the
    cost: CoLA's sentences, padded to 64 word pieces, are 11 long on
    average.

    Args:
        model: a Keras model whose outputs have the rows first.
        inputs: the model's inputs, each `(rows, padded_length, ...)`.
        lengths: `(rows,)` real positions per row.
        batch_size: rows per batch.
        bucket_lengths: the lengths a batch may be cut to; the largest must
            hold every row.

    Returns:
        The model's outputs for every row, as `model.predict` returns them.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import BERT, BertClassifier
    >>> bert = BERT(vocab_size=30, max_length=16, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> ids = np.array([[2, 5, 3, 0, 0, 0, 0, 0], [2, 5, 7, 9, 8, 6, 3, 0]])
    >>> x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> model = BertClassifier(bert, num_classes=2)
    >>> out = predict_by_length(model, x, [3, 7], batch_size=1, bucket_lengths=(4, 8))
    >>> bool(np.allclose(out, model.predict(x, verbose=0), atol=1e-5))
    True
    """
    lengths = np.asarray(lengths)
    buckets = sorted_buckets(bucket_lengths)
    rows = len(keras.tree.flatten(inputs)[0])
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    if lengths.shape != (rows,) or rows == 0:
        raise ValueError(
            f"lengths must give one length per row of inputs ({rows} rows, at least one); "
            f"got shape {lengths.shape}."
        )
    if lengths.max() > buckets[-1]:
        raise ValueError(
            f"bucket_lengths must hold the longest row: the largest is {buckets[-1]}, "
            f"a row has {lengths.max()} positions."
        )
    order = np.argsort(lengths, kind="stable")
    parts = []
    for start in range(0, len(order), batch_size):
        batch_rows = order[start:start + batch_size]
        cut = smallest_bucket(int(lengths[batch_rows].max()), buckets)
        batch = keras.tree.map_structure(lambda a, r=batch_rows, cut=cut: a[r, :cut], inputs)
        parts.append(keras.tree.map_structure(np.asarray, model.predict_on_batch(batch)))
    joined = keras.tree.map_structure(lambda *outs: np.concatenate(outs), *parts)
    unsorted = np.empty_like(order)
    unsorted[order] = np.arange(len(order))
    return keras.tree.map_structure(lambda a: a[unsorted], joined)

"""Length-bucketed batching: batches of similar-length examples, padded to a few lengths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from keras_transformer.layers._checks import check_integer, is_integer


class LengthBuckets:
    """Which examples make batch `step`, and its padded length; pure in `(seed, step)`.

    Every epoch is one permutation of the examples (drawn from `(seed,
    epoch)`), cut into chunks of `chunk_batches * batch_size`; each chunk is
    sorted by length and cut into batches, so a batch holds examples of
    similar length, and the epoch's batches are then shuffled (from `(seed,
    epoch)` too). A batch is padded to the smallest of `bucket_lengths` that
    holds its longest example: a few shapes, so a compiled training step is
    traced a few times only, and short batches cost less than long ones. The
    remainder of an epoch that does not fill a batch is dropped (a different
    one each epoch); examples longer than the largest bucket, or empty ones,
    are left out (`num_dropped`).

    Args:
        lengths: `(n,)` positions each example needs.
        batch_size: examples per batch.
        seed: the seed of every epoch's shuffles.
        bucket_lengths: the padded lengths batches may have.
        chunk_batches: batches per sorted chunk; larger chunks give tighter
            length groups and a less random batch composition.

    Example:

    >>> from keras_transformer.data.buckets import LengthBuckets
    >>> buckets = LengthBuckets([3, 9, 4, 12, 7, 5], batch_size=2, seed=0,
    ...                         bucket_lengths=(8, 16))
    >>> rows, length = buckets(0)  # the examples of batch 0, and their padded length
    >>> buckets.steps_per_epoch, length in (8, 16)
    (3, True)
    """

    def __init__(self, lengths: Sequence[int] | np.ndarray, batch_size: int, seed: int,
                 bucket_lengths: Iterable[int] = (64,), chunk_batches: int = 64) -> None:
        check_integer("batch_size", batch_size, 1)
        check_integer("seed", seed, 0)
        check_integer("chunk_batches", chunk_batches, 1)
        bucket_lengths = sorted_buckets(bucket_lengths)
        self.lengths = np.asarray(lengths, dtype="int64")
        self.index = np.flatnonzero((self.lengths > 0) & (self.lengths <= bucket_lengths[-1]))
        self.num_dropped = int(len(self.lengths) - len(self.index))
        if len(self.index) < batch_size:
            raise ValueError(
                f"Only {len(self.index)} examples fit the buckets {bucket_lengths}; "
                f"`batch_size` is {batch_size}."
            )
        self.batch_size = batch_size
        self.seed = seed
        self.bucket_lengths = bucket_lengths
        self.chunk_batches = chunk_batches
        self.steps_per_epoch = len(self.index) // batch_size
        self._epoch, self._plan = None, None

    def epoch_plan(self, epoch: int) -> np.ndarray:
        """`(steps_per_epoch, batch_size)` example indices of every batch of `epoch`."""
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = self.index[rng.permutation(len(self.index))]
            order = order[:self.steps_per_epoch * self.batch_size]
            chunk = self.chunk_batches * self.batch_size
            pieces = [
                part[np.argsort(self.lengths[part], kind="stable")]
                for part in np.split(order, range(chunk, len(order), chunk))
            ]
            batches = np.concatenate(pieces).reshape(self.steps_per_epoch, self.batch_size)
            self._plan = batches[rng.permutation(self.steps_per_epoch)]
            self._epoch = epoch
        return self._plan

    def __call__(self, step: int) -> tuple[np.ndarray, int]:
        """Batch `step`: `(example indices (batch_size,), padded length)`."""
        if step < 0:
            raise ValueError(f"`step` must be >= 0; got {step}.")
        epoch, position = divmod(step, self.steps_per_epoch)
        rows = self.epoch_plan(epoch)[position]
        return rows, smallest_bucket(int(self.lengths[rows].max()), self.bucket_lengths)


def sorted_buckets(bucket_lengths: Iterable[int]) -> tuple[int, ...]:
    """`bucket_lengths` as sorted ints; a ValueError unless there is one and all are integers >= 1.

    A string is refused rather than read digit by digit ("16" is not (1, 6));
    `parse_lengths` reads a "16,32" spec.

    Example:

    >>> from keras_transformer.data.buckets import sorted_buckets
    >>> sorted_buckets([32, 8, 16])
    (8, 16, 32)
    >>> sorted_buckets([8, 0])
    Traceback (most recent call last):
    ...
    ValueError: `bucket_lengths` must be one or more integers >= 1; got (8, 0).
    """
    if isinstance(bucket_lengths, (str, bytes)) or not isinstance(bucket_lengths, Iterable):
        raise ValueError(
            f"`bucket_lengths` must be a sequence of integers >= 1 (`parse_lengths` reads a "
            f"\"16,32\" string); got {bucket_lengths!r}."
        )
    lengths = tuple(bucket_lengths)
    if not lengths or not all(is_integer(b) and b >= 1 for b in lengths):
        raise ValueError(f"`bucket_lengths` must be one or more integers >= 1; got {lengths}.")
    return tuple(sorted(int(b) for b in lengths))


def smallest_bucket(length: int, bucket_lengths: tuple[int, ...]) -> int:
    """The padded length for a longest example of `length` positions: the smallest sorted bucket that holds it.

    >>> smallest_bucket(9, (8, 16, 32))
    16
    """
    for bucket in bucket_lengths:
        if length <= bucket:
            return bucket
    raise ValueError(f"No bucket holds length {length}; buckets {bucket_lengths}.")


def parse_lengths(spec: str, name: str = "bucket_lengths") -> tuple[int, ...]:
    """Sorted distinct positive integers from a comma-separated `spec` ("16,24,32").

    Example (duplicates and spaces do not matter):

    >>> from keras_transformer.data.buckets import parse_lengths
    >>> parse_lengths("32,16, 16,")
    (16, 32)
    """
    try:
        lengths = {int(x) for x in spec.split(",") if x.strip()}
    except ValueError:
        raise ValueError(f"`{name}` must be comma-separated integers; got {spec!r}.") from None
    if any(n < 1 for n in lengths):
        raise ValueError(f"`{name}` must hold lengths >= 1; got {spec!r}.")
    return tuple(sorted(lengths))


def buckets_up_to(spec: str, max_length: int) -> tuple[int, ...]:
    """The lengths of `spec` below `max_length`, then `max_length`: every example fits the last.

    Example:

    >>> from keras_transformer.data.buckets import buckets_up_to
    >>> buckets_up_to("16,32,64", max_length=40)
    (16, 32, 40)
    """
    check_integer("max_length", max_length, 1)
    return tuple(n for n in parse_lengths(spec) if n < max_length) + (max_length,)

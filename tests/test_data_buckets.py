"""What `keras_transformer.data.buckets.LengthBuckets` promises."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data.buckets import LengthBuckets, buckets_up_to, parse_lengths
from keras_transformer.training.preset import FineTuningPreset


@given(
    seed=st.integers(0, 2**16),
    batch_size=st.integers(1, 12),
    buckets=st.sets(st.integers(1, 30), min_size=1, max_size=4),
    step=st.integers(0, 100),
)
def test_a_batch_is_padded_to_the_smallest_bucket_holding_its_longest_example(
        seed, batch_size, buckets, step):
    """Batch `step` holds `batch_size` kept examples; its length is the smallest bucket >= their longest."""
    lengths = np.random.default_rng(seed).integers(0, 36, 80)
    kept = np.flatnonzero((lengths > 0) & (lengths <= max(buckets)))
    if len(kept) < batch_size:
        with pytest.raises(ValueError, match="fit the buckets"):
            LengthBuckets(lengths, batch_size, seed, buckets)
        return
    plan = LengthBuckets(lengths, batch_size, seed, buckets, chunk_batches=3)
    rows, length = plan(step)
    assert rows.shape == (batch_size,) and set(rows) <= set(kept)
    assert length == min(b for b in buckets if b >= lengths[rows].max())
    assert plan.num_dropped == len(lengths) - len(kept)


def test_batches_are_pure_in_seed_and_step():
    """A fresh plan gives the same batch for a step in any call order; another seed differs."""
    lengths = np.random.default_rng(0).integers(1, 30, 300)
    a, b = LengthBuckets(lengths, 8, 5, (10, 20, 30)), LengthBuckets(lengths, 8, 5, (10, 20, 30))
    steps = [0, 50, 3, 0, 90, 3]  # crosses epochs (37 steps each) and comes back
    forward = [a(s) for s in steps]
    backward = [b(s) for s in reversed(steps)][::-1]
    for (rows_a, len_a), (rows_b, len_b) in zip(forward, backward):
        np.testing.assert_array_equal(rows_a, rows_b)
        assert len_a == len_b
    other = LengthBuckets(lengths, 8, 6, (10, 20, 30))
    assert any(not np.array_equal(a(s)[0], other(s)[0]) for s in range(5))


def test_bad_arguments_raise():
    """Empty buckets, a zero batch size or a negative step are ValueErrors naming the argument."""
    with pytest.raises(ValueError, match="bucket_lengths"):
        LengthBuckets([3, 4], 1, 0, ())
    with pytest.raises(ValueError, match="batch_size"):
        LengthBuckets([3, 4], 0, 0, (8,))
    with pytest.raises(ValueError, match="step"):
        LengthBuckets([3, 4], 1, 0, (8,))(-1)


@pytest.mark.parametrize("args, name", [
    ((1, 0, "16"), "bucket_lengths"),  # a spec string: not the lengths (1, 6)
    ((1, 0, 16), "bucket_lengths"),
    ((1, 0, (16.5,)), "bucket_lengths"),
    (((16,), 0, 1), "batch_size"),  # bucket lengths and batch size swapped
    ((1.5, 0, (16,)), "batch_size"),
    ((True, 0, (16,)), "batch_size"),
    ((1, -1, (16,)), "seed"),
    ((1, 0.5, (16,)), "seed"),
    ((1, 0, (16,), 2.0), "chunk_batches"),
])
def test_misplaced_or_non_integer_arguments_raise_at_construction(args, name):
    """A bucket spec where lengths go, or a float, bool or negative count, is a ValueError naming it."""
    with pytest.raises(ValueError, match=f"`{name}`"):
        LengthBuckets([3, 4, 5, 10], *args)


@pytest.mark.parametrize("max_length", [0, -4, 2.5])
def test_max_length_below_one_raises(max_length):
    """`buckets_up_to`, and so a `FineTuningPreset`, refuses a `max_length` that is not an integer >= 1."""
    with pytest.raises(ValueError, match="`max_length`"):
        buckets_up_to("16", max_length)
    with pytest.raises(ValueError, match="`max_length`"):
        FineTuningPreset(max_length=max_length)


@given(st.sets(st.integers(1, 80), max_size=5), st.integers(1, 64))
def test_buckets_up_to_keep_the_shorter_lengths_and_end_at_the_maximum(lengths, max_length):
    """`buckets_up_to` gives the listed lengths below `max_length`, sorted, then `max_length` itself."""
    spec = ",".join(str(n) for n in lengths)
    assert buckets_up_to(spec, max_length) == (*sorted(n for n in lengths if n < max_length),
                                               max_length)


@pytest.mark.parametrize("spec", ["16;32", "16,x", "0,8"])
def test_malformed_length_lists_raise(spec):
    """A list that is not comma-separated positive integers is a ValueError naming `bucket_lengths`."""
    with pytest.raises(ValueError, match="bucket_lengths"):
        parse_lengths(spec)

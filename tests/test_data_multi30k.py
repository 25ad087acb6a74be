"""Multi30k loader, WordPiece tokenization and cache, and length-bucketed batches."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.data import file_sha256, multi30k
from keras_transformer.data.multi30k import BucketedBatches

needs_data = pytest.mark.skipif(
    not os.environ.get("KT_DATA_DIR"), reason="set KT_DATA_DIR to the shared data folder"
)

SENTENCES = [  # test2016 lines 1-3 and two training lines, raw
    "A man in an orange hat starring at something.",
    "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
    "A Boston Terrier is running on lush green grass in front of a white fence.",
    "Two young, White males are outside near many bushes.",
    "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
]


# ------------------------------------------------------------------------------ text


@needs_data
@pytest.mark.parametrize("split", sorted(multi30k.SPLITS))
def test_splits_have_their_published_sizes_and_are_parallel(split):
    """train/val/test_2016_flickr have 29,000/1,014/1,000 German and as many English lines."""
    german, english = multi30k.load_multi30k(split)
    assert len(german) == len(english) == multi30k.SPLITS[split]
    assert all(line.strip() for line in german + english)


@needs_data
def test_first_lines_are_the_documented_pairs():
    """Line 1 of train and of test2016 are the pairs SOURCE.md quotes, German first."""
    german, english = multi30k.load_multi30k("train")
    assert german[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    assert english[0] == "Two young, White males are outside near many bushes."
    german, english = multi30k.load_multi30k("test_2016_flickr")
    assert english[0] == "A man in an orange hat starring at something."
    assert german[0] == "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt."


@needs_data
def test_checksums_are_those_of_the_local_copies():
    """Every constant sha256 is the digest of the file in the shared data folder."""
    for name, digest in multi30k.SHA256.items():
        assert file_sha256(os.path.join(os.environ["KT_DATA_DIR"], "multi30k", name)) == digest
    assert "a3d2e0d26b56f3846f66a952536ffed4e401d05a" in multi30k.ORIGIN


def test_missing_local_file_is_an_error_naming_file_and_origin(tmp_path):
    """A data folder without Multi30k raises FileNotFoundError naming the file and its origin."""
    with pytest.raises(FileNotFoundError, match="multi30k/val.de.gz") as error:
        multi30k.load_multi30k("val", tmp_path)
    assert "raw.githubusercontent.com/multi30k/dataset" in str(error.value)


@pytest.mark.parametrize("split", ["test2017", ["val"], None])
def test_unknown_split_is_an_error_listing_the_splits(split):
    """An unknown split name, or a split that is not a string, is a ValueError listing the valid ones."""
    with pytest.raises(ValueError, match="test_2016_flickr"):
        multi30k.load_multi30k(split)


# ---------------------------------------------------------------------------- tokens


@pytest.fixture(scope="module")
def vocabulary():
    """A small vocabulary learned from the sentences above (repeated, so every piece counts)."""
    lines = [multi30k.normalize(s) for s in SENTENCES] * 20
    return multi30k.learn_vocabulary(lines, 400)


def test_vocabulary_starts_with_the_reserved_tokens(vocabulary):
    """Ids 0-3 are [PAD], [START], [END], [UNK], as the model and decoder expect."""
    assert vocabulary[:4] == list(multi30k.RESERVED_TOKENS)
    assert (multi30k.PAD_ID, multi30k.START_ID, multi30k.END_ID, multi30k.UNK_ID) == (0, 1, 2, 3)
    assert len(vocabulary) <= 400 and len(set(vocabulary)) == len(vocabulary)


def test_decode_inverts_encode_up_to_case_and_spacing(vocabulary):
    """decode(encode(s)) gives back s lower-cased, umlauts, ß and punctuation included."""
    texts = [multi30k.normalize(s) for s in SENTENCES] + ["zwei   junge männer,  white bushes."]
    ids = multi30k.encode(texts, vocabulary)
    for text, row in zip(texts, ids):
        assert row.dtype == np.int32 and multi30k.UNK_ID not in row
        assert multi30k.decode(row, vocabulary) == " ".join(text.split())
    assert multi30k.decode(ids[1], vocabulary) == (
        "ein mann mit einem orangefarbenen hut, der etwas anstarrt."
    )


def test_unspellable_word_becomes_unknown(vocabulary):
    """A word with a character the vocabulary lacks becomes one [UNK] token."""
    (row,) = multi30k.encode(["a man 東京"], vocabulary)
    assert row[-1] == multi30k.UNK_ID and multi30k.decode(row, vocabulary) == "a man [UNK]"


def test_decode_stops_at_end_and_skips_padding_and_start():
    """decode drops [START] and [PAD], glues ## pieces, and stops at the first [END]."""
    vocabulary = list(multi30k.RESERVED_TOKENS) + ["a", "bush", "##es", "##.", "dog"]
    ids = [1, 4, 5, 6, 7, 2, 8, 0, 0]
    assert multi30k.decode(ids, vocabulary) == "a bushes."
    assert multi30k.decode([6, 4], vocabulary) == "##es a"  # a leading ## piece stays as it is


@pytest.mark.parametrize("ids", [[-1, 5], [4, 9], [4.0, 5.0]])
def test_decode_refuses_ids_outside_the_vocabulary(ids):
    """A negative, too large or non-integer id is a ValueError naming `token_ids`, not some piece."""
    vocabulary = list(multi30k.RESERVED_TOKENS) + ["a", "dog"]
    with pytest.raises(ValueError, match="`token_ids`"):
        multi30k.decode(ids, vocabulary)


@needs_data
def test_tokenized_cache_is_written_once_and_read_back(tmp_path):
    """The first call tokenizes every split into the cache; the second reads the same arrays."""
    first = multi30k.load_tokenized_multi30k(300, vocab_lines=100, cache_dir=tmp_path)
    assert first.cache_path.parent == tmp_path and first.cache_path.name.endswith(".npz")
    stamp = first.cache_path.stat().st_mtime_ns
    second = multi30k.load_tokenized_multi30k(300, vocab_lines=100, cache_dir=tmp_path)
    assert second.cache_path.stat().st_mtime_ns == stamp
    assert second.vocabulary == first.vocabulary and first.vocab_size <= 300
    for split, size in multi30k.SPLITS.items():
        assert len(second.source[split]) == len(second.target[split]) == size
        assert len(second.references[split]) == size
        for a, b in zip(first.source[split][:50], second.source[split][:50]):
            np.testing.assert_array_equal(a, b)
    assert second.references["test_2016_flickr"][0] == SENTENCES[0]
    assert second.decode(second.target["test_2016_flickr"][0]).replace("[UNK]", "") != ""


# --------------------------------------------------------------------------- batches


def random_pairs(seed, count, longest=30):
    rng = np.random.default_rng(seed)
    source = [rng.integers(4, 50, rng.integers(1, longest + 1)).astype(np.int32)
              for _ in range(count)]
    target = [rng.integers(4, 50, rng.integers(1, longest + 1)).astype(np.int32)
              for _ in range(count)]
    return source, target


@given(
    seed=st.integers(0, 2**16),
    batch_size=st.integers(1, 16),
    buckets=st.sets(st.integers(2, 40), min_size=1, max_size=4),
    step=st.integers(0, 200),
)
def test_batches_are_padded_to_the_smallest_bucket_that_fits(seed, batch_size, buckets, step):
    """A batch is (B, L) sources and (B, L - 1) targets, L the smallest bucket for its longest pair."""
    source, target = random_pairs(seed, 120)
    batches = BucketedBatches(source, target, batch_size, seed, bucket_lengths=buckets,
                              chunk_batches=3) if _fits(source, target, buckets, batch_size) else None
    if batches is None:
        with pytest.raises(ValueError, match="fit the buckets"):
            BucketedBatches(source, target, batch_size, seed, bucket_lengths=buckets)
        return
    src, tgt = batches(step)
    length = src.shape[1]
    assert src.shape == (batch_size, length) and tgt.shape == (batch_size, length - 1)
    assert src.dtype == tgt.dtype == np.int32 and length in buckets
    need = max(max(np.count_nonzero(r) for r in src), max(np.count_nonzero(r) for r in tgt) + 1)
    assert length == min(b for b in buckets if b >= need)
    for row in np.concatenate([src, np.pad(tgt, ((0, 0), (0, 1)))]):  # right-padded rows
        real = np.count_nonzero(row)
        assert np.all(row[:real] != 0) and np.all(row[real:] == 0)


def _fits(source, target, buckets, batch_size):
    longest = max(buckets)
    kept = sum(len(s) <= longest and len(t) < longest for s, t in zip(source, target))
    return kept >= batch_size


def test_batch_is_a_pure_function_of_seed_and_step():
    """Fresh batchers give equal batches for a step in any call order; another seed differs."""
    source, target = random_pairs(0, 500)
    a = BucketedBatches(source, target, 8, seed=3, bucket_lengths=(10, 20, 31))
    b = BucketedBatches(source, target, 8, seed=3, bucket_lengths=(10, 20, 31))
    steps = [0, 70, 5, 0, 123, 5]  # crosses epochs (62 steps each) and comes back
    forward = [a(s) for s in steps]
    backward = [b(s) for s in reversed(steps)][::-1]
    for (src_a, tgt_a), (src_b, tgt_b) in zip(forward, backward):
        np.testing.assert_array_equal(src_a, src_b)
        np.testing.assert_array_equal(tgt_a, tgt_b)
    other = BucketedBatches(source, target, 8, seed=4, bucket_lengths=(10, 20, 31))
    assert any(not np.array_equal(a(s)[0], other(s)[0]) for s in range(5))


def test_an_epoch_uses_every_pair_at_most_once_and_batches_similar_lengths():
    """One epoch's batches hold distinct pairs, all but < batch_size of them, sorted within chunks."""
    source, target = random_pairs(1, 1000)
    batches = BucketedBatches(source, target, 16, seed=0, bucket_lengths=(31,), chunk_batches=8)
    plan = batches.buckets.epoch_plan(0)
    assert plan.shape == (batches.steps_per_epoch, 16) == (1000 // 16, 16)
    assert len(np.unique(plan)) == plan.size
    # Length-sorting within chunks: a batch's lengths spread far less than random batches'.
    spread = np.mean([np.ptp(batches.buckets.lengths[row]) for row in plan])
    random_spread = np.mean([np.ptp(batches.buckets.lengths[row]) for row in
                             np.random.default_rng(0).permutation(plan.size).reshape(plan.shape)])
    assert spread < 0.5 * random_spread
    assert not np.array_equal(batches.buckets.epoch_plan(1), plan)


def test_pairs_longer_than_the_largest_bucket_are_left_out():
    """Pairs whose source exceeds the largest bucket, or target + end token does, never appear."""
    source = [np.arange(4, 4 + n, dtype=np.int32) for n in (3, 9, 4, 5)]
    target = [np.arange(4, 4 + n, dtype=np.int32) for n in (2, 3, 8, 4)]
    batches = BucketedBatches(source, target, 1, seed=0, bucket_lengths=(6,))
    assert batches.num_dropped == 2 and sorted(batches.index) == [0, 3]
    assert {batches(step)[0].shape for step in range(6)} == {(1, 6)}


@pytest.mark.parametrize("bucket_lengths", ["16", (1, 8)])
def test_bucket_spec_string_or_length_below_two_raises(bucket_lengths):
    """A "16" string (not the lengths (1, 6)) or a bucket below 2 is a ValueError naming it."""
    source, target = random_pairs(0, 20)
    with pytest.raises(ValueError, match="`bucket_lengths`"):
        BucketedBatches(source, target, 2, seed=0, bucket_lengths=bucket_lengths)

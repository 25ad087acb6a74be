"""Multi30k (task 1): German→English image-caption translation, WordPiece-tokenized.

Three layers, each usable alone:

1. **Text**: `load_multi30k(split)` reads the raw, parallel, gzipped lines
   (train 29,000, val 1,014, test_2016_flickr 1,000 pairs) through
   `resolve_data_file` (a local data folder, or a checksummed download).
2. **Tokens**: `load_tokenized_multi30k(vocab_size)` learns one WordPiece
   vocabulary with keras-hub's `compute_word_piece_vocabulary` on the training
   split, tokenizes every split and caches the result as an `.npz` (keyed by
   vocabulary size, training lines and casing). Only a cache miss needs
   TensorFlow (keras-hub's WordPiece runs on TF text ops); a later run, or a
   JAX machine without TensorFlow, loads the arrays. `decode` turns ids back
   into text in plain Python, for BLEU.
3. **Batches**: `BucketedBatches` draws length-bucketed, padded training batches,
   each a pure function of `(seed, step)`, so a resumed run sees the same batches.

Choices, and why:

- **One joint vocabulary** for German and English. The two languages share the
  Latin alphabet, digits, punctuation and many names and loan words, so one
  table learns those pieces once; it lets the Transformer share one embedding
  table between encoder, decoder and output layer (Vaswani et al. used a
  shared 37k BPE vocabulary for English–German for the same reason), which
  matters on a 29k-sentence corpus where every parameter is data-hungry.
- **Lower-cased** text. Multi30k's own tokenized release is lower-cased, most
  published Multi30k results are case-insensitive, and with 29k sentences
  casing would split the counts of every sentence-initial word ("Ein"/"ein",
  "A"/"a"). Lower-casing is Python's `str.lower`, done here before keras-hub
  sees the text (keras-hub's own option case-folds `ß` to `ss`); accents and
  umlauts are kept. BLEU is then case-insensitive: score against the raw
  references with `lowercase=True` (sacrebleu's signature says `case:lc`).
- **Whitespace pre-splitting** (`split=False` for keras-hub): a word is cut
  into pieces with its punctuation attached (`"bushes."` → `bush ##es ##.`),
  so `decode(encode(text))` gives back the text exactly, up to casing and
  runs of whitespace. keras-hub's default punctuation splitting would make
  `"t-shirt"` come back as `"t - shirt"`, which BLEU counts as three tokens.
- `vocab_size` is an upper bound: tf-text's learner never keeps a piece seen
  fewer than 10 times, so on the full training split it stops at 6,836 pieces
  however large the request.

Token ids: `PAD_ID = 0`, `START_ID = 1`, `END_ID = 2`, `UNK_ID = 3`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import pathlib
from collections.abc import Iterable, Sequence

import numpy as np

from keras_transformer.data.buckets import LengthBuckets, sorted_buckets
from keras_transformer.data.files import CACHE_DIR_ENV, resolve_data_file
from keras_transformer.layers._checks import check_in_range

SPLITS = {"train": 29_000, "val": 1_014, "test_2016_flickr": 1_000}
LANGUAGES = ("de", "en")
SOURCE_LANGUAGE, TARGET_LANGUAGE = "de", "en"

# The raw task-1 files on multi30k/dataset's master branch, pinned to the commit
# the local copies were taken from (they are unchanged since 2018-01-17).
ORIGIN = (
    "https://raw.githubusercontent.com/multi30k/dataset/"
    "a3d2e0d26b56f3846f66a952536ffed4e401d05a/"
    "data/task1/raw/{name}"
)
SHA256 = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}

RESERVED_TOKENS = ("[PAD]", "[START]", "[END]", "[UNK]")
PAD_ID, START_ID, END_ID, UNK_ID = range(4)
SUFFIX = "##"
CACHE_VERSION = 1


# ----------------------------------------------------------------------------- text


def load_multi30k(split: str, data_dir: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """Returns `(german, english)`: the raw, parallel lines of one split.

    Args:
        split: `"train"`, `"val"` or `"test_2016_flickr"`.
        data_dir: a folder holding `multi30k/<split>.<lang>.gz` (else
            `KT_DATA_DIR`, else the download cache; see `resolve_data_file`).

    Example:

    >>> import os
    >>> german, english = load_multi30k("test_2016_flickr", os.environ["KT_DATA_DIR"])
    >>> english[0]
    'A man in an orange hat starring at something.'
    """
    if not isinstance(split, str) or split not in SPLITS:  # a list is unhashable: a TypeError
        raise ValueError(f"`split` must be one of {sorted(SPLITS)}; got {split!r}.")
    texts = []
    for language in LANGUAGES:
        name = f"{split}.{language}.gz"
        path = resolve_data_file(
            f"multi30k/{name}", origin=ORIGIN.format(name=name), sha256=SHA256[name],
            data_dir=data_dir,
        )
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != SPLITS[split]:
            raise ValueError(f"{path} has {len(lines)} lines; expected {SPLITS[split]}.")
        texts.append(lines)
    return texts[0], texts[1]


def normalize(text: str, lowercase: bool = True) -> str:
    """The text as the tokenizer sees it: whitespace runs collapsed, optionally lower-cased.

    Example:

    >>> from keras_transformer.data.multi30k import normalize
    >>> normalize("  Ein  Mann\tläuft. "), normalize("Ein  Mann", lowercase=False)
    ('ein mann läuft.', 'Ein Mann')
    """
    text = " ".join(text.split())
    return text.lower() if lowercase else text


# --------------------------------------------------------------------------- tokens


def learn_vocabulary(sentences: Iterable[str], vocab_size: int) -> list[str]:
    """A WordPiece vocabulary of at most `vocab_size` pieces from (normalized) sentences.

    keras-hub's `compute_word_piece_vocabulary` on whitespace-split words
    (`split=False`), with `RESERVED_TOKENS` first. Needs TensorFlow; it takes
    about 2 minutes for the 58,000 training lines on one CPU core.

    Example (a word seen 10 times becomes a piece; letters and `##` letters spell the rest):

    >>> from keras_transformer.data.multi30k import learn_vocabulary
    >>> vocabulary = learn_vocabulary(["a cat sat on the mat", "the cats sat"] * 10, 40)
    >>> vocabulary[:4], "cats" in vocabulary, "##s" in vocabulary
    (['[PAD]', '[START]', '[END]', '[UNK]'], True, True)
    """
    import keras_hub
    import tensorflow as tf

    if vocab_size <= len(RESERVED_TOKENS):
        raise ValueError(f"`vocab_size` must exceed {len(RESERVED_TOKENS)}; got {vocab_size}.")
    words = tf.ragged.constant([s.split() for s in sentences], dtype=tf.string)
    dataset = tf.data.Dataset.from_tensor_slices(words).batch(1024)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset, vocab_size, split=False, lowercase=False, strip_accents=False,
        suffix_indicator=SUFFIX, reserved_tokens=list(RESERVED_TOKENS),
    )
    return [str(piece) for piece in vocabulary]


def encode(sentences: Iterable[str], vocabulary: Sequence[str]) -> list[np.ndarray]:
    """Token ids (int32, no start/end tokens) of (normalized) sentences; needs TensorFlow.

    Uses keras-hub's `WordPieceTokenizer` on whitespace-split words; a word that
    cannot be spelled with the vocabulary's pieces becomes `UNK_ID`.

    Example ("dog" cannot be spelled with these pieces: `UNK_ID` = 3):

    >>> from keras_transformer.data.multi30k import RESERVED_TOKENS, encode
    >>> vocabulary = [*RESERVED_TOKENS, "the", "cat", "##s"]
    >>> [ids.tolist() for ids in encode(["the cats", "the dog"], vocabulary)]
    [[4, 5, 6], [4, 3]]
    """
    import keras_hub
    import tensorflow as tf

    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=list(vocabulary), split=False, lowercase=False, strip_accents=False,
        suffix_indicator=SUFFIX, oov_token=RESERVED_TOKENS[UNK_ID], dtype="int32",
    )
    sentences = list(sentences)
    if not sentences:
        return []
    words = tf.ragged.constant([s.split() for s in sentences], dtype=tf.string)
    ids = tokenizer.tokenize(words)
    if isinstance(ids, tf.RaggedTensor):
        ids = ids.merge_dims(-2, -1).to_list() if ids.ragged_rank > 1 else ids.to_list()
    return [np.asarray(row, np.int32).ravel() for row in ids]


def decode(token_ids: Sequence[int] | np.ndarray, vocabulary: Sequence[str]) -> str:
    """Text of token ids, in plain Python: pieces joined, `##` pieces glued to the word before.

    Stops at the first `END_ID`; skips `PAD_ID` and `START_ID`. The inverse of
    `encode` for every sentence without unknown words:
    `decode(encode([s])[0]) == s` for a normalized `s`.

    Example (start 1, "the", "cat", "##s", end 2, then padding):

    >>> from keras_transformer.data.multi30k import RESERVED_TOKENS, decode
    >>> decode([1, 4, 5, 6, 2, 0], [*RESERVED_TOKENS, "the", "cat", "##s"])
    'the cats'
    """
    token_ids = np.asarray(token_ids).ravel()
    _check_token_ids(token_ids, len(vocabulary))
    words = []
    for token_id in token_ids.tolist():
        if token_id == END_ID:
            break
        if token_id in (PAD_ID, START_ID):
            continue
        piece = vocabulary[token_id]
        if words and piece.startswith(SUFFIX) and len(piece) > len(SUFFIX):
            words[-1] += piece[len(SUFFIX):]
        else:
            words.append(piece)
    return " ".join(words)


def _check_token_ids(token_ids: np.ndarray, vocab_size: int) -> None:
    """Raise unless every id is an integer in `[0, vocab_size)`: `vocabulary[-1]` would be a real piece."""
    if token_ids.size and token_ids.dtype.kind not in "iu":
        raise ValueError(f"`token_ids` must be integer ids; got dtype {token_ids.dtype}.")
    check_in_range(token_ids, vocab_size, "token_ids", "len(vocabulary)",
                   "Ids index the vocabulary the data were encoded with.")


@dataclasses.dataclass
class TokenizedMulti30k:
    """Multi30k as token ids, with the vocabulary and the raw English references.

    Attributes:
        vocabulary: the joint WordPiece pieces; `vocabulary[id]` is a piece.
        source: split → list of int32 arrays, German (no start/end tokens).
        target: split → list of int32 arrays, English (no start/end tokens).
        references: split → raw English lines (as in the files), for BLEU.
        lowercase: whether the text was lower-cased before tokenizing.
        cache_path: the `.npz` the arrays were loaded from or saved to.

    Example (one made-up pair; `load_tokenized_multi30k` builds the real one):

    >>> import numpy as np
    >>> from keras_transformer.data.multi30k import RESERVED_TOKENS, TokenizedMulti30k
    >>> data = TokenizedMulti30k([*RESERVED_TOKENS, "the", "cat", "##s", "die", "katze"],
    ...                          source={"val": [np.array([7, 8])]}, target={"val": [np.array([4, 5, 6])]},
    ...                          references={"val": ["The cats"]})
    >>> data.vocab_size, data.decode(data.target["val"][0]), [n.tolist() for n in data.lengths("val")]
    (9, 'the cats', [[2], [3]])
    """

    vocabulary: list[str]
    source: dict[str, list[np.ndarray]]
    target: dict[str, list[np.ndarray]]
    references: dict[str, list[str]]
    lowercase: bool = True
    cache_path: pathlib.Path | None = None

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def decode(self, token_ids: Sequence[int] | np.ndarray) -> str:
        """Text of one row of ids (see `decode`)."""
        return decode(token_ids, self.vocabulary)

    def lengths(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Token counts `(source, target)` of a split's pairs."""
        return (np.array([len(s) for s in self.source[split]]),
                np.array([len(t) for t in self.target[split]]))


def default_cache_dir() -> pathlib.Path:
    """`$KT_CACHE_DIR/multi30k`, or `~/.cache/keras_transformer/multi30k`.

    Example:

    >>> from keras_transformer.data.multi30k import default_cache_dir
    >>> default_cache_dir().name, default_cache_dir().is_absolute()
    ('multi30k', True)
    """
    root = os.environ.get(CACHE_DIR_ENV) or "~/.cache/keras_transformer"
    return pathlib.Path(root).expanduser() / "multi30k"


def cache_file_name(vocab_size: int, vocab_lines: int | None, lowercase: bool) -> str:
    """The cache's file name: one file per vocabulary request.

    Example:

    >>> from keras_transformer.data.multi30k import cache_file_name
    >>> cache_file_name(8000, None, True), cache_file_name(1000, 2000, False)
    ('wordpiece-v1-8000-all-lower.npz', 'wordpiece-v1-1000-2000-cased.npz')
    """
    lines = "all" if not vocab_lines else str(vocab_lines)
    case = "lower" if lowercase else "cased"
    return f"wordpiece-v{CACHE_VERSION}-{vocab_size}-{lines}-{case}.npz"


def load_tokenized_multi30k(
    vocab_size: int = 8000,
    data_dir: str | os.PathLike | None = None,
    *,
    vocab_lines: int | None = None,
    lowercase: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> TokenizedMulti30k:
    """All three splits as WordPiece ids, from the cache or tokenized now (then cached).

    Args:
        vocab_size: the most pieces the joint vocabulary may have.
        data_dir: the data folder (see `load_multi30k`).
        vocab_lines: learn the vocabulary from the first `vocab_lines` training
            pairs only (both languages); None = all 29,000. Small values make
            the smoke preset fast; every split is still tokenized in full.
        lowercase: lower-case the text first (see the module docstring).
        cache_dir: where the `.npz` lives (default `default_cache_dir()`).

    The cache stores the vocabulary, the ids and the sha256 of the six source
    files; a cache made from other files is rebuilt. It is written atomically.
    Reading the cache needs NumPy only; building it needs TensorFlow.

    Example (a vocabulary from 100 pairs, built into a fresh cache in a few seconds):

    >>> import os, tempfile
    >>> from keras_transformer.data.multi30k import load_tokenized_multi30k, normalize
    >>> data = load_tokenized_multi30k(300, os.environ["KT_DATA_DIR"], vocab_lines=100,
    ...                                cache_dir=tempfile.mkdtemp())
    >>> data.cache_path.name, data.vocab_size <= 300, len(data.source["train"])
    ('wordpiece-v1-300-100-lower.npz', True, 29000)
    >>> data.decode(data.target["val"][0]) == normalize(data.references["val"][0])
    True
    """
    references = {split: load_multi30k(split, data_dir)[1] for split in SPLITS}
    cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / cache_file_name(vocab_size, vocab_lines, lowercase)
    fingerprint = hashlib.sha256(json.dumps(SHA256, sort_keys=True).encode()).hexdigest()
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) == fingerprint:
                return _from_arrays(f, references, lowercase, path)
    arrays = _tokenize_all(vocab_size, data_dir, vocab_lines, lowercase)
    arrays["fingerprint"] = np.array(fingerprint)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.part-{os.getpid()}.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)
    with np.load(path, allow_pickle=False) as f:
        return _from_arrays(f, references, lowercase, path)


def _tokenize_all(vocab_size, data_dir, vocab_lines, lowercase) -> dict:
    texts = {split: load_multi30k(split, data_dir) for split in SPLITS}
    german, english = texts["train"]
    count = vocab_lines or len(german)
    sample = [normalize(s, lowercase) for s in german[:count] + english[:count]]
    vocabulary = learn_vocabulary(sample, vocab_size)
    arrays = {"vocabulary": np.array(vocabulary)}
    for split, pair in texts.items():
        for language, lines in zip(LANGUAGES, pair):
            ids = encode([normalize(s, lowercase) for s in lines], vocabulary)
            arrays[f"{split}.{language}.ids"] = np.concatenate(ids).astype(np.int32)
            arrays[f"{split}.{language}.lengths"] = np.array([len(r) for r in ids], np.int32)
    return arrays


def _from_arrays(f, references, lowercase, path) -> TokenizedMulti30k:
    def rows(split, language):
        lengths = f[f"{split}.{language}.lengths"]
        return np.split(f[f"{split}.{language}.ids"], np.cumsum(lengths)[:-1])

    return TokenizedMulti30k(
        vocabulary=[str(piece) for piece in f["vocabulary"]],
        source={split: rows(split, SOURCE_LANGUAGE) for split in SPLITS},
        target={split: rows(split, TARGET_LANGUAGE) for split in SPLITS},
        references=references,
        lowercase=lowercase,
        cache_path=path,
    )


# -------------------------------------------------------------------------- batches


def pad_rows(rows: Sequence[Sequence[int] | np.ndarray], length: int, pad_id: int = PAD_ID) -> np.ndarray:
    """Right-pad int rows to `(len(rows), length)`; a row longer than `length` is an error.

    Example:

    >>> from keras_transformer.data.multi30k import pad_rows
    >>> pad_rows([[5, 6, 7], [8]], 4).tolist()
    [[5, 6, 7, 0], [8, 0, 0, 0]]
    """
    out = np.full((len(rows), length), pad_id, np.int32)
    for i, row in enumerate(rows):
        if len(row) > length:
            raise ValueError(f"row {i} has {len(row)} tokens; the padded length is {length}.")
        out[i, :len(row)] = row
    return out


class BucketedBatches:
    """Length-bucketed training batches of `(source, target)` ids; batch `step` is pure in `(seed, step)`.

    `LengthBuckets` over each pair's need, `max(source, target + end token)`:
    `source` is `(batch_size, L)` and `target` `(batch_size, L - 1)` for a
    bucket `L`, so the target plus its end token (see `teacher_forcing_batch`)
    fills `L` decoder positions too. Pairs that need more than
    `max(bucket_lengths)` positions, or have an empty side, are left out
    (`num_dropped` of them).

    Example:

    >>> from keras_transformer.data.multi30k import BucketedBatches
    >>> source_ids = [[5, 6, 7], [8, 9], [5, 5, 5, 5, 5, 5], [6, 7]]
    >>> target_ids = [[9, 8], [7, 6, 5], [6, 6, 6, 6, 6], [5]]
    >>> batches = BucketedBatches(source_ids, target_ids, batch_size=2, seed=0,
    ...                           bucket_lengths=(4, 8))
    >>> source, target = batches(0)
    >>> batches.steps_per_epoch, source.shape[1] - target.shape[1], source.shape[1] in (4, 8)
    (2, 1, True)
    """

    def __init__(self, source: Sequence[Sequence[int] | np.ndarray],
                 target: Sequence[Sequence[int] | np.ndarray], batch_size: int, seed: int,
                 bucket_lengths: Sequence[int] = (64,), chunk_batches: int = 64) -> None:
        if len(source) != len(target):
            raise ValueError(f"{len(source)} sources but {len(target)} targets.")
        if sorted_buckets(bucket_lengths)[0] < 2:
            raise ValueError(f"`bucket_lengths` must be lengths >= 2; got {bucket_lengths}.")
        source_lengths = np.array([len(s) for s in source])
        target_lengths = np.array([len(t) for t in target])
        need = np.maximum(source_lengths, target_lengths + 1)
        need[(source_lengths == 0) | (target_lengths == 0)] = 0  # left out
        try:
            self.buckets = LengthBuckets(need, batch_size, seed, bucket_lengths, chunk_batches)
        except ValueError as error:
            raise ValueError(str(error).replace("examples", "pairs")) from None
        self.source, self.target = source, target
        self.index = self.buckets.index
        self.num_dropped = self.buckets.num_dropped
        self.steps_per_epoch = self.buckets.steps_per_epoch

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch `step`: `(source (B, L), target (B, L - 1))` int32, padded with `PAD_ID`."""
        rows, length = self.buckets(step)
        return (pad_rows([self.source[i] for i in rows], length),
                pad_rows([self.target[i] for i in rows], length - 1))


def length_summary(lengths: Sequence[int] | np.ndarray) -> dict:
    """Mean, median, 99th percentile and maximum of token counts.

    Example (one outlier moves the mean and the 99th percentile, not the median):

    >>> from keras_transformer.data.multi30k import length_summary
    >>> length_summary([3, 5, 7, 9, 100])
    {'mean': 24.8, 'median': 7.0, 'p99': 96.36, 'max': 100}
    """
    lengths = np.asarray(lengths)
    return {"mean": float(lengths.mean()), "median": float(np.median(lengths)),
            "p99": float(np.percentile(lengths, 99)), "max": int(lengths.max())}


__all__ = [
    "BucketedBatches", "END_ID", "LANGUAGES", "PAD_ID", "RESERVED_TOKENS", "SPLITS",
    "START_ID", "TokenizedMulti30k", "UNK_ID", "decode", "encode", "learn_vocabulary",
    "length_summary", "load_multi30k", "load_tokenized_multi30k", "normalize", "pad_rows",
]

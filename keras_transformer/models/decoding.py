"""Decoding for encoder–decoder models: teacher forcing, sampling, beam search, scoring.

Shared by `Seq2SeqTransformer` and `RNNAttentionSeq2Seq`: each says how to
encode a source and how to take one decoding step,
`step(tokens, state, index) -> (logits, state)`; `translate_sources` does
the rest (checks, beams, `sample_decode` or `beam_search`) and
`score_targets` scores given translations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import (
    check_positive,
    check_rank,
    check_same_batch,
    check_token_ids,
)
from keras_transformer.models.builds_on_demand import BuildsOnDemand
from keras_transformer.ops import large_negative

if TYPE_CHECKING:
    from typing import TypeAlias

    import keras_hub
    from numpy.typing import ArrayLike

    # `step(tokens, state, index) -> (logits, state)`: one decoding step (see `sample_decode`).
    _Step: TypeAlias = Callable[[Tensor, Tensor, int | Tensor], tuple[Tensor, Tensor]]

# The keys of an encoder–decoder model's dict input.
INPUT_KEYS = ("encoder_token_ids", "decoder_token_ids")


def _unpack(inputs):
    """`(encoder_token_ids, decoder_token_ids)` from the model's dict input (or its shapes)."""
    if not isinstance(inputs, dict) or set(INPUT_KEYS) - set(inputs):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            "`inputs` must be a dict with keys 'encoder_token_ids' (the source) and "
            f"'decoder_token_ids' (the target shifted right); got {got}."
        )
    source, target = inputs["encoder_token_ids"], inputs["decoder_token_ids"]
    check_same_batch("encoder_token_ids", _shape(source), "decoder_token_ids", _shape(target))
    return source, target


def _shape(x) -> tuple:
    """The shape of a tensor or array, or `x` itself when it is already a shape."""
    return tuple(x) if isinstance(x, (tuple, list)) else tuple(x.shape)


def _unpack_shapes(inputs_shape):
    """`(source_shape, target_shape)` from the shapes of the dict input, both checked rank 2."""
    source_shape, target_shape = (tuple(s) for s in _unpack(inputs_shape))
    check_rank("encoder_token_ids", source_shape, 2, "(batch, source_length)")
    check_rank("decoder_token_ids", target_shape, 2, "(batch, target_length)")
    return source_shape, target_shape


# ------------------------------------------------------------------ teacher forcing


def shift_right(token_ids: ArrayLike, start_id: int) -> np.ndarray:
    """Prepend `start_id` and drop the last token: the decoder inputs for teacher forcing.

    `shift_right(labels)[:, t + 1] == labels[:, t]`, so the decoder reads the
    true token `t` when it predicts token `t + 1`.

    Example:
    >>> import numpy as np
    >>> shift_right(np.array([[7, 8, 2, 0]]), start_id=1)
    array([[1, 7, 8, 2]])
    """
    token_ids = np.asarray(token_ids)
    check_rank("token_ids", token_ids.shape, 2, "(batch, length)")
    start = np.full((token_ids.shape[0], 1), start_id, dtype=token_ids.dtype)
    return np.concatenate([start, token_ids[:, :-1]], axis=1)


def teacher_forcing_batch(
    target_ids: ArrayLike, start_id: int, end_id: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`(decoder_inputs, labels)` from right-padded target sentences without special tokens.

    `labels` is each target followed by `end_id`, then `pad_id`;
    `decoder_inputs = shift_right(labels, start_id)` starts with `start_id`.
    Both are `(batch, length + 1)` int arrays and `labels[:, t] ==
    decoder_inputs[:, t + 1]`. Train with a loss that ignores `pad_id` labels,
    e.g. `keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=pad_id)`.

    Example:
    >>> import numpy as np
    >>> teacher_forcing_batch(np.array([[7, 8, 0]]), start_id=1, end_id=2)
    (array([[1, 7, 8, 2]]), array([[7, 8, 2, 0]]))
    """
    target_ids = np.asarray(target_ids)
    check_rank("target_ids", target_ids.shape, 2, "(batch, length)")
    if len({start_id, end_id, pad_id}) != 3:
        raise ValueError(
            f"`start_id` ({start_id}), `end_id` ({end_id}) and `pad_id` ({pad_id}) must "
            "be three different ids."
        )
    real = target_ids != pad_id
    lengths = real.sum(axis=1)
    if np.any(real != (np.arange(target_ids.shape[1])[None] < lengths[:, None])):
        raise ValueError(
            "`target_ids` must be right-padded: every `pad_id` comes after the last "
            "real token of its row."
        )
    if np.any(np.isin(target_ids[real], (start_id, end_id))):
        raise ValueError(
            "`target_ids` must not contain `start_id` or `end_id`; they are added here."
        )
    labels = np.concatenate(
        [target_ids, np.full((target_ids.shape[0], 1), pad_id, target_ids.dtype)], axis=1
    )
    labels[np.arange(len(labels)), lengths] = end_id
    return shift_right(labels, start_id), labels


# ------------------------------------------------------------------------ decoding


def length_penalty(length: ArrayLike, alpha: float) -> np.ndarray | np.float64:
    """GNMT's length penalty `((5 + length) / 6) ** alpha` (Wu et al., 2016).

    Beam search ranks a hypothesis by `log p(y | x) / length_penalty(|y|, alpha)`;
    `alpha = 0` ranks by plain log-probability, larger `alpha` favours longer output.

    Example:
    >>> float(length_penalty(7, alpha=1.0))
    2.0
    """
    return ((5.0 + np.asarray(length, np.float64)) / 6.0) ** alpha


def pad_after_end(token_ids: ArrayLike, end_id: int, pad_id: int = 0) -> np.ndarray:
    """Replace every token after a row's first `end_id` with `pad_id` (the end stays).

    Example:
    >>> import numpy as np
    >>> pad_after_end(np.array([[5, 2, 6, 2]]), end_id=2)
    array([[5, 2, 0, 0]])
    """
    token_ids = np.array(token_ids, copy=True)
    ended = np.cumsum(token_ids == end_id, axis=1) > 0
    after = np.concatenate([np.zeros_like(ended[:, :1]), ended[:, :-1]], axis=1)
    token_ids[after] = pad_id
    return token_ids


def hypothesis_lengths(token_ids: ArrayLike, end_id: int) -> np.ndarray:
    """Generated length of each row: up to and including the first `end_id`, else all.

    Example:
    >>> import numpy as np
    >>> hypothesis_lengths(np.array([[5, 2, 0], [5, 6, 7]]), end_id=2)
    array([2, 3])
    """
    token_ids = np.asarray(token_ids)
    is_end = token_ids == end_id
    first = np.where(is_end.any(axis=1), is_end.argmax(axis=1) + 1, token_ids.shape[1])
    return first


def forbid_token(logits: Tensor, token_id: int) -> Tensor:
    """`(batch, vocab)` logits with `token_id` made impossible (decoders never emit padding).

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> ops.convert_to_numpy(forbid_token(np.zeros((1, 3)), 0)).argmax(-1)
    array([1])
    """
    logits = ops.cast(logits, "float32")
    hit = ops.equal(ops.arange(ops.shape(logits)[-1]), token_id)[None, :]
    return ops.where(hit, large_negative("float32"), logits)


def _check_decoding_ids(start_id, end_id, pad_id, vocab_size):
    """Raise unless the start and end ids are target ids other than padding."""
    for name, value in (("start_id", start_id), ("end_id", end_id)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < vocab_size:
            raise ValueError(
                f"`{name}` must be an id in [0, target_vocab_size) = [0, {vocab_size}); "
                f"got {value!r}."
            )
        if value == pad_id:
            raise ValueError(
                f"`{name}` ({value}) must differ from `pad_id` ({pad_id}): the decoder "
                "masks padding and never emits it."
            )


def sample_decode(step: _Step, state: Tensor, batch_size: int, max_length: int, start_id: int,
                  end_id: int, pad_id: int,
                  sampler: str | dict | keras_hub.samplers.Sampler = "greedy",
                  model: keras.Model | None = None) -> np.ndarray:
    """Decode `max_length` tokens with a keras-hub sampler, one `step` per token.

    Args:
        step: `step(tokens (batch,), state, index) -> (logits (batch, vocab), state)`:
            feed the token at position `index` and return the next token's logits.
        state: the decoder's running state (a KV cache, an RNN state), batch-major.
        sampler: a keras-hub sampler or its name (`"greedy"`, `"top_k"`, ...).
        model: the Keras model owning the variables (needed by the JAX loop).

    Returns:
        int32 NumPy `(batch, max_length)`: generated tokens without the start
        token; `pad_id` after each row's first `end_id`; never `pad_id` before it.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> def step(tokens, state, index):  # pad (0) is likeliest, then 3; after it the end (2)
    ...     end = 2.0 * ops.cast(ops.greater(index, 0), "float32")  # `index` may be traced
    ...     logits = ops.convert_to_tensor([9.0, 0.0, 0.0, 1.0]) + end * ops.one_hot(2, 4)
    ...     return ops.tile(logits[None], (2, 1)), state
    >>> sample_decode(step, ops.zeros((2, 1)), batch_size=2, max_length=4,
    ...               start_id=1, end_id=2, pad_id=0)
    array([[3, 2, 0, 0],
           [3, 2, 0, 0]], dtype=int32)
    """
    import keras_hub  # imported here: decoding is the only user of keras-hub samplers

    sampler = resolve_sampler(sampler)
    if isinstance(sampler, keras_hub.samplers.BeamSampler):
        raise ValueError(
            "Pass `beam_size=` for beam search instead of a `BeamSampler`: keras-hub's "
            "beam sampler has no length penalty and does not tile the encoder outputs."
        )
    prompt = np.full((batch_size, max_length + 1), pad_id, "int32")
    prompt[:, 0] = start_id
    is_prompt = np.zeros_like(prompt, dtype=bool)
    is_prompt[:, 0] = True

    def next_logits(prompt, state, index):
        token = ops.slice(prompt, (0, index - 1), (batch_size, 1))[:, 0]
        logits, state = step(token, state, index - 1)
        return forbid_token(logits, pad_id), None, state

    out = sampler(
        next_logits,
        ops.convert_to_tensor(prompt),
        cache=state,
        index=1,
        mask=ops.convert_to_tensor(is_prompt),
        stop_token_ids=[end_id],
        model=model,
    )
    out = np.asarray(ops.convert_to_numpy(out), "int32")[:, 1:]
    return pad_after_end(out, end_id, pad_id)


#: The keras-hub sampler names that decoding accepts (`keras_hub.samplers.get`).
SAMPLER_NAMES = ("greedy", "top_k", "top_p", "random", "beam")


def resolve_sampler(sampler: str | dict | keras_hub.samplers.Sampler) -> keras_hub.samplers.Sampler:
    """A keras-hub sampler from a sampler, its name or its config; anything else raises a ValueError.

    keras-hub's own `samplers.get` hands an unknown name back unchanged, which
    would fail later as "'str' object is not callable".

    Example:
    >>> type(resolve_sampler("top_k")).__name__
    'TopKSampler'
    >>> resolve_sampler("nucleus")
    Traceback (most recent call last):
    ...
    ValueError: `sampler` must be a keras-hub sampler or one of the names ('greedy', 'top_k', 'top_p', 'random', 'beam'); got 'nucleus'.
    """
    import keras_hub

    try:
        resolved = keras_hub.samplers.get(sampler)
    except (KeyError, ValueError, TypeError):  # a name in capitals, a bad config
        resolved = None
    if isinstance(resolved, str) or not callable(resolved):
        raise ValueError(
            f"`sampler` must be a keras-hub sampler or one of the names {SAMPLER_NAMES}; "
            f"got {sampler!r}."
        )
    if isinstance(resolved, keras_hub.samplers.ContrastiveSampler):
        raise ValueError(
            f"`sampler` {sampler!r}: keras-hub's ContrastiveSampler needs every step's hidden "
            f"states, which these models' decoding does not pass; use one of {SAMPLER_NAMES}."
        )
    return resolved


def _log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _top_k_indices(scores, k):
    """Column indices of each row's `k` largest scores, best first, ties to the lower index.

    The same as a stable `argsort(-scores)[:, :k]`, but `argpartition` finds
    the top `k` in linear time (the rows are `beam_size * vocab` wide); only
    those are then sorted. Scores tied with the k-th are all kept before the
    sort, so the tie-break matches the stable sort exactly.
    """
    k = min(k, scores.shape[1])
    kth = np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:].min(axis=1, keepdims=True)
    rows, cols = np.nonzero(scores >= kth)
    # Order candidates by row, then score (descending), then index.
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, np.arange(scores.shape[0]))
    return cols[first[:, None] + np.arange(k)[None]]


def beam_search(step: _Step, state: Tensor, batch_size: int, max_length: int, start_id: int,
                end_id: int, pad_id: int, beam_size: int,
                alpha: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Beam search with GNMT's length penalty and end tokens.

    Each of the `beam_size` hypotheses per source is extended by every token
    (except `pad_id`); a hypothesis that has produced `end_id` is finished and
    carries on unchanged. Out of all candidates the `beam_size` with the best
    `log p / length_penalty(length, alpha)` survive, finished or not, where
    `length` counts generated tokens including the end token. The best
    survivor after `max_length` steps (or once every survivor has finished)
    wins. With `beam_size=1` this is exactly greedy decoding.

    Args:
        step: `step(tokens (N,), state, index) -> (logits (N, vocab), state)` with
            `N = batch_size * beam_size`; row `b * beam_size + k` is beam `k` of
            source `b`. Anything the step reads from the source (encoder
            outputs) must be tiled the same way; `state` is reordered here.
        state: the decoder state for `N` rows (every leaf batch-major).

    Returns:
        `(tokens, scores)`: int32 `(batch, max_length)` with `pad_id` after the
        end token, and float64 `(batch,)` length-penalized log-probabilities.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> def step(tokens, state, index):  # a fixed next-token distribution over 4 ids
    ...     logits = np.log([[0.05, 0.05, 0.3, 0.6]] * len(tokens))
    ...     return ops.convert_to_tensor(logits), state
    >>> tokens, scores = beam_search(step, ops.zeros((2, 1)), batch_size=1, max_length=3,
    ...                              start_id=1, end_id=2, pad_id=0, beam_size=2, alpha=0.0)
    >>> tokens
    array([[2, 0, 0]], dtype=int32)
    """
    check_positive(beam_size=beam_size, max_length=max_length)
    b_idx = np.arange(batch_size)[:, None]
    tokens = np.full((batch_size, beam_size, max_length), pad_id, "int32")
    log_probs = np.full((batch_size, beam_size), -np.inf)
    log_probs[:, 0] = 0.0  # one live hypothesis per source to start with
    lengths = np.zeros((batch_size, beam_size), "int64")
    finished = np.zeros((batch_size, beam_size), bool)
    scores = log_probs.copy()
    last = np.full((batch_size * beam_size,), start_id, "int32")
    for index in range(max_length):
        logits, state = step(ops.convert_to_tensor(last), state, index)
        step_log_probs = _log_softmax(ops.convert_to_numpy(ops.cast(logits, "float32")))
        vocab = step_log_probs.shape[-1]
        step_log_probs = step_log_probs.reshape(batch_size, beam_size, vocab)
        step_log_probs[..., pad_id] = -np.inf
        candidates = np.where(finished[..., None], -np.inf, log_probs[..., None] + step_log_probs)
        # A finished hypothesis has exactly one continuation: itself, padded.
        candidates[..., pad_id] = np.where(finished, log_probs, -np.inf)
        candidate_lengths = np.where(finished, lengths, index + 1)[..., None]
        candidate_scores = candidates / length_penalty(candidate_lengths, alpha)
        flat = candidate_scores.reshape(batch_size, -1)
        best = _top_k_indices(flat, beam_size)
        beam, token = best // vocab, (best % vocab).astype("int32")
        tokens = tokens[b_idx, beam]
        tokens[..., index] = token
        log_probs = candidates.reshape(batch_size, -1)[b_idx, best]
        scores = flat[b_idx, best]
        lengths = np.broadcast_to(candidate_lengths, candidates.shape).reshape(
            batch_size, -1
        )[b_idx, best]
        finished = finished[b_idx, beam] | (token == end_id)
        rows = ops.convert_to_tensor((b_idx * beam_size + beam).reshape(-1).astype("int32"))
        state = keras.tree.map_structure(lambda x, rows=rows: ops.take(x, rows, axis=0), state)
        last = token.reshape(-1)
        if np.all(finished | ~np.isfinite(log_probs)):
            break
    return tokens[:, 0], scores[:, 0]


def sequence_scores(log_probs: ArrayLike, target_ids: ArrayLike, end_id: int,
                    alpha: float = 0.0) -> np.ndarray:
    """Length-penalized log-probability of each target row from `(B, L, vocab)` log-probs.

    Tokens count up to and including the first `end_id` (all `L` without one);
    the sum is divided by `length_penalty(length, alpha)` as in `beam_search`.

    Example:
    >>> import numpy as np
    >>> log_probs = np.log(np.full((1, 3, 4), 0.25))
    >>> round(float(sequence_scores(log_probs, np.array([[3, 2, 0]]), end_id=2)[0]), 4)
    -2.7726
    """
    target_ids = np.asarray(target_ids)
    picked = np.take_along_axis(np.asarray(log_probs, np.float64), target_ids[..., None], -1)[..., 0]
    lengths = hypothesis_lengths(target_ids, end_id)
    counted = np.arange(target_ids.shape[1])[None] < lengths[:, None]
    return (picked * counted).sum(axis=1) / length_penalty(lengths, alpha)


def score_targets(model: keras.Model, source_ids: ArrayLike, target_ids: ArrayLike, start_id: int,
                  end_id: int, alpha: float = 0.0) -> np.ndarray:
    """`sequence_scores` of `target_ids` under a seq2seq `model`'s teacher-forced logits.

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import RNNAttentionSeq2Seq
    >>> model = RNNAttentionSeq2Seq(10, 10, embedding_dim=4, hidden_dim=4)
    >>> scores = score_targets(model, np.array([[4, 5]]), np.array([[6, 2]]), 1, 2)
    >>> scores.shape, bool(scores[0] < 0)
    ((1,), True)
    """
    _check_decoding_ids(start_id, end_id, model.pad_id, model.target_vocab_size)
    target_ids = np.asarray(target_ids)
    check_rank("target_ids", target_ids.shape, 2, "(batch, length)")
    check_token_ids(target_ids, model.target_vocab_size, "target_ids")
    logits = model({
        "encoder_token_ids": np.asarray(source_ids),
        "decoder_token_ids": shift_right(target_ids, start_id),
    })
    log_probs = _log_softmax(ops.convert_to_numpy(logits))
    return sequence_scores(log_probs, target_ids, end_id, alpha)


def tile_beams(x: Tensor, beam_size: int) -> Tensor:
    """Repeat every batch row `beam_size` times (row `b` -> rows `b*K .. b*K+K-1`).

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> ops.convert_to_numpy(tile_beams(np.array([[1], [2]]), 2))[:, 0].tolist()
    [1, 1, 2, 2]
    """
    return ops.repeat(x, beam_size, axis=0)


def _check_max_length(max_length, longest):
    """Raise unless `max_length` is a positive int, at most `longest` when that is set."""
    if longest is None:
        if max_length is None:
            raise ValueError(
                "`max_length` is required: this model has no length limit of its own, so "
                "`translate` needs `max_length`, the most tokens to generate."
            )
        check_positive(max_length=max_length)
    elif not isinstance(max_length, (int, np.integer)) or not 1 <= max_length <= longest:
        raise ValueError(
            f"`max_length` must be in [1, {longest}] (the model's `max_length`); "
            f"got {max_length!r}."
        )


def translate_sources(model: keras.Model, source_ids: ArrayLike,
                      start: Callable[[Tensor, int, int], tuple[_Step, Tensor]],
                      max_length: int | None, start_id: int, end_id: int,
                      sampler: str | dict | keras_hub.samplers.Sampler = "greedy",
                      beam_size: int | None = None, length_penalty: float = 0.6,
                      return_scores: bool = False,
                      longest: int | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Translate padded sources with `model`, by a keras-hub sampler or by beam search.

    The part of `translate` that encoder–decoder models share: check the
    request, start the decoder once per source and hand its step to
    `sample_decode` or, with `beam_size`, to `beam_search`.

    Args:
        model: the model (its `pad_id`, `source_vocab_size`, `target_vocab_size`
            and variables).
        source_ids: int `(batch, S)`, padded with `model.pad_id`.
        start: `start(source_ids, copies, max_length) -> (step, state)`:
            encode the int32 sources, repeat what the step reads from them
            `copies` times per source (`tile_beams`) and return the step
            function and the decoder state for `batch * copies` rows.
        longest: the largest `max_length` the model can decode, if any.
        Others: as `Seq2SeqTransformer.translate`.

    Returns:
        int32 NumPy `(batch, max_length)`; `(tokens, scores)` with `return_scores`.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> def start(source_ids, copies, max_length):
    ...     def step(tokens, state, index):  # always predicts token 3, then the end
    ...         logits = np.where(np.arange(5) == (2 if index else 3), 1.0, 0.0)
    ...         return ops.convert_to_tensor(np.tile(logits, (len(tokens), 1))), state
    ...     return step, ops.zeros((len(source_ids) * copies, 1))
    >>> class Model:
    ...     pad_id, source_vocab_size, target_vocab_size = 0, 5, 5
    >>> translate_sources(Model(), np.ones((1, 2), "int32"), start, 4, 1, 2, beam_size=2)
    array([[3, 2, 0, 0]], dtype=int32)
    """
    source_ids = np.asarray(source_ids)
    check_rank("source_ids", source_ids.shape, 2, "(batch, source_length)")
    check_token_ids(source_ids, model.source_vocab_size, "source_ids")  # before the int32 cast
    _check_max_length(max_length, longest)
    _check_decoding_ids(start_id, end_id, model.pad_id, model.target_vocab_size)
    if return_scores and beam_size is None:
        raise ValueError("`return_scores=True` needs `beam_size`; use `score` otherwise.")
    if beam_size is not None:
        check_positive(beam_size=beam_size)
    batch = source_ids.shape[0]
    step, state = start(
        ops.convert_to_tensor(source_ids.astype("int32")), beam_size or 1, max_length
    )
    if beam_size is None:
        return sample_decode(
            step, state, batch, max_length, start_id, end_id, model.pad_id, sampler,
            model=model,
        )
    tokens, scores = beam_search(
        step, state, batch, max_length, start_id, end_id, model.pad_id, beam_size,
        length_penalty,
    )
    return (tokens, scores) if return_scores else tokens


class EncoderDecoderDecoding(BuildsOnDemand):
    """Padding masks, translation, scoring and output shapes of an encoder–decoder model.

    A model mixes this in before `keras.Model` and defines `pad_id`,
    `target_vocab_size` and `_start_decoding(source_ids, copies, max_length)
    -> (step, state)` (see `translate_sources`): how to encode and how to
    take one step. `_decoding_limit()` is the longest translation it can
    decode (None: no limit, and `translate` needs `max_length`).

    Example:
    >>> import numpy as np
    >>> from keras_transformer.models import RNNAttentionSeq2Seq
    >>> model = RNNAttentionSeq2Seq(10, 10, embedding_dim=4, hidden_dim=4)
    >>> isinstance(model, EncoderDecoderDecoding)
    True
    >>> model.translate(np.array([[4, 5, 0]]), max_length=3, beam_size=2).shape
    (1, 3)
    """

    def _decoding_limit(self):
        return None

    def fresh_input_shape(self) -> dict[str, tuple]:
        return {key: (None, None) for key in INPUT_KEYS}

    def padding_mask(self, token_ids: Tensor) -> Tensor:
        """`(batch, length)`, True at real (non-`pad_id`) tokens."""
        return masks.padding_mask(token_ids, self.pad_id)

    def translate(
        self,
        source_ids: ArrayLike,
        max_length: int | None = None,
        start_id: int = 1,
        end_id: int = 2,
        sampler: str | dict | keras_hub.samplers.Sampler = "greedy",
        beam_size: int | None = None,
        length_penalty: float = 0.6,
        return_scores: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Translate a batch of (padded) sources, one decoder step per token.

        The source is encoded once; padding is never generated.

        Args:
            source_ids: int `(batch, S)`, padded with `pad_id`.
            max_length: tokens to generate (at most the model's `max_length`,
                the default, where it has one).
            start_id, end_id: the target's start and end tokens.
            sampler: a keras-hub sampler or its name (`"greedy"`, `"top_k"`,
                `"top_p"`, `"random"`, ...); ignored with `beam_size`.
            beam_size: if set, beam search with this many hypotheses (see
                `beam_search`); `beam_size=1` is greedy.
            length_penalty: GNMT's `alpha` for beam search (0.6 in the paper).
            return_scores: with `beam_size`, also return the length-penalized
                log-probability of each translation.

        Returns:
            int32 NumPy `(batch, max_length)`: the tokens after `start_id`, ending
            with `end_id` (unless cut at `max_length`) and `pad_id` after it;
            `(tokens, scores)` with `return_scores`.
        """
        longest = self._decoding_limit()
        return translate_sources(
            self, source_ids, self._start_decoding,
            longest if max_length is None else max_length, start_id, end_id,
            sampler, beam_size, length_penalty, return_scores, longest=longest,
        )

    def score(self, source_ids: ArrayLike, target_ids: ArrayLike, start_id: int = 1, end_id: int = 2,
              length_penalty: float = 0.0) -> np.ndarray:
        """Length-penalized log p(target | source) by one teacher-forced forward pass.

        `target_ids` are tokens as `translate` returns them (no start token;
        tokens after the first `end_id` are ignored). This is the score that
        beam search maximizes.
        """
        return score_targets(self, source_ids, target_ids, start_id, end_id, length_penalty)

    def compute_output_shape(self, inputs_shape):
        _, target_shape = _unpack(inputs_shape)
        return (*target_shape, self.target_vocab_size)

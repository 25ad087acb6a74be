"""Decoding for encoder–decoder models: teacher forcing, sampling, beam search, scoring.

Shared by `Seq2SeqTransformer` and `RNNAttentionSeq2Seq`: both describe one
decoding step as `step(tokens, state, index) -> (logits, state)` and hand it
to `sample_decode` (greedy / keras-hub samplers) or `beam_search`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_transformer.layers._checks import check_positive, check_rank
from keras_transformer.ops import large_negative


# ------------------------------------------------------------------ teacher forcing


def shift_right(token_ids, start_id: int):
    """Prepend `start_id` and drop the last token: the decoder inputs for teacher forcing.

    `shift_right(labels)[:, t + 1] == labels[:, t]`, so the decoder reads the
    true token `t` when it predicts token `t + 1`.

    Example:
    >>> shift_right(np.array([[7, 8, 2, 0]]), start_id=1)
    array([[1, 7, 8, 2]])
    """
    token_ids = np.asarray(token_ids)
    check_rank("token_ids", token_ids.shape, 2, "(batch, length)")
    start = np.full((token_ids.shape[0], 1), start_id, dtype=token_ids.dtype)
    return np.concatenate([start, token_ids[:, :-1]], axis=1)


def teacher_forcing_batch(target_ids, start_id: int, end_id: int, pad_id: int = 0):
    """`(decoder_inputs, labels)` from right-padded target sentences without special tokens.

    `labels` is each target followed by `end_id`, then `pad_id`;
    `decoder_inputs = shift_right(labels, start_id)` starts with `start_id`.
    Both are `(batch, length + 1)` int arrays and `labels[:, t] ==
    decoder_inputs[:, t + 1]`. Train with a loss that ignores `pad_id` labels,
    e.g. `keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=pad_id)`.

    Example:
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


def length_penalty(length, alpha: float):
    """GNMT's length penalty `((5 + length) / 6) ** alpha` (Wu et al., 2016).

    Beam search ranks a hypothesis by `log p(y | x) / length_penalty(|y|, alpha)`;
    `alpha = 0` ranks by plain log-probability, larger `alpha` favours longer output.
    """
    return ((5.0 + np.asarray(length, np.float64)) / 6.0) ** alpha


def pad_after_end(token_ids, end_id: int, pad_id: int = 0):
    """Replace every token after a row's first `end_id` with `pad_id` (the end stays)."""
    token_ids = np.array(token_ids, copy=True)
    ended = np.cumsum(token_ids == end_id, axis=1) > 0
    after = np.concatenate([np.zeros_like(ended[:, :1]), ended[:, :-1]], axis=1)
    token_ids[after] = pad_id
    return token_ids


def hypothesis_lengths(token_ids, end_id: int):
    """Generated length of each row: up to and including the first `end_id`, else all."""
    token_ids = np.asarray(token_ids)
    is_end = token_ids == end_id
    first = np.where(is_end.any(axis=1), is_end.argmax(axis=1) + 1, token_ids.shape[1])
    return first


def _forbid(logits, token_id):
    """Logits with `token_id` made impossible (decoders never emit padding)."""
    logits = ops.cast(logits, "float32")
    hit = ops.equal(ops.arange(ops.shape(logits)[-1]), token_id)[None, :]
    return ops.where(hit, large_negative("float32"), logits)


def _check_decoding_ids(start_id, end_id, pad_id, vocab_size):
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


def sample_decode(step, state, batch_size, max_length, start_id, end_id, pad_id,
                  sampler="greedy", model=None):
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
    """
    import keras_hub  # imported here: decoding is the only user of keras-hub samplers

    sampler = keras_hub.samplers.get(sampler)
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
        return _forbid(logits, pad_id), None, state

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


def beam_search(step, state, batch_size, max_length, start_id, end_id, pad_id,
                beam_size, alpha=0.6):
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
        state = keras.tree.map_structure(lambda x: ops.take(x, rows, axis=0), state)
        last = token.reshape(-1)
        if np.all(finished | ~np.isfinite(log_probs)):
            break
    return tokens[:, 0], scores[:, 0]


def sequence_scores(log_probs, target_ids, end_id, alpha=0.0):
    """Length-penalized log-probability of each target row from `(B, L, vocab)` log-probs.

    Tokens count up to and including the first `end_id` (all `L` without one);
    the sum is divided by `length_penalty(length, alpha)` as in `beam_search`.
    """
    target_ids = np.asarray(target_ids)
    picked = np.take_along_axis(np.asarray(log_probs, np.float64), target_ids[..., None], -1)[..., 0]
    lengths = hypothesis_lengths(target_ids, end_id)
    counted = np.arange(target_ids.shape[1])[None] < lengths[:, None]
    return (picked * counted).sum(axis=1) / length_penalty(lengths, alpha)


def score_targets(model, source_ids, target_ids, start_id, end_id, alpha=0.0):
    """`sequence_scores` of `target_ids` under a seq2seq `model`'s teacher-forced logits."""
    target_ids = np.asarray(target_ids)
    check_rank("target_ids", target_ids.shape, 2, "(batch, length)")
    logits = model({
        "encoder_token_ids": np.asarray(source_ids),
        "decoder_token_ids": shift_right(target_ids, start_id),
    })
    log_probs = _log_softmax(ops.convert_to_numpy(logits))
    return sequence_scores(log_probs, target_ids, end_id, alpha)


def tile_beams(x, beam_size):
    """Repeat every batch row `beam_size` times (row `b` -> rows `b*K .. b*K+K-1`)."""
    return ops.repeat(x, beam_size, axis=0)

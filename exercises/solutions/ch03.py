"""3장 연습문제의 참고 풀이 (`exercises/ch03.py`의 문제와 같은 함수들)."""

from __future__ import annotations

import numpy as np


def teacher_forcing_arrays(
    target_ids: np.ndarray, start_id: int, end_id: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`(decoder_inputs, labels)`: 끝 토큰을 붙인 레이블과, 그것을 한 칸 민 디코더 입력."""
    target_ids = np.asarray(target_ids)
    batch = target_ids.shape[0]
    lengths = (target_ids != pad_id).sum(axis=1)
    labels = np.concatenate([target_ids, np.full((batch, 1), pad_id, target_ids.dtype)], axis=1)
    labels[np.arange(batch), lengths] = end_id
    start = np.full((batch, 1), start_id, target_ids.dtype)
    decoder_inputs = np.concatenate([start, labels[:, :-1]], axis=1)
    return decoder_inputs, labels


def additive_attention_weights(
    query: np.ndarray,
    values: np.ndarray,
    w_query: np.ndarray,
    w_key: np.ndarray,
    b_key: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """`softmax_j(vᵀ tanh(W s + U h_j + b))`, 패딩 위치는 0, 모두 패딩인 행은 0."""
    hidden = np.tanh((query @ w_query)[:, None, :] + values @ w_key + b_key)
    scores = hidden @ v
    visible = np.ones(scores.shape, bool) if mask is None else np.asarray(mask, bool)
    top = np.where(visible, scores, -np.inf).max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # a fully masked row has no maximum
    exp = np.exp(np.where(visible, scores - top, -np.inf))
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total == 0, 1.0, total)


def cross_attention_mask(
    decoder_ids: np.ndarray, encoder_ids: np.ndarray, pad_id: int = 0
) -> np.ndarray:
    """`(B, T, S)`: 디코더 토큰 `t`와 원문 토큰 `s`가 둘 다 실제 토큰이면 True."""
    decoder_real = np.asarray(decoder_ids) != pad_id
    encoder_real = np.asarray(encoder_ids) != pad_id
    return decoder_real[:, :, None] & encoder_real[:, None, :]

"""1장 연습문제의 참고 답안."""

from __future__ import annotations

import numpy as np


def causal_padding_mask(token_ids: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """`[b, i, j]`: 쿼리 `i`와 키 `j`가 모두 진짜 토큰이고 `j <= i`."""
    real = np.asarray(token_ids) != pad_id
    length = real.shape[1]
    causal = np.tril(np.ones((length, length), dtype=bool))
    return causal[None] & real[:, :, None] & real[:, None, :]


def masked_softmax(logits: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """보이는 칸만의 소프트맥스; 가려진 칸과 모두 가려진 행은 0."""
    logits = np.asarray(logits, dtype=np.float64)
    mask = np.ones(logits.shape, bool) if mask is None else np.broadcast_to(mask, logits.shape)
    row_max = np.max(np.where(mask, logits, -np.inf), axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(mask, np.exp(np.where(mask, logits - row_max, 0.0)), 0.0)
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total == 0.0, 1.0, total)


def scaled_dot_product_attention(
    query: np.ndarray, key: np.ndarray, value: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """`(B, T, N, H)` 배치 순서의 `softmax(Q Kᵀ / √H) V`; 볼 키가 없는 쿼리는 0."""
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    weights = masked_softmax(scores, mask)
    return np.einsum("bnts,bsnh->btnh", weights, value)

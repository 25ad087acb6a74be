"""4장 연습문제 풀이: 다음 토큰 목표, top-k/온도 샘플링 분포, 퍼플렉서티."""

from __future__ import annotations

import numpy as np


def next_token_windows(ids: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """겹치지 않는 창 `x`와 한 칸 민 목표 `y`, 둘 다 `(count, block_size)` int32."""
    count = (len(ids) - 1) // block_size
    length = count * block_size
    x = np.asarray(ids[:length]).reshape(count, block_size)
    y = np.asarray(ids[1:length + 1]).reshape(count, block_size)
    return x.astype(np.int32), y.astype(np.int32)


def top_k_probabilities(logits: np.ndarray, k: int, temperature: float = 1.0) -> np.ndarray:
    """로짓을 온도로 나눈 뒤 상위 k개에서만 softmax; 나머지 확률은 0."""
    scaled = np.asarray(logits, np.float64) / temperature
    kth = np.sort(scaled, axis=-1)[..., -k][..., None]
    kept = np.where(scaled >= kth, scaled, -np.inf)
    weights = np.exp(kept - kept.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    """평균 교차 엔트로피(자연로그)의 지수: `exp(mean(-log p(target)))`."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)
    return float(np.exp(-picked.mean()))

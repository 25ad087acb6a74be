"""6장 연습문제의 참고 답안."""

from __future__ import annotations

import numpy as np


def embedding_parameters(vocab_size: int, hidden_dim: int, embedding_dim: int | None = None) -> int:
    """`V·H`, 또는 인수분해하면 `V·E + E·H`."""
    if embedding_dim is None or embedding_dim == hidden_dim:
        return vocab_size * hidden_dim
    return vocab_size * embedding_dim + embedding_dim * hidden_dim


def replaced_token_detection(
    original: np.ndarray, selected: np.ndarray, samples: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """뽑힌 위치를 생성자의 토큰으로 바꾸고, 원래와 달라진 곳을 1로 표시."""
    original = np.asarray(original)
    corrupted = np.where(np.asarray(selected, dtype=bool), samples, original)
    return corrupted, (corrupted != original).astype("int32")


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def distillation_loss(student_logits: np.ndarray, teacher_logits: np.ndarray, temperature: float) -> float:
    """`T² · mean_batch KL(softmax(teacher/T) ‖ softmax(student/T))`."""
    log_p = _log_softmax(np.asarray(teacher_logits, dtype=np.float64) / temperature)
    log_q = _log_softmax(np.asarray(student_logits, dtype=np.float64) / temperature)
    kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)
    return float(temperature**2 * kl.mean())

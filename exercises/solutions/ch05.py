"""5장 연습문제의 참고 답안."""

from __future__ import annotations

import collections
import re
import string

import numpy as np

IGNORE = -1


def mlm_corrupt(
    token_ids: np.ndarray,
    selected: np.ndarray,
    draws: np.ndarray,
    random_ids: np.ndarray,
    mask_id: int,
) -> tuple[np.ndarray, np.ndarray]:
    """뽑힌 위치: 80% `[MASK]`, 10% 무작위 토큰, 10% 그대로; 레이블은 뽑힌 위치의 원래 토큰."""
    token_ids = np.asarray(token_ids)
    selected = np.asarray(selected, dtype=bool)
    replacement = np.select([draws < 0.8, draws < 0.9], [mask_id, random_ids], token_ids)
    corrupted = np.where(selected, replacement, token_ids)
    labels = np.where(selected, token_ids, IGNORE)
    return corrupted, labels


def matthews_corrcoef(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """혼동 행렬의 네 칸으로 계산한 MCC; 분모가 0이면 0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    tp = float(np.sum((y_true == 1) & (y_pred == 1)))
    tn = float(np.sum((y_true == 0) & (y_pred == 0)))
    fp = float(np.sum((y_true == 0) & (y_pred == 1)))
    fn = float(np.sum((y_true == 1) & (y_pred == 0)))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if denominator == 0 else (tp * tn - fp * fn) / denominator


def _normalize(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def squad_f1(prediction: str, gold: str) -> float:
    """정규화한 단어 가방끼리의 F1."""
    predicted, expected = _normalize(prediction), _normalize(gold)
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)

"""7장 연습문제의 참고 답안: 윈도 블록 마스크, 각도 LSH 버킷, 가역 블록의 역."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def window_block_mask(
    num_blocks: int, num_window_blocks: int, num_global_blocks: int = 0
) -> np.ndarray:
    """윈도 `|i - j| <= w // 2`에 글로벌 블록의 행과 열을 더한 `(nb, nb)` 불리언 패턴."""
    i = np.arange(num_blocks)
    mask = np.abs(i[:, None] - i[None, :]) <= num_window_blocks // 2
    is_global = (i < num_global_blocks) | (i >= num_blocks - num_global_blocks)
    mask[is_global, :] = True
    mask[:, is_global] = True
    return mask


def angular_lsh_bucket(x: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """`argmax([xR, -xR])`: 마지막 축의 벡터마다 버킷 번호 하나."""
    rotated = np.asarray(x) @ rotation
    return np.argmax(np.concatenate([rotated, -rotated], axis=-1), axis=-1)


def reversible_inverse(
    y1: np.ndarray,
    y2: np.ndarray,
    f: Callable[[np.ndarray], np.ndarray],
    g: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """`x2 = y2 - g(y1)`, 그다음 `x1 = y1 - f(x2)`."""
    x2 = y2 - g(y1)
    x1 = y1 - f(x2)
    return x1, x2

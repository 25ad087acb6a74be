"""2장 연습문제 풀이: 사인파 위치 인코딩을 NumPy로."""

from __future__ import annotations

import numpy as np


def sinusoidal_table(length: int, dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """위치 0..length-1의 사인파 인코딩 표 `(length, dim)`."""
    positions = np.arange(length)[:, None]
    pair = np.arange(dim) // 2
    angles = positions / max_wavelength ** (2 * pair / dim)
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


def shift_matrix(k: int, dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """모든 t에 대해 `PE(t + k) = M @ PE(t)`인 `(dim, dim)` 행렬 M."""
    matrix = np.zeros((dim, dim))
    for i in range(dim // 2):
        angle = k / max_wavelength ** (2 * i / dim)
        c, s = np.cos(angle), np.sin(angle)
        matrix[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return matrix


def offset_similarity(k: int, dim: int, max_wavelength: float = 10000.0) -> float:
    """`PE(t) · PE(t + k)`: t와 무관하게 주파수별 `cos(k·ω_i)`의 합."""
    frequencies = max_wavelength ** (-2 * np.arange(dim // 2) / dim)
    return float(np.cos(k * frequencies).sum())

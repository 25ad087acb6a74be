"""2장 연습문제: 사인파 위치 인코딩을 NumPy로 직접 만들고 그 성질을 확인합니다.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 쓴 뒤
`pytest exercises/test_ch02.py --reader`로 확인하세요.
"""

from __future__ import annotations

import numpy as np


def sinusoidal_table(length: int, dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """위치 0, 1, ..., length-1의 사인파 위치 인코딩 표를 만드세요.

    입력: 위치 수 `length`, 짝수 폭 `dim`, 가장 긴 파장 `max_wavelength`(논문은 10000).
    출력: `(length, dim)` float 배열. 채널 쌍 i(= 0 .. dim/2 - 1)의 각도는
    `t / max_wavelength ** (2i / dim)`이고, 짝수 채널 2i에는 그 각도의 sin,
    홀수 채널 2i+1에는 cos가 들어갑니다.
    테스트는 `kt.layers.SinusoidalPositionEncoding`의 출력과 비교합니다.

    힌트: `np.arange(dim) // 2`가 채널마다 쌍 번호 i를 줍니다. 위치를 열 벡터,
    주파수를 행 벡터로 두면 브로드캐스팅 한 번으로 모든 각도가 나옵니다.
    """
    raise NotImplementedError("사인파 위치 인코딩 표를 만드세요")


def shift_matrix(k: int, dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """위치를 k칸 옮기는 행렬 M을 만드세요: 모든 t에 대해 `PE(t + k) = M @ PE(t)`.

    입력: 이동량 `k`, 짝수 폭 `dim`, `max_wavelength`.
    출력: `(dim, dim)` 배열. t에 의존하면 안 됩니다.
    테스트는 레이어가 만든 인코딩으로 등식을 확인하고, M이 직교 행렬(회전)인지도 봅니다.

    힌트: 채널 쌍 (sin a, cos a)를 각도 b만큼 옮기면 (sin(a+b), cos(a+b))입니다.
    덧셈 정리를 2×2 행렬로 쓰고, 쌍마다 그 블록을 대각선에 놓으세요.
    """
    raise NotImplementedError("k칸 이동을 나타내는 블록 대각 회전 행렬을 만드세요")


def offset_similarity(k: int, dim: int, max_wavelength: float = 10000.0) -> float:
    """두 위치 벡터의 내적 `PE(t) · PE(t + k)`를 t 없이 계산하세요.

    입력: 거리 `k`(음수도 가능), 짝수 폭 `dim`, `max_wavelength`.
    출력: float. 이 값이 t와 무관하다는 것, 즉 내적이 거리에만 달려 있다는 것이
    사인파 인코딩의 핵심 성질입니다. 테스트는 레이어 출력의 실제 내적과 비교합니다.

    힌트: 한 채널 쌍의 기여는 `sin a sin b + cos a cos b = cos(a - b)`입니다.
    """
    raise NotImplementedError("거리 k만의 함수로 내적을 계산하세요")

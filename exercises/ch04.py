"""4장 연습문제: 인과적 언어 모델의 목표 만들기, 샘플링 분포, 퍼플렉서티.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 쓴 뒤
`pytest exercises/test_ch04.py --reader`로 확인하세요.
"""

from __future__ import annotations

import numpy as np


def next_token_windows(ids: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """1차원 토큰 열을 겹치지 않는 입력 창과 "다음 토큰" 목표로 자르세요.

    입력: int 배열 `ids`(길이 N), 창 길이 `block_size`(T).
    출력: `(x, y)`, 둘 다 int32 `(count, T)`이고 `count = (N - 1) // T`.
    창 i의 입력은 `ids[i*T : (i+1)*T]`, 목표는 같은 구간을 한 칸 뒤로 민 것입니다.
    끝에 창 하나를 채우지 못하고 남는 토큰은 버립니다.
    테스트는 `keras_transformer.data.lm_eval_windows`와 비교합니다.

    힌트: 목표가 한 칸 뒤를 보므로 쓸 수 있는 입력은 N - 1개입니다. 자른 뒤
    `reshape(count, T)` 하면 됩니다.
    """
    raise NotImplementedError("입력 창과 한 칸 민 목표를 만드세요")


def top_k_probabilities(logits: np.ndarray, k: int, temperature: float = 1.0) -> np.ndarray:
    """top-k와 온도를 적용한 다음 토큰 확률 분포를 계산하세요.

    입력: 로짓 `(..., V)`, 남길 후보 수 `k`(1 <= k <= V), 온도 `temperature` > 0.
    출력: 같은 모양의 확률. 로짓을 온도로 나눈 뒤 가장 큰 k개 자리에서만
    softmax를 하고, 나머지 자리는 정확히 0입니다(동점은 없다고 가정해도 됩니다).
    온도가 1보다 작으면 분포가 뾰족해지고, 크면 평평해집니다.

    힌트: k번째로 큰 값을 `np.sort(...)[..., -k]`로 찾고, 그보다 작은 자리를
    `-np.inf`로 바꾼 뒤 안정적인 softmax(최댓값을 빼고 exp)를 하세요.
    """
    raise NotImplementedError("온도로 나누고 상위 k개에서만 softmax 하세요")


def perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    """로짓과 정답 토큰에서 퍼플렉서티를 계산하세요.

    입력: 로짓 `(B, T, V)`, 정답 int `(B, T)`.
    출력: float, `exp(평균 교차 엔트로피)`(자연로그 기준). 모든 로짓이 같으면 V가
    나와야 합니다: 균등 분포는 V개 중 하나를 찍는 것과 같은 혼란도입니다.
    테스트는 Keras의 `SparseCategoricalCrossentropy(from_logits=True)`와 비교합니다.

    힌트: log-softmax는 `logits - max - log(sum(exp(logits - max)))`로 안정적으로
    계산합니다. 정답 자리의 값은 `np.take_along_axis`로 뽑습니다.
    """
    raise NotImplementedError("평균 교차 엔트로피의 지수를 계산하세요")

"""3장 연습문제: 번역 모델의 부품을 NumPy로 직접 써 보기.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 채운 뒤
`pytest exercises/test_ch03.py --reader`로 확인하세요. 테스트는 여러분의 답을
패키지의 검증된 구현(`kt.models.teacher_forcing_batch`,
`kt.layers.AdditiveAttention`, `kt.masks.attention_mask`)과 비교하므로,
패키지 함수를 부르지 말고 NumPy만 쓰세요.
"""

from __future__ import annotations

import numpy as np


def teacher_forcing_arrays(
    target_ids: np.ndarray, start_id: int, end_id: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """교사 강요(teacher forcing)에 쓸 디코더 입력과 레이블을 만듭니다.

    입력: `target_ids` 정수 배열 `(B, L)`. 각 행은 시작·끝 토큰이 없는 목표
    문장이고, 오른쪽에 `pad_id`가 붙어 있습니다(패딩은 실제 토큰 뒤에만 옴).
    출력: `(decoder_inputs, labels)`, 둘 다 `(B, L + 1)` 정수 배열.
    - `labels`: 각 문장 뒤에 `end_id`를 하나 붙이고 나머지는 `pad_id`.
    - `decoder_inputs`: `labels`를 오른쪽으로 한 칸 민 것. 맨 앞은 `start_id`이고
      `labels`의 마지막 열은 버립니다. 즉 `labels[:, t] == decoder_inputs[:, t + 1]`.
    예: 목표 `[[7, 8, 0]]`, start 1, end 2 → 입력 `[[1, 7, 8, 2]]`, 레이블 `[[7, 8, 2, 0]]`.

    힌트: 행마다 실제 토큰 수는 `(target_ids != pad_id).sum(axis=1)`입니다.
    `pad_id`로 채운 열을 하나 덧붙이고(`np.concatenate`) 그 길이 위치에 `end_id`를
    쓴 뒤(`labels[np.arange(B), lengths] = end_id`), 앞에 `start_id` 열을 붙이고
    마지막 열을 잘라 내면 됩니다.
    """
    raise NotImplementedError("teacher_forcing_arrays: 끝 토큰을 붙여 레이블, 한 칸 밀어 입력")


def additive_attention_weights(
    query: np.ndarray,
    values: np.ndarray,
    w_query: np.ndarray,
    w_key: np.ndarray,
    b_key: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """바다나우의 덧셈 어텐션 가중치 `softmax_j(vᵀ tanh(W s + U h_j + b))`를 계산합니다.

    입력: `query` `(B, d_q)` 디코더 상태 `s`, `values` `(B, S, d_v)` 인코더 주석 `h_j`,
    `w_query` `(d_q, units)` = `W`, `w_key` `(d_v, units)` = `U`, `b_key` `(units,)`,
    `v` `(units,)`, `mask` `(B, S)` 불리언(True = 실제 원문 토큰) 또는 None.
    출력: `(B, S)` 가중치. 마스크가 False인 위치는 정확히 0, 나머지의 합은 1입니다.
    한 행의 마스크가 모두 False이면(원문 전체가 패딩) 그 행은 전부 0이고 NaN이 없어야 합니다.

    힌트: `query @ w_query`는 `(B, units)`, `values @ w_key + b_key`는 `(B, S, units)`이니
    앞의 것에 `[:, None, :]`으로 축을 더해 더한 뒤 `np.tanh(...) @ v`로 점수 `(B, S)`를
    얻습니다. 가려진 위치를 뺀 행별 최댓값을 빼고 `exp`한 다음, 가려진 위치를 0으로
    만들고 합으로 나누세요(합이 0인 행은 나누기 전에 1로 바꿔 두기).
    """
    raise NotImplementedError("additive_attention_weights: 점수 vᵀ tanh(Ws + Uh + b), 마스크 소프트맥스")


def cross_attention_mask(
    decoder_ids: np.ndarray, encoder_ids: np.ndarray, pad_id: int = 0
) -> np.ndarray:
    """교차 어텐션의 마스크를 만듭니다: 행은 디코더 위치(질의), 열은 원문 위치(키).

    입력: `decoder_ids` `(B, T)`, `encoder_ids` `(B, S)` 정수 배열, `pad_id` 패딩 id.
    출력: 불리언 `(B, T, S)`. `[b, t, s]`는 디코더 토큰 `t`와 원문 토큰 `s`가 둘 다
    실제 토큰(패딩이 아님)일 때만 True입니다. 교차 어텐션에는 인과 마스크가 없으므로
    실제 디코더 위치는 실제 원문 위치를 모두 볼 수 있습니다.

    힌트: 두 패딩 마스크 `(B, T)`와 `(B, S)`에 축을 하나씩 더해
    (`[:, :, None]`, `[:, None, :]`) 브로드캐스팅으로 AND 하세요.
    """
    raise NotImplementedError("cross_attention_mask: 디코더 패딩 마스크와 원문 패딩 마스크의 AND")

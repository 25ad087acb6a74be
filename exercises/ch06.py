"""6장 연습문제: ALBERT, ELECTRA, DistilBERT의 핵심 계산을 NumPy로 써 보기.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 채운 뒤
`pytest exercises/test_ch06.py --reader`로 확인하세요. 패키지나 Keras 함수를
그대로 부르면 연습이 되지 않으니 NumPy만 쓰세요(테스트가
`kt.layers.TokenAndPositionEmbedding`의 파라미터 수와
`keras.losses.KLDivergence`에 비교합니다).
"""

from __future__ import annotations

import numpy as np


def embedding_parameters(vocab_size: int, hidden_dim: int, embedding_dim: int | None = None) -> int:
    """토큰 임베딩의 파라미터 수를 BERT 방식과 ALBERT의 인수분해 방식으로 셉니다.

    입력: 어휘 크기 `V`, 은닉 폭 `H`, 임베딩 폭 `E`(없거나 `H`와 같으면
    인수분해하지 않음).
    출력: 정수. 인수분해하지 않으면 `V·H`(V×H 표 하나). 인수분해하면
    `V·E + E·H`(V×E 표와 E→H 투영 행렬; 투영의 편향은 세지 않습니다).

    힌트: BERT-base 크기(V=30522, H=768)에서 E=128이면 약 2,344만 개가
    약 401만 개로 줄어듭니다.
    """
    raise NotImplementedError("embedding_parameters: V·H 또는 V·E + E·H")


def replaced_token_detection(
    original: np.ndarray, selected: np.ndarray, samples: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ELECTRA의 판별자(discriminator)가 받을 입력과 레이블을 만듭니다.

    입력(같은 모양의 정수/불리언 배열): `original` 원래 토큰 id,
    `selected` 생성자(generator)가 채울 위치(불리언), `samples` 생성자가
    그 위치에 대해 뽑은 토큰 id(뽑히지 않은 위치의 값은 쓰지 않음).
    출력: `(corrupted, labels)`.
    - `corrupted`: 뽑힌 위치는 `samples`, 나머지는 `original`.
    - `labels`: int32, `corrupted`의 토큰이 원래와 다르면 1(replaced),
      같으면 0(original). 생성자가 우연히 원래 토큰을 뽑은 위치는 뽑혔어도
      0입니다. 모든 위치가 레이블을 가집니다(MLM처럼 15%만이 아님).

    힌트: `np.where`로 `corrupted`를 만든 뒤 `original`과 비교하세요.
    """
    raise NotImplementedError("replaced_token_detection: 바뀐 토큰이면 1, 그대로면 0")


def distillation_loss(student_logits: np.ndarray, teacher_logits: np.ndarray, temperature: float) -> float:
    """DistilBERT의 소프트 타깃 손실(soft target loss)을 계산합니다.

    입력: `student_logits`, `teacher_logits` 실수 배열 `(batch, classes)`,
    온도 `temperature` T > 0.
    출력: float. 소프트 타깃 `p = softmax(teacher / T)`와 학생의
    `q = softmax(student / T)`(마지막 축) 사이의 KL 발산
    `Σ p · (log p − log q)`을 예마다 구해 배치 평균을 내고 `T²`을 곱합니다.
    (`T²`은 온도를 올려도 그래디언트의 크기가 줄지 않게 맞추는 인수입니다.)

    힌트: 안정적인 소프트맥스는 행마다 최댓값을 빼고 `exp`합니다.
    `log q`는 `z − max − log Σ exp(z − max)`로 직접 구하면 0의 로그를 피할 수
    있습니다. 학생과 교사가 같으면 답은 0입니다.
    """
    raise NotImplementedError("distillation_loss: T²·KL(softmax(teacher/T) ‖ softmax(student/T))")

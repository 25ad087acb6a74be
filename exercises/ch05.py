"""5장 연습문제: BERT의 MLM 입력 만들기와 파인튜닝 지표(MCC, SQuAD F1)를 NumPy로 써 보기.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 채운 뒤
`pytest exercises/test_ch05.py --reader`로 확인하세요. 패키지 함수를 그대로
부르면 연습이 되지 않으니 NumPy와 파이썬 표준 라이브러리만 쓰세요(테스트가
`keras_transformer.metrics`의 `matthews_corrcoef`, `token_f1`과 비교합니다).
"""

from __future__ import annotations

import numpy as np

IGNORE = -1  # 예측하지 않는 위치의 레이블


def mlm_corrupt(
    token_ids: np.ndarray,
    selected: np.ndarray,
    draws: np.ndarray,
    random_ids: np.ndarray,
    mask_id: int,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT의 80/10/10 규칙으로 MLM 입력과 레이블을 만듭니다.

    입력(모두 같은 모양의 배열):
    `token_ids` 원래 토큰 id, `selected` 예측 대상으로 뽑힌 위치(불리언, 보통
    전체의 15%), `draws` [0, 1) 균등 난수, `random_ids` 무작위 토큰 id
    후보, 그리고 정수 `mask_id`(`[MASK]`의 id).
    출력: `(corrupted, labels)`.
    - `corrupted`: 뽑힌 위치 가운데 `draws < 0.8`이면 `mask_id`,
      `0.8 <= draws < 0.9`이면 그 위치의 `random_ids`, `draws >= 0.9`이면
      원래 토큰 그대로. 뽑히지 않은 위치는 언제나 원래 토큰.
    - `labels`: 뽑힌 위치는 원래 토큰 id, 나머지는 `IGNORE`(-1).

    힌트: `np.where`를 세 번 겹치거나 `np.select`를 쓰면 됩니다. 입력 배열을
    제자리에서 바꾸지 말고 새 배열을 돌려주세요.
    """
    raise NotImplementedError("mlm_corrupt: 뽑힌 위치만 80% [MASK], 10% 무작위, 10% 그대로")


def matthews_corrcoef(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """이진 분류(0/1)의 매슈스 상관계수(MCC)를 혼동 행렬에서 계산합니다.

    입력: 같은 길이의 0/1 정수 배열 `y_true`(정답), `y_pred`(예측).
    출력: `(TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))`, [-1, 1]의
    float. 분모의 네 인수 가운데 하나라도 0이면(예: 예측이 모두 같은 값)
    0.0을 돌려줍니다.

    힌트: `TP = np.sum((y_true == 1) & (y_pred == 1))`처럼 네 칸을 센 뒤,
    정수 곱이 커질 수 있으니 `float`로 바꿔 계산하세요.
    """
    raise NotImplementedError("matthews_corrcoef: TP, TN, FP, FN을 세어 공식에 넣으세요")


def squad_f1(prediction: str, gold: str) -> float:
    """SQuAD v1.1 공식 채점의 토큰 F1을 계산합니다.

    입력: 모델이 고른 답 `prediction`과 정답 하나 `gold`(문자열).
    출력: [0, 1]의 float. 두 문자열을 먼저 정규화합니다: 소문자로 바꾸고,
    `string.punctuation`의 문장 부호를 지우고, 단어 `a`, `an`, `the`를 지우고,
    공백으로 나눕니다. 정규화된 두 단어 가방(중복 포함)이 겹치는 개수를
    `common`이라 하면 정밀도 = common / 예측 단어 수, 재현율 = common / 정답
    단어 수, F1 = 2PR / (P + R)입니다. 겹치는 단어가 없으면 0.0.

    힌트: 관사는 `re.sub(r"\\b(a|an|the)\\b", " ", text)`로 지울 수 있습니다
    (문장 부호를 먼저 지운 뒤에). 겹치는 개수는
    `collections.Counter(p) & collections.Counter(g)`의 값의 합입니다.
    """
    raise NotImplementedError("squad_f1: 정규화한 뒤 단어 가방의 정밀도와 재현율로 F1")

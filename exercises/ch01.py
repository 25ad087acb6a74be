"""1장 연습문제: 어텐션을 NumPy로 직접 써 보기.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 채운 뒤
`pytest exercises/test_ch01.py --reader`로 확인하세요. 패키지 함수를 그대로
부르면 연습이 되지 않으니 NumPy만 쓰세요(테스트가 패키지와 비교합니다).
"""

from __future__ import annotations

import numpy as np


def causal_padding_mask(token_ids: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """디코더의 셀프 어텐션이 쓰는 마스크(인과 마스크 AND 패딩 마스크)를 만듭니다.

    입력: `token_ids` 정수 배열 `(B, T)`, `pad_id`는 패딩 토큰의 id.
    출력: 불리언 배열 `(B, T, T)`. `[b, i, j]`는 문장 `b`의 쿼리 `i`가
    키 `j`를 볼 수 있을 때만 True입니다. 볼 수 있는 조건은 세 가지를 모두
    만족하는 것입니다: `j <= i`(미래를 보지 않음), 쿼리 `i`가 진짜 토큰,
    키 `j`가 진짜 토큰. 따라서 패딩 위치의 행과 열은 모두 False입니다.

    힌트: `np.tril(np.ones((T, T), bool))`이 인과 마스크이고,
    `real = token_ids != pad_id`에 축을 하나씩 더해(`real[:, :, None]`,
    `real[:, None, :]`) 브로드캐스팅으로 AND 하면 됩니다.
    """
    raise NotImplementedError("causal_padding_mask: 인과 마스크와 패딩 마스크를 AND 하세요")


def masked_softmax(logits: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """마지막 축에 대해, 마스크가 True인 칸만으로 소프트맥스를 계산합니다.

    입력: `logits` 실수 배열(마지막 축이 키), `mask`는 `logits`로
    브로드캐스트되는 불리언 배열(True = 볼 수 있음) 또는 None(모두 볼 수 있음).
    출력: `logits`와 같은 모양의 float 배열. 마스크가 False인 칸은 정확히 0,
    True인 칸의 합은 1입니다. 한 행의 마스크가 모두 False이면 그 행은
    전부 0이어야 하며 NaN이 나오면 안 됩니다.

    힌트: 가려진 칸을 `-np.inf`로 채우고 그대로 `exp`하면 모두 가려진
    행에서 0/0 = NaN이 됩니다. 행마다 *보이는 칸의* 최댓값을 빼고 `exp`한
    뒤 가려진 칸을 0으로 만들고, 합이 0인 행은 나누기 전에 1로 바꿔 두세요.
    """
    raise NotImplementedError("masked_softmax: 가려진 칸은 0, 모두 가려진 행도 0")


def scaled_dot_product_attention(
    query: np.ndarray, key: np.ndarray, value: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """`softmax(Q Kᵀ / √H) V`를 여러 헤드에 대해 한꺼번에 계산합니다.

    입력: 패키지와 같은 배치 순서를 씁니다. `query` `(B, T, N, H)`,
    `key`와 `value` `(B, S, N, H)`(B 배치, T 쿼리 길이, S 키 길이, N 헤드 수,
    H 헤드 폭). `mask`는 `(B, N, T, S)`로 브로드캐스트되는 불리언 배열
    (예: `(T, S)`, `(B, 1, T, S)`) 또는 None.
    출력: `(B, T, N, H)` 배열. 키를 하나도 볼 수 없는 쿼리의 출력은 0입니다.

    힌트: 점수는 `np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(H)`,
    가중치는 위의 `masked_softmax`, 출력은
    `np.einsum("bnts,bsnh->btnh", weights, value)`입니다.
    """
    raise NotImplementedError("scaled_dot_product_attention: 점수, 마스크 소프트맥스, 가중합")

"""7장 연습문제: BigBird의 윈도 블록, Reformer의 각도 LSH와 가역 블록을 NumPy로 써 보기.

각 함수의 `raise NotImplementedError(...)`를 지우고 답을 채운 뒤
`pytest exercises/test_ch07.py --reader`로 확인하세요. 패키지 함수를 그대로
부르면 연습이 되지 않으니 NumPy만 쓰세요(테스트가 패키지의
`bigbird_block_pattern`, `LSHAttention.hash_buckets`,
`ReversibleBlock.inverse`와 비교합니다).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def window_block_mask(
    num_blocks: int, num_window_blocks: int, num_global_blocks: int = 0
) -> np.ndarray:
    """BigBird의 랜덤 블록을 뺀 블록 패턴(슬라이딩 윈도 + 글로벌)을 만듭니다.

    입력: `num_blocks` 블록 수 `nb`(양의 정수), `num_window_blocks` 윈도 폭
    `w`(양의 홀수), `num_global_blocks` 시퀀스 양 끝의 글로벌 블록 수 `g`(0 이상).
    출력: 불리언 배열 `(nb, nb)`. `[i, j]`는 쿼리 블록 `i`가 키 블록 `j`를
    볼 때 True입니다. 규칙은 세 가지입니다.

    - 윈도: `|i - j| <= w // 2`이면 True(시퀀스 밖은 없으므로 양 끝에서 잘림).
    - 글로벌 블록은 처음 `g`개와 마지막 `g`개 블록입니다(`g`가 커서 겹쳐도
      됩니다). 글로벌 블록의 행은 전부 True(모든 키를 봄)입니다.
    - 글로벌 블록의 열도 전부 True(모든 쿼리가 글로벌 블록을 봄)입니다.

    힌트: `i = np.arange(nb)`로 `np.abs(i[:, None] - i[None, :]) <= w // 2`가
    윈도입니다. 글로벌 여부를 길이 `nb`의 불리언 벡터로 만든 뒤
    `mask[is_global, :] = True`, `mask[:, is_global] = True`로 채우세요.
    """
    raise NotImplementedError("window_block_mask: 띠 모양 윈도에 글로벌 행과 열을 더하세요")


def angular_lsh_bucket(x: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """각도 LSH(angular LSH)로 벡터마다 버킷 번호를 매깁니다.

    입력: `x` 실수 배열 `(..., d)`(마지막 축이 벡터), `rotation` 실수 배열
    `(d, b // 2)`(무작위 회전; `b`는 버킷 수).
    출력: 정수 배열 `x.shape[:-1]`. 벡터 `v`의 버킷은
    `argmax([vR, -vR])`, 즉 `vR`과 `-vR`을 이어 붙인 길이 `b`의 벡터에서
    가장 큰 값의 위치(0 이상 `b` 미만)입니다.

    성질: `v`에 양수를 곱해도 버킷은 그대로이고(방향만 봅니다), `-v`의
    버킷은 `v`의 버킷에서 `b // 2`만큼 (b를 법으로) 떨어져 있습니다.

    힌트: `r = x @ rotation`,
    `np.argmax(np.concatenate([r, -r], axis=-1), axis=-1)`.
    """
    raise NotImplementedError("angular_lsh_bucket: [xR, -xR]의 argmax")


def reversible_inverse(
    y1: np.ndarray,
    y2: np.ndarray,
    f: Callable[[np.ndarray], np.ndarray],
    g: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """가역 블록의 출력 `(y1, y2)`에서 입력 `(x1, x2)`를 되찾습니다.

    가역 블록(RevNet, Reformer)은 두 흐름에 대해 `y1 = x1 + f(x2)`,
    `y2 = x2 + g(y1)`를 계산합니다(`f`는 어텐션 가지, `g`는 피드포워드 가지).
    입력: 출력 `y1`, `y2`(같은 모양의 실수 배열)와 두 가지 함수 `f`, `g`
    (배열을 받아 같은 모양의 배열을 돌려줌).
    출력: `(x1, x2)`. `f`, `g`는 역함수가 없어도 됩니다. 그 둘을 *다시
    계산*하기만 하면 입력이 나옵니다.

    힌트: 순서가 중요합니다. `y1`은 이미 알고 있으니 `g(y1)`부터 계산해
    `x2`를 얻고, 그다음 `f(x2)`로 `x1`을 얻으세요.
    """
    raise NotImplementedError("reversible_inverse: x2 = y2 - g(y1), 그다음 x1 = y1 - f(x2)")

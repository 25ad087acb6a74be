"""장별 연습문제: `exercises/chNN.py`를 채우고 `pytest exercises --reader`로 확인하세요."""

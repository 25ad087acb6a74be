"""Exercise tests check the reference solutions by default and the reader's answers with `--reader`.

Each `exercises/test_chNN.py` sets `CHAPTER = "chNN"` and takes the fixture
`ex`: the module `exercises.solutions.chNN`, or `exercises.chNN` when pytest
runs with `--reader` (`pytest exercises --reader`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--reader",
        action="store_true",
        help="test your answers in exercises/chNN.py instead of the reference solutions",
    )


@pytest.fixture(scope="module")
def ex(request) -> ModuleType:
    chapter = getattr(request.module, "CHAPTER", None)
    if chapter is None:
        raise ValueError(f"{request.module.__name__} must set CHAPTER = 'chNN' to use the `ex` fixture")
    package = "exercises" if request.config.getoption("--reader") else "exercises.solutions"
    return importlib.import_module(f"{package}.{chapter}")

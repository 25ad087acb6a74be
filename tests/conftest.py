"""Shared test configuration: hypothesis profiles and dtype-policy hygiene.

Profiles (pick with the environment variable `HYPOTHESIS_PROFILE`):

- `ci` (default): derandomized, no deadline, a modest number of examples, so
  the suite is reproducible and fast on a 2-core CPU;
- `quick`: as `ci` with fewer examples, for backends that recompile for
  every new input shape (PyTorch in tox);
- `minimal`: two examples per property;
- `single`: one example per property, for JAX, whose compilation for each
  new shape makes it the slowest backend on a CPU (the property still runs
  there; TensorFlow and PyTorch draw the many examples);
- `dev`: random and with many more examples, for hunting bugs locally.
"""

from __future__ import annotations

import os
import pathlib
import time

import keras
import pytest
from hypothesis import HealthCheck, settings

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=12,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=4)
settings.register_profile("minimal", settings.get_profile("ci"), max_examples=2)
settings.register_profile("single", settings.get_profile("ci"), max_examples=1)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Every test starts and ends under the policy that was active before it."""
    previous = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(previous)


@pytest.fixture
def dtype_policy():
    """Set a global dtype policy for the duration of one test: `dtype_policy("mixed_float16")`."""
    previous = keras.config.dtype_policy()

    def use(name):
        keras.config.set_dtype_policy(name)

    yield use
    keras.config.set_dtype_policy(previous)


# Code that does not depend on the Keras backend (data loaders, metrics, plots,
# the command line, the README's figures): the tox matrix runs it on
# TensorFlow only, not again on JAX and PyTorch.
_BACKEND_INDEPENDENT_TESTS = (
    "test_chapter", "test_data_", "test_metrics", "test_notebooks", "test_plots", "test_public_api",
    "test_qa_metrics", "test_readme_figures", "test_training_cli", "test_training_fresh_process",
)
_BACKEND_INDEPENDENT_MODULES = ("data", "metrics", "plots.py")


def _backend_independent(path: pathlib.Path) -> bool:
    if path.parent.name == "tests":
        return path.name.startswith(_BACKEND_INDEPENDENT_TESTS)
    parts = path.parts
    if "keras_transformer" not in parts:
        return False
    inside = parts[parts.index("keras_transformer") + 1:]
    return bool(inside) and inside[0] in _BACKEND_INDEPENDENT_MODULES


def pytest_collection_modifyitems(items):
    for item in items:
        if _backend_independent(pathlib.Path(str(item.path))):
            item.add_marker(pytest.mark.backend_independent)


# `.ci/run` gives each suite a deadline (seconds since the epoch). A test that
# would start after it fails at once, named in the report as not reached, so
# a suite cut short by its time limit can never pass for a complete one.
_DEADLINE = float(os.environ.get("KT_SUITE_DEADLINE", "inf"))


def pytest_runtest_setup(item):
    if time.time() > _DEADLINE:
        pytest.fail("not reached: the suite's time limit passed before this test started", pytrace=False)

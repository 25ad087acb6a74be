"""The chapter runner's memory ceiling catches a run that goes over it and lets one under it pass."""

import subprocess
import sys

import pytest

from tests.chapter_runs import memory_ceiling


def _child_holding(megabytes: int) -> None:
    subprocess.run([sys.executable, "-c", f"b = bytearray({megabytes} * 2**20)"], check=True)


def test_a_child_over_the_ceiling_fails_the_run():
    """A child process that holds more than the ceiling makes the check fail, naming the script."""
    with pytest.raises(AssertionError, match="hog peaked at .* over the 300 MiB ceiling"):
        with memory_ceiling("hog", ceiling_mb=300):
            _child_holding(400)


def test_a_child_under_the_ceiling_passes():
    """A child process that stays under the ceiling passes, even after an earlier heavy child."""
    _child_holding(400)
    with memory_ceiling("light", ceiling_mb=300):
        _child_holding(1)

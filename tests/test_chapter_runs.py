"""The chapter runner's memory ceiling catches a run that goes over it and lets one under it pass."""

import subprocess
import sys

import pytest

from tests.chapter_runs import check_ceiling, wait_with_peak


def _peak_of_child_holding(megabytes: int) -> float:
    process = subprocess.Popen(
        [sys.executable, "-c", f"import time; b = bytearray({megabytes} * 2**20); time.sleep(0.5); print('held')"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output, peak_mb = wait_with_peak(process, timeout=60)
    assert process.returncode == 0 and output.strip() == "held", output
    return peak_mb


def test_a_child_over_the_ceiling_fails_the_run():
    """A child process that holds more than the ceiling makes the check fail, naming the script."""
    with pytest.raises(AssertionError, match="hog peaked at .* over the 300 MiB ceiling"):
        check_ceiling("hog", _peak_of_child_holding(400), ceiling_mb=300)


def test_each_child_is_measured_on_its_own():
    """A light child passes the ceiling even right after a heavy one: each run's peak is its own."""
    assert _peak_of_child_holding(400) > 400
    check_ceiling("light", _peak_of_child_holding(1), ceiling_mb=300)

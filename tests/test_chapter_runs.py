"""The chapter runner's memory ceiling catches a run that goes over it and lets one under it pass; its timeout ends the whole run."""

import sys
import time

import pytest

from tests.chapter_runs import check_ceiling, start_group, wait_with_peak


def _peak_of_child_holding(megabytes: int) -> float:
    process = start_group(
        [sys.executable, "-c", f"import time; b = bytearray({megabytes} * 2**20); time.sleep(0.5); print('held')"]
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


def test_the_processes_a_run_starts_count_together():
    """Two grandchildren holding 250 MiB each at once fail a 400 MiB ceiling that neither reaches alone."""
    holder = "import time; b = bytearray(250 * 2**20); time.sleep(2)"
    parent = (f"import subprocess, sys; "
              f"ps = [subprocess.Popen([sys.executable, '-c', {holder!r}]) for _ in range(2)]; "
              f"[p.wait() for p in ps]; print('held')")
    process = start_group([sys.executable, "-c", parent])
    output, peak_mb = wait_with_peak(process, timeout=60)
    assert process.returncode == 0 and output.strip() == "held", output
    with pytest.raises(AssertionError, match="pair peaked at"):
        check_ceiling("pair", peak_mb, ceiling_mb=400)


def test_a_timeout_ends_the_processes_the_run_started():
    """A run past its timeout returns, killed, even when a process it started still holds its output open."""
    sleeper = "import time; time.sleep(60)"
    parent = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); "
              f"print('started', flush=True); time.sleep(600)")
    process = start_group([sys.executable, "-c", parent])
    start = time.monotonic()
    output, _ = wait_with_peak(process, timeout=3)
    assert time.monotonic() - start < 30
    assert process.returncode < 0 and output.strip() == "started", output

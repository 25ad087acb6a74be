"""Where a run's wall time goes: seconds per phase, from start-up to `finish`."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time

# The phases in the order a run meets them; `other` is the wall time left over.
PHASES = (
    "data", "build", "peak_measurement", "batches", "first_step", "train_steps",
    "evaluation", "checkpoints", "finish",
)


class PhaseClock:
    """Adds up wall-clock seconds per named phase.

    Example:
    >>> import time
    >>> from keras_transformer.training.phases import PhaseClock
    >>> clock = PhaseClock()
    >>> with clock("evaluation"):
    ...     time.sleep(0.01)
    >>> clock.seconds["evaluation"] >= 0.01
    True
    """

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def merge(self, seconds: dict[str, float]) -> None:
        """Adds another clock's seconds (a resumed run's earlier segments)."""
        for phase, value in seconds.items():
            self.add(phase, value)

    @contextlib.contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - start)

    def breakdown(self, wall_seconds: float) -> dict[str, float]:
        """Every phase's seconds (0 if it never ran), plus `other`: the rest of `wall_seconds`."""
        known = {phase: self.seconds.get(phase, 0.0) for phase in PHASES}
        return {**known, "other": wall_seconds - sum(known.values())}


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started (Linux's /proc), or None where unknown.

    Before a run's own clock starts, a process has started Python, imported
    the framework and the chapter: the start-up a user waits through.
    """
    try:
        stat = pathlib.Path("/proc/self/stat").read_text()
        uptime = float(pathlib.Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    # Field 22 (starttime, in clock ticks since boot) follows the command
    # name, which may hold spaces, so count from its closing parenthesis.
    start_ticks = int(stat.rpartition(")")[2].split()[19])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def phase_line(phase_seconds: dict[str, float], startup_seconds: float | None = None) -> str:
    """The breakdown as one printed line, phases that took no time left out.

    Example:
    >>> from keras_transformer.training.phases import phase_line
    >>> phase_line({"build": 2.04, "first_step": 14.2, "train_steps": 110.0, "other": 0.4}, 9.6)
    'time: start-up 9.6s | build 2.0s | first step 14.2s | train steps 110.0s | other 0.4s'
    """
    parts = [] if startup_seconds is None else [f"start-up {startup_seconds:.1f}s"]
    parts += [f"{phase.replace('_', ' ')} {seconds:.1f}s"
              for phase, seconds in phase_seconds.items() if round(seconds, 1) != 0]
    return "time: " + " | ".join(parts)

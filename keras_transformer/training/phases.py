"""Where a run's wall time and memory go: seconds and the rise of the peak memory per phase."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time

from keras_transformer.training.memory import peak_rss_mb

# The phases in the order a run meets them; `other` is the wall time left over.
PHASES = (
    "data", "build", "peak_measurement", "batches", "first_step", "train_steps",
    "evaluation", "checkpoints", "finish",
)


class PhaseClock:
    """Adds up wall-clock seconds per named phase, and which phase raised the peak memory.

    Each time a phase ends, the rise of the process's peak resident memory
    (`peak_rss_mb`, a high-water mark) since the previous phase ended is
    charged to it: the run's peak is `start_peak_mb` plus these rises, so the
    phase that set it shows. The rises are this process's own: a resumed run
    merges the seconds of its earlier segments, not their memory.

    Example:
    >>> import time
    >>> from keras_transformer.training.memory import peak_rss_mb
    >>> from keras_transformer.training.phases import PhaseClock
    >>> clock = PhaseClock()
    >>> with clock("evaluation"):
    ...     time.sleep(0.01)
    >>> clock.seconds["evaluation"] >= 0.01
    True
    >>> rises = clock.memory_breakdown()  # start + each phase's rise + other
    >>> abs(sum(rises.values()) - peak_rss_mb()) < 1.0
    True
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.start_peak_mb = peak_rss_mb()
        self.peak_rise_mb: dict[str, float] = {}
        self._peak_mb = self.start_peak_mb

    def add(self, phase: str, seconds: float) -> None:
        self._add_seconds(phase, seconds)
        # The kernel's figure can dip by a few pages (it folds in the current
        # size lazily), so a rise is never counted below zero.
        peak = max(peak_rss_mb(), self._peak_mb)
        self.peak_rise_mb[phase] = self.peak_rise_mb.get(phase, 0.0) + peak - self._peak_mb
        self._peak_mb = peak

    def merge(self, seconds: dict[str, float]) -> None:
        """Adds another clock's seconds (a resumed run's earlier segments)."""
        for phase, value in seconds.items():
            self._add_seconds(phase, value)

    def _add_seconds(self, phase: str, seconds: float) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

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

    def memory_breakdown(self) -> dict[str, float]:
        """The peak at the clock's start (`start`), every phase's rise (0 if none), and
        `other`: the rise since the last phase ended. They add up to the peak now."""
        known = {phase: self.peak_rise_mb.get(phase, 0.0) for phase in PHASES}
        return {"start": self.start_peak_mb, **known,
                "other": max(peak_rss_mb() - self._peak_mb, 0.0)}


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started (Linux's /proc), or None where unknown.

    Before a run's own clock starts, a process has started Python, imported
    the framework and the chapter: the start-up a user waits through.

    Example (on Linux; the figure grows with the wall clock):

    >>> import time
    >>> from keras_transformer.training.phases import seconds_since_process_start
    >>> first = seconds_since_process_start()
    >>> time.sleep(0.1)
    >>> first > 0, seconds_since_process_start() - first >= 0.09
    (True, True)
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


def memory_line(peak_rise_mb: dict[str, float]) -> str:
    """`PhaseClock.memory_breakdown` as one printed line, phases that raised no peak left out.

    Example:
    >>> from keras_transformer.training.phases import memory_line
    >>> memory_line({"start": 752.6, "data": 305.2, "build": 0.0, "first_step": 612.4, "other": 0.0})
    'memory: start 753 MiB | data +305 | first step +612 | peak 1,670 MiB'
    """
    start, rises = peak_rise_mb["start"], {k: v for k, v in peak_rise_mb.items() if k != "start"}
    parts = [f"start {start:,.0f} MiB"]
    parts += [f"{phase.replace('_', ' ')} +{mb:,.0f}" for phase, mb in rises.items() if round(mb) != 0]
    return "memory: " + " | ".join(parts) + f" | peak {start + sum(rises.values()):,.0f} MiB"

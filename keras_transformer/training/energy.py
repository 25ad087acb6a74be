"""A coarse energy estimate: assumed device power times wall time.

Power is not measured. On CPU the figure assumes a fixed power per core, as
tools like CodeCarbon do when they cannot read hardware counters; on a GPU
it takes the board's power limit from `nvidia-smi`, an upper bound. Pass
`--power-watts` to use a known figure. (CodeCarbon itself is not used: parts
of it need network access.)
"""

import os
import shutil
import subprocess

CPU_WATTS_PER_CORE = 10.0  # a server core under full load, roughly TDP / cores
DEFAULT_GPU_WATTS = 300.0  # when nvidia-smi cannot be asked


def assumed_power_watts(device: str, num_devices: int = 1) -> float:
    """Returns the power assumed for `device` (`"cpu"`, `"gpu"`, `"tpu"`).

    Example:

    >>> import os
    >>> from keras_transformer.training.energy import CPU_WATTS_PER_CORE, assumed_power_watts
    >>> assumed_power_watts("cpu") == CPU_WATTS_PER_CORE * os.cpu_count()
    True
    """
    if device == "cpu":
        return CPU_WATTS_PER_CORE * (os.cpu_count() or 1)
    if device == "gpu" and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=power.limit",
                 "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.split()
            return sum(float(w) for w in out[:num_devices])
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return DEFAULT_GPU_WATTS * num_devices


def energy_wh(power_watts: float, seconds: float) -> float:
    """Returns watt-hours used at `power_watts` for `seconds`.

    Example:

    >>> from keras_transformer.training.energy import energy_wh
    >>> energy_wh(360.0, seconds=10.0)
    1.0
    """
    return power_watts * seconds / 3600.0

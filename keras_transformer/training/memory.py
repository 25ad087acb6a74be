"""Peak memory of a run: the process's resident set and the accelerator's allocator."""

from __future__ import annotations

import ctypes
import pathlib
import resource
import sys

import keras

from keras_transformer.training import devices


def peak_rss_mb() -> float:
    """Returns the peak resident set size of this process so far, in MiB.

    It is the high-water mark the kernel keeps (`VmHWM` on Linux,
    `getrusage` elsewhere), so it covers everything the process ever held
    at once: the framework, compiled programs, data and activations.

    Example:
    >>> from keras_transformer.training.memory import peak_rss_mb
    >>> peak_rss_mb() > 10.0  # a Python process with Keras loaded
    True
    """
    try:  # Linux: this program's own high-water mark, in KiB
        status = pathlib.Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("VmHWM:")) / 2**10
    except (OSError, StopIteration):
        pass
    # `getrusage` elsewhere (macOS reports bytes). On Linux it would also
    # count, in a child started by fork and exec (`run_in_fresh_process`),
    # the parent's memory at the fork.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def device_peak_mb() -> float | None:
    """Returns the accelerator's peak allocated memory in MiB, or None on a CPU.

    Read from the backend's allocator (first device): `torch.cuda`,
    JAX's `memory_stats()`, TensorFlow's `get_memory_info`.

    Example:
    >>> from keras_transformer.training.devices import accelerator
    >>> from keras_transformer.training.memory import device_peak_mb
    >>> peak = device_peak_mb()
    >>> peak is None if accelerator() == "cpu" else peak >= 0.0
    True
    """
    if devices.accelerator() == "cpu":
        return None
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        peak = torch.cuda.max_memory_allocated()
    elif backend == "jax":
        import jax

        peak = (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
    else:
        import tensorflow as tf

        kind = devices.accelerator().upper()
        peak = tf.config.experimental.get_memory_info(f"{kind}:0")["peak"]
    return None if peak is None else peak / 2**20


def release_free_heap() -> bool:
    """Gives the C heap's free pages back to the system; returns whether it could.

    Preparing a dataset leaves freed blocks scattered through the heap
    (Python objects, a tokenizer's buffers). The C library keeps such pages
    resident, and the framework's large tensors are mapped afresh rather
    than placed in those holes, so without this they stay in the process's
    memory for the whole run. It calls glibc's `malloc_trim`; on a C library
    without it (macOS, musl) it does nothing and returns False.

    Example:
    >>> from keras_transformer.training.memory import release_free_heap
    >>> release_free_heap() in (True, False)
    True
    """
    trim = _c_library_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def _c_library_function(name: str):
    """The C library's function `name`, or None where the C library has none."""
    try:  # the symbols the process has loaded, the C library's among them
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):
        return None


# glibc's `mallopt` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def reuse_freed_blocks(threshold_mb: int = 1024) -> bool:
    """Keeps freed blocks of up to `threshold_mb` MiB in the C heap for reuse; returns whether it could.

    XLA on a CPU (the JAX backend) allocates each step's temporaries afresh,
    often as one block, from its worker threads, and frees them when the
    step ends. By default glibc maps a block above its threshold (at most
    32 MiB) straight from the system and unmaps it on `free`, gives a freed
    heap top back, and serves each thread from an arena of its own whose
    heaps hold at most 64 MiB, so a larger block is always mapped afresh.
    Either way every step faults the same pages in again. Chapter 04's GPT
    (`cpu` preset) took 40 ms a step that way on JAX, 2.9 million page
    faults in 220 steps, and 29 ms once the blocks were kept. The GPT of
    `benchmarks/gpt_throughput.py` at block 128 and batch 32 frees a
    339 MiB block every step: 94,000 faults and 260 ms a step, against
    none and 125 ms with this. So it sets one arena for every thread
    created from now on (`M_ARENA_MAX`; call it before the framework starts
    its threads) and both thresholds to `threshold_mb`: freed blocks stay
    in the heap and the next step reuses them. `release_free_heap` still
    gives free pages back when asked. On a C library without `mallopt`
    (macOS, musl) it does nothing and returns False.

    Call it once, early in a process that will train (the runner does so on
    JAX before loading data): `reuse_freed_blocks()`. The settings last for
    the whole process, so the example below only shows the argument check;
    `tests/test_training_memory.py` measures the effect in fresh processes.

    Example:
    >>> from keras_transformer.training.memory import reuse_freed_blocks
    >>> reuse_freed_blocks(threshold_mb=0)
    Traceback (most recent call last):
    ValueError: threshold_mb must be a positive whole number of MiB; got 0.
    """
    if not isinstance(threshold_mb, int) or isinstance(threshold_mb, bool) or threshold_mb < 1:
        raise ValueError(
            f"threshold_mb must be a positive whole number of MiB; got {threshold_mb!r}."
        )
    mallopt = _c_library_function("mallopt")
    if mallopt is None:
        return False
    size = threshold_mb * 2**20
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, size), (_M_TRIM_THRESHOLD, size))
    return all([bool(mallopt(option, value)) for option, value in settings])

"""The peak memory a run reports: the kernel's high-water mark of the process."""

from __future__ import annotations

import mmap
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_transformer.training.fresh_process import run_in_fresh_process
from keras_transformer.training.memory import (
    device_peak_mb,
    peak_rss_mb,
    release_free_heap,
    reuse_freed_blocks,
)
from tests.helpers import needs_proc

STATUS = pathlib.Path("/proc/self/status")


def _status_mb(field: str) -> float:
    """A field of /proc/self/status (kB) in MiB: the kernel's own account, read independently."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


@needs_proc
def test_peak_rss_is_the_kernels_high_water_mark():
    """The reported peak equals the kernel's VmHWM and is never below the current resident size."""
    assert peak_rss_mb() == pytest.approx(_status_mb("VmHWM"), abs=2.0)
    assert peak_rss_mb() >= _status_mb("VmRSS") - 1.0


@needs_proc
def test_peak_rss_keeps_a_freed_allocation():
    """After a 256 MiB block is freed, the reported peak still covers the resident size it had."""
    # An anonymous mapping of its own: malloc could serve the block from free heap
    # pages that stay resident after it is freed, but closing a mapping unmaps it.
    block = mmap.mmap(-1, 256 * 2**20)
    np.frombuffer(block, dtype=np.uint8)[:] = 1  # every page written; the view dies here
    while_alive = _status_mb("VmRSS")
    block.close()
    assert _status_mb("VmRSS") < while_alive - 128  # the current size has dropped...
    assert peak_rss_mb() >= while_alive - 1.0  # ...the peak has not


def _own_peak() -> float:
    return peak_rss_mb()


@needs_proc
def test_a_fresh_process_reports_its_own_peak_not_its_parents():
    """A process started by `run_in_fresh_process` while this one holds 1.5 GiB reports its own peak, well below this one's: Linux's `getrusage` would count the parent's memory at the fork."""
    block = mmap.mmap(-1, 3 * 2**29)
    np.frombuffer(block, dtype=np.uint8)[:] = 1  # every page written
    try:
        child = run_in_fresh_process(_own_peak)
    finally:
        block.close()
    assert child < _status_mb("VmHWM") - 1024


@pytest.mark.skipif(not release_free_heap(), reason="needs glibc's malloc_trim")
def test_freed_heap_blocks_are_given_back():
    """After 300 MiB of small heap blocks are freed behind one that lives on, releasing the free heap shrinks the process by most of them."""
    script = (
        "from keras_transformer.training.memory import release_free_heap\n"
        "def anon():\n"
        "    line = [l for l in open('/proc/self/status') if l.startswith('RssAnon:')][0]\n"
        "    return int(line.split()[1]) / 1024\n"
        "blocks = [bytes(4000) for _ in range(75_000)]  # malloc'd, below the mapping threshold\n"
        "keep = bytes(4000)  # sits above the freed blocks, so the heap's top cannot shrink\n"
        "del blocks\n"
        "before = anon()\n"
        "release_free_heap()\n"
        "print(before - anon())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) > 200


_REFAULT_SCRIPT = """
import ctypes, resource, sys, threading
from keras_transformer.training.memory import reuse_freed_blocks
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE, ROUNDS = int(sys.argv[1]) * 2**20, 4
if sys.argv[2] == "reuse":
    assert reuse_freed_blocks()
faults = []

def step():  # a step's temporaries: allocated, written, freed
    block = libc.malloc(SIZE); ctypes.memset(block, 1, SIZE); libc.free(block)

def work():  # in a worker thread, as XLA's thread pool allocates them
    step()  # the heap grown
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(ROUNDS):
        step()
    faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / ROUNDS)

thread = threading.Thread(target=work)
thread.start()
thread.join()
print(faults[0])
"""


def _faults_per_round(size_mb: int, mode: str) -> float:
    result = subprocess.run([sys.executable, "-c", _REFAULT_SCRIPT, str(size_mb), mode],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return float(result.stdout.split()[-1])


@pytest.mark.skipif(not release_free_heap(), reason="needs glibc (its malloc_trim and mallopt)")
@pytest.mark.parametrize("size_mb", [48, 256])
def test_freed_large_blocks_are_reused_rather_than_faulted_in_again(size_mb):
    """After `reuse_freed_blocks`, a block a worker thread frees and allocates again takes its pages from the heap instead of faulting them in anew: 48 MiB (over glibc's default threshold) and 256 MiB (over a thread arena's 64 MiB heaps)."""
    before = _faults_per_round(size_mb, "default")
    after = _faults_per_round(size_mb, "reuse")
    assert before >= 1  # by default every round maps the block afresh
    assert after * 10 < before


@pytest.mark.parametrize("threshold_mb", [0, -4, 1.5, True, "64"])
def test_reuse_freed_blocks_names_a_bad_threshold(threshold_mb):
    """A threshold that is not a whole number of MiB of at least 1 is a ValueError naming `threshold_mb`."""
    with pytest.raises(ValueError, match="threshold_mb"):
        reuse_freed_blocks(threshold_mb)


def test_no_device_peak_on_a_cpu():
    """On a CPU there is no accelerator allocator to read: the device peak is None."""
    assert device_peak_mb() is None


def test_span_qa_leaves_keras_hub_unloaded():
    """Fine-tuning span QA from a checkpoint or a saved folder never imports keras-hub (0.15 GB of text ops it does not use)."""
    script = (
        "import sys\n"
        "import keras_transformer.training.span_qa\n"
        "import keras_transformer.models.bert.folder\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'keras_hub')\n"
        "assert not loaded, loaded[:5]\n"
        "print('ok')\n"
    )
    root = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]

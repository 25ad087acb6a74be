"""FLOP counting, measured peak, MFU and the energy estimate."""

import os

import pytest

from keras_transformer.training import assumed_power_watts
from keras_transformer.training import energy_wh
from keras_transformer.training import gpt_flops_per_token
from keras_transformer.training import measure_matmul_peak
from keras_transformer.training import model_flops_utilization
from keras_transformer.training.report import summary_line


def test_gpt_flops_is_nanogpt_formula():
    """FLOPs per token are 6N + 12*L*H*T (nanoGPT's estimate_mfu)."""
    # nanoGPT shakespeare_char: ~10.65M params, 6 layers, 384 wide, block 256.
    assert gpt_flops_per_token(10_650_000, 6, 384, 256) == 6 * 10_650_000 + 12 * 6 * 384 * 256


def test_mfu_is_achieved_over_peak():
    """MFU = flops_per_token * tokens/s / peak; a zero peak is a ValueError."""
    assert model_flops_utilization(1e6, 5e4, 1e11) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="peak_flops"):
        model_flops_utilization(1e6, 5e4, 0.0)


def test_measured_peak_is_plausible_and_cached():
    """A CPU matmul peak lies between 1 GFLOP/s and 100 TFLOP/s and is measured once."""
    peak = measure_matmul_peak("float32", size=256, min_seconds=0.05)
    assert 1e9 < peak < 1e14
    assert measure_matmul_peak("float32", size=256, min_seconds=0.05) == peak


def test_energy_estimate():
    """Energy is assumed power times time; CPU power is per core."""
    assert energy_wh(100.0, 36.0) == pytest.approx(1.0)
    assert assumed_power_watts("cpu") == pytest.approx(10.0 * os.cpu_count())


def test_summary_line_has_every_figure():
    """The summary names the headline, wall time, tok/s, FLOP/token, MFU and energy."""
    line = summary_line({
        "headline": {"name": "val_loss", "value": 1.4697}, "wall_time_s": 180.0,
        "tokens_per_second": 455_000, "flops_per_token": 6.7e7, "mfu": 0.31,
        "peak_flops": 9.9e14, "energy_wh": 20.0,
    })
    assert line == (
        "summary: val_loss=1.47 | wall 180.0s | 455,000 tok/s | 67 MFLOP/token | "
        "MFU 31.0% of 990 TFLOP/s measured peak | ~20 Wh"
    )

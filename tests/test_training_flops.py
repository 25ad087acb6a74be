"""FLOP counting, measured peak, MFU and the energy estimate."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.training import assumed_power_watts
from keras_transformer.training import energy_wh
from keras_transformer.training import gpt_flops_per_token
from keras_transformer.training import measure_matmul_peak
from keras_transformer.training import model_flops_utilization
from keras_transformer.training.report import plot_history, summary_line


def test_gpt_flops_is_nanogpt_formula():
    """FLOPs per token are 6N + 12*L*H*T (nanoGPT's estimate_mfu)."""
    # nanoGPT shakespeare_char: ~10.65M params, 6 layers, 384 wide, block 256.
    assert gpt_flops_per_token(10_650_000, 6, 384, 256) == 6 * 10_650_000 + 12 * 6 * 384 * 256


def test_gpt_model_flops_reads_sizes_from_the_model():
    """A built GPT's FLOPs are 6N + 12*L*H*T with N all parameters but the position table."""
    import numpy as np

    from keras_transformer.models import GPT
    from keras_transformer.training import gpt_model_flops_per_token

    V, T, L, H, I = 65, 32, 2, 16, 64
    gpt = GPT(vocab_size=V, max_length=T, num_layers=L, num_heads=2, hidden_dim=H,
              intermediate_dim=I, pad_id=None)
    gpt(np.zeros((1, 8), "int32"))
    # Per block: 2 LayerNorms, Q/K/V/output projections with biases, the MLP.
    block = 2 * 2 * H + 4 * (H * H + H) + (H * I + I) + (I * H + H)
    n = V * H + L * block + 2 * H  # tied token table, blocks, final LayerNorm
    assert gpt_model_flops_per_token(gpt, seq_len=24) == 6 * n + 12 * L * H * 24
    with pytest.raises(ValueError, match="seq_len"):
        gpt_model_flops_per_token(gpt, seq_len=T + 1)


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
    """The summary names the headline, wall time, tok/s, FLOP/token, MFU, energy and peak memory."""
    line = summary_line({
        "headline": {"name": "val_loss", "value": 1.4697}, "wall_time_s": 180.0,
        "tokens_per_second": 455_000, "flops_per_token": 6.7e7, "mfu": 0.31,
        "peak_flops": 9.9e14, "energy_wh": 20.0, "peak_rss_mb": 2100.2,
        "device_peak_mb": 30500.0,
    })
    assert line == (
        "summary: val_loss=1.470 | wall 180.0s | 455,000 tok/s | 67 MFLOP/token | "
        "MFU 31.0% of 990 TFLOP/s measured peak | ~20 Wh | peak RSS 2,100 MiB | "
        "device peak 30,500 MiB"
    )


@given(st.floats(-1e6, 1e6, allow_nan=False))
def test_summary_line_shows_the_headline_to_four_significant_digits(value):
    """The headline reads back within half a unit of its fourth significant digit, zeros shown (0 reads 0.000)."""
    line = summary_line({
        "headline": {"name": "mcc", "value": value}, "wall_time_s": 1.0,
        "tokens_per_second": 1.0, "flops_per_token": 1.0, "mfu": 0.1, "peak_flops": 1.0,
        "energy_wh": 1.0, "peak_rss_mb": 1.0,
    })
    printed = line.split(" | ")[0].removeprefix("summary: mcc=")
    assert float(printed) == pytest.approx(value, rel=5e-4, abs=0)
    digits = printed.lstrip("-").split("e")[0].replace(".", "").lstrip("0") or "0"
    assert len(digits) >= 4 or printed.lstrip("-").startswith("0.000")


@pytest.mark.parametrize("headline", ["acc", "val_loss"])
def test_plot_history_leaves_gaps_and_creates_the_folder(tmp_path, headline):
    """Metrics missing from some rows leave gaps, and a missing folder is created, not an error."""
    history = [{"step": 1, "train_loss": 2.0, "extra_loss": 1.0},
               {"step": 2, "train_loss": 1.0, "val_loss": 1.5, "acc": 0.5}]
    path = tmp_path / "new" / "loss_curve.png"
    plot_history(history, path, headline)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _bert_classifier(**sizes):
    import numpy as np

    from keras_transformer.models import BERT, BertClassifier

    backbone = BERT(vocab_size=50, max_length=16, num_heads=2, hidden_dim=16,
                    intermediate_dim=32, **sizes)
    model = BertClassifier(backbone, num_classes=2)
    model({"token_ids": np.ones((1, 4), "int32"), "segment_ids": np.zeros((1, 4), "int32")})
    return model


def test_bert_flops_count_a_shared_block_at_every_layer():
    """A BERT whose layers share one block costs as many FLOPs per token as the unshared BERT of the same size."""
    from keras_transformer.training import bert_flops_per_token

    shared = _bert_classifier(num_layers=3, share_weights=True)
    unshared = _bert_classifier(num_layers=3)
    assert shared.count_params() < unshared.count_params()
    assert bert_flops_per_token(shared, 16) == bert_flops_per_token(unshared, 16)


def test_bert_flops_count_the_factorized_embedding_projection():
    """Factorized embeddings (width E) add the E→H projection's 6·(E·H + H) FLOPs per token, never the table look-ups."""
    from keras_transformer.training import bert_flops_per_token

    E, H = 4, 16
    factorized = _bert_classifier(num_layers=1, embedding_dim=E)
    full = _bert_classifier(num_layers=1)
    assert bert_flops_per_token(factorized, 16) - bert_flops_per_token(full, 16) == 6 * (E * H + H)


def test_bad_arguments_are_value_errors():
    """A matrix side below 1, or BERT FLOPs of a model without a BERT, is a ValueError naming the argument."""
    import keras_transformer as kt
    from keras_transformer.training.flops import bert_flops_per_token

    with pytest.raises(ValueError, match="`size` must be a positive integer"):
        measure_matmul_peak("float32", size=0)
    gpt = kt.models.GPT(vocab_size=11, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                        intermediate_dim=16)
    with pytest.raises(ValueError, match="`task_model` must be a `BERT`.*gpt_model_flops_per_token"):
        bert_flops_per_token(gpt, 8)

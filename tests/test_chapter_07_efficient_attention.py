"""Chapter 07 (full, BigBird and LSH attention on long windows) runs end to end."""

import numpy as np
import pytest

from tests.chapter_runs import load_chapter, metrics, run_chapter
from tests.test_readme_figures import assert_readme_metrics

SCRIPT = "07_efficient_attention.py"
KINDS = ("full", "bigbird", "lsh")


@pytest.mark.chapter
def test_smoke_preset_trains_every_attention_and_times_it(tmp_path):
    """Each attention kind lowers its masked-character loss below chance and gets its own step time."""
    output = run_chapter(SCRIPT, "--preset", "smoke", "--out", str(tmp_path))
    result = metrics(tmp_path)
    assert_readme_metrics("07_efficient_attention.py", tmp_path)
    first, last = result["history"][0], result["history"][-1]
    for kind in KINDS:
        assert last[f"{kind}_val_loss"] < first[f"{kind}_val_loss"] < np.log(65) + 0.1, kind
        assert 0.0 < last[f"{kind}_val_accuracy"] <= 1.0
        assert result[f"{kind}_step_seconds"] > 0 and result[f"{kind}_params"] > 0
    # The three encoders differ only in attention: BigBird has MultiHeadAttention's weights.
    assert result["bigbird_params"] == result["full_params"]
    for name in ("loss_per_second.png", "step_seconds.png", "loss_curve.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    assert "summary: full_val_loss=" in output and "ms per step" in output


def test_unknown_or_repeated_attention_names_are_refused():
    """`attentions` must name distinct kinds from full, bigbird, lsh; anything else is a ValueError."""
    config = load_chapter(SCRIPT).EfficientAttentionConfig
    for bad in ("full,sparse", "lsh,lsh", ""):
        with pytest.raises(ValueError, match="attentions must be distinct"):
            config(attentions=bad)
    assert config(attentions="lsh, bigbird").kinds() == ["lsh", "bigbird"]

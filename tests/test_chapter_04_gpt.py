"""Chapter 04 (GPT on Tiny Shakespeare) runs end to end and resumes exactly."""

import numpy as np
import pytest

from tests.chapter_runs import kill_after_first_checkpoint, metrics, run_chapter, start_chapter
from tests.test_readme_figures import assert_readme_metrics

SCRIPT = "04_gpt.py"


@pytest.mark.chapter
def test_smoke_preset_trains_and_writes_its_run_folder(tmp_path):
    """The smoke preset lowers the validation loss, writes the run folder and a text sample."""
    output = run_chapter(SCRIPT, "--preset", "smoke", "--out", str(tmp_path))
    result = metrics(tmp_path)
    assert_readme_metrics("04_gpt.py", tmp_path)
    losses = [row["val_loss"] for row in result["history"]]
    assert losses[-1] < losses[0] < np.log(65) + 0.1
    for name in ("config.json", "metrics.json", "checkpoint.npz", "loss_curve.png", "samples.txt"):
        assert (tmp_path / name).exists(), name
    sample = (tmp_path / "samples.txt").read_text()
    assert len(sample) == 1 + 100 and sample in output  # the "\n" prompt + sample_length characters
    assert "summary: val_loss=" in output and "MFU" in output


@pytest.mark.chapter
def test_killed_smoke_run_resumes_to_the_same_metrics(tmp_path):
    """SIGKILL after the first checkpoint, then --resume, ends with the uninterrupted run's history."""
    args = ("--preset", "smoke", "--set", "steps=45")
    run_chapter(SCRIPT, *args, "--out", str(tmp_path / "straight"))
    killed = tmp_path / "killed"
    step = kill_after_first_checkpoint(start_chapter(SCRIPT, *args, "--out", str(killed)), killed)
    assert step < 45, "the run ended before it could be killed"
    output = run_chapter(SCRIPT, *args, "--out", str(killed), "--resume")
    assert "Resuming" in output
    straight, resumed = metrics(tmp_path / "straight")["history"], metrics(killed)["history"]
    assert [r["step"] for r in resumed] == [r["step"] for r in straight] == [15, 30, 45]
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(
            [a["train_loss"], a["val_loss"]], [b["train_loss"], b["val_loss"]], rtol=1e-6
        )

"""Chapter 05, SQuAD part: the smoke preset fine-tunes span QA and scores EM/F1."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.chapter_runs import metrics, run_chapter
from tests.data_folder import DATA_DIR, needs_data
from tests.test_readme_figures import assert_readme_metrics


@pytest.mark.chapter
@needs_data("squad_v1.1/dev-v1.1.json")
def test_smoke_preset_scores_exact_match_and_f1(tmp_path):
    """The smoke preset trains, evaluates EM/F1 on held-out articles and writes one answer per question."""
    output = run_chapter("05_bert_squad.py", "--preset", "smoke", "--data-dir", DATA_DIR,
                         "--out", str(tmp_path))
    result = metrics(tmp_path)
    assert_readme_metrics("05_bert_squad.py", tmp_path)
    assert result["finished"] and result["headline"]["name"] == "f1"
    last = result["history"][-1]
    assert 0 <= last["exact_match"] <= last["f1"] <= 100 and np.isfinite(last["train_loss"])
    answers = json.loads((tmp_path / "predictions.json").read_text())
    assert len(answers) == 32 and all(isinstance(a, str) for a in answers.values())
    assert "articles 1-38 / 39-48" in output and "exact match" in output

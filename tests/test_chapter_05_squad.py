"""Chapter 05, SQuAD part: the smoke preset fine-tunes span QA and scores EM/F1."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

from tests.chapter_runs import metrics, run_chapter

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("KT_DATA_DIR") or str(ROOT.parent / "shared" / "data")


@pytest.mark.skipif(not (pathlib.Path(DATA_DIR) / "squad_v1.1" / "dev-v1.1.json").is_file(),
                    reason=f"no SQuAD dev file in {DATA_DIR} (set KT_DATA_DIR)")
def test_smoke_preset_scores_exact_match_and_f1(tmp_path):
    """The smoke preset trains, evaluates EM/F1 on held-out articles and writes one answer per question."""
    output = run_chapter("05_bert_squad.py", "--preset", "smoke", "--data-dir", DATA_DIR,
                         "--out", str(tmp_path))
    result = metrics(tmp_path)
    assert result["finished"] and result["headline"]["name"] == "f1"
    last = result["history"][-1]
    assert 0 <= last["exact_match"] <= last["f1"] <= 100 and np.isfinite(last["train_loss"])
    answers = json.loads((tmp_path / "predictions.json").read_text())
    assert len(answers) == 32 and all(isinstance(a, str) for a in answers.values())
    assert "articles 1-38 / 39-48" in output and "exact match" in output

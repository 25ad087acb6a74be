"""Chapter 06 (the BERT family: every objective pretrained, fine-tuned on SQuAD and compared) runs end to end."""

import pytest

from tests.chapter_runs import load_chapter, metrics, run_chapter
from tests.test_readme_figures import assert_readme_metrics

SCRIPT = "06_bert_family.py"
OBJECTIVES = ("bert", "roberta", "albert", "electra", "random", "distilbert")
PRETRAINING = {"bert": "nsp_accuracy", "roberta": "mlm_accuracy", "albert": "sop_accuracy",
               "electra": "rtd_auc"}


@pytest.mark.chapter
def test_smoke_preset_pretrains_fine_tunes_and_compares_every_objective(tmp_path):
    """Every objective gets its pretraining figures, SQuAD EM/F1, CoLA MCC (all but the SQuAD-distilled student) and inference time in one table; ALBERT is the smallest, the distilled student smaller than its teacher."""
    # Sixteen fresh processes (the corpus, then fifteen runs): about 6 minutes
    # alone on 2 cores, more beside another test.
    output = run_chapter(SCRIPT, "--preset", "smoke", "--out", str(tmp_path), timeout=1200)
    table = metrics(tmp_path)["models"]
    assert_readme_metrics("06_bert_family.py", tmp_path)
    assert list(table) == list(OBJECTIVES)
    for name, row in table.items():
        assert 0.0 <= row["squad_f1"] <= 100.0 and row["inference_ms_per_batch"] > 0, name
        assert (tmp_path / name / "squad" / "predictions.json").is_file()
        if name == "distilbert":
            assert "cola_mcc" not in row
        else:
            assert -1.0 <= row["cola_mcc"] <= 1.0, name
            assert row["cola_mcc"] == metrics(tmp_path / name / "cola")["history"][-1]["mcc"]
        if name in PRETRAINING:
            assert 0.0 <= row[PRETRAINING[name]] <= 1.0 and row["pretrain_tokens_per_second"] > 0
            assert (tmp_path / name / "pretrain" / "backbone.weights.h5").is_file()
    assert 0.0 <= table["electra"]["rtd_baseline_accuracy"] <= 1.0
    assert table["albert"]["num_params"] < table["bert"]["num_params"]
    assert table["electra"]["num_params"] == table["bert"]["num_params"]  # the same encoder
    assert table["distilbert"]["num_params"] < table["bert"]["num_params"]
    assert (tmp_path / "family.png").read_bytes()[:4] == b"\x89PNG"
    assert "06 BERT family (smoke): bert F1" in output


def test_objectives_are_checked_and_distilbert_needs_its_teacher():
    """Unknown objective names, an empty list, or distilbert without bert are ValueErrors; distilbert runs after bert."""
    config = load_chapter(SCRIPT).FamilyConfig
    for bad, match in (("bert,gpt", "unknown"), ("", "objectives must be"),
                       ("distilbert", "list bert too")):
        with pytest.raises(ValueError, match=match):
            config(objectives=bad)
    assert config(objectives="distilbert, bert").names() == ["bert", "distilbert"]

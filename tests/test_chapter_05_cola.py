"""Chapter 05, CoLA part: Matthews correlation helpers, the task's batches, and a smoke run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.metrics import classification as cm
from tests.chapter_runs import load_chapter, metrics, run_chapter
from tests.data_folder import DATA_DIR, needs_data
from tests.test_readme_figures import assert_readme_metrics

SCRIPT = "05_bert_cola.py"
needs_cola = needs_data("cola/raw")


ch05 = load_chapter(SCRIPT)


# ------------------------------------------------------------------ classification metrics


def test_mcc_is_one_for_perfect_predictions():
    """Predicting every label right gives MCC 1."""
    y = [0, 1, 1, 0, 1, 1, 1]
    assert cm.matthews_corrcoef(y, y) == pytest.approx(1.0)


def test_mcc_is_minus_one_for_inverted_predictions():
    """Predicting every label wrong (0 <-> 1) gives MCC -1."""
    y = np.array([0, 1, 1, 0, 1, 1, 1])
    assert cm.matthews_corrcoef(y, 1 - y) == pytest.approx(-1.0)


@pytest.mark.parametrize("constant", [0, 1])
def test_mcc_is_zero_for_a_constant_prediction(constant):
    """Always answering the same class gives MCC 0, even when it is the majority class."""
    y = np.array([1] * 7 + [0] * 3)
    assert cm.matthews_corrcoef(y, np.full_like(y, constant)) == 0.0


def test_mcc_matches_the_formula_on_a_known_case():
    """MCC equals (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) on a worked example."""
    y_true = [1, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    y_pred = [1, 1, 0, 1, 0, 1, 0, 1, 0, 0]
    tp, tn, fp, fn = 4, 3, 1, 2
    expected = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert cm.matthews_corrcoef(y_true, y_pred) == pytest.approx(expected)
    np.testing.assert_array_equal(cm.confusion_matrix(y_true, y_pred), [[tn, fp], [fn, tp]])


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=40))
def test_confusion_matrix_counts_every_pair_once(pairs):
    """Entry (i, j) counts the examples of true class i predicted as j; the entries sum to n."""
    y_true, y_pred = (np.array(v) for v in zip(*pairs))
    matrix = cm.confusion_matrix(y_true, y_pred, num_classes=3)
    assert matrix.sum() == len(pairs)
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == np.sum((y_true == i) & (y_pred == j))


def test_classification_scores_of_logits():
    """Scores take the argmax of logits; zero logits over 2 classes cost log 2."""
    labels = np.array([0, 1, 1, 0])
    logits = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0], [0.0, 0.0]])
    scores = cm.classification_scores(labels, logits)
    assert scores["accuracy"] == 0.75
    assert scores["mcc"] == pytest.approx(cm.matthews_corrcoef(labels, [0, 1, 0, 0]))
    assert cm.classification_scores([0, 1], np.zeros((2, 2)))["loss"] == pytest.approx(np.log(2))


@pytest.mark.parametrize("y_true, y_pred, match", [
    ([0, 1], [0], "same length"),
    ([], [], "non-empty"),
    ([0, 1], [0.5, 1], "integer class ids"),
])
def test_bad_label_arrays_are_clear_errors(y_true, y_pred, match):
    """Mismatched, empty or non-integer label arrays are a ValueError saying so."""
    with pytest.raises(ValueError, match=match):
        cm.matthews_corrcoef(y_true, y_pred)


def test_confusion_matrix_rejects_class_ids_out_of_range():
    """A class id >= num_classes is a ValueError naming num_classes."""
    with pytest.raises(ValueError, match="num_classes=2"):
        cm.confusion_matrix([0, 2], [0, 1])


# ------------------------------------------------------------------ chapter task


@pytest.mark.parametrize("initializations", ["checkpoint,nope", "", "random,random"])
def test_config_rejects_unknown_or_repeated_initializations(initializations):
    """initializations must name distinct backbone builders; anything else is a ValueError listing them."""
    with pytest.raises(ValueError, match="checkpoint"):
        ch05.ColaConfig(initializations=initializations)


def test_config_rejects_max_length_over_64():
    """max_length above the chapter's 64 tokens is a ValueError."""
    with pytest.raises(ValueError, match="max_length"):
        ch05.ColaConfig(max_length=65)


@needs_cola
def test_train_batches_are_length_buckets_of_whole_epochs():
    """Batches are a pure function of (seed, step), cut to the smallest bucket holding every
    sentence, give every model the same labels, and one epoch never repeats a sentence."""
    task = ch05.ColaTask(ch05.SMOKE, DATA_DIR)
    c = ch05.SMOKE
    assert task.steps_per_epoch == c.train_size // c.batch_size
    seen = []
    for step in range(task.steps_per_epoch):
        x, y = task.train_batch(step)
        rows, length = task.batches(step)
        assert x["minilm_token_ids"].shape == (c.batch_size, length) and length in c.buckets()
        np.testing.assert_array_equal(x["minilm_token_ids"],
                                      task.train_x["minilm_token_ids"][rows, :length])
        assert not task.train_x["minilm_padding_mask"][rows, length:].any()  # nothing real cut
        assert set(y) == {"checkpoint", "random"}
        np.testing.assert_array_equal(y["checkpoint"], y["random"])
        seen.extend(rows)
    assert len(set(seen)) == len(seen)
    np.testing.assert_array_equal(task.train_batch(1)[0]["minilm_token_ids"],
                                  ch05.ColaTask(c, DATA_DIR).train_batch(1)[0]["minilm_token_ids"])


def test_buckets_end_at_max_length():
    """Training lengths are the buckets below max_length, then max_length; a malformed list is a ValueError."""
    assert ch05.ColaConfig(max_length=40, bucket_lengths="16,24,48").buckets() == (16, 24, 40)
    with pytest.raises(ValueError, match="bucket_lengths"):
        ch05.ColaConfig(bucket_lengths="16;32")


# ------------------------------------------------------------------ smoke run


@pytest.mark.chapter
@needs_cola
def test_smoke_preset_writes_scores_and_figures(tmp_path):
    """The smoke preset fine-tunes each initialization in turn, in its own folder and process, and the run
    folder compares them: dev MCC of each at the same steps, the curves and the final scores."""
    output = run_chapter(SCRIPT, "--preset", "smoke", "--data-dir", DATA_DIR, "--out", str(tmp_path))
    result = metrics(tmp_path)
    assert_readme_metrics("05_bert_cola.py", tmp_path,
                          ["checkpoint 0.363", "random 0.000", "7.9 min", "peak 1.89 GB"])
    assert result["finished"] and result["step"] == ch05.SMOKE.steps
    assert result["headline"]["name"] == "checkpoint_in_domain_mcc"
    assert result["runs"] == ["checkpoint", "random"]
    assert [r["step"] for r in result["history"]] == [4, 8]
    for name in ("checkpoint", "random"):
        own = metrics(tmp_path / name)
        assert own["finished"] and own["headline"]["name"] == f"{name}_in_domain_mcc"
        assert (tmp_path / name / "loss_curve.png").stat().st_size > 0
        for dev in ("in_domain", "out_of_domain"):
            for metric in ("mcc", "accuracy", "loss"):
                key = f"{name}_{dev}_{metric}"
                assert np.isfinite(result["history"][-1][key])
                assert result["history"][-1][key] == own["history"][-1][key]
            assert -1 <= result["history"][-1][f"{name}_{dev}_mcc"] <= 1
            assert (tmp_path / name / f"confusion_matrix_{dev}.png").stat().st_size > 0
        assert result["history"][-1][f"{name}_train_loss"] == own["history"][-1]["train_loss"]
    for png in ("mcc_curves.png", "mcc.png"):
        assert (tmp_path / png).stat().st_size > 0, png
    assert result["wall_time_s"] == pytest.approx(
        sum(metrics(tmp_path / name)["wall_time_s"] for name in ("checkpoint", "random")))
    assert "summary: checkpoint_in_domain_mcc=" in output
    assert "final dev MCC: checkpoint in_domain" in output


@pytest.mark.chapter
@needs_cola
@needs_data("squad_v1.1")
@needs_data("wikitext2")
def test_pretraining_smoke_run_feeds_the_pretrained_initialization(tmp_path):
    """The pretraining chapter reports held-out MLM/NSP accuracy, probes its backbone against
    the same network from scratch on SQuAD, and saves a backbone folder that the CoLA chapter
    fine-tunes as its "pretrained" initialization."""
    pretrained = tmp_path / "pretraining"
    output = run_chapter("05_bert_pretraining.py", "--preset", "smoke", "--data-dir", DATA_DIR,
                         "--out", str(pretrained))
    result = metrics(pretrained)
    last = result["history"][-1]
    assert_readme_metrics("05_bert_pretraining.py", pretrained)
    assert 0 <= last["mlm_accuracy"] <= 1 and 0 <= last["nsp_accuracy"] <= 1
    assert last["train_mlm_logits_loss"] > 0 and last["train_nsp_logits_loss"] > 0  # each head's
    assert "held-out MLM accuracy" in output
    # The SQuAD probe: the saved backbone and the same network from scratch, one recipe.
    for probe, from_scratch in (("pretrained", False), ("random", True)):
        folder = pretrained / f"squad_{probe}"
        probe_config = json.loads((folder / "config.json").read_text())["config"]
        assert probe_config["encoder_dir"] == str(pretrained)
        assert probe_config["from_scratch"] is from_scratch
        for metric in ("exact_match", "f1"):
            assert result[f"squad_{probe}_{metric}"] == metrics(folder)["history"][-1][metric]
    assert result["chapter_wall_time_s"] == pytest.approx(
        sum(metrics(p)["wall_time_s"] for p in
            (pretrained, pretrained / "squad_pretrained", pretrained / "squad_random")))
    for png in ("transfer.png", "nsp.png"):
        assert (pretrained / png).stat().st_size > 0, png
    assert "SQuAD F1 pretrained" in output
    cola = tmp_path / "cola"
    run_chapter(SCRIPT, "--preset", "smoke", "--data-dir", DATA_DIR, "--out", str(cola),
                "--set", "initializations=pretrained", "--set", f"pretrained_dir={pretrained}")
    result = metrics(cola)
    assert_readme_metrics("05_bert_cola.py", cola, ["pretrained 0.000"])
    assert result["headline"]["name"] == "pretrained_in_domain_mcc"
    assert -1 <= result["history"][-1]["pretrained_out_of_domain_mcc"] <= 1

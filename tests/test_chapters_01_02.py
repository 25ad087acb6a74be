"""Chapters 01 (attention) and 02 (positional encoding): data generators and smoke runs."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from keras_transformer.data.synthetic import recall_examples, step_rng
from tests.chapter_runs import load_chapter, run_chapter
from tests.test_readme_figures import assert_readme_metrics


ch01 = load_chapter("01_attention.py")
ch02 = load_chapter("02_positional_encoding.py")


# ------------------------------------------------------------------ chapter 01 data

def test_recall_test_set_is_disjoint_stream_from_training():
    """The fixed test set is drawn from its own stream, not from any training step's."""
    task = ch01.RecallTask(ch01.SMOKE)
    train = recall_examples(step_rng(ch01.SMOKE.seed, 0), ch01.SMOKE.test_size, 4, 8, 4)[0]
    assert not np.array_equal(task.test_x, train)


def test_recall_config_needs_enough_keys_and_values():
    """Fewer key or value ids than pairs is a ValueError (they are unique per example)."""
    with pytest.raises(ValueError, match="num_pairs"):
        ch01.RecallConfig(num_pairs=8, num_keys=4)


def test_token_names_mark_keys_values_and_the_query():
    """Heatmap labels read k<i>, v<j>, and ?k<i> for the final query."""
    assert ch01.token_names([1, 5, 2, 4, 2], num_keys=3) == ["k0", "v1", "k1", "v0", "?k1"]


# ------------------------------------------------------------------ chapter 02 data


@pytest.mark.parametrize("fields, match", [
    ({"eval_lengths": "8,32"}, "eval_lengths"),
    ({"eval_lengths": "16,x"}, "comma-separated"),
    ({"min_length": 0}, "min_length"),
    ({"vocab_size": 2}, "vocab_size"),
])
def test_position_config_rejects_bad_lengths(fields, match):
    """Evaluation lengths below the training length, non-integers or bad sizes are ValueErrors."""
    with pytest.raises(ValueError, match=match):
        ch02.PositionConfig(**fields)


def test_learned_table_covers_the_longest_evaluation_length():
    """The learned position table has a row for every evaluated position, not just trained ones."""
    task = ch02.PositionTask(ch02.SMOKE)
    model = task.build_model()
    table = model.get_layer("learned_embedding").position_embedding.weights[0]
    assert table.shape[0] == max(ch02.parse_lengths(ch02.SMOKE.eval_lengths))
    x = task.test_sets[f"len{ch02.SMOKE.train_length + 4}"][0][:2]
    assert model.predict(x, verbose=0)["learned"].shape == (*x.shape, ch02.SMOKE.vocab_size)


# ------------------------------------------------------------------ smoke runs


def run_smoke(script: str, out: pathlib.Path) -> dict:
    """Runs `chapters/<script> --preset smoke --out out`; returns metrics.json."""
    output = run_chapter(script, "--preset", "smoke", "--out", str(out), timeout=180)
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "smoke"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] and metrics["step"] == config["config"]["steps"]
    assert "summary:" in output
    return metrics


@pytest.mark.chapter
def test_chapter_01_smoke_run(tmp_path):
    """The smoke preset writes config, metrics with both accuracies, heatmaps and the accuracy chart."""
    metrics = run_smoke("01_attention.py", tmp_path)
    assert_readme_metrics("01_attention.py", tmp_path)
    assert metrics["headline"]["name"] == "attention_accuracy"
    last = metrics["history"][-1]
    for key in ("attention_accuracy", "baseline_accuracy", "chance", "attention_to_answer"):
        assert 0.0 <= last[key] <= 1.0
    # The baseline is sized to the attention model: within 10% of its parameters.
    assert abs(last["baseline_params"] / last["attention_params"] - 1) < 0.1
    for name in ("attention_example_0.png", "attention_example_1.png", "accuracy.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.chapter
def test_chapter_02_smoke_run(tmp_path):
    """The smoke preset writes per-variant, per-length accuracies, the permutation check and the plots."""
    metrics = run_smoke("02_positional_encoding.py", tmp_path)
    assert_readme_metrics("02_positional_encoding.py", tmp_path)
    assert metrics["headline"]["name"] == "accuracy_train_sinusoidal"
    last = metrics["history"][-1]
    for variant in ch02.VARIANTS:
        for test_set in ("train", "len8", "len12"):
            assert 0.0 <= last[f"accuracy_{test_set}_{variant}"] <= 1.0
    # Without positions, permuting the input permutes the output; with them it does not.
    assert last["permutation_error_none"] < 1e-4
    assert last["permutation_error_learned"] > 1e-2
    assert last["permutation_error_sinusoidal"] > 1e-2
    for name in ("sinusoidal_encoding.png", "sinusoidal_similarity.png", "learned_similarity.png",
                 "accuracy_by_length.png", "accuracy_by_variant.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"

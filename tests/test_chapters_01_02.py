"""Chapters 01 (attention) and 02 (positional encoding): data generators and smoke runs."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"


def load_chapter(file_name: str):
    """Imports a chapter script (its name starts with a digit) as a module."""
    path = CHAPTERS / file_name
    spec = importlib.util.spec_from_file_location(f"chapter_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ch01 = load_chapter("01_attention.py")
ch02 = load_chapter("02_positional_encoding.py")


# ------------------------------------------------------------------ chapter 01 data

recall_sizes = st.integers(1, 6).flatmap(lambda pairs: st.tuples(
    st.just(pairs), st.integers(pairs, pairs + 6), st.integers(pairs, pairs + 6)))


@given(sizes=recall_sizes, batch=st.integers(1, 8), seed=st.integers(0, 2**20),
       step=st.integers(0, 10**6))
def test_recall_label_is_the_value_paired_with_the_query_key(sizes, batch, seed, step):
    """The label is the value right after the query key's occurrence, and answer_position points at it."""
    num_pairs, num_keys, num_values = sizes
    tokens, labels, answer = ch01.recall_batch(seed, step, batch, num_pairs, num_keys, num_values)
    assert tokens.shape == (batch, 2 * num_pairs + 1) and tokens.dtype == np.int32
    for row, label, position in zip(tokens, labels, answer):
        keys, values, query = row[0:-1:2], row[1:-1:2], row[-1]
        assert np.all((1 <= keys) & (keys <= num_keys))
        assert np.all((num_keys < values) & (values <= num_keys + num_values))
        assert len(set(keys)) == num_pairs and len(set(values)) == num_pairs
        (index,) = np.flatnonzero(keys == query)  # exactly one pair holds the query key
        assert label == values[index] - 1 - num_keys
        assert position == 2 * index + 1 and row[position] == values[index]


@given(seed=st.integers(0, 2**20), step=st.integers(0, 10**6))
def test_recall_batches_are_a_pure_function_of_seed_and_step(seed, step):
    """The same (seed, step) gives the same batch; the next step gives another one."""
    first = ch01.recall_batch(seed, step, 16, 8, 16, 8)
    again = ch01.recall_batch(seed, step, 16, 8, 16, 8)
    other = ch01.recall_batch(seed, step + 1, 16, 8, 16, 8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_recall_test_set_is_disjoint_stream_from_training():
    """The fixed test set is drawn from its own stream, not from any training step's."""
    task = ch01.RecallTask(ch01.SMOKE)
    train = ch01.recall_batch(ch01.SMOKE.seed, 0, ch01.SMOKE.test_size, 4, 8, 4)[0]
    assert not np.array_equal(task.test_x, train)


def test_recall_config_needs_enough_keys_and_values():
    """Fewer key or value ids than pairs is a ValueError (they are unique per example)."""
    with pytest.raises(ValueError, match="num_pairs"):
        ch01.RecallConfig(num_pairs=8, num_keys=4)


def test_token_names_mark_keys_values_and_the_query():
    """Heatmap labels read k<i>, v<j>, and ?k<i> for the final query."""
    assert ch01.token_names([1, 5, 2, 4, 2], num_keys=3) == ["k0", "v1", "k1", "v0", "?k1"]


# ------------------------------------------------------------------ chapter 02 data


@given(vocab=st.integers(3, 20), lengths=st.tuples(st.integers(1, 10), st.integers(0, 6)),
       extra=st.integers(0, 3), batch=st.integers(1, 8), seed=st.integers(0, 2**20),
       step=st.integers(0, 10**6))
def test_reversal_labels_are_the_sequence_read_backwards(vocab, lengths, extra, batch, seed,
                                                         step):
    """Label t is token n-1-t on real positions; padding is 0 with weight 0; lengths stay in range."""
    low, high = lengths[0], lengths[0] + lengths[1]
    rng = np.random.default_rng([seed, step])
    tokens, labels, weights = ch02.reversal_examples(rng, batch, vocab, low, high, high + extra)
    assert tokens.shape == labels.shape == weights.shape == (batch, high + extra)
    for row, label, weight in zip(tokens, labels, weights):
        n = int((row != 0).sum())
        assert low <= n <= high
        assert np.all(row[:n] > 0) and np.all(row[:n] < vocab) and np.all(row[n:] == 0)
        np.testing.assert_array_equal(label[:n], row[:n][::-1])
        np.testing.assert_array_equal(label[n:], 0)
        np.testing.assert_array_equal(weight, row != 0)


@given(seed=st.integers(0, 2**20), step=st.integers(0, 10**6))
def test_reversal_batches_are_a_pure_function_of_seed_and_step(seed, step):
    """The same (seed, step) gives the same batch; the next step gives another one."""
    first = ch02.reversal_batch(seed, step, 16, 17, 2, 16)
    again = ch02.reversal_batch(seed, step, 16, 17, 2, 16)
    other = ch02.reversal_batch(seed, step + 1, 16, 17, 2, 16)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


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
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(CHAPTERS / script), "--preset", "smoke", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "smoke"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] and metrics["step"] == config["config"]["steps"]
    assert "summary:" in result.stdout
    return metrics


def test_chapter_01_smoke_run(tmp_path):
    """The smoke preset writes config, metrics with both accuracies, heatmaps and the accuracy chart."""
    metrics = run_smoke("01_attention.py", tmp_path)
    assert metrics["headline"]["name"] == "attention_accuracy"
    last = metrics["history"][-1]
    for key in ("attention_accuracy", "baseline_accuracy", "chance", "attention_to_answer"):
        assert 0.0 <= last[key] <= 1.0
    # The baseline is sized to the attention model: within 10% of its parameters.
    assert abs(last["baseline_params"] / last["attention_params"] - 1) < 0.1
    for name in ("attention_example_0.png", "attention_example_1.png", "accuracy.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_chapter_02_smoke_run(tmp_path):
    """The smoke preset writes per-variant, per-length accuracies, the permutation check and the plots."""
    metrics = run_smoke("02_positional_encoding.py", tmp_path)
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

"""The figures README.md's chapter table quotes name their command, and the chapters still record them.

`FIGURES` maps each chapter script to the figures its README status cell
quotes, each with the `metrics.json` key it is read from (a key of the final
`history` entry, a top-level key such as `wall_time_s`, or a dotted path into
a nested table such as chapter 06's `models.bert.squad_f1`). The chapters'
smoke tests call `assert_readme_metrics` on the run folders they already
produce, so this costs no extra chapter run; the tests here check the table
against the README.
"""

from __future__ import annotations

import json
import math
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# script -> {figure as quoted in README.md: metrics.json key}
FIGURES = {
    "01_attention.py": {
        "attention 1.000": "attention_accuracy",
        "baseline 0.111": "baseline_accuracy",
        "chance 0.125": "chance",
        "13 s": "wall_time_s",
        "peak 0.95 GB": "peak_rss_mb",
    },
    "02_positional_encoding.py": {
        "none 0.25": "accuracy_train_none",
        "learned 1.00": "accuracy_train_learned",
        "sinusoidal 1.00": "accuracy_train_sinusoidal",
        "1.8 min": "wall_time_s",
        "peak 1.55 GB": "peak_rss_mb",
    },
    "03_translation.py": {
        "BLEU 33.8 greedy": "transformer_greedy_bleu",
        "34.8 beam": "transformer_beam_bleu",
        "5.7 M params; RNN": "transformer_params",
        "RNN 23.5": "rnn_greedy_bleu",
        "/ 25.1": "rnn_beam_bleu",
        "9.5 M params": "rnn_params",
        "71 min": "wall_time_s",
        "peak 1.99 GB": "peak_rss_mb",
    },
    "04_gpt.py": {
        "val loss 1.876": "val_loss",
        "63 s": "wall_time_s",
        "peak 1.21 GB": "peak_rss_mb",
    },
    "05_bert_pretraining.py": {
        "MLM 0.353": "mlm_accuracy",
        "NSP 0.693": "nsp_accuracy",
        "word overlap alone 0.659": "nsp_overlap_baseline_accuracy",
        "SQuAD F1 pretrained 10.9": "squad_pretrained_f1",
        "vs random 9.4": "squad_random_f1",
        "(EM 2.6": "squad_pretrained_exact_match",
        "vs 1.8)": "squad_random_exact_match",
        "21 min": "chapter_wall_time_s",
        "peak 1.85 GB": "chapter_peak_rss_mb",
    },
    "05_bert_cola.py": {
        "checkpoint 0.363": "checkpoint_in_domain_mcc",
        "pretrained 0.000": "pretrained_in_domain_mcc",
        "random 0.000": "random_in_domain_mcc",
        "7.9 min": "wall_time_s",
        "peak 1.89 GB": "peak_rss_mb",
    },
    "05_bert_squad.py": {
        "EM 41.4": "exact_match",
        "F1 56.2": "f1",
        "15 min": "wall_time_s",
        "peak 1.96 GB": "peak_rss_mb",
    },
    "06_bert_family.py": {
        "SQuAD F1 bert 9.2": "models.bert.squad_f1",
        "roberta 9.7": "models.roberta.squad_f1",
        "albert 9.0": "models.albert.squad_f1",
        "electra 8.7": "models.electra.squad_f1",
        "random 8.8": "models.random.squad_f1",
        "distilbert 8.8": "models.distilbert.squad_f1",
        "CoLA MCC 0.000": "models.bert.cola_mcc",
        "RTD AUC 0.54": "models.electra.rtd_auc",
        "ALBERT 0.71 M params": "models.albert.num_params",
        "vs BERT 1.79 M": "models.bert.num_params",
        "student 25 ms": "models.distilbert.inference_ms_per_batch",
        "vs teacher 47 ms": "models.distilbert.teacher_inference_ms_per_batch",
        "22 min": "wall_seconds",
        "peak 1.83 GB": "peak_rss_mb",
    },
    "07_efficient_attention.py": {
        "full 0.154": "full_val_accuracy",
        "BigBird 0.335": "bigbird_val_accuracy",
        "LSH 0.269": "lsh_val_accuracy",
        "full 116 ms": "full_step_seconds",
        "/ 29 ms": "bigbird_step_seconds",
        "/ 31 ms": "lsh_step_seconds",
        "5.6 min": "wall_time_s",
        "peak 1.40 GB": "peak_rss_mb",
    },
}

_COMMAND = re.compile(r"`python chapters/(\S+\.py) --preset cpu`: ([^`|]*)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def quoted_figures(readme: str) -> dict[str, str]:
    """`{script: the text after its "python chapters/<script> --preset cpu" command}` in the chapter table."""
    table = [line for line in readme.splitlines() if line.startswith("| 0")]
    return {m.group(1): m.group(2) for line in table for m in _COMMAND.finditer(line)}


def metric_at(metrics: dict, key: str):
    """`metrics[key]`, where a dotted key walks into nested tables ("models.bert.squad_f1")."""
    value = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def assert_readme_metrics(script: str, run_dir, figures=None) -> None:
    """Assert `run_dir/metrics.json` holds a finite number for each README figure of `script`.

    `figures` picks some of `FIGURES[script]` (for a run that makes only
    those, e.g. one CoLA initialization); default all of them.
    """
    metrics = json.loads((pathlib.Path(run_dir) / "metrics.json").read_text())
    last = metrics["history"][-1] if metrics.get("history") else {}
    for figure in figures or FIGURES[script]:
        key = FIGURES[script][figure]
        value = last.get(key, metric_at(metrics, key))
        assert isinstance(value, (int, float)) and math.isfinite(value), (
            f"README quotes {figure!r} of {script} from metrics.json key {key!r}, "
            f"which the run did not write as a number."
        )


def test_every_chapter_figure_states_its_command_and_preset():
    """Each chapter row's figures follow the `python chapters/<script> --preset cpu` command that produced them."""
    quoted = quoted_figures((ROOT / "README.md").read_text(encoding="utf-8"))
    assert sorted(quoted) == sorted(FIGURES)
    for script, figures in FIGURES.items():
        assert (ROOT / "chapters" / script).exists(), script
        for figure in figures:
            assert figure in quoted[script], (script, figure)


def test_every_number_in_the_table_is_mapped_to_a_metric():
    """No figure in a chapter row's status goes without a metrics.json key in `FIGURES`."""
    quoted = quoted_figures((ROOT / "README.md").read_text(encoding="utf-8"))
    for script, text in quoted.items():
        mapped = {n for figure in FIGURES[script] for n in _NUMBER.findall(figure)}
        assert set(_NUMBER.findall(text)) <= mapped, (script, text)


def test_every_chapter_smoke_test_checks_the_quoted_metrics():
    """Every script in `FIGURES` has a smoke test that calls `assert_readme_metrics` on its run folder."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_chapter*.py"))
    for script in FIGURES:
        assert re.search(rf"assert_readme_metrics\(\s*\"{re.escape(script)}\"", sources), script


def test_dotted_keys_read_nested_tables_and_miss_as_none():
    """A dotted key walks into nested dicts; a missing step anywhere gives None, not an error."""
    metrics = {"models": {"bert": {"squad_f1": 9.1}}, "wall_seconds": 3.0}
    assert metric_at(metrics, "models.bert.squad_f1") == 9.1
    assert metric_at(metrics, "wall_seconds") == 3.0
    assert metric_at(metrics, "models.albert.squad_f1") is None
    assert metric_at(metrics, "wall_seconds.total") is None


def test_assert_readme_metrics_fails_on_a_missing_metric(tmp_path):
    """A run folder whose metrics.json lacks a quoted metric fails the check; one with it passes."""
    history = [{"step": 1, "val_loss": 1.9}]
    (tmp_path / "metrics.json").write_text(json.dumps({"history": history}))
    with pytest.raises(AssertionError, match="wall_time_s"):
        assert_readme_metrics("04_gpt.py", tmp_path)
    (tmp_path / "metrics.json").write_text(
        json.dumps({"history": history, "wall_time_s": 3.0, "peak_rss_mb": 900.0}))
    assert_readme_metrics("04_gpt.py", tmp_path)

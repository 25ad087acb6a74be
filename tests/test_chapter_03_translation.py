"""Chapter 03 (translation, Transformer vs RNN + attention): loss, cross-attention probe, smoke run."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from keras_transformer.data import multi30k
from tests.chapter_runs import load_chapter, metrics, run_chapter
from tests.test_readme_figures import assert_readme_metrics

SCRIPT = "03_translation.py"


ch03 = load_chapter(SCRIPT)

needs_data = pytest.mark.skipif(
    not os.environ.get("KT_DATA_DIR"), reason="set KT_DATA_DIR to the shared data folder"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A fresh tokenization cache for this module (the smoke vocabulary is learned once here)."""
    path = tmp_path_factory.mktemp("kt_cache")
    previous = os.environ.get("KT_CACHE_DIR")
    os.environ["KT_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        del os.environ["KT_CACHE_DIR"]
    else:
        os.environ["KT_CACHE_DIR"] = previous


# -------------------------------------------------------------------------- the task


@needs_data
def test_training_batches_are_pure_teacher_forcing_batches(cache_dir):
    """Batch `step` is the same on every call, its labels are the decoder inputs shifted
    left and ended, and both models get the same labels."""
    task = ch03.TranslationTask(ch03.SMOKE)
    (x, y), (x2, y2) = task.train_batch(7), task.train_batch(7)
    np.testing.assert_array_equal(x["encoder_token_ids"], x2["encoder_token_ids"])
    np.testing.assert_array_equal(y["transformer"], y2["rnn"])
    decoder_inputs, labels = x["decoder_token_ids"], y["transformer"]
    length = int(ch03.SMOKE.bucket_lengths)
    assert x["encoder_token_ids"].shape == decoder_inputs.shape == labels.shape == (16, length)
    assert np.all(decoder_inputs[:, 0] == multi30k.START_ID)
    np.testing.assert_array_equal(decoder_inputs[:, 1:][labels[:, :-1] != 0],
                                  labels[:, :-1][labels[:, :-1] != 0])
    assert np.all((labels == multi30k.END_ID).sum(axis=1) == 1)
    assert task.steps_per_epoch == task.batches.steps_per_epoch > 0


def test_bucket_lengths_must_fit_the_model():
    """A bucket longer than max_length, or a malformed list, is a ValueError."""
    with pytest.raises(ValueError, match="max_length"):
        ch03.TranslationConfig(bucket_lengths="16,80", max_length=64)
    with pytest.raises(ValueError, match="comma-separated"):
        ch03.TranslationConfig(bucket_lengths="16;32")


@pytest.mark.parametrize("models", ["", "transformer,transformer", "transformer,lstm"])
def test_models_must_be_distinct_known_names(models):
    """`models` names each of 'transformer' and 'rnn' at most once, and nothing else."""
    with pytest.raises(ValueError, match=r"models must be distinct .* got '"):
        ch03.TranslationConfig(models=models)


def test_gather_joins_the_runs_by_step_and_keeps_the_larger_peak():
    """The chapter's metrics hold each model's own entries at every step, BLEU scores of
    both, the Transformer's headline, each run's peak and the larger as the chapter's."""
    def run(name, bleu, peak):
        history = [{"step": step, "loss": 9.0, f"{name}_beam_bleu": bleu + step}
                   for step in (10, 20)]
        return {"history": history, "peak_rss_mb": peak, "vocab_size": 50,
                "headline": {"name": f"{name}_beam_bleu", "value": bleu + 20},
                "bleu": {"signature": "case:lc", "scores": {f"{name}_beam_bleu": bleu + 20}}}

    gathered = ch03.gather({"rnn": run("rnn", 1.0, 900.0),
                            "transformer": run("transformer", 5.0, 1200.0)})
    assert gathered["history"] == [
        {"step": 10, "rnn_beam_bleu": 11.0, "transformer_beam_bleu": 15.0},
        {"step": 20, "rnn_beam_bleu": 21.0, "transformer_beam_bleu": 25.0},
    ]
    assert gathered["headline"] == {"name": "transformer_beam_bleu", "value": 25.0}
    assert gathered["bleu"]["scores"] == {"rnn_beam_bleu": 21.0, "transformer_beam_bleu": 25.0}
    assert (gathered["rnn_peak_rss_mb"], gathered["transformer_peak_rss_mb"],
            gathered["peak_rss_mb"]) == (900.0, 1200.0, 1200.0)
    assert gathered["step"] == 20


@pytest.mark.chapter
@needs_data
def test_smoke_preset_trains_both_models_and_writes_bleu_and_heatmaps(tmp_path, cache_dir):
    """The smoke run trains each model in a folder of its own and gathers greedy and beam BLEU
    of both, the sacrebleu signature, parameter counts, each run's peak memory, the
    translations and the heatmap PNGs into the run folder."""
    out = tmp_path / "run"
    output = run_chapter(SCRIPT, "--preset", "smoke", "--out", str(out))
    result = metrics(out)
    assert_readme_metrics("03_translation.py", out)
    for name in ("transformer", "rnn"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["config"]["beam_size"] == ch03.SMOKE.beam_size
        assert config["config"]["models"] == name
        assert (out / name / "checkpoint.npz").exists(), name
        assert 0 < result[f"{name}_peak_rss_mb"] <= result["peak_rss_mb"]
    last = result["history"][-1]
    for name in ("transformer", "rnn"):
        for mode in ("greedy", "beam"):
            assert 0.0 <= last[f"{name}_{mode}_bleu"] <= 100.0
        assert last[f"{name}_params"] > 0
        losses = [row[f"{name}_val_nll"] for row in result["history"]]
        assert losses[-1] < losses[0], name
    assert result["headline"]["name"] == "transformer_beam_bleu"
    assert result["headline"]["value"] == last["transformer_beam_bleu"]
    assert result["bleu"]["signature"].startswith("nrefs:1|case:lc|eff:no|tok:13a")
    assert result["bleu"]["sentences"] == ch03.SMOKE.eval_sentences
    for i in range(ch03.SMOKE.num_heatmaps):
        assert (out / "transformer" / f"cross_attention_{i}.png").stat().st_size > 0
        assert (out / f"side_by_side_{i}.png").stat().st_size > 0
    for name in ("loss_curve.png", "bleu.png", "translations.txt", "vocab.txt"):
        assert (out / name).exists(), name
    translations = (out / "translations.txt").read_text(encoding="utf-8")
    assert "A man in an orange hat starring at something." in translations
    assert "[0] transformer_beam: " in translations and "[0] rnn_greedy: " in translations
    assert "summary: transformer_beam_bleu=" in output and "case:lc" in output

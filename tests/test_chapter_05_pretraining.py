"""Chapter 05, pretraining part: the next-sentence pairs of every copy of the corpus."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.chapter_runs import load_chapter
from tests.data_folder import DATA_DIR, needs_data

ch05 = load_chapter("05_bert_pretraining.py")


@needs_data("squad_v1.1")
@needs_data("wikitext2")
def test_every_copy_of_the_corpus_draws_pairs_of_its_own():
    """Each of the `dupe_factor` copies pairs the same segments A afresh: a pair's label changes
    between copies for about half of them, so NSP labels cannot be learned by heart."""
    config = dataclasses.replace(ch05.SMOKE, dupe_factor=3)
    task = ch05.PretrainingTask(config, DATA_DIR)
    labels = task.train[1]["nsp_logits"].reshape(config.dupe_factor, -1)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        changed = float(np.mean(labels[a] != labels[b]))
        assert 0.3 < changed < 0.7, (a, b, changed)
    for copy_labels in labels:  # each copy is balanced on its own
        assert int(copy_labels.sum()) == len(copy_labels) // 2


def _pairs(labels: np.ndarray, overlap: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Packed pairs `[CLS] A [SEP] B [SEP]` of 8 + 8 random word pieces; with `overlap`, a
    label-0 pair's B repeats A's pieces and a label-1 pair's B is drawn afresh."""
    first = len(ch05.RESERVED)
    a = rng.integers(first, 400, (len(labels), 8))
    b = np.where((labels[:, None] == 0) & overlap, a, rng.integers(first, 400, a.shape))
    cls, sep = np.full((len(labels), 1), 2), np.full((len(labels), 1), 3)
    ids = np.concatenate([cls, a, sep, b, sep, np.zeros((len(labels), 5), int)], 1)
    segments = np.concatenate([np.zeros((len(labels), 10), int), np.ones((len(labels), 9), int),
                               np.zeros((len(labels), 5), int)], 1)
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": ids != 0}


def test_the_word_overlap_baseline_reads_overlap_and_nothing_else():
    """The NSP baseline is right on every pair when IsNext pairs share their words and NotNext
    pairs do not, and at chance when the words say nothing about the label."""
    rng = np.random.default_rng(0)
    for overlap, low, high in ((True, 0.99, 1.0), (False, 0.4, 0.6)):
        train_y, heldout_y = rng.integers(0, 2, 600), rng.integers(0, 2, 400)
        train = (_pairs(train_y, overlap, rng), {"nsp_logits": train_y})
        heldout = (_pairs(heldout_y, overlap, rng), {"nsp_logits": heldout_y})
        accuracy = ch05.overlap_baseline(train, heldout, vocab_size=400, seed=0)
        assert low <= accuracy <= high, (overlap, accuracy)


@pytest.mark.parametrize("fields, named", [
    ({"squad_dropout": 1.0}, "squad_dropout"),
    ({"squad_dropout": -0.1}, "squad_dropout"),
    ({"squad_steps": 60, "squad_eval_interval": 25}, "squad_"),  # 60 steps: no whole number of 25
    ({"squad_eval_interval": -5}, "squad_"),
])
def test_bad_probe_fields_fail_when_the_preset_is_made(fields, named):
    """A probe field the SQuAD probes would reject is a ValueError naming it as soon as the preset is made, not after pretraining."""
    with pytest.raises(ValueError, match=named):
        dataclasses.replace(ch05.SMOKE, **fields)

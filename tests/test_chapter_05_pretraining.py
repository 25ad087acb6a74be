"""Chapter 05, pretraining part: the next-sentence pairs of every copy of the corpus."""

from __future__ import annotations

import dataclasses

import numpy as np

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

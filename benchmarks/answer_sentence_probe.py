"""Answer-sentence selection on SQuAD's article split: chapter 05's pretrained encoder vs random weights.

Chapter 05 probes its pretrained backbone with span QA, where the
pretrained and the random network both end near the span-prior plateau.
This benchmark asks the same data an easier question: which sentence of
the paragraph holds the answer? As in GLUE's QNLI, which was made from
SQuAD the same way (`data.squad.answer_sentence`), every training question
gives two rows, `[CLS] question [SEP] sentence [SEP]` with its answer's
sentence (label 1) and with another sentence of its paragraph (label 0),
and a `BertClassifier` over the encoder learns to tell them apart, with
the recipe of the chapter's probes (`training.probe_preset`). On the
held-out articles each question's sentences are all scored and the
best-scored one picked: the selection accuracy, printed beside chance
(one over the number of sentences, averaged over questions) and beside
picking the sentence that shares the most words with the question.

Each seed fine-tunes the pretrained encoder and the same architecture
from random weights, alternating; the summary gives each one's mean and
spread and how much of the word-overlap baseline's lead over chance each
one recovers.

    python benchmarks/answer_sentence_probe.py   # 3 seeds x 2 encoders, ~30 min on 2 CPU cores
    python benchmarks/answer_sentence_probe.py --seeds 0 --epochs 0.05 --eval-questions 100
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import statistics
import time

import keras_transformer  # noqa: F401  (before keras, see keras_transformer/_tensorflow_import.py)

import keras
import numpy as np

from keras_transformer.data import squad
from keras_transformer.data.bert_inputs import bert_inputs
from keras_transformer.models import BertClassifier
from keras_transformer.models.bert.folder import load_bert_backbone, load_bert_folder_tokenizer
from keras_transformer.training.optimizer import build_optimizer
from keras_transformer.training.preset import FineTuningPreset, Preset, probe_preset

INITIALIZATIONS = ("pretrained", "random")
_WORD = re.compile(r"\w+")


def rows(examples, rng: np.random.Generator | None):
    """`(questions, sentences, labels, question index)`: with `rng`, the answer's sentence and one
    other drawn from its paragraph; without, every sentence. Questions whose answer starts between
    sentences, or whose paragraph is one sentence, are left out."""
    questions, sentences, labels, group = [], [], [], []
    for index, example in enumerate(examples):
        candidates, gold = squad.answer_sentence(example)
        if gold is None or len(candidates) < 2:
            continue
        picked = range(len(candidates))
        if rng is not None:
            picked = (gold, rng.choice([k for k in picked if k != gold]))
        for k in picked:
            questions.append(example.question)
            sentences.append(candidates[k])
            labels.append(int(k == gold))
            group.append(index)
    return questions, sentences, np.array(labels), np.array(group)


def selection_accuracy(scores: np.ndarray, labels: np.ndarray, group: np.ndarray) -> float:
    """How often a question's best-scored sentence is its answer's (ties go to the first)."""
    hits = [labels[group == g][np.argmax(scores[group == g])] for g in np.unique(group)]
    return float(np.mean(hits))


def shared_words(question: str, sentence: str) -> int:
    """Distinct lower-cased words the two have in common."""
    return len(set(_WORD.findall(question.lower())) & set(_WORD.findall(sentence.lower())))


def fine_tune(pretrained: bool, seed: int, train, heldout, args) -> float:
    """Fine-tunes one encoder for `args.epochs` passes over `train`; its held-out selection accuracy."""
    keras.utils.set_random_seed(seed)
    x, y = train
    steps = max(int(args.epochs * len(y) / args.batch_size), 1)
    order = np.concatenate([np.random.default_rng(seed).permutation(len(y))
                            for _ in range(int(np.ceil(args.epochs)))])[:steps * args.batch_size]
    backbone = load_bert_backbone(args.encoder_dir, name="backbone", weights=pretrained)
    model = BertClassifier(backbone, num_classes=2)
    model({k: v[:1] for k, v in x.items()})  # builds the variables AdamW's exclusions name
    recipe = probe_preset(FineTuningPreset, Preset(seed=seed), steps, args.batch_size,
                          args.learning_rate, max_length=args.max_length)
    model.compile(optimizer=build_optimizer(recipe, model), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({k: v[order] for k, v in x.items()}, y[order], batch_size=args.batch_size,
              epochs=1, shuffle=False, verbose=0)
    (x_eval, labels, group) = heldout
    logits = model.predict(x_eval, batch_size=256, verbose=0)
    return selection_accuracy(logits[:, 1] - logits[:, 0], labels, group)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder-dir", default="runs/05_bert_pretraining-cpu",
                        help="a save_bert_folder folder (05_bert_pretraining.py writes one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--max-length", type=int,
                        help="tokens per row (default and maximum: the encoder's max_length)")
    parser.add_argument("--eval-questions", type=int, default=0, help="0: every held-out question")
    parser.add_argument("--data-dir", default=None, help="default: $KT_DATA_DIR")
    args = parser.parse_args()
    if not (pathlib.Path(args.encoder_dir) / "backbone.json").is_file():
        raise SystemExit(f"--encoder-dir {args.encoder_dir!r} holds no saved encoder: run "
                         f"`python chapters/05_bert_pretraining.py --preset cpu` first.")
    longest = json.loads((pathlib.Path(args.encoder_dir) / "backbone.json").read_text())["max_length"]
    args.max_length = args.max_length or longest
    if not 1 <= args.max_length <= longest:
        parser.error(f"--max-length must be in [1, {longest}] (the encoder's max_length); "
                     f"got {args.max_length}.")

    splits = squad.squad_splits(args.data_dir)
    tokenizer = load_bert_folder_tokenizer(args.encoder_dir)
    pack = lambda q, s: bert_inputs(tokenizer, q, s, max_length=args.max_length)  # noqa: E731
    questions, sentences, labels, _ = rows(splits["train"], np.random.default_rng(0))
    train = pack(questions, sentences), labels
    questions, sentences, labels, group = rows(
        splits["eval"][:args.eval_questions or None], rng=None)
    heldout = pack(questions, sentences), labels, group
    chance = float(np.mean([1 / np.sum(group == g) for g in np.unique(group)]))
    overlap = selection_accuracy(
        np.array([shared_words(q, s) for q, s in zip(questions, sentences)], float), labels, group)
    print(f"SQuAD ({splits['protocol']}): {len(train[1]):,} training rows; "
          f"{len(np.unique(group)):,} held-out questions, {len(labels):,} sentences")
    print(f"selection accuracy: chance {chance:.3f}, most shared words {overlap:.3f}")

    results = {init: [] for init in INITIALIZATIONS}
    for seed in args.seeds:
        for init in INITIALIZATIONS:
            start = time.perf_counter()
            results[init].append(fine_tune(init == "pretrained", seed, train, heldout, args))
            print(f"{init:10s} seed {seed}: selection accuracy {results[init][-1]:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n{'encoder':10s} {'mean':>6s} {'spread':>6s}  share of word overlap's lead over chance")
    for init, values in results.items():
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{init:10s} {mean:6.3f} {spread:6.3f}  {(mean - chance) / (overlap - chance):.2f}")


if __name__ == "__main__":
    main()

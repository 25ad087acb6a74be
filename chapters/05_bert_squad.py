"""Chapter 05 — BERT fine-tuning on SQuAD v1.1: extractive question answering.

The model reads `[CLS] question [SEP] context piece [SEP]` and scores every
token as the answer's start and as its end (`kt.models.BertSpanQA`: one
Dense(2) over the sequence output of all-MiniLM-L6-v2's encoder). Training
minimizes the cross-entropy of the gold start and of the gold end (their
mean); a window that does not hold the answer is trained to point at
`[CLS]`, as in BERT.

Data (`keras_transformer.data.squad`): only the dev file is in the data
folder, so the split is fixed by article: train on articles 1-38 of
dev-v1.1.json (8,582 questions), evaluate on articles 39-48 (1,988). With
`train-v1.1.json` in the data folder the standard protocol applies instead.
Long contexts are cut into windows `doc_stride` word pieces apart; the
answer is the best `start + end` score over an example's windows, mapped back
to the context's characters, scored with SQuAD's official exact match and F1
(the best over the gold answers).

    python chapters/05_bert_squad.py --preset cpu     # ~12 min on 2 CPU cores
    python chapters/05_bert_squad.py --preset gpu
    python chapters/05_bert_squad.py --preset smoke   # a tiny subset, for the tests

Pass `--set initialization=random` for the same network from scratch.
`finish` writes `predictions.json` (question id → answer) and prints EM/F1.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import keras
import numpy as np

import keras_transformer as kt
from keras_transformer import metrics, training
from keras_transformer.data import squad
from keras_transformer.data.buckets import LengthBuckets, buckets_up_to
from keras_transformer.models.bert.checkpoint import read_hf_bert_config

OUTPUTS = ("start_logits", "end_logits")


@dataclasses.dataclass
class SquadConfig(training.Preset):
    initialization: str = "checkpoint"  # "checkpoint" (MiniLM) or "random"
    max_length: int = 192  # tokens per window
    doc_stride: int = 96  # word pieces between consecutive windows' starts
    max_question_length: int = 48
    max_answer_length: int = 30  # word pieces
    bucket_lengths: str = "128"  # shorter padded lengths besides max_length
    train_size: int = 0  # 0: every training question; n: the first n
    eval_size: int = 0  # 0: every evaluation question; n: the first n
    eval_batch_size: int = 64
    learning_rate: float = 1e-4
    min_learning_rate: float = 1e-6
    weight_decay: float = 0.01
    beta2: float = 0.999

    def __post_init__(self):
        super().__post_init__()
        if self.initialization not in ("checkpoint", "random"):
            raise ValueError(
                f"initialization must be 'checkpoint' or 'random'; got {self.initialization!r}."
            )
        if self.train_size < 0 or self.eval_size < 0:
            raise ValueError("train_size and eval_size must be >= 0 (0 = all).")
        self.buckets()

    def buckets(self) -> tuple[int, ...]:
        """Padded lengths of training batches: `bucket_lengths` below `max_length`, then it."""
        return buckets_up_to(self.bucket_lengths, self.max_length)


SMOKE = SquadConfig(
    max_length=96, doc_stride=48, max_question_length=24, bucket_lengths="", batch_size=8,
    train_size=64, eval_size=32, steps=6, warmup_steps=2, eval_interval=3,
    checkpoint_interval=6, jit_compile=False,
)
# 2 CPU cores: 290 steps of 32 windows (0.76 of an epoch: the 8,582 training
# questions make 12,168 windows of up to 192 tokens), ~2 s a step, at a peak
# learning rate of 1e-4 (BERT used 3e-5 to 5e-5 for 2-3 epochs of 88k
# questions; a short run wants a larger step).
CPU = SquadConfig(
    batch_size=32, steps=290, warmup_steps=30, eval_interval=290, checkpoint_interval=290,
    jit_compile=False,
)
# Two epochs at 384 tokens, BERT's SQuAD window (doc_stride 128).
GPU = SquadConfig(
    max_length=384, doc_stride=128, max_question_length=64, bucket_lengths="192,256",
    batch_size=32, steps=520, warmup_steps=52, eval_interval=130, checkpoint_interval=260,
    learning_rate=8e-5, eval_batch_size=256,
)


class SquadTask(training.Task):
    """Span QA on SQuAD v1.1 with the MiniLM checkpoint (or its architecture from scratch)."""

    headline = "f1"
    headline_mode = "max"

    def __init__(self, config: SquadConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        splits = squad.squad_splits(data_dir)
        self.protocol = splits["protocol"]
        self.train_examples = splits["train"][:c.train_size or None]
        self.eval_examples = splits["eval"][:c.eval_size or None]
        tokenizer = squad.offsets_tokenizer(kt.models.minilm_checkpoint_dir() / "vocab.txt")
        cut = dict(max_length=c.max_length, doc_stride=c.doc_stride,
                   max_question_length=c.max_question_length)
        self.train = squad.windows(self.train_examples, tokenizer, **cut)
        self.eval = squad.windows(self.eval_examples, tokenizer, **cut)
        self.batches = LengthBuckets(self.train.lengths, c.batch_size, c.seed, c.buckets())
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.predictions = None
        print(
            f"SQuAD v1.1 ({self.protocol}): {len(self.train_examples)} training questions in "
            f"{len(self.train)} windows ({self.steps_per_epoch} steps per epoch), "
            f"{len(self.eval_examples)} evaluation questions in {len(self.eval)} windows."
        )

    def build_model(self) -> keras.Model:
        folder = kt.models.minilm_checkpoint_dir()
        if self.config.initialization == "checkpoint":
            backbone = kt.models.BERT.from_hf_checkpoint(folder, name="backbone")
        else:
            backbone = kt.models.BERT(**read_hf_bert_config(folder), name="backbone")
        return kt.models.BertSpanQA(backbone, name="span_qa")

    def loss(self):
        return {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True, name=name)
                for name in OUTPUTS}

    def train_batch(self, step: int):
        """Batch `step` (see `LengthBuckets`): windows of similar length, cut to their bucket."""
        rows, length = self.batches(step)
        x = {k: v[rows, :length] for k, v in self.train.inputs.items()}
        return x, {"start_logits": self.train.start_positions[rows],
                   "end_logits": self.train.end_positions[rows]}

    def tokens_per_step(self) -> int:
        return round(self.config.batch_size * float(self.train.lengths.mean()))

    def flops_per_token(self, model: keras.Model) -> float:
        return training.bert_flops_per_token(model, self.config.max_length)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        c = self.config
        logits = model.predict(self.eval.inputs, batch_size=c.eval_batch_size, verbose=0)
        self.predictions = squad.best_spans(
            np.asarray(logits["start_logits"]), np.asarray(logits["end_logits"]),
            self.eval.offsets, self.eval.example_index,
            [e.context for e in self.eval_examples], c.max_answer_length,
        )
        return metrics.squad_scores(self.predictions, [e.answers for e in self.eval_examples])

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        if self.predictions is None:  # e.g. a resumed run that had nothing left to train
            self.evaluate(model)
        answers = {e.id: p for e, p in zip(self.eval_examples, self.predictions)}
        (run_dir / "predictions.json").write_text(json.dumps(answers, indent=1) + "\n")
        scores = metrics.squad_scores(self.predictions, [e.answers for e in self.eval_examples])
        print(f"SQuAD v1.1 ({self.protocol}), {len(self.eval_examples)} questions: "
              f"exact match {scores['exact_match']:.2f}, F1 {scores['f1']:.2f}")
        return {}


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, SquadTask)

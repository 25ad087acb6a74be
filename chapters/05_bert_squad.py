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

    python chapters/05_bert_squad.py --preset cpu     # ~23 min on 2 CPU cores, 2.6 GB
    python chapters/05_bert_squad.py --preset gpu
    python chapters/05_bert_squad.py --preset smoke   # a tiny subset, for the tests

Pass `--set initialization=random` for the same network from scratch.
`finish` writes `predictions.json` (question id → answer) and prints EM/F1
(`keras_transformer.training.span_qa.SpanQATask`, which chapter 06 shares).
"""

from __future__ import annotations

import dataclasses

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras

from keras_transformer import training
from keras_transformer.data import squad
from keras_transformer.models.bert.checkpoint import read_hf_bert_config
from keras_transformer.training.span_qa import SpanQAPreset, SpanQATask


@dataclasses.dataclass
class SquadConfig(SpanQAPreset):
    initialization: str = "checkpoint"  # "checkpoint" (MiniLM) or "random"
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


SMOKE = SquadConfig(
    max_length=96, doc_stride=48, max_question_length=24, bucket_lengths="", batch_size=8,
    train_size=64, eval_size=32, steps=6, warmup_steps=2, eval_interval=3,
    checkpoint_interval=6, jit_compile=False,
)
# 2 CPU cores: 290 steps of 32 windows (0.76 of an epoch: the 8,582 training
# questions make 12,168 windows of up to 192 tokens), ~3 s a step, at a peak
# learning rate of 1e-4 (BERT used 3e-5 to 5e-5 for 2-3 epochs of 88k
# questions; a short run wants a larger step). Each step's 32 windows go
# through as 16 micro-batches of 2, so that the run stays under 2 GB (40 steps
# peaked at 1.96 GB; 2.14 GB with 8 micro-batches of 4, 2.34 GB with 4 of 8, at
# much the same speed on 2 cores), and evaluation predicts 16 windows at a time.
CPU = SquadConfig(
    batch_size=32, gradient_accumulation_steps=16, steps=290, warmup_steps=30,
    eval_interval=290, checkpoint_interval=290, jit_compile=False, eval_batch_size=16,
)
# Two epochs at 384 tokens, BERT's SQuAD window (doc_stride 128).
GPU = SquadConfig(
    max_length=384, doc_stride=128, max_question_length=64, bucket_lengths="192,256",
    batch_size=32, steps=520, warmup_steps=52, eval_interval=130, checkpoint_interval=260,
    learning_rate=8e-5, eval_batch_size=256,
)


class SquadTask(SpanQATask):
    """Span QA on SQuAD v1.1 with the MiniLM checkpoint (or its architecture from scratch)."""

    needs_tensorflow = False  # `tokenizers` cuts the windows: JAX and PyTorch run without it

    def offsets_tokenizer(self):
        return squad.offsets_tokenizer(kt.models.minilm_checkpoint_dir() / "vocab.txt")

    def build_model(self) -> keras.Model:
        folder = kt.models.minilm_checkpoint_dir()
        if self.config.initialization == "checkpoint":
            backbone = kt.models.BERT.from_hf_checkpoint(folder, name="backbone")
        else:
            backbone = kt.models.BERT(**read_hf_bert_config(folder), name="backbone")
        return kt.models.BertSpanQA(backbone, name="span_qa")


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, SquadTask)

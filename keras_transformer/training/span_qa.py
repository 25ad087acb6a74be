"""SQuAD span QA as a runner task: windows, length-bucketed batches, EM/F1 on the held-out articles.

Chapter 05 fine-tunes the MiniLM checkpoint with it, chapter 06 every
member of the BERT family: a subclass supplies the model (`build_model`) and
the tokenizer that reports character offsets (`offsets_tokenizer`).
`SquadProbe` and `FolderSpanQATask` measure what pretraining gave a saved
encoder (chapter 05's pretraining ends with that probe).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from keras_transformer import metrics
from keras_transformer.data import squad
from keras_transformer.models import BertSpanQA
from keras_transformer.models.bert.folder import load_bert_backbone, vocabulary_file
from keras_transformer.training.flops import bert_flops_per_token
from keras_transformer.training.preset import FineTuningPreset, probe_preset
from keras_transformer.training.task import Task

if TYPE_CHECKING:
    import tokenizers
    import tokenizers.implementations

OUTPUTS = ("start_logits", "end_logits")


@dataclasses.dataclass
class SpanQAPreset(FineTuningPreset):
    """The preset fields of SQuAD fine-tuning, beside the runner's own.

    Example:

    >>> from keras_transformer.training.span_qa import SpanQAPreset
    >>> SpanQAPreset().buckets()  # bucket_lengths "128", then max_length
    (128, 192)
    >>> SpanQAPreset(max_length=32)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: max_length (32) must leave room for a context piece ... at least 52.
    """

    max_length: int = 192  # tokens per window
    doc_stride: int = 96  # word pieces between consecutive windows' starts
    max_question_length: int = 48
    max_answer_length: int = 30  # word pieces
    bucket_lengths: str = "128"  # shorter padded lengths besides max_length

    def __post_init__(self):
        super().__post_init__()
        for name in ("doc_stride", "max_question_length", "max_answer_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if self.max_length < self.max_question_length + 4:  # 3 special tokens + 1 context piece
            raise ValueError(
                f"max_length ({self.max_length}) must leave room for a context piece beside a "
                f"question of max_question_length ({self.max_question_length}) and 3 special "
                f"tokens: at least {self.max_question_length + 4}."
            )


@dataclasses.dataclass
class SquadProbe:
    """Preset fields of a short SQuAD fine-tuning that measures what pretraining gave an encoder.

    Chapters 05 and 06 mix these into their pretraining presets and
    fine-tune every encoder they pretrain, and the same architecture from
    random weights, with this one recipe: the gap between the two is what
    the pretraining bought. Windows are as long as the pretraining rows, so
    no fine-tuned position went untrained.

    Example (mixed into a pretraining preset, whose seed the probe keeps):

    >>> import dataclasses
    >>> from keras_transformer.training import Preset
    >>> from keras_transformer.training.span_qa import SquadProbe
    >>> @dataclasses.dataclass
    ... class PretrainingConfig(Preset, SquadProbe):
    ...     pass
    >>> probe = PretrainingConfig(seed=5, squad_steps=100).squad()
    >>> type(probe).__name__, probe.seed, probe.warmup_steps, probe.max_length, probe.max_question_length
    ('SpanQAPreset', 5, 10, 128, 32)
    """

    squad_steps: int = 300  # 0: no probe
    squad_batch_size: int = 32
    squad_learning_rate: float = 3e-4
    squad_max_length: int = 128
    squad_doc_stride: int = 64
    squad_train_size: int = 0
    squad_eval_size: int = 0
    # None: as the pretraining. The probe may differ: XLA's compilation of a
    # pretraining step can cost more memory than it saves time.
    squad_jit_compile: bool | None = None
    squad_eval_interval: int = 0  # 0: one evaluation, at the end; n: also every n steps

    def check_squad(self) -> None:
        """Raises the ValueError a bad `squad_*` field would raise, at once rather than after pretraining."""
        if self.squad_steps:
            try:
                self.squad()
            except ValueError as error:
                raise ValueError(f"the SQuAD probe's preset (the squad_* fields): {error}") from error

    def squad(self, preset_class: type[SpanQAPreset] | None = None, **fields: Any) -> SpanQAPreset:
        """The fine-tuning preset: one evaluation at the end (or every `squad_eval_interval` steps), 10% warm-up, `fields` added."""
        if self.squad_jit_compile is not None:  # else `probe_preset` takes the pretraining's
            fields = {"jit_compile": self.squad_jit_compile, **fields}
        if self.squad_eval_interval:
            fields = {"eval_interval": self.squad_eval_interval, **fields}
        return probe_preset(
            preset_class or SpanQAPreset, self, self.squad_steps, self.squad_batch_size,
            self.squad_learning_rate, max_length=self.squad_max_length,
            doc_stride=self.squad_doc_stride,
            max_question_length=min(48, self.squad_max_length // 4), bucket_lengths="",
            train_size=self.squad_train_size, eval_size=self.squad_eval_size,
            max_answer_length=60,  # a byte-level BPE spells answers in more pieces
            **fields,
        )


class SpanQATask(Task):
    """Extractive QA on SQuAD v1.1 with a `BertSpanQA` model; subclass it for the model and tokenizer.

    Training minimizes the cross-entropy of the gold start and of the gold
    end; a window that does not hold the answer is trained to point at its
    first token, as in BERT. Evaluation decodes the best span over an
    example's windows and scores it with SQuAD's exact match and F1.

    Attributes:
        special_tokens: the tokenizer's start, separator and padding tokens.

    Example (MiniLM's vocabulary; 8 training and 4 evaluation questions of the shared data):

    >>> import os
    >>> from keras_transformer.data import squad
    >>> from keras_transformer.data.checkpoint_folders import minilm_checkpoint_dir
    >>> from keras_transformer.training.span_qa import SpanQAPreset, SpanQATask
    >>> class MiniLMSpanQA(SpanQATask):
    ...     def offsets_tokenizer(self):
    ...         return squad.offsets_tokenizer(minilm_checkpoint_dir() / "vocab.txt")
    >>> preset = SpanQAPreset(batch_size=4, train_size=8, eval_size=4)
    >>> task = MiniLMSpanQA(preset, os.environ["KT_DATA_DIR"])  # doctest: +ELLIPSIS
    SQuAD v1.1 (dev-v1.1.json articles 1-38 / 39-48): 8 training questions in 8 windows ...
    >>> x, y = task.train_batch(0)
    >>> x["token_ids"].shape, sorted(y)
    ((4, 192), ['end_logits', 'start_logits'])
    """

    headline = "f1"
    headline_mode = "max"
    special_tokens: tuple[str, str, str] = ("[CLS]", "[SEP]", "[PAD]")

    def __init__(self, config: SpanQAPreset, data_dir: str | None = None) -> None:
        super().__init__(config, data_dir)
        c = config
        splits = squad.squad_splits(data_dir)
        self.protocol = splits["protocol"]
        self.train_examples = splits["train"][:c.train_size or None]
        self.eval_examples = splits["eval"][:c.eval_size or None]
        tokenizer = self.offsets_tokenizer()
        cut = dict(max_length=c.max_length, doc_stride=c.doc_stride,
                   max_question_length=c.max_question_length, special_tokens=self.special_tokens)
        self.train = squad.windows(self.train_examples, tokenizer, **cut)
        self.eval = squad.windows(self.eval_examples, tokenizer, **cut)
        self.batches = c.length_buckets(self.train.lengths)
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.predictions = None
        print(
            f"SQuAD v1.1 ({self.protocol}): {len(self.train_examples)} training questions in "
            f"{len(self.train)} windows ({self.steps_per_epoch} steps per epoch), "
            f"{len(self.eval_examples)} evaluation questions in {len(self.eval)} windows."
        )

    def offsets_tokenizer(self) -> tokenizers.implementations.BaseTokenizer:
        """A `tokenizers` tokenizer that reports character offsets, with the model's vocabulary."""
        raise NotImplementedError(f"{type(self).__name__} must define offsets_tokenizer().")

    def loss(self) -> dict[str, keras.losses.Loss]:
        return {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True, name=name)
                for name in OUTPUTS}

    def train_batch(self, step: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Batch `step` (see `LengthBuckets`): windows of similar length, cut to their bucket."""
        rows, length = self.batches(step)
        x = {k: v[rows, :length] for k, v in self.train.inputs.items()}
        return x, {"start_logits": self.train.start_positions[rows],
                   "end_logits": self.train.end_positions[rows]}

    def tokens_per_step(self) -> int:
        return round(self.config.batch_size * float(self.train.lengths.mean()))

    def flops_per_token(self, model: keras.Model) -> float:
        return bert_flops_per_token(model, self.config.max_length)

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
        """Writes `predictions.json` (question id → answer) and prints EM/F1."""
        if self.predictions is None:  # e.g. a resumed run that had nothing left to train
            self.evaluate(model)
        answers = {e.id: p for e, p in zip(self.eval_examples, self.predictions)}
        (run_dir / "predictions.json").write_text(json.dumps(answers, indent=1) + "\n")
        scores = metrics.squad_scores(self.predictions, [e.answers for e in self.eval_examples])
        print(f"SQuAD v1.1 ({self.protocol}), {len(self.eval_examples)} questions: "
              f"exact match {scores['exact_match']:.2f}, F1 {scores['f1']:.2f}")
        return {}


@dataclasses.dataclass
class FolderSpanQAPreset(SpanQAPreset):
    """Span QA with the encoder of a `save_bert_folder` folder.

    Example (the fields as `--set` gives them; `encoder_dropout` is a float or none):

    >>> from keras_transformer.training import apply_overrides
    >>> from keras_transformer.training.span_qa import FolderSpanQAPreset
    >>> preset = apply_overrides(FolderSpanQAPreset(), ["encoder_dir=runs/encoder", "encoder_dropout=0"])
    >>> preset.encoder_dir, preset.encoder_dropout, preset.from_scratch, preset.max_length
    ('runs/encoder', 0.0, False, 192)
    """

    encoder_dir: str = ""  # the folder: backbone.json, backbone.weights.h5, vocab.txt
    from_scratch: bool = False  # True: the folder's architecture, randomly initialized
    encoder_dropout: float | None = None  # None: the saved encoder's own rate


class FolderSpanQATask(SpanQATask):
    """Span QA fine-tuning of a saved encoder (or its architecture from scratch) with its own WordPiece vocabulary.

    Example (the windows need only the folder's `vocab.txt`; `build_model` loads the encoder):

    >>> import os, pathlib, tempfile
    >>> from keras_transformer.training.span_qa import FolderSpanQAPreset, FolderSpanQATask
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "vocab.txt").write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "of"]))
    >>> preset = FolderSpanQAPreset(encoder_dir=str(folder), max_length=64, max_question_length=16,
    ...                             doc_stride=32, batch_size=4, train_size=8, eval_size=4)
    >>> task = FolderSpanQATask(preset, os.environ["KT_DATA_DIR"])  # doctest: +ELLIPSIS
    SQuAD v1.1 (dev-v1.1.json articles 1-38 / 39-48): 8 training questions in 40 windows ...
    >>> task.train_batch(0)[0]["token_ids"].shape
    (4, 64)
    """

    def offsets_tokenizer(self) -> tokenizers.BertWordPieceTokenizer:
        return squad.offsets_tokenizer(vocabulary_file(self.config.encoder_dir))

    def build_model(self) -> keras.Model:
        c = self.config
        backbone = load_bert_backbone(c.encoder_dir, name="backbone", weights=not c.from_scratch,
                                      dropout=c.encoder_dropout)
        return BertSpanQA(backbone, name="span_qa")

"""CoLA fine-tuning of a saved encoder as a runner task: the second probe of what pretraining gave it.

Chapter 06 fine-tunes every encoder it pretrains on SQuAD (`span_qa`) and
on CoLA with this task. `ColaProbe` holds the recipe's preset fields;
`FolderColaTask` reads the encoder and its WordPiece vocabulary from a
`save_bert_folder` folder (a subclass may supply another tokenizer).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from keras_transformer import metrics
from keras_transformer.data import cola
from keras_transformer.data.bert_inputs import bert_inputs
from keras_transformer.models import BertClassifier
from keras_transformer.models.bert.folder import load_bert_backbone, load_bert_folder_tokenizer
from keras_transformer.training.flops import bert_flops_per_token
from keras_transformer.training.predict_by_length import predict_by_length
from keras_transformer.training.preset import FineTuningPreset, probe_preset
from keras_transformer.training.task import Task

if TYPE_CHECKING:
    import keras_hub


@dataclasses.dataclass
class FolderColaPreset(FineTuningPreset):
    """CoLA fine-tuning of the encoder in `encoder_dir`, beside the runner's fields.

    Example:

    >>> from keras_transformer.training.cola_probe import FolderColaPreset
    >>> FolderColaPreset(encoder_dir="runs/encoder").buckets()  # bucket_lengths, then max_length
    (16, 24, 32, 48, 64)
    """

    encoder_dir: str = ""  # a save_bert_folder folder
    from_scratch: bool = False  # True: the folder's architecture, randomly initialized
    max_length: int = 64  # tokens per sentence, [CLS] and [SEP] included
    bucket_lengths: str = "16,24,32,48"  # most CoLA sentences fit 16 word pieces
    eval_batch_size: int = 128


@dataclasses.dataclass
class ColaProbe:
    """Preset fields of a short CoLA fine-tuning, one recipe for every encoder compared.

    Example (mixed into a pretraining preset, whose seed the probe keeps):

    >>> import dataclasses
    >>> from keras_transformer.training import Preset
    >>> from keras_transformer.training.cola_probe import ColaProbe
    >>> @dataclasses.dataclass
    ... class PretrainingConfig(Preset, ColaProbe):
    ...     pass
    >>> cola = PretrainingConfig(seed=5).cola(encoder_dir="runs/encoder")
    >>> type(cola).__name__, cola.seed, cola.steps, cola.warmup_steps, cola.jit_compile
    ('FolderColaPreset', 5, 267, 26, False)
    """

    cola_steps: int = 267  # one epoch of the 8,551 training sentences at batch 32
    cola_batch_size: int = 32
    cola_learning_rate: float = 1e-4
    cola_train_size: int = 0
    cola_eval_size: int = 0

    def cola(self, **fields: Any) -> FolderColaPreset:
        """The fine-tuning preset: one evaluation at the end, 10% warm-up, `fields` added."""
        return probe_preset(
            FolderColaPreset, self, self.cola_steps, self.cola_batch_size,
            self.cola_learning_rate, train_size=self.cola_train_size,
            eval_size=self.cola_eval_size,
            jit_compile=False,  # a compile per length bucket costs more than it saves here
            **fields,
        )


class FolderColaTask(Task):
    """CoLA acceptability with a `BertClassifier` over a saved encoder; MCC on the in-domain dev set.

    Attributes:
        special_tokens: the tokenizer's start, separator and padding tokens.

    Example (a tiny encoder; 8 training and 4 dev sentences, cut to 8 tokens):

    >>> import os, tempfile
    >>> from keras_transformer.models import BERT
    >>> from keras_transformer.models.bert.folder import save_bert_folder
    >>> folder = tempfile.mkdtemp()
    >>> bert = BERT(vocab_size=8, max_length=8, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)
    >>> save_bert_folder(folder, bert, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "."])
    >>> preset = FolderColaPreset(encoder_dir=folder, max_length=8, batch_size=4, train_size=8, eval_size=4)
    >>> task = FolderColaTask(preset, os.environ["KT_DATA_DIR"])
    >>> task.train_batch(0)[0]["token_ids"].shape, task.steps_per_epoch, task.build_model().name
    ((4, 8), 2, 'cola')
    """

    headline = "mcc"
    headline_mode = "max"
    special_tokens: tuple[str, str, str] = ("[CLS]", "[SEP]", "[PAD]")

    def __init__(self, config: FolderColaPreset, data_dir: str | None = None) -> None:
        super().__init__(config, data_dir)
        c = config
        splits = cola.load_cola(data_dir)
        train, dev = splits["in_domain_train"], splits["in_domain_dev"]
        rows = np.arange(len(train))
        if c.train_size:
            rows = np.sort(np.random.default_rng(c.seed).permutation(len(train))[:c.train_size])
        tokenizer = self.tokenizer()
        start, separator, padding = self.special_tokens
        pack = lambda sentences: bert_inputs(  # noqa: E731
            tokenizer, list(sentences), max_length=c.max_length, cls_token=start,
            sep_token=separator, pad_token=padding)
        self.train_x, self.train_y = pack(train.sentences[i] for i in rows), train.labels[rows]
        size = c.eval_size or len(dev)
        self.dev_x, self.dev_y = pack(dev.sentences[:size]), dev.labels[:size]
        self.lengths = self.train_x["padding_mask"].sum(axis=1)
        self.batches = c.length_buckets(self.lengths)
        self.steps_per_epoch = self.batches.steps_per_epoch

    def tokenizer(self) -> keras_hub.tokenizers.Tokenizer:
        """The encoder's tokenizer: the folder's WordPiece vocabulary, uncased."""
        return load_bert_folder_tokenizer(self.config.encoder_dir)

    def encoder(self) -> keras.Model:
        c = self.config
        return load_bert_backbone(c.encoder_dir, name="backbone", weights=not c.from_scratch)

    def build_model(self) -> keras.Model:
        return BertClassifier(self.encoder(), num_classes=2, name="cola")

    def loss(self) -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_batch(self, step: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Batch `step` (see `LengthBuckets`): sentences of similar length, cut to their bucket."""
        rows, length = self.batches(step)
        return {k: v[rows, :length] for k, v in self.train_x.items()}, self.train_y[rows]

    def tokens_per_step(self) -> int:
        return round(self.config.batch_size * float(self.lengths.mean()))

    def flops_per_token(self, model: keras.Model) -> float:
        return bert_flops_per_token(model, self.config.max_length)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """MCC, accuracy and loss on the in-domain dev set."""
        c = self.config
        logits = predict_by_length(model, self.dev_x, self.dev_x["padding_mask"].sum(axis=1),
                                   c.eval_batch_size, c.buckets())
        scores = metrics.classification_scores(self.dev_y, logits)
        return {"mcc": scores["mcc"], "accuracy": scores["accuracy"], "dev_loss": scores["loss"]}

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        print(f"CoLA in-domain dev, {len(self.dev_y)} sentences: MCC "
              f"{run_metrics['history'][-1]['mcc']:.3f}")
        return {}

"""Chapter 05 — BERT fine-tuning on CoLA: a pretrained checkpoint vs the same network from scratch.

CoLA asks whether an English sentence is grammatically acceptable (1) or not
(0). Each model reads `[CLS] sentence [SEP]` and classifies the pooled
`[CLS]` vector with a `BertClassifier` head (dropout, Dense(2)). The models
differ only in where the backbone's weights start:

1. **checkpoint**: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer,
   384-wide, 12-head uncased BERT), `BERT.from_hf_checkpoint(minilm_checkpoint_dir())`;
2. **random**: the same architecture (same `config.json`), randomly initialized;
3. (to come) **pretrained**: the small BERT pretrained with MLM + NSP earlier
   in this chapter. Add a builder to `BACKBONES` and its name to the preset's
   `initializations`; it must use the checkpoint's WordPiece vocabulary,
   since every model reads the same token ids.

All initializations train **jointly**, as the outputs of one `keras.Model`
with one loss per output (as chapter 01 does): they share no layer, so the
summed loss gives each backbone exactly its own gradient, and they see the
same batches in the same order. One run then has one checkpoint, exact
`--resume`, and one history holding every model's dev scores at the same
steps. Gradient clipping is off (`grad_clip=0`): a global-norm clip would
couple the models' updates. A step costs the sum of the models' steps, the
same total as training them one after the other.

The recipe (per model): AdamW, peak learning rate 5e-5, weight decay 0.01,
batch 32, 3 epochs, linear warm-up over the first 10% of the steps. The
runner's schedule then decays by a cosine (not BERT's straight line) to
`min_learning_rate`=1e-7, which ends near zero as the linear decay does.

    python chapters/05_bert_cola.py --preset gpu     # 3 epochs, sequences of 64 tokens
    python chapters/05_bert_cola.py --preset cpu     # ~4 min on 2 CPU cores: shortened, see CPU below
    python chapters/05_bert_cola.py --preset smoke   # a tiny subset, for the tests
    python chapters/05_bert_cola.py --preset gpu --epochs 5

The headline is the checkpoint model's Matthews correlation (MCC) on
`in_domain_dev`; every model's MCC, accuracy and loss on `in_domain_dev` and
`out_of_domain_dev` are recorded beside it at every evaluation. `finish`
saves `mcc_curves.png` (dev MCC against step, every model and dev set),
`mcc.png` (final MCC per model and dev set) and
`confusion_matrix_<model>_<dev set>.png`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import keras
import numpy as np

import keras_transformer as kt
from keras_transformer import classification_metrics, plots, training
from keras_transformer.data import cola
from keras_transformer.models.hf_checkpoint import read_hf_bert_config

DEV_SETS = {"in_domain": "in_domain_dev", "out_of_domain": "out_of_domain_dev"}
NUM_CLASSES = 2
INPUT_DTYPES = {"token_ids": "int32", "segment_ids": "int32", "padding_mask": "bool"}


def checkpoint_backbone(name: str) -> kt.models.BERT:
    """all-MiniLM-L6-v2's pretrained encoder."""
    return kt.models.BERT.from_hf_checkpoint(kt.models.minilm_checkpoint_dir(), name=name)


def random_backbone(name: str) -> kt.models.BERT:
    """The checkpoint's architecture (its `config.json`), with BERT's random initialization."""
    return kt.models.BERT(**read_hf_bert_config(kt.models.minilm_checkpoint_dir()), name=name)


#: Backbone builders by initialization name; each takes the layer name.
BACKBONES = {"checkpoint": checkpoint_backbone, "random": random_backbone}


@dataclasses.dataclass
class ColaConfig(training.Preset):
    initializations: str = "checkpoint,random"  # comma-separated names from BACKBONES
    max_length: int = cola.MAX_LENGTH  # tokens per packed sentence, [CLS] and [SEP] included
    classifier_dropout: float = 0.1
    train_size: int = 0  # 0: all 8,551 training sentences; n: a fixed random subset of n
    eval_size: int = 0  # 0: the whole dev sets; n: the first n sentences of each
    eval_batch_size: int = 128
    # The fine-tuning recipe (BERT's; Devlin et al. 2019, appendix A.3).
    learning_rate: float = 5e-5
    min_learning_rate: float = 1e-7
    weight_decay: float = 0.01
    beta2: float = 0.999
    grad_clip: float = 0.0  # joint training: a global-norm clip would couple the models

    def __post_init__(self):
        super().__post_init__()
        names = self.names()
        unknown = [n for n in names if n not in BACKBONES]
        if not names or unknown or len(set(names)) != len(names):
            raise ValueError(
                f"initializations must be distinct comma-separated names from "
                f"{sorted(BACKBONES)}; got {self.initializations!r}."
            )
        if not 3 <= self.max_length <= cola.MAX_LENGTH:
            raise ValueError(
                f"max_length must be in [3, {cola.MAX_LENGTH}] ([CLS], a word piece, "
                f"[SEP]); got {self.max_length}."
            )
        if self.train_size < 0 or self.eval_size < 0:
            raise ValueError(
                f"train_size and eval_size must be >= 0 (0 = all); got "
                f"{self.train_size} and {self.eval_size}."
            )

    def names(self) -> list[str]:
        """The initializations to train, in order."""
        return [n.strip() for n in self.initializations.split(",") if n.strip()]


SMOKE = ColaConfig(
    max_length=24, batch_size=8, train_size=96, eval_size=48, steps=8, warmup_steps=2,
    eval_interval=4, checkpoint_interval=8, jit_compile=False,
)
# 2 CPU cores: sequences cut to 32 tokens (the longest CoLA sentence has 47
# with [CLS]/[SEP], but only 5 of 8,551 training sentences and 5 of 516
# out-of-domain dev sentences exceed 32; a step costs time linear in the
# length), and 150 steps (0.56 epoch) instead of 3 epochs: both models
# together take ~0.98 s a step, 232 s for the whole run on 2 shared cores.
# At that length neither model has left the majority-class answer (MCC 0):
# HF's 0.41 needs more steps (3 epochs: ~13 min for both models, ~7 for the
# checkpoint alone). XLA is off: on 2 CPU cores it was no faster per step
# and its compile of two 6-layer models costs ~30 s.
CPU = ColaConfig(
    max_length=32, batch_size=32, steps=150, warmup_steps=15,
    eval_interval=50, checkpoint_interval=150, jit_compile=False,
)
# The full recipe: 3 epochs of 267 steps at batch 32, sequences of 64 tokens.
GPU = ColaConfig(
    max_length=64, batch_size=32, steps=3 * (8551 // 32), warmup_steps=80,
    eval_interval=89, checkpoint_interval=267, eval_batch_size=512,
)


class ColaTask(training.Task):
    """BERT fine-tuning on CoLA: MiniLM checkpoint vs the same network from scratch."""

    headline = "checkpoint_in_domain_mcc"
    headline_mode = "max"

    def __init__(self, config: ColaConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        if "checkpoint" not in c.names():
            self.headline = f"{c.names()[0]}_in_domain_mcc"
        splits = cola.load_cola(data_dir)
        tokenizer = cola.cola_tokenizer()
        train = splits["in_domain_train"]
        order = np.arange(len(train))
        if c.train_size:
            order = np.sort(np.random.default_rng(c.seed).permutation(len(train))[: c.train_size])
        self.train_x = cola.cola_inputs([train.sentences[i] for i in order], tokenizer, c.max_length)
        self.train_y = train.labels[order]
        self.dev = {}
        for key, split in DEV_SETS.items():
            n = c.eval_size or len(splits[split])
            self.dev[key] = (
                cola.cola_inputs(splits[split].sentences[:n], tokenizer, c.max_length),
                splits[split].labels[:n],
            )
        self.steps_per_epoch = max(1, len(self.train_y) // c.batch_size)

    # ---------------------------------------------------------------- model

    def build_model(self) -> keras.Model:
        c = self.config
        inputs = {k: keras.Input((None,), dtype=d, name=k) for k, d in INPUT_DTYPES.items()}
        outputs = {}
        for name in c.names():
            backbone = BACKBONES[name](f"{name}_backbone")
            classifier = kt.models.BertClassifier(
                backbone, NUM_CLASSES, dropout=c.classifier_dropout, name=name
            )
            outputs[name] = classifier(inputs)
        return keras.Model(inputs, outputs, name="cola")

    def loss(self):
        return {
            name: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            for name in self.config.names()
        }

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        """Batch `step`: epoch `step // steps_per_epoch` of a seeded shuffle, last partial batch dropped."""
        c = self.config
        epoch, index = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([c.seed, epoch]).permutation(len(self.train_y))
        take = order[index * c.batch_size : (index + 1) * c.batch_size]
        x = {k: v[take] for k, v in self.train_x.items()}
        return x, {name: self.train_y[take] for name in c.names()}

    def tokens_per_step(self) -> int:
        """Tokens the models process per step: padded rows of `max_length`."""
        return self.config.batch_size * self.config.max_length

    def flops_per_token(self, model: keras.Model) -> float:
        """`6N + 12 L H T` per backbone (N without the embedding tables), summed over the models."""
        c, total = self.config, 0.0
        for name in c.names():
            backbone = model.get_layer(name).backbone
            tables = sum(int(np.prod(w.shape)) for w in backbone.embeddings.weights)
            total += training.gpt_flops_per_token(
                model.get_layer(name).count_params() - tables,
                backbone.num_layers, backbone.hidden_dim, c.max_length,
            )
        return total

    # ---------------------------------------------------------------- results

    def predict_dev(self, model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
        """`{dev set: {model name: (n, 2) logits}}`."""
        return {
            key: model.predict(x, batch_size=self.config.eval_batch_size, verbose=0)
            for key, (x, _) in self.dev.items()
        }

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        results = {}
        for key, logits in self.predict_dev(model).items():
            labels = self.dev[key][1]
            for name in self.config.names():
                scores = classification_metrics.classification_scores(labels, logits[name])
                for metric, value in scores.items():
                    results[f"{name}_{key}_{metric}"] = value
        return results

    def finish(self, model: keras.Model, run_dir: pathlib.Path) -> None:
        names = self.config.names()
        logits = self.predict_dev(model)
        final = {}
        for key, (_, labels) in self.dev.items():
            for name in names:
                predicted = np.argmax(logits[key][name], axis=-1)
                mcc = classification_metrics.matthews_corrcoef(labels, predicted)
                final[f"{name} {key}"] = mcc
                (tn, fp), (fn, tp) = classification_metrics.confusion_matrix(labels, predicted)
                plots.matrix_plot(
                    [[tn, fp], [fn, tp]], run_dir / f"confusion_matrix_{name}_{key}.png",
                    title=f"{name}, {DEV_SETS[key]}: MCC {mcc:.3f}\n"
                          f"TN={tn} FP={fp} FN={fn} TP={tp}",
                    xlabel="predicted (0 = unacceptable, 1 = acceptable)",
                    ylabel="true", cmap="Blues", symmetric=False, colorbar_label="sentences",
                )
        plots.bar_chart(
            final, run_dir / "mcc.png", title="CoLA dev: Matthews correlation",
            ylabel="MCC", reference=0.0, reference_label="constant prediction (MCC 0)",
        )
        history = self.recorder_history(run_dir)
        if history:
            plots.line_chart(
                [r["step"] for r in history],
                {f"{name} {key}": [r[f"{name}_{key}_mcc"] for r in history]
                 for name in names for key in DEV_SETS},
                run_dir / "mcc_curves.png", title="CoLA dev MCC during fine-tuning",
                xlabel="step", ylabel="MCC", reference=0.0,
                reference_label="constant prediction (MCC 0)",
            )
        print("final dev MCC: " + ", ".join(f"{k} {v:.3f}" for k, v in final.items()))

    @staticmethod
    def recorder_history(run_dir: pathlib.Path) -> list[dict]:
        """The evaluation history the runner wrote to `metrics.json` (before calling `finish`)."""
        path = run_dir / "metrics.json"
        return json.loads(path.read_text())["history"] if path.exists() else []


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, ColaTask)

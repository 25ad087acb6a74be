"""Chapter 05 — BERT fine-tuning on CoLA: a pretrained checkpoint vs the same network from scratch.

CoLA asks whether an English sentence is grammatically acceptable (1) or not
(0). Each model reads `[CLS] sentence [SEP]` and classifies the pooled
`[CLS]` vector with a `BertClassifier` head (dropout, Dense(2)). The models
differ only in where the backbone's weights start:

1. **checkpoint**: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer,
   384-wide, 12-head uncased BERT), `BERT.from_hf_checkpoint(minilm_checkpoint_dir())`;
2. **pretrained**: the small BERT pretrained with MLM + NSP by
   `chapters/05_bert_pretraining.py` on SQuAD's Wikipedia paragraphs, loaded
   from its run folder (`pretrained_dir`) with its own WordPiece vocabulary;
3. **random**: the checkpoint's architecture (same `config.json`), randomly
   initialized.

Each model reads the sentences through its own vocabulary: the inputs of the
joint model are prefixed by vocabulary (`minilm_token_ids`,
`pretrained_token_ids`, ...).

Each initialization is fine-tuned in turn, in its own run folder
(`<run>/<initialization>/`: checkpoints, metrics.json, loss curve, confusion
matrices, exact `--resume`) and its own process (`training.run_phases`), on
the same batches in the same order. Training them one after the other costs
the same time as side by side, plus a few seconds to start each process, and
peaks at one model's memory: two 22M-parameter BERTs with their optimizer
states would not fit a laptop's 2 GB beside TensorFlow. The run folder's
`metrics.json` then holds every model's dev scores at the same steps.
(`ColaTask` can also train several initializations side by side, as the
outputs of one `keras.Model`.)

The recipe (per model) is BERT's, as Hugging Face's `Trainer` runs it by
default: AdamW, peak learning rate 5e-5, weight decay 0.01, batch 32, 3
epochs, linear warm-up over the first 10% of the steps, then a straight line
down to `min_learning_rate`=1e-7 (`lr_decay="linear"`), and random batches.
Two differences: no gradient clipping (`Trainer` clips at norm 1; clipping
changed no score measurably, and when the initializations shared a process a
clipped run left about 0.3 GB behind for the next), and each batch is padded
to the smallest of `bucket_lengths` that holds its longest sentence, not to
that sentence, so a few shapes are traced (`LengthBuckets` with
`chunk_batches=1`). Sorting sentences by length before cutting batches pads
less (24 positions a row on average here; 17 sorting every 4 batches' worth,
14 sorting whole epochs; sentences need 11), but sorting whole epochs made
batches so alike that after the first epoch every seed still predicted one
class, and sorting every 4 batches' worth ended 0.02 lower in MCC (README,
Benchmarks).

    python chapters/05_bert_pretraining.py --preset cpu   # first: the "pretrained" backbone
    python chapters/05_bert_cola.py --preset cpu     # 3 epochs, three models in turn
    python chapters/05_bert_cola.py --preset gpu
    python chapters/05_bert_cola.py --preset smoke   # a tiny subset, for the tests
    python chapters/05_bert_cola.py --preset gpu --epochs 5

The headline is the first initialization's Matthews correlation (MCC) on
`in_domain_dev`; every model's MCC, accuracy and loss on `in_domain_dev` and
`out_of_domain_dev` are recorded beside it at every evaluation. Each
model's folder gets `confusion_matrix_<dev set>.png`; the run folder gets
`mcc_curves.png` (dev MCC against step, every model and dev set) and
`mcc.png` (final MCC per model and dev set).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer import metrics, plots, training
from keras_transformer.data import cola
from keras_transformer.data.wordpiece import wordpiece_tokenizer
from keras_transformer.models.bert.folder import load_bert_folder
from keras_transformer.models.bert.checkpoint import read_hf_bert_config
from keras_transformer.training.cli import build_parser
from keras_transformer.training.preset import FineTuningPreset
from keras_transformer.training.preset import parse_names

DEV_SETS = {"in_domain": "in_domain_dev", "out_of_domain": "out_of_domain_dev"}
NUM_CLASSES = 2
INPUT_DTYPES = {"token_ids": "int32", "segment_ids": "int32", "padding_mask": "bool"}
#: The vocabulary each initialization reads its sentences with.
VOCABULARY = {"checkpoint": "minilm", "random": "minilm", "pretrained": "pretrained"}


def build_backbone(init: str, config: ColaConfig) -> kt.models.BERT:
    """The backbone of initialization `init`, named `<init>_backbone`."""
    name, folder = f"{init}_backbone", kt.models.minilm_checkpoint_dir()
    if init == "checkpoint":
        return kt.models.BERT.from_hf_checkpoint(folder, name=name)
    if init == "random":
        return kt.models.BERT(**read_hf_bert_config(folder), name=name)
    return load_bert_folder(config.pretrained_dir, name=name)[0]


def longest(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Each sentence's length in word pieces: the longest of its tokenizations ([CLS], [SEP] included)."""
    return np.max([v.sum(axis=1) for k, v in inputs.items() if k.endswith("_padding_mask")],
                  axis=0)


def tokenizer_for(vocabulary: str, config: ColaConfig):
    """The WordPiece tokenizer of `vocabulary` ("minilm" or "pretrained"), uncased."""
    if vocabulary == "minilm":
        return cola.cola_tokenizer()
    return wordpiece_tokenizer(pathlib.Path(config.pretrained_dir) / "vocab.txt")


@dataclasses.dataclass
class ColaConfig(FineTuningPreset):
    """The CoLA preset: `train_size` picks a fixed random subset of the 8,551 training
    sentences, `eval_size` the first sentences of each dev set (0: all)."""

    # Comma-separated, from VOCABULARY, trained in this order, each in a fresh process.
    initializations: str = "checkpoint,random,pretrained"
    pretrained_dir: str = "runs/05_bert_pretraining-cpu"  # the pretraining chapter's run folder
    max_length: int = cola.MAX_LENGTH  # tokens per packed sentence, [CLS] and [SEP] included
    # Training batches are padded to the smallest of these (and max_length)
    # that holds their longest sentence; most CoLA sentences need <= 16.
    bucket_lengths: str = "12,16,20,24,28,32,40,48"
    chunk_batches: int = 1  # batches per length-sorted chunk: 1, random batches (see the docstring)
    classifier_dropout: float = 0.1
    eval_batch_size: int = 128
    # The fine-tuning recipe (BERT's; Devlin et al. 2019, appendix A.3).
    learning_rate: float = 5e-5
    min_learning_rate: float = 1e-7
    lr_decay: str = "linear"
    weight_decay: float = 0.01
    beta2: float = 0.999
    # transformers clips at norm 1; here a clipped run left ~0.3 GB behind for
    # the next initialization trained in the same process (smoke: 1.97 GB
    # after the first run, 2.29 after the second; 1.86 / 1.91 unclipped).
    grad_clip: float = 0.0

    def __post_init__(self):
        self.names()  # a ValueError unless `initializations` names known ones once each
        if not 3 <= self.max_length <= cola.MAX_LENGTH:
            raise ValueError(
                f"max_length must be in [3, {cola.MAX_LENGTH}] ([CLS], a word piece, "
                f"[SEP]); got {self.max_length}."
            )
        super().__post_init__()  # the runner's fields, the buckets and the subset sizes

    def names(self) -> list[str]:
        """The initializations to train, in order."""
        return parse_names("initializations", self.initializations, VOCABULARY)


SMOKE = ColaConfig(
    initializations="checkpoint,random", max_length=24, bucket_lengths="16", batch_size=8,
    train_size=96, eval_size=48, steps=8, warmup_steps=2, eval_interval=4, checkpoint_interval=8,
    jit_compile=False,
)
# The recipe in full (3 epochs of 267 steps at batch 32, sentences of up to 64
# tokens) for each of the three initializations. On 2 CPU cores the
# checkpoint and random runs take about 4 minutes each, the smaller pretrained
# BERT 1, 8.8 minutes in all, at a peak of 1.88 GB (README, Memory). XLA is
# off: on 2 CPU cores it was no faster per step, and it compiles once per bucket.
CPU = ColaConfig(
    max_length=64, batch_size=32, steps=3 * (8551 // 32), warmup_steps=80,
    eval_interval=89, checkpoint_interval=267, jit_compile=False,
)
GPU = ColaConfig(
    max_length=64, batch_size=32, steps=3 * (8551 // 32), warmup_steps=80,
    eval_interval=89, checkpoint_interval=267, eval_batch_size=512,
    pretrained_dir="runs/05_bert_pretraining-gpu",
)


class ColaTask(training.Task):
    """BERT fine-tuning on CoLA: MiniLM checkpoint vs the same network from scratch."""

    headline_mode = "max"  # the headline, set per run: the first initialization's in-domain MCC

    def __init__(self, config: ColaConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        self.headline = f"{c.names()[0]}_in_domain_mcc"
        splits = cola.load_cola(data_dir)
        train = splits["in_domain_train"]
        order = np.arange(len(train))
        if c.train_size:
            order = np.sort(np.random.default_rng(c.seed).permutation(len(train))[: c.train_size])
        self.train_y = train.labels[order]
        dev = {key: splits[split] for key, split in DEV_SETS.items()}
        dev_size = {key: c.eval_size or len(split) for key, split in dev.items()}
        self.train_x, dev_x = {}, {key: {} for key in dev}
        for vocabulary in dict.fromkeys(VOCABULARY[n] for n in c.names()):
            tokenizer = tokenizer_for(vocabulary, c)

            def encode(sentences, tokenizer=tokenizer, vocabulary=vocabulary):
                arrays = cola.cola_inputs(sentences, tokenizer, c.max_length)
                return {f"{vocabulary}_{k}": v for k, v in arrays.items()}

            self.train_x.update(encode([train.sentences[i] for i in order]))
            for key, split in dev.items():
                dev_x[key].update(encode(split.sentences[:dev_size[key]]))
        self.dev = {key: (dev_x[key], split.labels[:dev_size[key]]) for key, split in dev.items()}
        self.dev_lengths = {key: longest(x) for key, x in dev_x.items()}
        self.lengths = longest(self.train_x)
        self.batches = c.length_buckets(self.lengths)
        self.steps_per_epoch = self.batches.steps_per_epoch

    # ---------------------------------------------------------------- model

    def build_model(self) -> keras.Model:
        c = self.config
        inputs = {k: keras.Input((None,), dtype=INPUT_DTYPES[k.split("_", 1)[1]], name=k)
                  for k in self.train_x}
        outputs = {}
        for name in c.names():
            vocabulary = VOCABULARY[name]
            classifier = kt.models.BertClassifier(
                build_backbone(name, c), NUM_CLASSES, dropout=c.classifier_dropout, name=name
            )
            outputs[name] = classifier({k: inputs[f"{vocabulary}_{k}"] for k in INPUT_DTYPES})
        return keras.Model(inputs, outputs, name="cola")

    def loss(self):
        return {
            name: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            for name in self.config.names()
        }

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        """Batch `step` (see `LengthBuckets`): sentences of similar length, cut to their bucket."""
        rows, length = self.batches(step)
        x = {k: v[rows, :length] for k, v in self.train_x.items()}
        return x, {name: self.train_y[rows] for name in self.config.names()}

    def tokens_per_step(self) -> int:
        """Real tokens per step ([CLS] and [SEP] included; the longer tokenization), on average."""
        return round(self.config.batch_size * float(self.lengths[self.batches.index].mean()))

    def flops_per_token(self, model: keras.Model) -> float:
        """`bert_flops_per_token` of every classifier, summed (they all read every token)."""
        return sum(training.bert_flops_per_token(model.get_layer(name), self.config.max_length)
                   for name in self.config.names())

    # ---------------------------------------------------------------- results

    def predict_dev(self, model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
        """`{dev set: {model name: (n, 2) logits}}`."""
        c = self.config
        return {
            key: training.predict_by_length(model, x, self.dev_lengths[key], c.eval_batch_size,
                                            c.buckets())
            for key, (x, _) in self.dev.items()
        }

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        results = {}
        for key, logits in self.predict_dev(model).items():
            labels = self.dev[key][1]
            for name in self.config.names():
                scores = metrics.classification_scores(labels, logits[name])
                for metric, value in scores.items():
                    results[f"{name}_{key}_{metric}"] = value
        return results

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        """Draws each model's confusion matrix on each dev set."""
        logits = self.predict_dev(model)
        for key, (_, labels) in self.dev.items():
            for name in self.config.names():
                predicted = np.argmax(logits[key][name], axis=-1)
                (tn, fp), (fn, tp) = metrics.confusion_matrix(labels, predicted)
                suffix = key if len(self.config.names()) == 1 else f"{name}_{key}"
                plots.matrix_plot(
                    [[tn, fp], [fn, tp]], run_dir / f"confusion_matrix_{suffix}.png",
                    title=f"{name}, {DEV_SETS[key]}: MCC "
                          f"{metrics.matthews_corrcoef(labels, predicted):.3f}\n"
                          f"TN={tn} FP={fp} FN={fn} TP={tp}",
                    xlabel="predicted (0 = unacceptable, 1 = acceptable)",
                    ylabel="true", cmap="Blues", symmetric=False, colorbar_label="sentences",
                )
        return {}


def merge_runs(runs: dict[str, dict]) -> dict:
    """One metrics dict for initializations fine-tuned in turn.

    `runs` maps each initialization to its run's metrics. The history rows
    of equal steps are joined (each run's `train_loss` becomes
    `<initialization>_train_loss`); the headline is the first run's; wall
    time adds up and the peak memory is the largest.
    """
    first = next(iter(runs.values()))
    history = []
    for rows in zip(*(r["history"] for r in runs.values())):
        merged = {"step": rows[0]["step"]}
        for name, row in zip(runs, rows):
            if row["step"] != merged["step"]:
                raise ValueError(f"runs evaluated at different steps: {name} at {row['step']}, "
                                 f"{next(iter(runs))} at {merged['step']}.")
            merged.update({(f"{name}_{k}" if k == "train_loss" else k): v
                           for k, v in row.items() if k != "step"})
        history.append(merged)
    return {
        "finished": all(r["finished"] for r in runs.values()),
        "step": min(r["step"] for r in runs.values()),
        "headline": first["headline"],
        "history": history,
        "wall_time_s": sum(r["wall_time_s"] for r in runs.values()),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs.values()),
        "runs": list(runs),
    }


def plot_comparison(merged: dict, run_dir: pathlib.Path) -> dict[str, float]:
    """Draws `mcc.png` and `mcc_curves.png`; returns the final MCC per "<model> <dev set>"."""
    history, names = merged["history"], merged["runs"]
    final = {f"{name} {key}": history[-1][f"{name}_{key}_mcc"] for key in DEV_SETS for name in names}
    plots.bar_chart(
        final, run_dir / "mcc.png", title="CoLA dev: Matthews correlation",
        ylabel="MCC", reference=0.0, reference_label="constant prediction (MCC 0)",
    )
    plots.line_chart(
        [r["step"] for r in history],
        {f"{name} {key}": [r[f"{name}_{key}_mcc"] for r in history]
         for name in names for key in DEV_SETS},
        run_dir / "mcc_curves.png", title="CoLA dev MCC during fine-tuning",
        xlabel="step", ylabel="MCC", reference=0.0,
        reference_label="constant prediction (MCC 0)",
    )
    return final


def main(argv: list[str] | None = None) -> dict:
    """Fine-tunes each initialization in turn, then writes the comparison; returns its metrics."""
    presets = {"smoke": SMOKE, "cpu": CPU, "gpu": GPU}
    args = build_parser(presets, __doc__).parse_args(argv)
    config = args.config
    run = pathlib.Path(args.out or f"runs/05_bert_cola-{args.preset}")
    # Each initialization trains in a fresh process of its own: what one run's
    # framework kept (compiled programs) never adds to the next one's peak.
    runs = {
        name: training.run_in_fresh_process(
            training.train, dataclasses.replace(config, initializations=name), ColaTask, run / name,
            data_dir=args.data_dir, epochs=args.epochs, resume=args.resume,
            distribute=args.distribute, power_watts=args.power_watts,
            labels={"chapter": "05_bert_cola", "preset": args.preset, "initialization": name},
        )
        for name in config.names()
    }
    merged = merge_runs(runs)
    final = plot_comparison(merged, run)
    (run / "metrics.json").write_text(json.dumps(merged, indent=1) + "\n")
    print("final dev MCC: " + ", ".join(f"{k} {v:.3f}" for k, v in final.items()))
    print(f"05 CoLA ({args.preset}): {merged['headline']['name']}={merged['headline']['value']:.3f} "
          f"| wall {merged['wall_time_s'] / 60:.1f} min | peak RSS {merged['peak_rss_mb']:,.0f} MiB")
    return merged


if __name__ == "__main__":
    training.run_phases(main)  # this process only supervises: see run_phases

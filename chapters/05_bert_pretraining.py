"""Chapter 05 — pretraining a small BERT from scratch: WordPiece, masked LM and next sentence.

The corpus is Wikipedia (`keras_transformer.data.pretraining_articles`, the
one chapter 06 uses): the paragraphs of the SQuAD articles used for QA
training (articles 1-38 of dev-v1.1.json) and the 120 WikiText-2 articles
of its validation and test splits. The last `heldout_articles` of them are
this chapter's held-out text, on which MLM and NSP accuracy are measured;
the 10 SQuAD articles that QA is scored on are never pretrained on.

1. **Vocabulary**: keras-hub's `compute_word_piece_vocabulary` learns an
   uncased WordPiece vocabulary of at most `vocab_size` pieces from the
   pretraining paragraphs.
2. **Next-sentence pairs**: each paragraph's sentences are joined into
   segments of up to `segment_words` words (`data.join_sentences`; BERT's
   "sentences" are such spans). Each segment A with a successor gets
   B = that successor (IsNext, label 0) or, for exactly half of the pairs,
   a random segment of another article (NotNext, label 1;
   `data.next_sentence_pairs`). The `tokenizers` library's WordPiece cuts
   them with that vocabulary and `data.wordpiece.sentence_rows` packs
   `[CLS] A [SEP] B [SEP]`, the rows keras-hub's tokenizer and
   `MultiSegmentPacker` give, in a second instead of 20 a copy.
3. **Masked LM**: keras-hub's `MaskedLMMaskGenerator` picks 15% of the real
   tokens (at most `max_predictions`); 80% of them become `[MASK]`, 10% a
   random token, 10% stay.

The corpus is copied `dupe_factor` times, as in BERT's data generation, and
each copy gets pairs and masks of its own: a segment A that is followed by
its successor in one copy may meet another article's segment in the next, so
a pair's label can only be judged, never learned by heart (one set of pairs
masked five times was: training NSP loss fell to 0.46 while held-out NSP
accuracy stayed at 0.57). All of it is drawn up front from `seed`, so batch
`step` is a pure function of the seed and the step (exact `--resume`;
`keras_transformer.data.masked_lm` fixes the masker's draws).

The model is `BertPretrainer` (MLM head tied to the token embedding, NSP head
on the pooled `[CLS]`); the loss is the MLM cross-entropy over the predicted
positions plus the NSP cross-entropy. `finish` saves the backbone
and `vocab.txt` with `save_bert_folder`; chapter 05's CoLA script loads
that folder as its "pretrained" initialization.

**What pretraining bought** (`squad_steps` > 0): the saved backbone, and the
same architecture from random weights, are each fine-tuned on SQuAD's
article split with one recipe (`training.span_qa.SquadProbe`) in
`<run>/squad_pretrained/` and `<run>/squad_random/`; the run folder's
`metrics.json` gets both EM/F1 (`squad_pretrained_f1`, ...) and
`transfer.png` draws them. `nsp.png` draws held-out NSP accuracy at
every evaluation beside chance and word overlap alone.

    python chapters/05_bert_pretraining.py --preset cpu     # ~22 min on 2 CPU cores
    python chapters/05_bert_pretraining.py --preset gpu
    python chapters/05_bert_pretraining.py --preset smoke
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer import plots, training
from keras_transformer.data import (
    join_sentences,
    masked_lm,
    next_sentence_pairs,
    pretraining_articles,
    split_sentences,
)
from keras_transformer.data.wordpiece import sentence_rows, wordpiece_tokenizer
from keras_transformer.models.bert.folder import save_bert_folder
from keras_transformer.training import report
from keras_transformer.training.cli import build_parser
from keras_transformer.training.span_qa import FolderSpanQAPreset, FolderSpanQATask, SquadProbe

RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclasses.dataclass
class PretrainingConfig(training.Preset, SquadProbe):
    """Pretraining fields (`steps`, `batch_size`, ... are the runner's) and the SQuAD probe's (`SquadProbe`)."""

    vocab_size: int = 8000
    max_length: int = 128
    segment_words: int = 45  # words per NSP segment: A and B together fill most of a row
    max_predictions: int = 20  # masked positions per pair (15% of 128, rounded up)
    dupe_factor: int = 5  # maskings of every pair
    heldout_articles: int = 4
    corpus_articles: int = 0  # 0: the whole corpus; n: its first n articles (smoke)
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    dropout: float = 0.1
    learning_rate: float = 5e-4
    min_learning_rate: float = 5e-5
    weight_decay: float = 0.01
    beta2: float = 0.98
    squad_dropout: float | None = None  # the probes' dropout; None: the pretraining's

    def __post_init__(self):
        super().__post_init__()
        if self.max_predictions < 1 or self.dupe_factor < 1 or self.segment_words < 1:
            raise ValueError(
                f"max_predictions, dupe_factor and segment_words must be >= 1, got "
                f"{self.max_predictions}, {self.dupe_factor} and {self.segment_words}."
            )
        if self.squad_steps < 0 or self.squad_max_length > self.max_length:
            raise ValueError(
                f"squad_steps must be >= 0 (0: no SQuAD probe), got {self.squad_steps}; "
                f"squad_max_length must be <= max_length ({self.max_length}) so that every "
                f"fine-tuned position was pretrained, got {self.squad_max_length}."
            )
        self.check_squad()
        if self.squad_dropout is not None and not 0 <= self.squad_dropout < 1:
            raise ValueError(f"squad_dropout must be in [0, 1), or none for the pretraining's "
                             f"rate; got {self.squad_dropout!r}.")


SMOKE = PretrainingConfig(
    corpus_articles=8, vocab_size=1000, max_length=32, max_predictions=5, dupe_factor=1,
    num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, batch_size=16, steps=10,
    warmup_steps=2, eval_interval=5, checkpoint_interval=10, jit_compile=False,
    squad_steps=2, squad_batch_size=8, squad_max_length=32, squad_doc_stride=16,
    squad_train_size=16, squad_eval_size=8,
)
# 2 CPU cores: a model small enough to see 6,000 batches of 32 pairs of 128
# tokens in 15 minutes (4 layers 128 wide: 3x the tokens per second of 256
# wide), no dropout and a peak learning rate of 1e-3, the short-budget
# recipe of Geiping & Goldstein 2022 ("Cramming"). NSP needs the steps:
# held-out NSP accuracy was 0.506 and 0.513 after 1,000 and 2,000 of them,
# then 0.636 after 3,000 and 0.701 after 6,000, past the 0.655 of word
# overlap alone (2,000 steps with a schedule of their own: 0.525). Then the
# two SQuAD probes, 1,800 steps each (2.6 epochs of the training windows,
# about 4 minutes): F1 10.7 pretrained vs 9.4 random; the 2,000-step backbone
# gave 11.2. The probes' peak rate stays 3e-4: a 1,200-step probe of the
# pretrained backbone at 1e-3 ended at F1 9.2.
# The pretraining step runs without XLA, the probes with it: XLA's
# compilation of the pretraining step held 0.8 GB at once, and the run
# peaked at 2.05-2.07 GB in 100-step trials against 1.83 without, for 25%
# fewer tokens per second (17k against 23k).
CPU = PretrainingConfig(
    hidden_dim=128, intermediate_dim=512, num_heads=2, dropout=0.0, learning_rate=1e-3,
    min_learning_rate=1e-4, batch_size=32, steps=6000, warmup_steps=600, eval_interval=1000,
    checkpoint_interval=2000, squad_steps=1800, jit_compile=False, squad_jit_compile=True,
)
GPU = PretrainingConfig(
    dupe_factor=10, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048,
    batch_size=128, steps=6000, warmup_steps=600, eval_interval=1000, checkpoint_interval=2000,
    learning_rate=3e-4, min_learning_rate=3e-5, dtype_policy="mixed_bfloat16",
    squad_steps=1200, squad_learning_rate=1e-4,
)
PROBES = ("pretrained", "random")  # the saved backbone, and its architecture from scratch


def overlap_features(x: dict[str, np.ndarray], vocab_size: int) -> np.ndarray:
    """Per packed pair: cosine similarity of segment A's and B's word-piece counts, and both lengths.

    Reserved pieces (`RESERVED`: padding, `[CLS]`, `[SEP]`, `[MASK]`) are left out.
    """
    from scipy import sparse

    ids = x["token_ids"]
    words = x["padding_mask"] & (ids >= len(RESERVED))

    def counts(segment: int):
        rows, cols = np.nonzero(words & (x["segment_ids"] == segment))
        return sparse.csr_matrix((np.ones(len(rows)), (rows, ids[rows, cols])),
                                 shape=(len(ids), vocab_size))

    a, b = counts(0), counts(1)
    norm = lambda m: np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())  # noqa: E731
    cosine = np.asarray(a.multiply(b).sum(1)).ravel() / np.maximum(norm(a) * norm(b), 1e-9)
    return np.stack([cosine, np.asarray(a.sum(1)).ravel(), np.asarray(b.sum(1)).ravel()], 1)


def overlap_baseline(train, heldout, vocab_size: int, seed: int, rows: int = 20_000) -> float:
    """Held-out NSP accuracy of a logistic regression on `overlap_features` (no network at all).

    It measures how much of NSP word overlap alone decides: a network whose
    NSP accuracy stays below it has not yet learned to compare A with B.
    Fitted on at most `rows` training pairs drawn with `seed`.
    """
    from sklearn.linear_model import LogisticRegression

    (x, y), (hx, hy) = train, heldout
    pick = np.random.default_rng(seed).permutation(len(y["nsp_logits"]))[:rows]
    classifier = LogisticRegression(max_iter=1000).fit(
        overlap_features({k: v[pick] for k, v in x.items()}, vocab_size), y["nsp_logits"][pick])
    return float(classifier.score(overlap_features(hx, vocab_size), hy["nsp_logits"]))


def article_segments(articles: list[list[str]], segment_words: int) -> list[list[list[str]]]:
    """Articles given as paragraph strings, as paragraphs of segments of up to `segment_words` words."""
    return [[join_sentences(split_sentences(p), segment_words) for p in paragraphs]
            for paragraphs in articles]


class PretrainingTask(training.Task):
    """MLM + NSP pretraining of a small BERT on Wikipedia (SQuAD's training articles and WikiText-2)."""

    headline = "mlm_accuracy"
    headline_mode = "max"

    def __init__(self, config: PretrainingConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        import keras_hub
        import tensorflow as tf

        train_articles, heldout = pretraining_articles(data_dir, c.heldout_articles,
                                                       c.corpus_articles)
        paragraphs = [p for article in train_articles for p in article]
        self.vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(paragraphs).batch(64), c.vocab_size,
            lowercase=True, strip_accents=True, reserved_tokens=RESERVED,
        )
        self.tokenizer = wordpiece_tokenizer(self.vocabulary)
        masker = keras_hub.layers.MaskedLMMaskGenerator(
            vocabulary_size=len(self.vocabulary), mask_selection_rate=0.15,
            mask_token_id=self.vocabulary.index("[MASK]"),
            mask_selection_length=c.max_predictions,
            unselectable_token_ids=[self.vocabulary.index(t) for t in ("[PAD]", "[CLS]", "[SEP]")],
        )
        rng = np.random.default_rng(c.seed)
        self.train = self._examples(article_segments(train_articles, c.segment_words), masker,
                                    c.dupe_factor, "train", rng)
        self.heldout = self._examples(article_segments(heldout, c.segment_words), masker, 1,
                                      "heldout", rng)
        count = len(self.train[1]["nsp_logits"])
        self.steps_per_epoch = count // c.batch_size
        print(
            f"Pretraining corpus: {sum(map(len, train_articles))} paragraphs of "
            f"{len(train_articles)} articles, {c.dupe_factor} copies of {count // c.dupe_factor} "
            f"segment pairs, each copy paired and masked afresh, vocabulary "
            f"{len(self.vocabulary)} pieces; held out: "
            f"{len(self.heldout[1]['nsp_logits'])} pairs of {len(heldout)} articles."
        )

    def _examples(self, segments, masker, copies: int, split: str, rng: np.random.Generator):
        """`(x, y)` arrays: `copies` copies of the corpus, each with NSP pairs and masks of its own."""
        xs, ys = [], []
        for copy in range(copies):
            first, second, labels = next_sentence_pairs(segments, rng)
            packed = sentence_rows(self.tokenizer, first, self.config.max_length, second=second)
            masked = masked_lm(masker, packed["token_ids"], (self.config.seed, copy, split == "train"))
            xs.append({
                "token_ids": np.asarray(masked["token_ids"], "int32"),
                "segment_ids": packed["segment_ids"],
                "padding_mask": packed["padding_mask"],
                "mask_positions": np.asarray(masked["mask_positions"], "int32"),
            })
            # Unused prediction slots have label 0 ([PAD]), which the loss ignores.
            ys.append({"mlm_logits": np.asarray(masked["mask_ids"], "int32"),
                       "nsp_logits": labels})
        join = lambda *parts: np.concatenate(parts)  # noqa: E731
        return keras.tree.map_structure(join, *xs), keras.tree.map_structure(join, *ys)

    def build_model(self) -> keras.Model:
        c = self.config
        backbone = kt.models.BERT(
            vocab_size=len(self.vocabulary), max_length=c.max_length, num_layers=c.num_layers,
            num_heads=c.num_heads, hidden_dim=c.hidden_dim, intermediate_dim=c.intermediate_dim,
            dropout=c.dropout, name="backbone",
        )
        return kt.models.BertPretrainer(backbone, name="pretrainer")

    def loss(self):
        return {
            "mlm_logits": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=0, name="mlm"),
            "nsp_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="nsp"),
        }

    def train_batch(self, step: int):
        """Batch `step`: epoch `step // steps_per_epoch` of a seeded shuffle of the masked pairs."""
        c = self.config
        epoch, index = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([c.seed, epoch]).permutation(len(self.train[1]["nsp_logits"]))
        rows = order[index * c.batch_size:(index + 1) * c.batch_size]
        return keras.tree.map_structure(lambda a: a[rows], self.train)

    def tokens_per_step(self) -> int:
        return int(self.config.batch_size * self.train[0]["padding_mask"].sum(1).mean())

    def flops_per_token(self, model: keras.Model) -> float:
        return training.bert_flops_per_token(model, self.config.max_length)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """MLM accuracy over the held-out masked positions, NSP accuracy over the held-out pairs."""
        x, y = self.heldout
        out = model.predict(x, batch_size=64, verbose=0)  # 256 rows: +0.15 GB without XLA
        real = y["mlm_logits"] != 0
        mlm = np.argmax(out["mlm_logits"], axis=-1)[real] == y["mlm_logits"][real]
        nsp = np.argmax(out["nsp_logits"], axis=-1) == y["nsp_logits"]
        return {"mlm_accuracy": float(mlm.mean()), "nsp_accuracy": float(nsp.mean())}

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        """Saves the backbone and vocabulary, and draws held-out NSP accuracy in `nsp.png`."""
        save_bert_folder(run_dir, model.backbone, self.vocabulary)
        scores = self.evaluate(model)
        baseline = overlap_baseline(self.train, self.heldout, len(self.vocabulary), self.config.seed)
        steps = [row["step"] for row in run_metrics["history"]]
        plots.line_chart(
            steps, {"held-out NSP accuracy": [row["nsp_accuracy"] for row in run_metrics["history"]],
                    "word overlap alone": [baseline] * len(steps)},
            run_dir / "nsp.png", title="Next-sentence prediction on unseen articles",
            xlabel="pretraining step", ylabel="accuracy", reference=0.5,
        )
        print(f"held-out MLM accuracy {scores['mlm_accuracy']:.3f}, NSP accuracy "
              f"{scores['nsp_accuracy']:.3f} (word overlap alone: {baseline:.3f}, "
              f"{len(self.heldout[1]['nsp_logits'])} pairs); backbone and vocab.txt saved in {run_dir}")
        return {"nsp_overlap_baseline_accuracy": baseline}


def transfer(probes: dict[str, dict], run_dir: pathlib.Path) -> dict[str, float]:
    """The probes' EM/F1 as `squad_<probe>_<metric>`, drawn side by side in `transfer.png`."""
    scores = {f"squad_{name}_{metric}": probes[name]["history"][-1][metric]
              for name in probes for metric in ("exact_match", "f1")}
    plots.bar_chart(
        {f"{name} {label}": scores[f"squad_{name}_{metric}"]
         for metric, label in (("exact_match", "EM"), ("f1", "F1")) for name in probes},
        run_dir / "transfer.png", ylabel="score on the held-out SQuAD articles",
        title="SQuAD: the pretrained backbone vs the same network from scratch",
    )
    return scores


def main(argv: list[str] | None = None) -> dict:
    """Pretrains, then (with `squad_steps`) probes the backbone on SQuAD; returns the run's metrics."""
    presets = {"smoke": SMOKE, "cpu": CPU, "gpu": GPU}
    args = build_parser(presets, __doc__).parse_args(argv)
    config = args.config
    run = pathlib.Path(args.out or f"runs/05_bert_pretraining-{args.preset}")
    common = dict(data_dir=args.data_dir, resume=args.resume, distribute=args.distribute,
                  power_watts=args.power_watts)
    labels = {"chapter": "05_bert_pretraining", "preset": args.preset}
    # Pretraining and each probe run in a fresh process of their own: what one
    # run's framework kept (compiled programs) never adds to the next's peak.
    result = training.run_in_fresh_process(
        training.train, config, PretrainingTask, run, epochs=args.epochs, labels=labels, **common)
    if not config.squad_steps:
        return result
    probes = {
        name: training.run_in_fresh_process(
            training.train,
            config.squad(FolderSpanQAPreset, encoder_dir=str(run), from_scratch=name == "random",
                         encoder_dropout=config.squad_dropout),
            FolderSpanQATask, run / f"squad_{name}", labels={**labels, "probe": name}, **common)
        for name in PROBES
    }
    result.update(transfer(probes, run))
    result["chapter_wall_time_s"] = result["wall_time_s"] + sum(
        p["wall_time_s"] for p in probes.values())
    result["chapter_peak_rss_mb"] = max(  # its largest run: the others had ended by then
        [result["peak_rss_mb"]] + [p["peak_rss_mb"] for p in probes.values()])
    report.write_json(run / "metrics.json", result)
    print(f"05 pretraining ({args.preset}): SQuAD F1 pretrained "
          f"{result['squad_pretrained_f1']:.1f} vs random {result['squad_random_f1']:.1f} "
          f"| wall {result['chapter_wall_time_s'] / 60:.1f} min "
          f"| peak {result['chapter_peak_rss_mb']:,.0f} MiB")
    return result


if __name__ == "__main__":
    training.run_phases(main)  # this process only supervises: see run_phases

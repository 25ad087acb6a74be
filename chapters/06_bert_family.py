"""Chapter 06 — the BERT family on one corpus and one budget: BERT, RoBERTa, ALBERT, ELECTRA, DistilBERT.

Every objective pretrains a small encoder on the same Wikipedia text for the
same number of tokens, then fine-tunes it on SQuAD's article split with the
same recipe; one table compares them.

Corpus: the paragraphs of SQuAD's training articles (articles 1-38 of
dev-v1.1.json, as in chapter 05) and the 120 WikiText-2 articles of its
validation and test splits; the last `heldout_articles` WikiText articles are
held out to measure the pretraining objectives. The SQuAD articles the QA
scores are taken on (39-48) are never pretrained on.

1. **bert**: masked LM + next-sentence prediction on pairs of segments
   (a paragraph's sentences joined up to `segment_words` words, as in
   chapter 05), masked once up front (static), WordPiece vocabulary.
2. **roberta**: masked LM alone, a fresh mask every time a row is fed
   (dynamic), rows packed with whole sentences across documents
   (FULL-SENTENCES), a byte-level BPE vocabulary of the same size.
3. **albert**: factorized embeddings (`albert_embedding_dim`) and one encoder
   block shared by every layer; masked LM + sentence-order prediction.
4. **electra**: a generator a quarter as wide as the discriminator fills the
   masked positions, the discriminator spots the replaced tokens; loss
   `MLM + 50 · RTD`; the discriminator is fine-tuned. Its held-out score is
   the RTD AUC beside its accuracy and the accuracy of calling every token
   original (`metrics.replaced_token_scores`).
5. **random**: bert's architecture fine-tuned from random weights.
6. **distilbert**: task distillation: a student with every other layer of
   the bert row's SQuAD model learns from that model's soft start/end
   distributions (T = 2), the gold spans and the hidden states' cosine, on
   the SQuAD training windows. (The book's DistilBERT distils during
   pretraining; distilling the fine-tuned model measures its claim, "smaller,
   faster, keeps most of the score", on the task itself.)

Each run goes through the chapter runner in a fresh process of its own
(`training.run_in_fresh_process`) and in its own folder
(`<run>/<objective>/pretrain`, `<run>/<objective>/squad`: checkpoints,
metrics.json, exact `--resume`); the run folder's `metrics.json` holds the
comparison and `family.png` plots it.

    python chapters/06_bert_family.py --preset cpu
    python chapters/06_bert_family.py --preset cpu --set objectives=bert,electra
    python chapters/06_bert_family.py --preset smoke   # a few steps of each, for the tests
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer import training
from keras_transformer.data import (
    MaskedLMData,
    join_sentences,
    next_sentence_pairs,
    pack_full_sentences,
    pretraining_articles,
    sentence_order_pairs,
    split_sentences,
    byte_level_bpe,
    train_byte_level_bpe,
)
from keras_transformer.data.bert_inputs import BertWordPieceTokenizer
from keras_transformer.data.wordpiece import sentence_rows
from keras_transformer.models.bert.folder import load_bert_backbone, save_bert_folder
from keras_transformer.training.cli import build_parser
from keras_transformer.training.cola_probe import ColaProbe, FolderColaTask
from keras_transformer.training.span_qa import SpanQATask, SquadProbe

OBJECTIVES = ("bert", "roberta", "albert", "electra", "random", "distilbert")
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_SPECIALS = ("<s>", "</s>", "<pad>")  # start, separator, padding


@dataclasses.dataclass
class FamilyConfig(training.Preset, SquadProbe, ColaProbe):
    """Pretraining fields (`steps`, `batch_size`, ... are the runner's) and the shared fine-tuning recipes."""

    objectives: str = ",".join(OBJECTIVES)
    vocab_size: int = 8000
    max_length: int = 128  # tokens per pretraining row
    segment_words: int = 45  # bert's and albert's segments: two fill most of a row
    max_predictions: int = 20  # masked positions per row
    heldout_articles: int = 4
    corpus_articles: int = 0  # 0: the whole corpus; n: its first n articles (smoke)
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    dropout: float = 0.1
    albert_embedding_dim: int = 128
    generator_divisor: int = 4  # ELECTRA's generator is hidden_dim / this wide
    discriminator_weight: float = 50.0
    learning_rate: float = 5e-4
    min_learning_rate: float = 5e-5
    weight_decay: float = 0.01
    beta2: float = 0.98
    temperature: float = 2.0  # distilbert's soft targets

    def __post_init__(self):
        super().__post_init__()
        unknown = [n for n in self.names() if n not in OBJECTIVES]
        if unknown or not self.names():
            raise ValueError(
                f"objectives must be comma-separated names from {list(OBJECTIVES)}; got "
                f"{self.objectives!r} (unknown: {unknown})."
            )
        if "distilbert" in self.names() and "bert" not in self.names():
            raise ValueError(
                "objectives: distilbert distils the bert row's SQuAD model, so list bert too "
                f"(e.g. objectives=bert,distilbert); got {self.objectives!r}."
            )
        if self.hidden_dim % self.generator_divisor:  # heldout_articles: pretraining_articles
            raise ValueError(
                f"generator_divisor ({self.generator_divisor}) must divide hidden_dim "
                f"({self.hidden_dim})."
            )
        self.check_squad()

    def names(self) -> list[str]:
        """The objectives to run, bert first when distilbert needs it."""
        names = [n.strip() for n in self.objectives.split(",") if n.strip()]
        return sorted(names, key=lambda n: n == "distilbert")

    def position_table(self) -> int:
        """Positions every encoder holds: pretraining rows and SQuAD windows both fit."""
        return max(self.max_length, self.squad_max_length)


SMOKE = FamilyConfig(
    corpus_articles=8, vocab_size=600, max_length=32, max_predictions=5, num_layers=2, num_heads=2, hidden_dim=32,
    intermediate_dim=64, albert_embedding_dim=16, batch_size=8, steps=4, warmup_steps=1,
    eval_interval=4, checkpoint_interval=4, jit_compile=False, squad_steps=3,
    squad_batch_size=8, squad_max_length=96, squad_doc_stride=48, squad_train_size=32,
    squad_eval_size=16, cola_steps=2, cola_batch_size=8, cola_train_size=32, cola_eval_size=16,
    segment_words=12,
)
# 2 CPU cores: chapter 05's small recipe for short budgets (4 layers 128
# wide, no dropout, peak learning rate 1e-3; Geiping & Goldstein 2022,
# "Cramming", drop dropout when the data is seen only a few times). Each
# objective pretrains on 1,000 x 32 rows of 128 tokens (4.1M token slots),
# then fine-tunes 600 steps of 32 SQuAD windows and one CoLA epoch: 27
# minutes for the whole chapter on 2 cores. Pretraining runs without XLA
# (ELECTRA's compiled step took its run from 1.84 to 2.27 GB at the same
# speed; BERT's is 21% slower without), the SQuAD runs with it.
CPU = FamilyConfig(
    hidden_dim=128, intermediate_dim=512, num_heads=2, albert_embedding_dim=64, dropout=0.0,
    learning_rate=1e-3, min_learning_rate=1e-4, batch_size=32, steps=1000, warmup_steps=100,
    eval_interval=500, checkpoint_interval=1000, squad_steps=600,
    jit_compile=False, squad_jit_compile=True,
)
GPU = FamilyConfig(
    vocab_size=16000, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048,
    batch_size=128, steps=8000, warmup_steps=800, eval_interval=2000, checkpoint_interval=4000,
    squad_steps=1200, squad_learning_rate=1e-4, dtype_policy="mixed_bfloat16",
)


class Corpus:
    """The pretraining text and both vocabularies, as plain data.

    Built once, in a process of its own, and handed to every run's process
    (see `main`): the vocabularies take a minute to learn.
    """

    def __init__(self, config: FamilyConfig, data_dir: str | None):
        import keras_hub
        import tensorflow as tf

        self.train_articles, self.heldout_articles = pretraining_articles(
            data_dir, config.heldout_articles, config.corpus_articles)
        paragraphs = [p for article in self.train_articles for p in article]
        self.wordpiece = keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(paragraphs).batch(64), config.vocab_size,
            lowercase=True, strip_accents=True, reserved_tokens=WORDPIECE_SPECIALS,
        )
        self.bpe_vocabulary, self.bpe_merges = None, None
        if "roberta" in config.names():
            bpe = train_byte_level_bpe(paragraphs, config.vocab_size)
            self.bpe_vocabulary, self.bpe_merges = dict(bpe.vocabulary), list(bpe.merges)
        print(f"Pretraining corpus: {len(self.train_articles)} articles, {len(paragraphs)} "
              f"paragraphs, {sum(len(p.split()) for p in paragraphs):,} words; "
              f"{len(self.heldout_articles)} articles held out.")

    def tokenizer(self, objective: str):
        if objective == "roberta":
            return byte_level_bpe(self.bpe_vocabulary, self.bpe_merges)
        return BertWordPieceTokenizer(vocabulary=self.wordpiece, lowercase=True, strip_accents=True)

    def vocabulary(self, objective: str) -> list[str]:
        """The tokens in id order."""
        if objective == "roberta":
            return sorted(self.bpe_vocabulary, key=self.bpe_vocabulary.get)
        return list(self.wordpiece)

    def sentences(self, heldout: bool) -> list[list[list[str]]]:
        articles = self.heldout_articles if heldout else self.train_articles
        return [[split_sentences(p) for p in paragraphs] for paragraphs in articles]


def objective_task(objective: str, corpus: Corpus) -> type:
    """The runner's task class for pretraining `objective` on `corpus`."""
    return type(f"{objective.capitalize()}Pretraining", (PretrainingTask,),
                {"objective": objective, "corpus": corpus})


class PretrainingTask(training.Task):
    """One objective's pretraining: its rows, masks and model (see the module docstring)."""

    objective: str = "bert"
    corpus: Corpus

    def __init__(self, config: FamilyConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        import keras_hub

        c, tokenizer = config, self.corpus.tokenizer(self.objective)
        vocabulary = self.corpus.vocabulary(self.objective)
        self.vocab_size = len(vocabulary)
        special = self._special_ids(tokenizer)
        masker = keras_hub.layers.MaskedLMMaskGenerator(
            vocabulary_size=self.vocab_size, mask_selection_rate=0.15,
            mask_token_id=special["mask"], mask_selection_length=c.max_predictions,
            unselectable_token_ids=[special["pad"], special["cls"], special["sep"]],
        )
        rng = np.random.default_rng(c.seed)
        self.train_x, self.train_labels = self._rows(tokenizer, special, heldout=False, rng=rng)
        heldout_x, self.heldout_labels = self._rows(tokenizer, special, heldout=True, rng=rng)
        dynamic = self.objective in ("roberta", "electra")
        self.masks = MaskedLMData(self.train_x["token_ids"], masker, dynamic=dynamic, seed=c.seed)
        self.heldout = {**heldout_x, **MaskedLMData(heldout_x["token_ids"], masker, dynamic=False,
                                                    seed=c.seed + 1).batch(np.arange(len(heldout_x["token_ids"])), 0)}
        rows = len(self.train_x["token_ids"])
        self.steps_per_epoch = rows // c.batch_size
        self.headline = "rtd_auc" if self.objective == "electra" else "mlm_accuracy"
        self.headline_mode = "max"
        print(f"{self.objective}: {rows} training rows of {c.max_length} tokens "
              f"({'dynamic' if dynamic else 'static'} masking), vocabulary {self.vocab_size}.")

    def _special_ids(self, tokenizer) -> dict[str, int]:
        if self.objective == "roberta":
            names = {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "mask": "<mask>"}
        else:
            names = {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"}
        return {k: tokenizer.token_to_id(v) for k, v in names.items()}

    def _rows(self, tokenizer, special, heldout: bool, rng) -> tuple[dict, np.ndarray | None]:
        """Packed rows (and sentence-pair labels): pairs for bert/albert, full sentences otherwise."""
        c, articles = self.config, self.corpus.sentences(heldout)
        if self.objective in ("bert", "albert"):
            make = next_sentence_pairs if self.objective == "bert" else sentence_order_pairs
            segments = [[join_sentences(p, c.segment_words) for p in paragraphs]
                        for paragraphs in articles]
            first, second, labels = make(segments, rng)
            packed = sentence_rows(tokenizer, first, c.max_length, second=second)
            return packed, labels
        sentences = [s for paragraphs in articles for p in paragraphs for s in p]
        tokens = iter(tokenize(tokenizer, sentences))
        documents = [[next(tokens) for p in paragraphs for _ in p] for paragraphs in articles]
        ids = pack_full_sentences(documents, c.max_length, special["cls"], special["sep"],
                                  special["pad"])
        return {"token_ids": ids, "segment_ids": np.zeros_like(ids),
                "padding_mask": ids != special["pad"]}, None

    def _backbone(self, **overrides) -> kt.models.BERT:
        c = self.config
        size = dict(vocab_size=self.vocab_size, max_length=c.position_table(),
                    num_layers=c.num_layers,
                    num_heads=c.num_heads, hidden_dim=c.hidden_dim,
                    intermediate_dim=c.intermediate_dim, dropout=c.dropout, name="backbone")
        return kt.models.BERT(**{**size, **overrides})

    def build_model(self) -> keras.Model:
        c = self.config
        if self.objective == "albert":
            return kt.models.BertPretrainer(self._backbone(
                embedding_dim=c.albert_embedding_dim, share_weights=True))
        if self.objective == "bert":
            return kt.models.BertPretrainer(self._backbone())
        if self.objective == "roberta":
            return kt.models.BertMaskedLM(self._backbone())
        width = c.hidden_dim // c.generator_divisor
        generator = self._backbone(hidden_dim=width, intermediate_dim=4 * width,
                                   num_heads=max(c.num_heads // c.generator_divisor, 1),
                                   embedding_dim=c.hidden_dim, name="generator")
        return kt.models.ElectraPretrainer(generator, self._backbone(),
                                           c.discriminator_weight, seed=c.seed)

    def loss(self):
        mlm = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
        if self.objective in ("bert", "albert"):
            pair = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            return {"mlm_logits": mlm, "nsp_logits": pair}
        return None if self.objective == "electra" else mlm

    def train_batch(self, step: int):
        """Batch `step`: epoch `step // steps_per_epoch` of a seeded shuffle, masked for `step`."""
        c = self.config
        epoch, index = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([c.seed, epoch]).permutation(len(self.train_x["token_ids"]))
        rows = order[index * c.batch_size:(index + 1) * c.batch_size]
        masked = self.masks.batch(rows, step)
        x = {k: v[rows] for k, v in self.train_x.items()}
        x["token_ids"] = masked["token_ids"]
        if self.objective == "electra":
            return {**x, **{k: masked[k] for k in ("mask_positions", "mask_ids", "mask_weights")}}, None
        x["mask_positions"] = masked["mask_positions"]
        # Unused prediction slots have label 0, which the MLM loss ignores.
        if self.objective == "roberta":
            return x, masked["mask_ids"]
        return x, {"mlm_logits": masked["mask_ids"], "nsp_logits": self.train_labels[rows]}

    def tokens_per_step(self) -> int:
        return int(self.config.batch_size * self.train_x["padding_mask"].sum(1).mean())

    def flops_per_token(self, model: keras.Model) -> float:
        if self.objective == "electra":
            return sum(training.bert_flops_per_token(m, self.config.max_length)
                       for m in (model.generator, model.discriminator))
        return training.bert_flops_per_token(model, self.config.max_length)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """Held-out accuracies: masked LM (the generator's, for electra), and NSP/SOP or RTD."""
        x = dict(self.heldout)
        if self.objective != "electra":
            for key in ("mask_ids", "mask_weights"):
                x.pop(key)
        out = model.predict(x, batch_size=128, verbose=0)
        mlm_logits = out if self.objective == "roberta" else out["mlm_logits"]
        used = self.heldout["mask_weights"] > 0
        hits = np.argmax(mlm_logits, -1) == self.heldout["mask_ids"]
        scores = {"mlm_accuracy": float(hits[used].mean())}
        if self.objective in ("bert", "albert"):
            name = "nsp_accuracy" if self.objective == "bert" else "sop_accuracy"
            scores[name] = float((np.argmax(out["nsp_logits"], -1) == self.heldout_labels).mean())
        if self.objective == "electra":
            scores.update(kt.metrics.replaced_token_scores(
                out["rtd_logits"], out["rtd_labels"], self.heldout["padding_mask"]))
        return scores

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        """Saves the encoder to fine-tune (electra: the discriminator) with its vocabulary."""
        backbone = model.discriminator if self.objective == "electra" else model.backbone
        save_bert_folder(run_dir, backbone, self.corpus.vocabulary(self.objective))
        return {}


def fine_tuning_task(base: type, objective: str, corpus: Corpus, run: pathlib.Path,
                     config: FamilyConfig) -> type:
    """The runner's task class fine-tuning `objective`'s encoder: `base` with the objective's attributes."""
    attributes = {"objective": objective, "corpus": corpus, "run": run, "family": config}
    if objective == "roberta":
        attributes["special_tokens"] = BPE_SPECIALS
    return type(f"{objective.capitalize()}{base.__name__}", (base,), attributes)


class FamilyEncoder:
    """The encoder a fine-tuning starts from: the objective's pretrained one, or bert's from scratch."""

    objective: str = "bert"
    corpus: Corpus
    run: pathlib.Path
    family: FamilyConfig

    def encoder(self) -> kt.models.BERT:
        if self.objective == "random":
            c = self.family
            return kt.models.BERT(
                vocab_size=len(self.corpus.wordpiece), max_length=c.position_table(),
                num_layers=c.num_layers, num_heads=c.num_heads, hidden_dim=c.hidden_dim,
                intermediate_dim=c.intermediate_dim, dropout=c.dropout, name="backbone")
        return load_bert_backbone(self.run / self.objective / "pretrain", name="backbone")


class FamilyColaTask(FamilyEncoder, FolderColaTask):
    """CoLA fine-tuning of a pretrained (or random) encoder with its own vocabulary."""

    def tokenizer(self):
        return self.corpus.tokenizer(self.objective)


class FamilySquadTask(FamilyEncoder, SpanQATask):
    """SQuAD fine-tuning of a pretrained (or random) encoder with its own vocabulary."""

    def offsets_tokenizer(self):
        if self.objective == "roberta":
            from tokenizers import ByteLevelBPETokenizer

            merges = [tuple(m.split(" ")) for m in self.corpus.bpe_merges]
            return ByteLevelBPETokenizer(self.corpus.bpe_vocabulary, merges, trim_offsets=True)
        from tokenizers import BertWordPieceTokenizer as OffsetsWordPiece

        return OffsetsWordPiece({t: i for i, t in enumerate(self.corpus.wordpiece)}, lowercase=True)

    def build_model(self) -> keras.Model:
        return kt.models.BertSpanQA(self.encoder(), name="span_qa")

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        super().finish(model, run_dir, run_metrics)
        if self.objective == "bert":  # distilbert's teacher
            model.save(run_dir / "span_qa.keras")
        batch = {k: v[:self.config.eval_batch_size] for k, v in self.eval.inputs.items()}
        return {"inference_ms_per_batch": inference_ms(model, batch, self.config.jit_compile)}


class DistilSquadTask(FamilySquadTask):
    """The bert row's SQuAD model distilled into a student with every other layer."""

    def build_model(self) -> keras.Model:
        teacher = keras.saving.load_model(self.run / "bert" / "squad" / "span_qa.keras")
        student = kt.models.BertSpanQA(kt.models.distil_student(teacher.backbone), name="student")
        return kt.models.Distiller(student, teacher, temperature=self.family.temperature)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        return super().evaluate(model.student)

    def flops_per_token(self, model: keras.Model) -> float:
        """The student's training step plus the teacher's forward pass (a third of its step)."""
        length = self.config.max_length
        return (training.bert_flops_per_token(model.student, length)
                + training.bert_flops_per_token(model.teacher, length) / 3)

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        extras = super().finish(model.student, run_dir, run_metrics)
        batch = {k: v[:self.config.eval_batch_size] for k, v in self.eval.inputs.items()}
        extras["teacher_inference_ms_per_batch"] = inference_ms(model.teacher, batch,
                                                                self.config.jit_compile)
        extras["student_params"] = int(model.student.count_params())
        return extras


def tokenize(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of many texts in one keras-hub call (ragged output), as lists."""
    out = tokenizer(texts)
    return out.to_list() if hasattr(out, "to_list") else [np.asarray(t).tolist() for t in out]


def inference_ms(model: keras.Model, batch: dict, jit_compile: bool, repeats: int = 5) -> float:
    """Median milliseconds of `predict_on_batch` on `batch` compiled as `jit_compile` says, after a warm-up call.

    Every model compared is timed the same way: the distilled student, a
    part of the model that trained it, was never compiled itself and would
    otherwise run without XLA (53 against its XLA-compiled teacher's 60 ms;
    compiled alike, 31-40 against 71-74 ms).
    """
    model.jit_compile = jit_compile
    model.make_predict_function(force=True)
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def comparison(results: dict) -> dict:
    """One row per objective: parameters, pretraining figures, SQuAD EM/F1, CoLA MCC, inference time."""
    table = {}
    for name, runs in results.items():
        pre, qa = runs.get("pretrain"), runs["squad"]
        row = {"num_params": qa.get("student_params", qa["num_params"])}
        if pre is not None:
            row["pretrain_tokens_per_second"] = pre["tokens_per_second"]
            row["pretrain_wall_seconds"] = pre["wall_time_s"]
            row.update({k: v for k, v in pre["history"][-1].items()
                        if k.endswith(("accuracy", "auc"))})
        final = qa["history"][-1]
        row.update(squad_exact_match=final["exact_match"], squad_f1=final["f1"],
                   squad_wall_seconds=qa["wall_time_s"],
                   inference_ms_per_batch=qa["inference_ms_per_batch"])
        if "cola" in runs:
            row["cola_mcc"] = runs["cola"]["history"][-1]["mcc"]
        if "teacher_inference_ms_per_batch" in qa:
            row["teacher_inference_ms_per_batch"] = qa["teacher_inference_ms_per_batch"]
        table[name] = row
    return table


def plot(table: dict, path: pathlib.Path) -> None:
    """SQuAD F1, CoLA MCC (where measured) and parameter count per objective, beside random weights'."""
    from keras_transformer import plots

    measures = [("squad_f1", 1, "SQuAD F1 (held-out articles)"),
                ("cola_mcc", 1, "CoLA MCC (in-domain dev)"),
                ("num_params", 1e6, "parameters (M)")]
    panels = {label: {name: row[key] / unit for name, row in table.items() if key in row}
              for key, unit, label in measures}
    random = table.get("random", {})
    references = {label: random[key] for key, _, label in measures[:2] if key in random}
    plots.bar_panels({label: values for label, values in panels.items() if values}, path,
                     references=references, reference_label="random weights")


def phases(objective: str, config: FamilyConfig) -> list[str]:
    """The runs `objective` makes, in order."""
    names = [] if objective in ("random", "distilbert") else ["pretrain"]
    names.append("squad")
    if config.cola_steps and objective != "distilbert":  # the student is distilled for SQuAD
        names.append("cola")
    return names


def run_phase(phase: str, objective: str, config: FamilyConfig, corpus: Corpus,
              run: pathlib.Path, labels: dict, common: dict) -> dict:
    """Trains `objective`'s `phase` run (`pretrain`, `squad` or `cola`) in `<run>/<objective>/<phase>`."""
    if phase == "pretrain":
        preset, task = config, objective_task(objective, corpus)
    elif phase == "squad":
        base = DistilSquadTask if objective == "distilbert" else FamilySquadTask
        preset, task = config.squad(), fine_tuning_task(base, objective, corpus, run, config)
    else:
        preset, task = config.cola(), fine_tuning_task(FamilyColaTask, objective, corpus, run, config)
    return training.train(preset, task, run / objective / phase, labels=labels, **common)


def main(argv: list[str] | None = None) -> dict:
    presets = {"smoke": SMOKE, "cpu": CPU, "gpu": GPU}
    args = build_parser(presets, __doc__).parse_args(argv)
    config = args.config
    run = pathlib.Path(args.out or f"runs/06_bert_family-{args.preset}")
    started = training.main_began()  # in the first of its processes
    # The corpus and every run are made in fresh processes: TensorFlow keeps
    # each compiled program until its process ends, so fifteen runs in one
    # process climbed from 2 to 5 GB.
    corpus = training.run_in_fresh_process(Corpus, config, args.data_dir)
    common = dict(data_dir=args.data_dir, resume=args.resume, distribute=args.distribute,
                  power_watts=args.power_watts)
    results = {
        name: {phase: training.run_in_fresh_process(
            run_phase, phase, name, config, corpus, run,
            {"chapter": "06_bert_family", "preset": args.preset, "objective": name}, common)
            for phase in phases(name, config)}
        for name in config.names()
    }
    table = comparison(results)
    plot(table, run / "family.png")
    summary = {"preset": args.preset, "objectives": config.names(), "models": table,
               "wall_seconds": time.time() - started,
               "peak_rss_mb": max(metrics["peak_rss_mb"]  # its largest run
                                  for runs in results.values() for metrics in runs.values())}
    (run / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(table, indent=1))
    print(f"06 BERT family ({args.preset}): " + ", ".join(
        f"{n} F1 {row['squad_f1']:.1f}" for n, row in table.items())
        + f" | wall {summary['wall_seconds']:.0f}s | peak {summary['peak_rss_mb']:,.0f} MiB")
    return summary


if __name__ == "__main__":
    training.run_phases(main)  # this process only supervises: see run_phases

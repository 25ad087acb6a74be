"""Chapter 03 — translation: German→English on Multi30k, the Transformer vs RNN + attention.

Two encoder–decoder models learn the same task from the same batches:

1. **transformer**: `kt.models.Seq2SeqTransformer` — self-attention encoder,
   causal self-attention + cross-attention decoder, sinusoidal positions, one
   embedding table shared by encoder, decoder and output layer (the joint
   WordPiece vocabulary makes that possible). Pre-LN blocks by default
   (`norm_first=true`): they train without gradient clipping, which joint
   training turns off (below); `--set norm_first=false` gives the paper's post-LN.
2. **rnn**: `kt.models.RNNAttentionSeq2Seq` — a bidirectional-GRU encoder and a
   GRU decoder with additive (Bahdanau) attention, the model the Transformer
   replaced.

Both are trained with teacher forcing: the decoder reads the target shifted
right (`[START] y1 .. yn`) and predicts `y1 .. yn [END]`. The loss is
cross-entropy with label smoothing (0.1, as in the paper) averaged over real
target tokens only — padding labels are masked out, and padding is masked as
an attention key in every attention layer.

Each model trains in a fresh process of its own (`training.run_in_fresh_process`,
under `training.run_phases`), in `<run>/transformer` and `<run>/rnn`. A batch is
drawn from `(seed, step)` alone, so both see the same pairs in the same order,
for the same number of steps at the same learning-rate schedule, and neither
holds the other's memory: trained side by side as the two outputs of one
`keras.Model`, the `cpu` preset peaked at 3.73 GB. Gradient clipping stays
off (`grad_clip=0`), as it was when a global norm would have coupled the two
models' updates, so the figures stay comparable. The RNN's process runs
TensorFlow without its oneDNN kernels and with one malloc arena
(`ENVIRONMENT`, passed to `run_in_fresh_process`), which keeps it under 2 GB.

Data (`keras_transformer.data.multi30k`): one joint, lower-cased WordPiece
vocabulary learned with keras-hub on the training split and cached as
pre-tokenized arrays (in `$KT_CACHE_DIR/multi30k`), so only the first run
needs TensorFlow; carry that folder to a JAX machine. Training pairs longer
than the largest bucket are left out (332 of 29,000 at 32 positions).

    python chapters/03_translation.py --preset cpu     # about 71 minutes on 2 CPU cores
    python chapters/03_translation.py --preset gpu
    python chapters/03_translation.py --preset smoke   # about a minute once cached, for the tests
    python chapters/03_translation.py --preset cpu --set models=rnn   # one model only

Evaluation (every `eval_interval` steps and at the end): corpus BLEU by
sacrebleu on the detokenized test2016 translations against the raw references,
case-insensitive (the data is lower-cased; the signature, `case:lc`, is in
metrics.json under `bleu`), greedy and beam search (`beam_size`, GNMT length
penalty `length_penalty`) for both models; per-token validation NLL (without
smoothing) and parameter counts. The headline is the Transformer's beam BLEU;
read `headline.value` (the last evaluation), not `headline.best`, which would
pick a step by its test score. Each model's run writes its checkpoint, its
`cross_attention_<i>.png` (the Transformer's, every layer and head) and its
attention weights for the first `num_heatmaps` test sentences. The chapter
then gathers both runs into the run folder: `metrics.json` (both histories by
step, each run's peak memory), `translations.txt`, `side_by_side_<i>.png`
(each layer's head-averaged cross-attention beside the RNN's alignment, both
reading the reference translation), `bleu.png` and `loss_curve.png`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np
from keras import ops
from scipy.special import log_softmax

from keras_transformer import metrics, plots, training
from keras_transformer.data import multi30k
from keras_transformer.data.buckets import parse_lengths
from keras_transformer.models import teacher_forcing_batch
from keras_transformer.training import report
from keras_transformer.training.cli import build_parser
from keras_transformer.training.preset import parse_names

TEST_SPLIT = "test_2016_flickr"
MODELS = ("transformer", "rnn")
# The RNN's process runs TensorFlow without its oneDNN kernels and with one malloc
# arena. With oneDNN its evaluation added 0.3 GB to training's peak (a whole run:
# 2,066 MiB); without, it added nothing, but training grew by 0.54 GB (2,094 MiB);
# with one arena for all threads as well, the run peaked at 1,920 MiB, at 1,578
# tokens/s against 1,912. The Transformer keeps oneDNN: 36% slower without it.
ENVIRONMENT = {"rnn": {"TF_ENABLE_ONEDNN_OPTS": "0", "MALLOC_ARENA_MAX": "1"}}


@dataclasses.dataclass
class TranslationConfig(training.Preset):
    models: str = "transformer,rnn"  # comma-separated, from MODELS; each trains in its own process
    # data
    vocab_size: int = 8000  # an upper bound; the full training split gives 6,836 pieces
    vocab_lines: int = 0  # learn the vocabulary from this many training pairs; 0 = all
    bucket_lengths: str = "40"  # comma-separated padded lengths (see `bucket_lengths`)
    max_length: int = 64  # the Transformer's longest sequence; also caps decoding
    # transformer
    num_layers: int = 3
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    dropout: float = 0.1
    norm_first: bool = True
    # rnn + attention
    rnn_embedding_dim: int = 256
    rnn_hidden_dim: int = 256
    rnn_dropout: float = 0.2
    # loss
    label_smoothing: float = 0.1
    # evaluation
    eval_sentences: int = 0  # the first N test sentences; 0 = all 1,000
    val_sentences: int = 0  # validation NLL on the first N val pairs; 0 = all 1,014
    eval_batch_size: int = 100  # sentences decoded at once (times beam_size rows in beam search)
    val_batch_size: int = 20  # val pairs per forward pass: its logits are rows x length x vocab
    beam_size: int = 5
    length_penalty: float = 0.6
    decode_margin: int = 10  # decode at most (longest source in the batch + margin) tokens
    num_heatmaps: int = 3

    def __post_init__(self):
        super().__post_init__()
        lengths = bucket_lengths(self)
        if lengths[-1] > self.max_length:
            raise ValueError(
                f"bucket_lengths ({self.bucket_lengths}) must not exceed max_length "
                f"({self.max_length})."
            )
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}.")
        if self.beam_size < 1 or self.eval_batch_size < 1 or self.val_batch_size < 1:
            raise ValueError("beam_size, eval_batch_size and val_batch_size must be >= 1.")
        if self.eval_sentences < 0 or self.val_sentences < 0:
            raise ValueError("eval_sentences and val_sentences must be >= 0 (0 = all).")
        self.model_names()  # a ValueError unless `models` names known models once each

    def model_names(self) -> list[str]:
        """The models to train, in order."""
        return parse_names("models", self.models, MODELS)


def bucket_lengths(config: TranslationConfig) -> tuple[int, ...]:
    """The padded lengths of training batches, parsed from `config.bucket_lengths`.

    Several lengths (e.g. "16,24,32") cut padding on JAX and PyTorch, and on
    TensorFlow with `jit_compile=false`. TensorFlow's XLA needs the RNN's time
    loop to have a static length, which batches of several shapes cannot give
    it, so the TensorFlow presets use one length.
    """
    lengths = parse_lengths(config.bucket_lengths)
    if not lengths or lengths[0] < 2:
        raise ValueError(f"bucket_lengths must be integers >= 2, got {config.bucket_lengths!r}.")
    return lengths


# smoke: ~25 s on 2 CPU cores once its vocabulary is cached (learning it adds ~15 s).
SMOKE = TranslationConfig(
    vocab_size=1000, vocab_lines=2000, bucket_lengths="24", max_length=48,
    num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64,
    rnn_embedding_dim=32, rnn_hidden_dim=32, batch_size=16, steps=20, warmup_steps=5,
    eval_interval=10, checkpoint_interval=10, learning_rate=2e-3, min_learning_rate=2e-4,
    grad_clip=0.0, weight_decay=0.0, eval_sentences=24, val_sentences=96, eval_batch_size=24, beam_size=4,
    decode_margin=4, num_heatmaps=2, jit_compile=False,
)
# cpu: 1,900 steps (4.2 epochs) a model, two full evaluations (greedy + beam-4 BLEU on
# 1,000 sentences and val NLL) and start-up. Learning the vocabulary (~3 min) happens
# once and is cached. TensorFlow's graph mode, not XLA: 20 steps of both models in one
# step, with the evaluations cut to 64 sentences, took 1.26 s a step against XLA's
# 1.86 and peaked at 2,729 MiB against 3,863 (XLA compiling the unrolled decoder loop,
# forward and backward, took 2.7 GB). Memory, in 20-step trials of the Transformer's
# process with every evaluation sentence: its first step raised the peak by 0.91 GB
# (the traced step, and the activations of 64 pairs), four micro-batches of 16 (the
# same 64 pairs, one update) by 0.62. The evaluation then raised it by 0.82 GB with
# validation batches of 100 pairs (logits 100 x 47 x 6,836) and 100 sentences decoded
# at once (400 rows in beam search), by 0.68 with validation batches of 20, by 0.30
# with 20 and 50. The whole run with 20 and 50 peaked at 2,259 MiB (evaluation +776 on
# top of training's 1,483); evaluating 300 sentences of an untrained Transformer alone
# raised its process's peak by 0.78 GB that way and by 0.51 with 10 and 25.
CPU = TranslationConfig(
    num_layers=3, num_heads=4, hidden_dim=256, intermediate_dim=512, dropout=0.1,
    rnn_embedding_dim=128, rnn_hidden_dim=256, rnn_dropout=0.2, bucket_lengths="32",
    batch_size=64, gradient_accumulation_steps=4, steps=1900, warmup_steps=200,
    learning_rate=1e-3, min_learning_rate=1e-4, beta2=0.98, weight_decay=0.01, grad_clip=0.0,
    eval_interval=950, checkpoint_interval=950, eval_sentences=0, eval_batch_size=25,
    val_batch_size=10, beam_size=4, jit_compile=False,
)
# gpu: not yet run; 6,000 steps of 128 pairs = 27 epochs, the paper's base width.
GPU = TranslationConfig(
    num_layers=3, num_heads=8, hidden_dim=512, intermediate_dim=2048, dropout=0.1,
    rnn_embedding_dim=256, rnn_hidden_dim=512, rnn_dropout=0.3, bucket_lengths="48",
    batch_size=128, steps=6000, warmup_steps=1000, learning_rate=7e-4, min_learning_rate=7e-5,
    beta2=0.98, weight_decay=0.01, grad_clip=0.0, eval_interval=1500,
    checkpoint_interval=1500, eval_sentences=0, eval_batch_size=200, beam_size=5,
    dtype_policy="mixed_bfloat16",
)


# ------------------------------------------------------------------------- task


class TranslationTask(training.Task):
    """Multi30k German→English, BLEU on test2016: the models `config.models` names."""

    headline_mode = "max"

    def __init__(self, config: TranslationConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        self.models = c.model_names()
        self.headline = f"{self.models[0]}_beam_bleu"
        self.data = multi30k.load_tokenized_multi30k(
            c.vocab_size, data_dir, vocab_lines=c.vocab_lines or None
        )
        self.batches = multi30k.BucketedBatches(
            self.data.source["train"], self.data.target["train"], c.batch_size, c.seed,
            bucket_lengths(c),
        )
        self.steps_per_epoch = self.batches.steps_per_epoch
        kept = self.batches.index
        source_lengths, target_lengths = self.data.lengths("train")
        # Real (non-padding) tokens per step: source + target + the end token.
        self._tokens_per_pair = float(np.mean(source_lengths[kept] + target_lengths[kept] + 1))
        count = c.eval_sentences or multi30k.SPLITS[TEST_SPLIT]
        self.test_source = self.data.source[TEST_SPLIT][:count]
        self.test_references = self.data.references[TEST_SPLIT][:count]
        self.val_x, self.val_labels = self._validation_arrays()
        self.last_results = None  # the latest evaluation's translations, for `finish`
        print(
            f"Multi30k: vocabulary {self.data.vocab_size} pieces ({self.data.cache_path}); "
            f"{len(kept)} training pairs in buckets {bucket_lengths(c)} "
            f"({self.batches.num_dropped} longer ones left out), {self.steps_per_epoch} "
            f"steps per epoch; evaluating on {count} {TEST_SPLIT} sentences."
        )

    # ---------------------------------------------------------------- model

    def build_model(self) -> keras.Model:
        """One `keras.Model` whose outputs are the configured models' logits, by name."""
        inputs = {
            "encoder_token_ids": keras.Input((None,), dtype="int32", name="encoder_token_ids"),
            "decoder_token_ids": keras.Input((None,), dtype="int32", name="decoder_token_ids"),
        }
        outputs = {name: self.build_net(name)(inputs) for name in self.models}
        return keras.Model(inputs, outputs, name="translation")

    def build_net(self, name: str) -> keras.Model:
        """The Transformer or the RNN + attention model, as the config sizes them."""
        c, vocab = self.config, self.data.vocab_size
        if name == "transformer":
            return kt.models.Seq2SeqTransformer(
                vocab, vocab, max_length=c.max_length, num_layers=c.num_layers,
            num_heads=c.num_heads, hidden_dim=c.hidden_dim, intermediate_dim=c.intermediate_dim,
            dropout=c.dropout, share_embeddings=True, tie_output=True,
            norm_first=c.norm_first, pad_id=multi30k.PAD_ID, name="transformer",
            )
        return kt.models.RNNAttentionSeq2Seq(
            vocab, vocab, embedding_dim=c.rnn_embedding_dim, hidden_dim=c.rnn_hidden_dim,
            dropout=c.rnn_dropout, pad_id=multi30k.PAD_ID, name="rnn",
        )

    def loss(self):
        c = self.config
        return {name: kt.losses.SmoothedSparseCrossentropy(c.label_smoothing, multi30k.PAD_ID)
                for name in self.models}

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        source, target = self.batches(step)
        decoder_inputs, labels = teacher_forcing_batch(
            target, multi30k.START_ID, multi30k.END_ID, multi30k.PAD_ID
        )
        x = {"encoder_token_ids": source, "decoder_token_ids": decoder_inputs}
        return x, {name: labels for name in self.models}

    def tokens_per_step(self) -> int:
        return round(self.config.batch_size * self._tokens_per_pair)

    def flops_per_token(self, model: keras.Model) -> float:
        """Training FLOPs per real token, the configured models together: 6 x the weights that act on it.

        A source token passes the encoder, a target token the decoder and the
        output projection; source and target are about equally long, so per
        token that is half of (encoder + decoder + output) weights, times 6.
        Embedding look-ups cost nothing; attention's length terms are left out.
        """
        weights = 0
        for name in self.models:
            net = model.get_layer(name)
            if name == "transformer":
                weights += (net.encoder.count_params() + net.decoder.count_params()
                            + net.target_vocab_size * net.hidden_dim)
            else:
                weights += sum(layer.count_params() for layer in (
                    net.encoder_rnn, net.bridge, net.attention, net.decoder_cell, net.readout))
        return 6.0 * weights / 2.0

    # ---------------------------------------------------------------- results

    def translate(self, net, source_rows, beam_size=None) -> list[list[int]]:
        """Token ids of `net`'s translations of `source_rows`, greedy or by beam search.

        Sources are decoded in batches of similar length (sorted, then put back
        in order), each batch for at most its longest source + `decode_margin`
        tokens. Sources longer than `max_length` are cut (none of test2016 is,
        with the full vocabulary: its longest has 43 pieces).
        """
        c = self.config
        source_rows = [row[:c.max_length] for row in source_rows]
        order = np.argsort([len(s) for s in source_rows], kind="stable")
        out = [None] * len(source_rows)
        for start in range(0, len(order), c.eval_batch_size):
            rows = order[start:start + c.eval_batch_size]
            longest = max(len(source_rows[i]) for i in rows)
            source = multi30k.pad_rows([source_rows[i] for i in rows], longest)
            steps = min(c.max_length, longest + c.decode_margin)
            kwargs = {"beam_size": beam_size, "length_penalty": c.length_penalty} if beam_size else {}
            ids = net.translate(source, max_length=steps, start_id=multi30k.START_ID,
                                end_id=multi30k.END_ID, **kwargs)
            for i, row in zip(rows, np.asarray(ids)):
                out[i] = row.tolist()
        return out

    def _validation_arrays(self):
        """Val pairs as fixed-shape teacher-forcing arrays, in whole `val_batch_size` batches.

        One shape for every batch means the compiled predict step is traced
        once; the last batch is filled up with all-padding rows, which have no
        real labels and so do not count. Pairs longer than `max_length` (none
        with the full vocabulary) are left out.
        """
        c = self.config
        pairs = [(s, t) for s, t in zip(self.data.source["val"], self.data.target["val"])
                 if len(s) <= c.max_length and len(t) < c.max_length]
        if c.val_sentences:
            pairs = pairs[:c.val_sentences]
        rows = -(-len(pairs) // c.val_batch_size) * c.val_batch_size
        source = multi30k.pad_rows([s for s, _ in pairs], max(len(s) for s, _ in pairs))
        target = multi30k.pad_rows([t for _, t in pairs], max(len(t) for _, t in pairs))
        source = np.pad(source, ((0, rows - len(pairs)), (0, 0)))
        target = np.pad(target, ((0, rows - len(pairs)), (0, 0)))
        decoder_inputs, labels = teacher_forcing_batch(
            target, multi30k.START_ID, multi30k.END_ID, multi30k.PAD_ID
        )
        labels[len(pairs):] = multi30k.PAD_ID  # the filler rows have no end token either
        return {"encoder_token_ids": source, "decoder_token_ids": decoder_inputs}, labels

    def validation_nll(self, model: keras.Model) -> dict[str, float]:
        """Per-token negative log-likelihood (no smoothing) of each model on the val split."""
        c = self.config
        x, labels = self.val_x, self.val_labels
        totals = {name: 0.0 for name in self.models}
        count = int((labels != multi30k.PAD_ID).sum())
        for start in range(0, len(labels), c.val_batch_size):
            batch = {k: v[start:start + c.val_batch_size] for k, v in x.items()}
            y = labels[start:start + c.val_batch_size]
            logits = model.predict_on_batch(batch)
            for name in self.models:
                log_probs = log_softmax(np.asarray(logits[name], np.float32), axis=-1)
                picked = np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]
                totals[name] -= float(picked[y != multi30k.PAD_ID].sum())
        return {f"{name}_val_nll": totals[name] / count for name in self.models}

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        c = self.config
        results = self.validation_nll(model)
        translations = {}
        for name in self.models:
            net = model.get_layer(name)
            for mode, beam in (("greedy", None), ("beam", c.beam_size)):
                ids = self.translate(net, self.test_source, beam)
                text = [self.data.decode(row) for row in ids]
                bleu = metrics.corpus_bleu(text, self.test_references, lowercase=True)
                results[f"{name}_{mode}_bleu"] = bleu.score
                translations[f"{name}_{mode}"] = text
            results[f"{name}_params"] = float(net.count_params())
        self.last_results = {"translations": translations, "signature": bleu.signature,
                             "metrics": dict(results)}
        return results

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        """Writes the translations (JSON), vocab.txt and the attention figures; returns BLEU's record."""
        c = self.config
        if self.last_results is None:  # e.g. a resumed run that had nothing left to train
            self.evaluate(model)
        last = self.last_results
        report.write_json(run_dir / TRANSLATIONS, {
            "source": [self.data.decode(s) for s in self.test_source],
            "references": list(self.test_references),
            **last["translations"],
        })
        (run_dir / "vocab.txt").write_text("\n".join(self.data.vocabulary) + "\n", encoding="utf-8")
        self.save_attention(model, run_dir)
        scores = last["metrics"]
        for name in self.models:
            print(f"{name} BLEU on {TEST_SPLIT} ({len(self.test_source)} sentences): greedy "
                  f"{scores[f'{name}_greedy_bleu']:.2f} / beam {scores[f'{name}_beam_bleu']:.2f} "
                  f"({scores[f'{name}_params']:,.0f} params); {last['signature']}")
        return {
            "bleu": {
                "signature": last["signature"],
                "test_set": TEST_SPLIT,
                "sentences": len(self.test_source),
                "references": "raw test2016 English; hypotheses lower-cased, detokenized",
                "beam_size": c.beam_size,
                "length_penalty": c.length_penalty,
                "scores": {k: v for k, v in scores.items() if k.endswith("_bleu")},
            },
            "vocab_size": self.data.vocab_size,
        }

    def save_attention(self, model: keras.Model, run_dir: pathlib.Path) -> None:
        """For the first `num_heatmaps` test sentences, reading the reference translation:
        `attention_<i>.npz` (each model's weights and the tokens) and the Transformer's
        `cross_attention_<i>.png` (every layer and head)."""
        c = self.config
        reference_ids = self.data.target[TEST_SPLIT]
        for i in range(min(c.num_heatmaps, len(self.test_source))):
            source = np.asarray(self.test_source[i], "int32")[None]
            decoder_inputs, labels = teacher_forcing_batch(
                np.asarray(reference_ids[i], "int32")[None],
                multi30k.START_ID, multi30k.END_ID, multi30k.PAD_ID,
            )
            tokens = {"source_tokens": [self.data.vocabulary[t] for t in source[0]],
                      "target_tokens": [self.data.vocabulary[t] for t in labels[0]]}
            weights = {}
            if "transformer" in self.models:  # (layers, heads, T, S)
                scores = model.get_layer("transformer").cross_attention_scores(source, decoder_inputs)
                weights["transformer"] = ops.convert_to_numpy(ops.cast(scores, "float32"))[0]
                layers, heads = weights["transformer"].shape[:2]
                plots.attention_heatmap(
                    weights["transformer"].reshape(layers * heads, *weights["transformer"].shape[2:]),
                    tokens["source_tokens"], tokens["target_tokens"],
                    run_dir / f"cross_attention_{i}.png",
                    head_titles=[f"layer {l} head {h}" for l in range(layers) for h in range(heads)],
                    max_columns=heads,
                    title=f"Transformer cross-attention, test sentence {i} (reading the reference)",
                )
            if "rnn" in self.models:  # (T, S)
                alignment = model.get_layer("rnn").alignments(source, decoder_inputs)
                weights["rnn"] = ops.convert_to_numpy(ops.cast(alignment, "float32"))[0]
            np.savez(run_dir / f"attention_{i}.npz", **weights, **tokens)


# ---------------------------------------------------------------- the chapter

TRANSLATIONS = "translations.json"


def train_model(name: str, config: TranslationConfig, run: pathlib.Path, labels: dict,
                common: dict) -> dict:
    """Trains model `name` alone, in `<run>/<name>`; returns its metrics."""
    return training.train(dataclasses.replace(config, models=name), TranslationTask, run / name,
                          labels={**labels, "model": name}, **common)


def gather(results: dict[str, dict]) -> dict:
    """The runs' histories joined by step, BLEU's record with every score, and each run's peak."""
    history = report.join_histories({name: result["history"] for name, result in results.items()})
    first = next(iter(results.values()))
    scores = {k: v for result in results.values() for k, v in result["bleu"]["scores"].items()}
    peaks = {f"{name}_peak_rss_mb": result["peak_rss_mb"] for name, result in results.items()}
    return {
        "step": history[-1]["step"],
        "headline": results.get("transformer", first)["headline"],
        "history": history,
        "bleu": {**first["bleu"], "scores": scores},
        "vocab_size": first["vocab_size"],
        **peaks,
        # The runs take turns, each in a process of its own: the larger is the chapter's peak.
        "peak_rss_mb": max(peaks.values()),
    }


def draw(chapter: dict, run: pathlib.Path, names: list[str]) -> None:
    """translations.txt, bleu.png, loss_curve.png and, with both models, side_by_side_<i>.png."""
    texts = {}
    for name in names:
        texts.update(json.loads((run / name / TRANSLATIONS).read_text(encoding="utf-8")))
    lines = []
    for i, (source, reference) in enumerate(zip(texts.pop("source"), texts.pop("references"))):
        lines += [f"[{i}] de: {source}", f"[{i}] en (reference): {reference}"]
        lines += [f"[{i}] {key}: {text[i]}" for key, text in texts.items()]
        lines.append("")
    (run / "translations.txt").write_text("\n".join(lines), encoding="utf-8")
    (run / "vocab.txt").write_bytes((run / names[0] / "vocab.txt").read_bytes())
    last = chapter["history"][-1]
    plots.bar_chart(
        {f"{name} {mode}": last[f"{name}_{mode}_bleu"] for name in names
         for mode in ("greedy", "beam")},
        run / "bleu.png", title=f"Multi30k de→en, {TEST_SPLIT}: BLEU", ylabel="BLEU",
    )
    report.plot_history(chapter["history"], run / "loss_curve.png", chapter["headline"]["name"])
    if set(MODELS) <= set(names):
        for path in sorted((run / "transformer").glob("attention_*.npz")):
            draw_side_by_side(path, run / "rnn" / path.name,
                              run / path.name.replace("attention", "side_by_side").replace(".npz", ".png"))


def draw_side_by_side(transformer_npz: pathlib.Path, rnn_npz: pathlib.Path,
                      path: pathlib.Path) -> None:
    """Each Transformer layer's head-averaged cross-attention beside the RNN's alignment."""
    transformer, rnn = np.load(transformer_npz), np.load(rnn_npz)
    weights = transformer["transformer"]
    layers, heads = weights.shape[:2]
    plots.attention_heatmap(
        np.concatenate([weights.mean(axis=1), rnn["rnn"][None]], axis=0),
        list(transformer["source_tokens"]), list(transformer["target_tokens"]), path,
        head_titles=[f"transformer layer {l} (mean of {heads} heads)" for l in range(layers)]
        + ["RNN additive attention"],
        max_columns=layers + 1,
        title=f"test sentence {path.stem.rsplit('_', 1)[1]}: source (columns) → reference (rows)",
    )


def main(argv: list[str] | None = None) -> dict:
    presets = {"smoke": SMOKE, "cpu": CPU, "gpu": GPU}
    args = build_parser(presets, __doc__).parse_args(argv)
    config = args.config
    run = pathlib.Path(args.out or f"runs/03_translation-{args.preset}")
    run.mkdir(parents=True, exist_ok=True)
    started = training.main_began()  # in the first of its processes
    labels = {"chapter": "03_translation", "preset": args.preset}
    common = dict(data_dir=args.data_dir, epochs=args.epochs, resume=args.resume,
                  distribute=args.distribute, power_watts=args.power_watts)
    names = config.model_names()
    results = {name: training.run_in_fresh_process(train_model, name, config, run, labels, common,
                                                   environment=ENVIRONMENT.get(name))
               for name in names}
    chapter = {**gather(results), "wall_time_s": time.time() - started,
               "runs": {name: str(run / name) for name in names}}
    draw(chapter, run, names)
    report.write_json(run / "metrics.json", chapter)
    last = chapter["history"][-1]
    print(f"03 translation ({args.preset}): " + ", ".join(
        f"{name} BLEU {last[f'{name}_greedy_bleu']:.2f} greedy / {last[f'{name}_beam_bleu']:.2f} "
        f"beam, {chapter[f'{name}_peak_rss_mb']:,.0f} MiB" for name in names)
        + f" | wall {chapter['wall_time_s'] / 60:.1f} min, peak {chapter['peak_rss_mb']:,.0f} MiB")
    return chapter


if __name__ == "__main__":
    training.run_phases(main)  # this process only supervises: see run_phases

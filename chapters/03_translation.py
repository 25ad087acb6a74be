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

Both models live in one `keras.Model` with two outputs and two losses, as in
chapter 01: they share no layer, so the summed loss gives each exactly its own
gradient, and the chapter is one run — one batch stream, one checkpoint, exact
resume, one metrics.json. Gradient clipping is off (`grad_clip=0`) because a
global norm would couple the two models' updates. The price: both train for
the same number of steps at the same learning-rate schedule.

Data (`keras_transformer.data.multi30k`): one joint, lower-cased WordPiece
vocabulary learned with keras-hub on the training split and cached as
pre-tokenized arrays (in `$KT_CACHE_DIR/multi30k`), so only the first run
needs TensorFlow; carry that folder to a JAX machine. Training pairs longer
than the largest bucket are left out (332 of 29,000 at 32 positions).

    python chapters/03_translation.py --preset cpu     # about 45 minutes on 2 CPU cores
    python chapters/03_translation.py --preset gpu
    python chapters/03_translation.py --preset smoke   # under a minute once cached, for the tests

Evaluation (every `eval_interval` steps and at the end): corpus BLEU by
sacrebleu on the detokenized test2016 translations against the raw references,
case-insensitive (the data is lower-cased; the signature, `case:lc`, is in
metrics.json under `bleu`), greedy and beam search (`beam_size`, GNMT length
penalty `length_penalty`) for both models; per-token validation NLL (without
smoothing) and parameter counts. The headline is the Transformer's beam BLEU;
read `headline.value` (the last evaluation), not `headline.best`, which would
pick a step by its test score. `finish` writes `translations.txt`,
`cross_attention_<i>.png` (every layer and head of the Transformer's
cross-attention) and `side_by_side_<i>.png` (each layer's head-averaged
cross-attention beside the RNN's alignment, both reading the reference
translation) for the first `num_heatmaps` test sentences, and `bleu.png`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np
from keras import ops

from keras_transformer import metrics, plots, training
from keras_transformer.data import multi30k
from keras_transformer.data.buckets import parse_lengths
from keras_transformer.models import teacher_forcing_batch

TEST_SPLIT = "test_2016_flickr"
MODELS = ("transformer", "rnn")


@dataclasses.dataclass
class TranslationConfig(training.Preset):
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
    eval_batch_size: int = 100
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
        if self.beam_size < 1 or self.eval_batch_size < 1:
            raise ValueError("beam_size and eval_batch_size must be >= 1.")
        if self.eval_sentences < 0 or self.val_sentences < 0:
            raise ValueError("eval_sentences and val_sentences must be >= 0 (0 = all).")


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
# cpu: 1,900 steps (4.2 epochs), two full evaluations (greedy + beam-4 BLEU on 1,000
# sentences and val NLL, both models) and start-up. Learning the vocabulary (~3 min)
# happens once and is cached. TensorFlow's graph mode, not XLA: 20 steps with the
# evaluations cut to 64 sentences took 1.26 s a step against XLA's 1.86, 33 s to the
# first step against 60, and peaked at 2,729 MiB against 3,863 (XLA compiling the
# unrolled decoder loop, forward and backward, took 2.7 GB). The whole preset without
# XLA: 50.5 min at 1,361 tokens/s, peak 3,727 MiB (evaluation +761 of it).
CPU = TranslationConfig(
    num_layers=3, num_heads=4, hidden_dim=256, intermediate_dim=512, dropout=0.1,
    rnn_embedding_dim=128, rnn_hidden_dim=256, rnn_dropout=0.2, bucket_lengths="32",
    batch_size=64, steps=1900, warmup_steps=200, learning_rate=1e-3, min_learning_rate=1e-4,
    beta2=0.98, weight_decay=0.01, grad_clip=0.0, eval_interval=950,
    checkpoint_interval=950, eval_sentences=0, beam_size=4, jit_compile=False,
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
    """Multi30k German→English: Transformer vs RNN + additive attention, BLEU on test2016."""

    headline = "transformer_beam_bleu"
    headline_mode = "max"

    def __init__(self, config: TranslationConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
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
        c, vocab = self.config, self.data.vocab_size
        transformer = kt.models.Seq2SeqTransformer(
            vocab, vocab, max_length=c.max_length, num_layers=c.num_layers,
            num_heads=c.num_heads, hidden_dim=c.hidden_dim, intermediate_dim=c.intermediate_dim,
            dropout=c.dropout, share_embeddings=True, tie_output=True,
            norm_first=c.norm_first, pad_id=multi30k.PAD_ID, name="transformer",
        )
        rnn = kt.models.RNNAttentionSeq2Seq(
            vocab, vocab, embedding_dim=c.rnn_embedding_dim, hidden_dim=c.rnn_hidden_dim,
            dropout=c.rnn_dropout, pad_id=multi30k.PAD_ID, name="rnn",
        )
        inputs = {
            "encoder_token_ids": keras.Input((None,), dtype="int32", name="encoder_token_ids"),
            "decoder_token_ids": keras.Input((None,), dtype="int32", name="decoder_token_ids"),
        }
        outputs = {"transformer": transformer(inputs), "rnn": rnn(inputs)}
        return keras.Model(inputs, outputs, name="translation")

    def loss(self):
        c = self.config
        return {name: kt.losses.SmoothedSparseCrossentropy(c.label_smoothing, multi30k.PAD_ID)
                for name in MODELS}

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        source, target = self.batches(step)
        decoder_inputs, labels = teacher_forcing_batch(
            target, multi30k.START_ID, multi30k.END_ID, multi30k.PAD_ID
        )
        x = {"encoder_token_ids": source, "decoder_token_ids": decoder_inputs}
        return x, {name: labels for name in MODELS}

    def tokens_per_step(self) -> int:
        return round(self.config.batch_size * self._tokens_per_pair)

    def flops_per_token(self, model: keras.Model) -> float:
        """Training FLOPs per real token, both models: 6 x the weights that act on it.

        A source token passes the encoder, a target token the decoder and the
        output projection; source and target are about equally long, so per
        token that is half of (encoder + decoder + output) weights, times 6.
        Embedding look-ups cost nothing; attention's length terms are left out.
        """
        transformer, rnn = model.get_layer("transformer"), model.get_layer("rnn")
        t = (transformer.encoder.count_params() + transformer.decoder.count_params()
             + transformer.target_vocab_size * transformer.hidden_dim)
        r = (rnn.encoder_rnn.count_params() + rnn.bridge.count_params()
             + rnn.attention.count_params() + rnn.decoder_cell.count_params()
             + rnn.readout.count_params())
        return 6.0 * (t + r) / 2.0

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
        """Val pairs as fixed-shape teacher-forcing arrays, in whole `eval_batch_size` batches.

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
        rows = -(-len(pairs) // c.eval_batch_size) * c.eval_batch_size
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
        totals, count = {name: 0.0 for name in MODELS}, int((labels != multi30k.PAD_ID).sum())
        for start in range(0, len(labels), c.eval_batch_size):
            batch = {k: v[start:start + c.eval_batch_size] for k, v in x.items()}
            y = labels[start:start + c.eval_batch_size]
            logits = model.predict_on_batch(batch)
            real = y != multi30k.PAD_ID
            for name in MODELS:
                z = np.asarray(logits[name], np.float32)
                z = z - z.max(axis=-1, keepdims=True)
                log_probs = np.take_along_axis(z, y[..., None], axis=-1)[..., 0] - np.log(
                    np.exp(z).sum(axis=-1))
                totals[name] -= float((log_probs * real).sum())
        return {f"{name}_val_nll": totals[name] / count for name in MODELS}

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        c = self.config
        results = self.validation_nll(model)
        translations = {}
        for name in MODELS:
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
        c = self.config
        if self.last_results is None:  # e.g. a resumed run that had nothing left to train
            self.evaluate(model)
        last = self.last_results
        source_text = [self.data.decode(s) for s in self.test_source]
        lines = []
        for i, (src, ref) in enumerate(zip(source_text, self.test_references)):
            lines += [f"[{i}] de: {src}", f"[{i}] en (reference): {ref}"]
            lines += [f"[{i}] {key}: {text[i]}" for key, text in last["translations"].items()]
            lines.append("")
        (run_dir / "translations.txt").write_text("\n".join(lines), encoding="utf-8")
        extras = {
            "bleu": {
                "signature": last["signature"],
                "test_set": TEST_SPLIT,
                "sentences": len(self.test_source),
                "references": "raw test2016 English; hypotheses lower-cased, detokenized",
                "beam_size": c.beam_size,
                "length_penalty": c.length_penalty,
                "scores": {k: v for k, v in last["metrics"].items() if k.endswith("_bleu")},
            },
            "vocab_size": self.data.vocab_size,
        }
        (run_dir / "vocab.txt").write_text("\n".join(self.data.vocabulary) + "\n", encoding="utf-8")
        self.save_heatmaps(model, run_dir)
        scores = last["metrics"]
        plots.bar_chart(
            {f"{name} {mode}": scores[f"{name}_{mode}_bleu"]
             for name in MODELS for mode in ("greedy", "beam")},
            run_dir / "bleu.png", title=f"Multi30k de→en, {TEST_SPLIT}: BLEU", ylabel="BLEU",
        )
        print(
            "BLEU on {} ({} sentences): transformer greedy {:.2f} / beam {:.2f} "
            "({:.0f} params); rnn greedy {:.2f} / beam {:.2f} ({:.0f} params); {}".format(
                TEST_SPLIT, len(self.test_source), scores["transformer_greedy_bleu"],
                scores["transformer_beam_bleu"], scores["transformer_params"],
                scores["rnn_greedy_bleu"], scores["rnn_beam_bleu"], scores["rnn_params"],
                last["signature"],
            )
        )
        return extras

    def save_heatmaps(self, model: keras.Model, run_dir: pathlib.Path) -> None:
        """Cross-attention (every layer and head) and side-by-side plots for a few test sentences."""
        c = self.config
        transformer, rnn = model.get_layer("transformer"), model.get_layer("rnn")
        reference_ids = self.data.target[TEST_SPLIT]
        for i in range(min(c.num_heatmaps, len(self.test_source))):
            source = np.asarray(self.test_source[i], "int32")[None]
            decoder_inputs, labels = teacher_forcing_batch(
                np.asarray(reference_ids[i], "int32")[None],
                multi30k.START_ID, multi30k.END_ID, multi30k.PAD_ID,
            )
            weights = transformer.cross_attention_scores(source, decoder_inputs)
            weights = np.asarray(ops.convert_to_numpy(ops.cast(weights, "float32")))[0]
            # weights: (layers, heads, T, S)
            alignment = np.asarray(ops.convert_to_numpy(rnn.alignments(source, decoder_inputs)))[0]
            x_labels = [self.data.vocabulary[t] for t in source[0]]
            y_labels = [self.data.vocabulary[t] for t in labels[0]]
            layers, heads = weights.shape[:2]
            plots.attention_heatmap(
                weights.reshape(layers * heads, *weights.shape[2:]), x_labels, y_labels,
                run_dir / f"cross_attention_{i}.png",
                head_titles=[f"layer {l} head {h}" for l in range(layers) for h in range(heads)],
                max_columns=heads,
                title=f"Transformer cross-attention, test sentence {i} (reading the reference)",
            )
            panels = np.concatenate([weights.mean(axis=1), alignment[None]], axis=0)
            plots.attention_heatmap(
                panels, x_labels, y_labels, run_dir / f"side_by_side_{i}.png",
                head_titles=[f"transformer layer {l} (mean of {heads} heads)"
                             for l in range(layers)] + ["RNN additive attention"],
                max_columns=layers + 1,
                title=f"test sentence {i}: source (columns) → reference (rows)",
            )


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, TranslationTask)

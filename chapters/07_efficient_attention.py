"""Chapter 07 — efficient attention: full, BigBird and LSH attention on 2,048-character windows.

Full self-attention compares every position with every other: time and
memory grow with the square of the length. BigBird keeps a fixed number of
key blocks per query block (global + sliding window + random), Reformer's LSH
attention lets each position look only at the positions that hash into its
bucket; both grow linearly. This chapter trains the three side by side on a
task that needs long inputs and measures what each costs and what it learns.

The task is character-level masked language modelling on Tiny Shakespeare:
each training example is a window of `length` characters in which 15% of
the positions are hidden behind a `[MASK]` id (a fresh choice every step,
`kt.data.masked_chars`), and the model predicts the hidden characters. The
three models are the same pre-LN `kt.layers.Encoder` with
`attention="full"`, `"bigbird"` or `"lsh"`. Each trains in a fresh process
of its own (`training.run_in_fresh_process`), in `<run>/<attention>`: a batch
is drawn from `(seed, step)` alone, so the three see the same batches in the
same order, and none holds the others' memory (trained jointly, as the
outputs of one `keras.Model`, the three peaked at 2.2 GB on the `cpu`
preset).

Each run's `finish` times its model's forward + backward pass
(XLA-compiled, median of several); the chapter then plots validation loss
against each model's own training time: quality per wall-clock second. The
scaling of the attention layers alone, from 512 to 8,192 positions, is
`benchmarks/attention_scaling.py`.

    python chapters/07_efficient_attention.py --preset cpu     # 2,048 characters per window
    python chapters/07_efficient_attention.py --preset gpu     # 4,096 characters, deeper
    python chapters/07_efficient_attention.py --preset smoke   # seconds, for the tests
    python chapters/07_efficient_attention.py --preset cpu --set attentions=bigbird

Every model's loss and accuracy on the same masked validation windows are
recorded at every evaluation. The run folder's `metrics.json` gathers the
three runs' histories by step, each model's parameters, seconds per
training step and peak memory; it saves `loss_curve.png`,
`loss_per_second.png` and `step_seconds.png`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np
from scipy.special import log_softmax

from keras_transformer import data, plots, training
from keras_transformer.data.masked_chars import mask_windows, masked_char_batch
from keras_transformer.layers.block_base import ATTENTION_KINDS
from keras_transformer.training.cli import build_parser
from keras_transformer.training.preset import parse_names
from keras_transformer.training.report import join_histories
from keras_transformer.training.report import plot_history
from keras_transformer.training.step_cost import time_forward_backward

VAL_STREAM = 2**31 - 1  # the validation masks' random stream, apart from every step's


@dataclasses.dataclass
class EfficientAttentionConfig(training.Preset):
    attentions: str = "full,bigbird,lsh"  # comma-separated, from ATTENTION_KINDS
    length: int = 2048
    num_layers: int = 2
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = 512
    mask_rate: float = 0.15
    # BigBird: blocks of `block_size` positions; window 3 and 1 global block a side.
    block_size: int = 64
    num_random_blocks: int = 3
    # LSH: `num_hashes` rounds of `num_buckets` buckets; chunks of `chunk_length`.
    num_buckets: int = 32
    num_hashes: int = 2
    chunk_length: int = 64
    val_windows: int = 16
    eval_batch_size: int = 4
    timing_repeats: int = 5

    def __post_init__(self):
        super().__post_init__()
        self.kinds()  # a ValueError unless `attentions` names known kinds once each

    def kinds(self) -> list[str]:
        """The attention kinds to train, in order."""
        return parse_names("attentions", self.attentions, ATTENTION_KINDS)

    def attention_options(self, kind: str) -> dict:
        """The constructor arguments of attention `kind` beyond heads and width."""
        if kind == "bigbird":
            return {"block_size": self.block_size, "num_random_blocks": self.num_random_blocks,
                    "seed": self.seed}
        if kind == "lsh":
            return {"num_buckets": self.num_buckets, "num_hashes": self.num_hashes,
                    "chunk_length": self.chunk_length, "seed": self.seed}
        return {}


SMOKE = EfficientAttentionConfig(
    length=128, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, batch_size=2,
    block_size=16, num_random_blocks=1, num_buckets=8, chunk_length=16, steps=20,
    warmup_steps=2, eval_interval=10, checkpoint_interval=10, val_windows=4,
    timing_repeats=1, grad_clip=0.0,
)
# About 7 minutes on 2 CPU cores: narrow (2 heads x 32) so that attention,
# not the feed-forward layers, dominates the cost at 2,048 positions. With
# blocks and chunks of 16 a BigBird query sees 128 keys and an LSH query 64:
# at first attention is spread evenly over the keys a query sees, and the
# fewer they are, the sooner it finds the neighbours that predict a hidden
# character (with blocks of 64, 512 keys, BigBird sat on the unigram plateau
# for 800 steps; with 16, for about 500).
CPU = EfficientAttentionConfig(
    num_heads=2, hidden_dim=64, intermediate_dim=128, batch_size=2, steps=1600,
    block_size=16, chunk_length=16, num_buckets=128,
    learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=30, weight_decay=0.01,
    eval_interval=200, checkpoint_interval=800, grad_clip=0.0,
)
GPU = EfficientAttentionConfig(
    length=4096, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024,
    batch_size=16, steps=3000, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=200,
    num_buckets=64, weight_decay=0.01, eval_interval=500, checkpoint_interval=1000,
    val_windows=27, eval_batch_size=9, grad_clip=0.0, dtype_policy="mixed_bfloat16",
)


class EfficientAttentionTask(training.Task):
    """Masked character modelling on long windows: one encoder per attention kind."""

    headline_mode = "min"

    def __init__(self, config: EfficientAttentionConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        self.kinds = config.kinds()
        self.headline = f"{self.kinds[0]}_val_loss"
        self.corpus = data.load_tiny_shakespeare(data_dir)
        self.mask_id = self.corpus.vocab_size  # one id past the characters
        windows, _ = data.lm_eval_windows(self.corpus.val, config.length)
        self.val_x, self.val_y, self.val_weights = mask_windows(
            windows[: config.val_windows],
            np.random.default_rng([config.seed, VAL_STREAM]),
            self.mask_id, config.mask_rate,
        )

    def build_model(self) -> keras.Model:
        c = self.config
        tokens = keras.Input((c.length,), dtype="int32", name="tokens")
        outputs = {}
        for kind in self.kinds:
            # Sinusoidal positions: their dot products depend on the offset
            # between two positions, so attention finds the neighbours (the
            # signal of this task) from the first step; 2,048 learned
            # position vectors would each be trained rarely.
            x = kt.layers.TokenAndPositionEmbedding(
                self.corpus.vocab_size + 1, c.length, c.hidden_dim, position="sinusoidal",
                name=f"{kind}_embedding",
            )(tokens)
            x = kt.layers.Encoder(
                c.num_layers, num_heads=c.num_heads, intermediate_dim=c.intermediate_dim,
                norm_first=True, attention=kind, attention_options=c.attention_options(kind),
                name=f"{kind}_encoder",
            )(x)
            outputs[kind] = keras.layers.Dense(
                self.corpus.vocab_size, dtype="float32", name=f"{kind}_logits"
            )(x)
        return keras.Model(tokens, outputs, name="efficient_attention")

    def loss(self):
        return {
            kind: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            for kind in self.kinds
        }

    def train_batch(self, step: int):
        c = self.config
        x, y, weights = masked_char_batch(
            self.corpus.train, step, c.batch_size, c.length, c.seed, self.mask_id, c.mask_rate
        )
        # Keras averages a weighted loss over every position; rescaling by
        # T / (masked per row) makes it the mean over the masked ones.
        weights = weights * (c.length / weights[0].sum())
        return x, {kind: y for kind in self.kinds}, {kind: weights for kind in self.kinds}

    def tokens_per_step(self) -> int:
        return self.config.batch_size * self.config.length

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        logits = model.predict(self.val_x, batch_size=self.config.eval_batch_size, verbose=0)
        results = {}
        hidden = self.val_weights == 1.0
        for kind in self.kinds:
            scores = np.asarray(logits[kind], np.float64)[hidden]
            targets = self.val_y[hidden]
            log_probs = log_softmax(scores, axis=-1)
            results[f"{kind}_val_loss"] = float(-log_probs[np.arange(len(targets)), targets].mean())
            results[f"{kind}_val_accuracy"] = float((scores.argmax(-1) == targets).mean())
        return results

    def submodel(self, model: keras.Model, kind: str) -> keras.Model:
        """The single-attention model inside the joint one (shared layers)."""
        return keras.Model(model.inputs, model.get_layer(f"{kind}_logits").output)

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        """Times each model's forward + backward pass; returns its parameters and step seconds."""
        c = self.config
        x = self.train_batch(0)[0]
        results = {}
        for kind in self.kinds:
            single = self.submodel(model, kind)
            results[f"{kind}_params"] = int(single.count_params())
            results[f"{kind}_step_seconds"] = time_forward_backward(
                single, x, repeats=c.timing_repeats)
            last = run_metrics["history"][-1]
            print(f"{kind:8s} val loss {last[f'{kind}_val_loss']:.3f}, accuracy "
                  f"{last[f'{kind}_val_accuracy']:.3f}, "
                  f"{results[f'{kind}_step_seconds'] * 1e3:.0f} ms per step, "
                  f"{results[f'{kind}_params']:,} parameters")
        return results


def train_attention(kind: str, config: EfficientAttentionConfig, run: pathlib.Path,
                    labels: dict, common: dict) -> dict:
    """Trains the encoder with `kind` attention alone, in `<run>/<kind>`; returns its metrics."""
    return training.train(dataclasses.replace(config, attentions=kind), EfficientAttentionTask,
                          run / kind, labels={**labels, "attention": kind}, **common)


def gather(results: dict[str, dict]) -> dict:
    """One record per evaluation step with every model's validation metrics, and each model's costs."""
    history = join_histories({kind: result["history"] for kind, result in results.items()}, "val_")
    costs = {}
    for kind, result in results.items():
        costs[f"{kind}_params"] = result[f"{kind}_params"]
        costs[f"{kind}_step_seconds"] = result[f"{kind}_step_seconds"]
        costs[f"{kind}_peak_rss_mb"] = result["peak_rss_mb"]
    # The runs take turns, each in a process of its own: the largest is the chapter's peak.
    peak = max(result["peak_rss_mb"] for result in results.values())
    return {"step": history[-1]["step"], "history": history, **costs, "peak_rss_mb": peak}


def draw(metrics: dict, kinds: list[str], config: EfficientAttentionConfig,
         run: pathlib.Path) -> None:
    """Validation loss per training second and each model's step time, as PNGs in `run`."""
    history = metrics["history"]
    plot_history(history, run / "loss_curve.png", f"{kinds[0]}_val_loss")
    plots.line_chart(
        {kind: [r["step"] * metrics[f"{kind}_step_seconds"] for r in history] for kind in kinds},
        {kind: [r[f"{kind}_val_loss"] for r in history] for kind in kinds},
        run / "loss_per_second.png",
        title=f"masked characters, {config.length}-character windows",
        xlabel="training seconds (each model's own forward + backward)",
        ylabel="validation loss",
    )
    plots.bar_chart(
        {kind: metrics[f"{kind}_step_seconds"] for kind in kinds},
        run / "step_seconds.png",
        title=f"one training step, batch {config.batch_size} x {config.length}",
        ylabel="seconds",
    )


def main(argv: list[str] | None = None) -> dict:
    presets = {"smoke": SMOKE, "cpu": CPU, "gpu": GPU}
    args = build_parser(presets, __doc__).parse_args(argv)
    config = args.config
    run = pathlib.Path(args.out or f"runs/07_efficient_attention-{args.preset}")
    run.mkdir(parents=True, exist_ok=True)
    started = training.main_began()  # in the first of its processes
    labels = {"chapter": "07_efficient_attention", "preset": args.preset}
    common = dict(data_dir=args.data_dir, epochs=args.epochs, resume=args.resume,
                  distribute=args.distribute, power_watts=args.power_watts)
    results = {kind: training.run_in_fresh_process(train_attention, kind, config, run, labels,
                                                   common)
               for kind in config.kinds()}
    metrics = {**gather(results), "wall_time_s": time.time() - started,
               "runs": {kind: str(run / kind) for kind in results}}
    draw(metrics, config.kinds(), config, run)
    (run / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    last = metrics["history"][-1]
    print(f"07 efficient attention ({args.preset}): " + ", ".join(
        f"{kind} accuracy {last[f'{kind}_val_accuracy']:.3f}, "
        f"{metrics[f'{kind}_peak_rss_mb']:,.0f} MiB" for kind in results)
        + f" | wall {metrics['wall_time_s'] / 60:.1f} min, peak {metrics['peak_rss_mb']:,.0f} MiB")
    return metrics


if __name__ == "__main__":
    training.run_phases(main)  # this process only supervises: see run_phases

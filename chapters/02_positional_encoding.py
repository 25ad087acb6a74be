"""Chapter 02 — positional encoding: order must be injected.

The task is to **reverse a sequence**, as per-position classification: for
tokens `x_0 .. x_{n-1}` (ids `1 .. vocab_size - 1`, 0 is padding) the label at
position `t` is `x_{n-1-t}`. Lengths `n` vary, so each position must find
its mirror image relative to where the sequence ends.

The same encoder — embeddings, `num_layers` `kt.layers.EncoderBlock`s, a
per-position Dense classifier — is trained in three variants that differ only
in what is added to the token embedding:

- **none**: a plain `keras.layers.Embedding`. Self-attention without
  positions is permutation-equivariant: permuting the input permutes the
  output the same way, so position `t` cannot know it is `t` and the task
  fails (only a middle token of odd length, its own mirror, comes for free).
  `permutation_error_<variant>` records max |f(P x) - P f(x)| on the test
  inputs: ~1e-6 (float32 round-off) for `none`, O(1) for the others.
- **learned**: `TokenAndPositionEmbedding(position="learned")`.
- **sinusoidal**: `TokenAndPositionEmbedding(position="sinusoidal")`, the
  paper's fixed encoding.

Length generalization: training lengths are `min_length .. train_length`,
evaluation also covers the longer `eval_lengths`. A learned table has one row
per position and cannot represent a position it does not have; here it is
built with `max(eval_lengths)` rows so the longer inputs run at all, but rows
`train_length ..` are never seen in training: they stay at their random
initialization (the presets set `weight_decay=0`, since AdamW's decoupled
decay would otherwise shrink the unseen rows towards zero). The sinusoidal
encoding is defined for every position; whether the trained model can *use*
the unseen ones is what the `accuracy_len<L>_<variant>` figures show.

The three variants share no layer and train jointly as three outputs of one
`keras.Model` with three losses (one run, one checkpoint, exact resume);
gradient clipping is off (`grad_clip=0`) so no variant's gradient norm
scales another's update.

    python chapters/02_positional_encoding.py --preset cpu     # a few minutes on 2 CPU cores
    python chapters/02_positional_encoding.py --preset gpu
    python chapters/02_positional_encoding.py --preset smoke   # seconds, for the tests

Headline: the sinusoidal variant's token accuracy at the training lengths.
`finish` saves `sinusoidal_encoding.png` (positions x channels),
`sinusoidal_similarity.png` (PE(s)·PE(t)), `learned_similarity.png`
(cosine similarity of the trained table), `accuracy_by_length.png` and
`accuracy_by_variant.png`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer import plots, training
from keras_transformer.data.synthetic import reversal_examples, step_rng

VARIANTS = ("none", "learned", "sinusoidal")
TEST_STREAM = 1  # training batches use stream 0


@dataclasses.dataclass
class PositionConfig(training.Preset):
    vocab_size: int = 17  # 16 symbols + padding id 0
    min_length: int = 2
    train_length: int = 16
    eval_lengths: str = "16,17,18,20,24,32"  # comma-separated; each must be >= train_length
    num_layers: int = 2
    num_heads: int = 4
    hidden_dim: int = 64
    intermediate_dim: int = 128
    test_size: int = 1000

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.min_length <= self.train_length:
            raise ValueError(
                f"min_length must be in [1, train_length={self.train_length}], "
                f"got {self.min_length}."
            )
        if self.vocab_size < 3:
            raise ValueError(f"vocab_size must be >= 3 (padding + 2 symbols), got {self.vocab_size}.")
        lengths = parse_lengths(self.eval_lengths)
        if min(lengths) < self.train_length:
            raise ValueError(
                f"eval_lengths must all be >= train_length={self.train_length} (the "
                f"training lengths are evaluated anyway); got {self.eval_lengths!r}."
            )

    @property
    def max_length(self) -> int:
        return max(parse_lengths(self.eval_lengths))


def parse_lengths(text: str) -> list[int]:
    """`"16,24,32"` -> `[16, 24, 32]`; a clear error for anything else."""
    try:
        lengths = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"eval_lengths must be comma-separated integers, got {text!r}.") from None
    if not lengths or lengths[0] < 1:
        raise ValueError(f"eval_lengths must be positive integers, got {text!r}.")
    return lengths


SMOKE = PositionConfig(
    vocab_size=9, train_length=8, eval_lengths="8,12", num_layers=1, num_heads=2,
    hidden_dim=16, intermediate_dim=32, batch_size=16, steps=20, warmup_steps=2,
    eval_interval=10, checkpoint_interval=10, test_size=64, grad_clip=0.0, weight_decay=0.0,
)
CPU = PositionConfig(
    batch_size=64, steps=3000, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=200,
    eval_interval=500, checkpoint_interval=1000, grad_clip=0.0, weight_decay=0.0,
)
GPU = PositionConfig(
    vocab_size=33, train_length=32, eval_lengths="32,40,48,64", num_layers=2, num_heads=4,
    hidden_dim=128, intermediate_dim=256, batch_size=256, steps=6000, learning_rate=1e-3,
    min_learning_rate=1e-4, warmup_steps=300, eval_interval=1000, checkpoint_interval=2000,
    grad_clip=0.0, weight_decay=0.0, test_size=4000,
)


class PositionTask(training.Task):
    """Sequence reversal with no / learned / sinusoidal positions."""

    headline = "accuracy_train_sinusoidal"
    headline_mode = "max"
    needs_tensorflow = False  # synthetic arrays: JAX and PyTorch run without it

    def __init__(self, config: PositionConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        self.eval_lengths = parse_lengths(c.eval_lengths)
        # Test sets: the training length distribution, then each length exactly.
        self.test_sets = {"train": reversal_examples(
            step_rng(c.seed, 0, TEST_STREAM), c.test_size, c.vocab_size,
            c.min_length, c.train_length)}
        for length in self.eval_lengths:
            self.test_sets[f"len{length}"] = reversal_examples(
                step_rng(c.seed, length, TEST_STREAM), c.test_size,
                c.vocab_size, length, length)

    # ---------------------------------------------------------------- model

    def build_model(self) -> keras.Model:
        c = self.config
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        outputs = {}
        for variant in VARIANTS:
            if variant == "none":
                embedding = keras.layers.Embedding(
                    c.vocab_size, c.hidden_dim, mask_zero=True, name="none_embedding")
            else:
                embedding = kt.layers.TokenAndPositionEmbedding(
                    c.vocab_size, c.max_length, c.hidden_dim, position=variant,
                    mask_zero=True, name=f"{variant}_embedding")
            x = embedding(tokens)
            x = kt.layers.Encoder(
                num_layers=c.num_layers, num_heads=c.num_heads,
                intermediate_dim=c.intermediate_dim, name=f"{variant}_encoder")(x)
            outputs[variant] = keras.layers.Dense(
                c.vocab_size, name=f"{variant}_classifier")(x)
        return keras.Model(tokens, outputs, name="reversal")

    def loss(self):
        return {v: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for v in VARIANTS}

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        c = self.config
        x, y, w = reversal_examples(
            step_rng(c.seed, step), c.batch_size, c.vocab_size, c.min_length, c.train_length
        )
        return x, {v: y for v in VARIANTS}, {v: w for v in VARIANTS}

    def tokens_per_step(self) -> int:
        return self.config.batch_size * self.config.train_length

    # ---------------------------------------------------------------- results

    def accuracies(self, model: keras.Model) -> dict[str, float]:
        """Token accuracy over real positions, `accuracy_<set>_<variant>`, for every test set."""
        results = {}
        for name, (x, y, w) in self.test_sets.items():
            logits = model.predict(x, batch_size=500, verbose=0)
            for variant in VARIANTS:
                correct = np.argmax(logits[variant], axis=-1) == y
                results[f"accuracy_{name}_{variant}"] = float((correct * w).sum() / w.sum())
        return results

    def permutation_errors(self, model: keras.Model) -> dict[str, float]:
        """max |f(P x) - P f(x)| per variant on unpadded training-length inputs."""
        x = self.test_sets[f"len{self.config.train_length}"][0][:64]
        permutation = step_rng(self.config.seed, 1, TEST_STREAM).permutation(
            x.shape[1])
        plain = model.predict(x, verbose=0)
        permuted = model.predict(x[:, permutation], verbose=0)
        return {
            f"permutation_error_{v}": float(np.abs(permuted[v] - plain[v][:, permutation]).max())
            for v in VARIANTS
        }

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        return {
            **self.accuracies(model),
            **self.permutation_errors(model),
            "chance": 1.0 / (self.config.vocab_size - 1),
        }

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        c = self.config
        results = self.evaluate(model)

        pe = keras.ops.convert_to_numpy(kt.layers.SinusoidalPositionEncoding()(
            np.zeros((1, c.max_length, c.hidden_dim), "float32")))[0]
        plots.matrix_plot(pe, run_dir / "sinusoidal_encoding.png",
                          title="sinusoidal encoding PE(t, i)", xlabel="channel i",
                          ylabel="position t")
        plots.matrix_plot(pe @ pe.T, run_dir / "sinusoidal_similarity.png",
                          title="PE(s) · PE(t)", xlabel="position t", ylabel="position s",
                          symmetric=False, cmap="viridis")
        table = keras.ops.convert_to_numpy(
            model.get_layer("learned_embedding").position_embedding.weights[0])
        unit = table / np.linalg.norm(table, axis=1, keepdims=True)
        plots.matrix_plot(unit @ unit.T, run_dir / "learned_similarity.png",
                          title=f"learned positions, cosine similarity (trained on t < "
                                f"{c.train_length})", xlabel="position t", ylabel="position s")

        lengths = self.eval_lengths
        plots.line_chart(
            lengths,
            {v: [results[f"accuracy_len{n}_{v}"] for n in lengths] for v in VARIANTS},
            run_dir / "accuracy_by_length.png", title="reversal: token accuracy by length",
            xlabel="sequence length", ylabel="token accuracy", reference=results["chance"],
            vline=c.train_length, vline_label="longest training length",
        )
        plots.bar_chart(
            {v: results[f"accuracy_train_{v}"] for v in VARIANTS},
            run_dir / "accuracy_by_variant.png",
            title=f"reversal at training lengths {c.min_length}-{c.train_length}",
            ylabel="token accuracy", reference=results["chance"],
        )
        header = "variant      " + "  ".join(f"{n:>7}" for n in ["train"] + [f"len{n}" for n in lengths])
        print(header)
        for v in VARIANTS:
            row = [results[f"accuracy_train_{v}"]] + [results[f"accuracy_len{n}_{v}"] for n in lengths]
            print(f"{v:<12} " + "  ".join(f"{a:7.3f}" for a in row)
                  + f"   permutation error {results[f'permutation_error_{v}']:.2e}")
        print(f"chance {results['chance']:.3f}")
        return {}


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, PositionTask)

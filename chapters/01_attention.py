"""Chapter 01 — attention: associative recall, a task where attending is the whole game.

Each example is a list of key–value pairs followed by a query key; the label
is the value that was paired with the query:

    k3 v5  k11 v0  k7 v2  ...  k11   ->  v0

Keys are drawn without repetition from `num_keys` ids and values without
repetition from `num_values` ids, so the pairing is a random matching that
changes with every example. Two models train on the same batches:

1. **attention**: token + learned position embeddings, then one
   `kt.layers.MultiHeadAttention` in which only the final (query) position
   asks a question of the whole sequence, then a Dense classifier on its
   output. One attention layer cannot both find the key and read the value
   beside it, so each position first gets its predecessor's embedding
   concatenated to its own (a fixed shift by one, `ZeroPadding1D` +
   `Cropping1D`). A value position then carries "I am v_j and my key is k_i":
   the query `k11` matches the *key half* of the position holding `v0` and
   reads its *value half*. This is the "previous-token head" a second
   attention layer would otherwise have to learn (it is how induction heads
   work); wiring it in keeps the chapter to one attention layer.
2. **baseline**: the same embeddings, mean pooling over the sequence, then an
   MLP sized to a similar parameter count. A mean is a bag of tokens: it knows
   which keys and values occur but not which value sits next to which key, so
   it cannot beat guessing one of the `num_pairs` values it saw (with the
   default `num_values == num_pairs` every example holds every value, and
   that is chance, `1 / num_values`).

Both models live in one `keras.Model` with two outputs and two losses: they
share no layer, so the summed loss gives each exactly its own gradient, and
the chapter stays one run (one checkpoint, exact resume, one metrics.json).
Gradient clipping is off (`grad_clip=0`) because global-norm clipping would
couple the two models' updates.

    python chapters/01_attention.py --preset cpu     # a few minutes on 2 CPU cores
    python chapters/01_attention.py --preset gpu
    python chapters/01_attention.py --preset smoke   # seconds, for the tests

The headline is the attention model's test accuracy on a fixed test set of
fresh examples; `baseline_accuracy`, `chance` and `attention_to_answer` (the
mean weight the best head puts on the answer's position) are recorded beside
it. `finish` saves `attention_example_<i>.png` heatmaps and `accuracy.png`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer import plots, training
from keras_transformer.data.synthetic import recall_examples, step_rng

TEST_STREAM = 1  # training batches use stream 0


@dataclasses.dataclass
class RecallConfig(training.Preset):
    num_pairs: int = 8
    num_keys: int = 16
    num_values: int = 8
    hidden_dim: int = 32
    num_heads: int = 2
    key_dim: int = 16
    baseline_hidden_dim: int = 0  # 0: sized to match the attention model's parameters
    test_size: int = 2000
    num_heatmaps: int = 4

    def __post_init__(self):
        super().__post_init__()
        if self.num_keys < self.num_pairs or self.num_values < self.num_pairs:
            raise ValueError(
                f"num_keys ({self.num_keys}) and num_values ({self.num_values}) must be "
                f">= num_pairs ({self.num_pairs}): keys and values are unique per example."
            )


SMOKE = RecallConfig(
    num_pairs=4, num_keys=8, num_values=4, hidden_dim=16, key_dim=8, batch_size=16,
    steps=20, warmup_steps=2, eval_interval=10, checkpoint_interval=10, test_size=64,
    num_heatmaps=2, grad_clip=0.0, weight_decay=0.0,
)
CPU = RecallConfig(
    batch_size=64, steps=1500, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=100,
    eval_interval=250, checkpoint_interval=500, grad_clip=0.0, weight_decay=0.0,
)
GPU = RecallConfig(
    num_pairs=16, num_keys=64, num_values=16, hidden_dim=64, num_heads=4, key_dim=16,
    batch_size=256, steps=3000, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=200,
    eval_interval=500, checkpoint_interval=1000, grad_clip=0.0, weight_decay=0.0,
    test_size=10000,
)


def token_names(tokens, num_keys: int) -> list[str]:
    """Readable labels: `k<i>` for key ids, `v<j>` for value ids; the last is the query."""
    names = [f"k{t - 1}" if t <= num_keys else f"v{t - 1 - num_keys}" for t in tokens]
    names[-1] = f"?{names[-1]}"
    return names


class RecallTask(training.Task):
    """Associative recall: one attention layer vs a mean-pooling baseline."""

    headline = "attention_accuracy"
    headline_mode = "max"
    needs_tensorflow = False  # synthetic arrays: JAX and PyTorch run without it

    def __init__(self, config: RecallConfig, data_dir: str | None = None):
        super().__init__(config, data_dir)
        c = config
        self.vocab_size = 1 + c.num_keys + c.num_values
        self.length = 2 * c.num_pairs + 1
        self.test_x, self.test_y, self.test_answer = recall_examples(
            step_rng(c.seed, 0, TEST_STREAM), c.test_size, c.num_pairs, c.num_keys, c.num_values
        )

    # ---------------------------------------------------------------- model

    def _embedding(self, name):
        c = self.config
        return kt.layers.TokenAndPositionEmbedding(
            self.vocab_size, self.length, c.hidden_dim, position="learned", name=name
        )

    def _attention_params(self) -> int:
        c, d = self.config, self.config.hidden_dim
        embedding = self.vocab_size * d + self.length * d
        heads = c.num_heads * c.key_dim
        attention = 3 * (2 * d * heads + heads) + heads * d + d
        return embedding + attention + d * c.num_values + c.num_values

    def baseline_hidden_dim(self) -> int:
        """The MLP width that gives the baseline about the attention model's parameters."""
        c, d = self.config, self.config.hidden_dim
        if c.baseline_hidden_dim:
            return c.baseline_hidden_dim
        budget = self._attention_params() - self.vocab_size * d - self.length * d
        # Dense(d -> h) + Dense(h -> h) + Dense(h -> V): h^2 + (d + V + 2) h + V.
        b = d + c.num_values + 2
        return max(1, int((-b + np.sqrt(b * b + 4 * (budget - c.num_values))) / 2))

    def build_model(self) -> keras.Model:
        c = self.config
        tokens = keras.Input((self.length,), dtype="int32", name="tokens")

        # (1) attention: [own embedding, previous token's embedding] per position.
        x = self._embedding("attention_embedding")(tokens)
        previous = keras.layers.Cropping1D((0, 1))(keras.layers.ZeroPadding1D((1, 0))(x))
        pairs = keras.layers.Concatenate(name="with_previous_token")([x, previous])
        query = keras.layers.Cropping1D((self.length - 1, 0), name="query_position")(pairs)
        attended, _ = kt.layers.MultiHeadAttention(
            c.num_heads, c.key_dim, output_dim=c.hidden_dim, name="attention"
        )(query, pairs, return_attention_scores=True)
        attended = keras.layers.Flatten(name="attention_flatten")(attended)
        attention_logits = keras.layers.Dense(c.num_values, name="attention_classifier")(attended)

        # (2) baseline: the same embeddings, averaged, then an MLP.
        h = self.baseline_hidden_dim()
        y = self._embedding("baseline_embedding")(tokens)
        y = keras.layers.GlobalAveragePooling1D(name="baseline_mean")(y)
        y = keras.layers.Dense(h, activation="relu", name="baseline_hidden_1")(y)
        y = keras.layers.Dense(h, activation="relu", name="baseline_hidden_2")(y)
        baseline_logits = keras.layers.Dense(c.num_values, name="baseline_classifier")(y)

        return keras.Model(
            tokens, {"attention": attention_logits, "baseline": baseline_logits},
            name="recall",
        )

    def attention_probe(self, model: keras.Model) -> keras.Model:
        """A model sharing `model`'s layers that returns the `(batch, heads, 1, S)` weights."""
        if getattr(self, "_probe_of", None) is not model:
            self._probe = keras.Model(model.inputs, model.get_layer("attention").output[1])
            self._probe_of = model
        return self._probe

    def loss(self):
        sparse = keras.losses.SparseCategoricalCrossentropy
        return {"attention": sparse(from_logits=True), "baseline": sparse(from_logits=True)}

    # ---------------------------------------------------------------- data

    def train_batch(self, step: int):
        c = self.config
        x, y, _ = recall_examples(
            step_rng(c.seed, step), c.batch_size, c.num_pairs, c.num_keys, c.num_values
        )
        return x, {"attention": y, "baseline": y}

    def tokens_per_step(self) -> int:
        return self.config.batch_size * self.length

    # ---------------------------------------------------------------- results

    def predict_test(self, model: keras.Model):
        """Returns the test set's logits `{"attention", "baseline"}` and `(N, heads, 1, S)` weights."""
        logits = model.predict(self.test_x, batch_size=500, verbose=0)
        weights = self.attention_probe(model).predict(self.test_x, batch_size=500, verbose=0)
        return logits, np.asarray(weights)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        c = self.config
        logits, weights = self.predict_test(model)
        weights = weights[:, :, 0, :]  # (N, heads, S)
        on_answer = weights[np.arange(len(weights)), :, self.test_answer]  # (N, heads)
        return {
            "attention_accuracy": _accuracy(logits["attention"], self.test_y),
            "baseline_accuracy": _accuracy(logits["baseline"], self.test_y),
            "chance": 1.0 / c.num_pairs,
            "attention_to_answer": float(on_answer.max(axis=1).mean()),
            "attention_params": float(self._count(model, "attention")),
            "baseline_params": float(self._count(model, "baseline")),
        }

    @staticmethod
    def _count(model, prefix):
        """Parameters of one of the two models: the layers whose name starts with `prefix`."""
        return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))

    def finish(self, model: keras.Model, run_dir: pathlib.Path, run_metrics: dict) -> dict:
        c = self.config
        results = self.evaluate(model)
        logits, weights = self.predict_test(model)
        predicted = np.argmax(logits["attention"], axis=-1)
        for i in range(min(c.num_heatmaps, len(self.test_x))):
            names = token_names(self.test_x[i], c.num_keys)
            plots.attention_heatmap(
                weights[i], names, [names[-1]], run_dir / f"attention_example_{i}.png",
                max_columns=1,
                title=f"query {names[-1][1:]}: answer v{self.test_y[i]} at position "
                      f"{self.test_answer[i]}, predicted v{predicted[i]}",
            )
        plots.bar_chart(
            {"attention": results["attention_accuracy"],
             "mean-pool baseline": results["baseline_accuracy"]},
            run_dir / "accuracy.png", title="associative recall: test accuracy",
            ylabel="accuracy", reference=results["chance"],
        )
        print(
            f"attention accuracy {results['attention_accuracy']:.4f} "
            f"({results['attention_params']:.0f} params), baseline accuracy "
            f"{results['baseline_accuracy']:.4f} ({results['baseline_params']:.0f} params), "
            f"chance {results['chance']:.4f}; weight on the answer "
            f"{results['attention_to_answer']:.3f}"
        )
        return {}


def _accuracy(logits, labels) -> float:
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


if __name__ == "__main__":
    training.main({"smoke": SMOKE, "cpu": CPU, "gpu": GPU}, RecallTask)

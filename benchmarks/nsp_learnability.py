"""Next-sentence prediction where only the topic decides: this package's BERT vs keras-hub's.

Chapter 05's pretraining ends with NSP accuracy near chance. Is that a
fault of the model, or of the task at this budget? This benchmark takes the
task's one honest cue, the topic, and leaves nothing else:
`data.synthetic.topic_pair_examples` draws pairs whose segments are words
of one topic each (with `--topical-rate` of the words topical, the rest
shared by all topics), NotNext exactly when the topics differ. Each engine
builds the same encoder (BERT's post-norm blocks, truncated-normal 0.02
initialization, a tanh pooler on `[CLS]` and a two-way classifier on it):
`kt.models.BERT` with `kt.models.BertNextSentenceHead`, and
`keras_hub.models.BertBackbone` with a `Dense(2)`. Both train on the same
rows with AdamW, seed by seed and learning rate by learning rate, the two
engines alternating; the held-out accuracy after each epoch is printed as
each run ends, then, per engine and learning rate, how many seeds got past
chance (held-out accuracy >= 0.75 at the end) and the mean final accuracy,
with ours over keras-hub's.

    python benchmarks/nsp_learnability.py    # 4 seeds x 2 learning rates, ~10 min on 2 CPU cores
    python benchmarks/nsp_learnability.py --seeds 0 --learning-rates 3e-4 --epochs 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import keras_hub
import numpy as np

import keras_transformer as kt
from keras_transformer.data.synthetic import step_rng, topic_pair_examples

ENGINES = ("keras_transformer", "keras_hub")
PAST_CHANCE = 0.75


def encoder(engine: str, vocab_size: int, length: int, args) -> keras.Model:
    """The engine's BERT with a two-way classifier on its pooled `[CLS]` vector."""
    size = dict(num_layers=args.layers, num_heads=args.heads, hidden_dim=args.hidden_dim,
                intermediate_dim=4 * args.hidden_dim, dropout=0.0)
    if engine == "keras_transformer":
        backbone = kt.models.BERT(vocab_size=vocab_size, max_length=length, **size)
        head = kt.models.BertNextSentenceHead()
    else:
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=vocab_size, max_sequence_length=length, **size)
        head = keras.layers.Dense(2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    inputs = {
        "token_ids": keras.Input((length,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input((length,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input((length,), dtype="bool", name="padding_mask"),
    }
    return keras.Model(inputs, head(backbone(inputs)["pooled_output"]))


def run(engine: str, seed: int, learning_rate: float, train, heldout, vocab_size: int,
        args) -> list[float]:
    """Trains one encoder from `seed`; its held-out accuracy after each epoch."""
    keras.utils.set_random_seed(seed)
    model = encoder(engine, vocab_size, train[0]["token_ids"].shape[1], args)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    accuracies = []
    for _ in range(args.epochs):
        model.fit(*train, batch_size=32, epochs=1, shuffle=True, verbose=0)
        logits = model.predict(heldout[0], batch_size=256, verbose=0)
        accuracies.append(float(np.mean(logits.argmax(-1) == heldout[1])))
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3, 3e-4])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20_000, help="training pairs (held out: 1,000)")
    parser.add_argument("--topical-rate", type=float, default=0.9)
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--segment-length", type=int, default=20)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--hidden-dim", type=int, default=64)
    args = parser.parse_args()

    topic_words = shared_words = 40
    draw = lambda stream, rows: topic_pair_examples(  # noqa: E731
        step_rng(0, 0, stream), rows, args.topics, topic_words, shared_words,
        args.segment_length, args.topical_rate)
    train, heldout = draw(0, args.rows), draw(1, 1000)
    vocab_size = 5 + shared_words + args.topics * topic_words
    print(f"{args.rows:,} training pairs, {args.topics} topics, {args.topical_rate:.0%} of the words "
          f"topical; encoders of {args.layers} layers x {args.hidden_dim} wide, {args.heads} heads")
    print(f"{'engine':18s} {'lr':>7s} {'seed':>4s}  held-out accuracy by epoch")
    finals = {}
    for learning_rate in args.learning_rates:
        for seed in args.seeds:
            for engine in ENGINES:
                start = time.perf_counter()
                accuracies = run(engine, seed, learning_rate, train, heldout, vocab_size, args)
                finals.setdefault((engine, learning_rate), []).append(accuracies[-1])
                print(f"{engine:18s} {learning_rate:7.0e} {seed:4d}  "
                      f"{' '.join(f'{a:.3f}' for a in accuracies)}   ({time.perf_counter() - start:.0f} s)",
                      flush=True)
    print(f"\n{'engine':18s} {'lr':>7s}  past chance (>= {PAST_CHANCE})  mean final accuracy")
    for (engine, learning_rate), values in finals.items():
        passed = sum(v >= PAST_CHANCE for v in values)
        print(f"{engine:18s} {learning_rate:7.0e}  {passed} of {len(values)} seeds"
              f"{'':12s}{statistics.mean(values):.3f}")
    for learning_rate in args.learning_rates:
        ratio = (statistics.mean(finals["keras_transformer", learning_rate])
                 / statistics.mean(finals["keras_hub", learning_rate]))
        print(f"lr {learning_rate:.0e}: keras_transformer / keras_hub mean final accuracy {ratio:.2f}")


if __name__ == "__main__":
    main()

"""Training-step time of keras_transformer's attention and encoder block vs Keras / keras-hub.

Each contender is wrapped in the same tiny Keras model and timed with
`train_on_batch` (forward + backward + an SGD update), compiled the same way
(XLA by default, as the chapter runner trains), at the same sizes in the same
process. Contenders alternate round by round so drifts in machine load hit
both alike. The ratio column is `reference time / keras_transformer time`:
above 1.0 means keras_transformer is faster.

    python benchmarks/attention.py                 # lengths 128..2048
    python benchmarks/attention.py --lengths 128 256 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import keras_hub
import numpy as np

import keras_transformer as kt


JIT = {"auto": "auto", "true": True, "false": False}


def wrap(apply, hidden_dim: int, length: int, jit_compile="auto") -> keras.Model:
    """A model `x -> apply(x)` compiled for a timed training step."""
    inputs = keras.Input((length, hidden_dim))
    model = keras.Model(inputs, apply(inputs))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse", jit_compile=jit_compile)
    return model


def contenders(name: str, hidden_dim: int, heads: int, length: int, jit) -> dict[str, keras.Model]:
    head_dim = hidden_dim // heads
    if name == "attention":
        # Causal self-attention, as in a GPT block.
        ours = kt.layers.MultiHeadAttention(heads, head_dim)
        theirs = keras.layers.MultiHeadAttention(heads, head_dim)
        return {
            "keras_transformer": wrap(lambda x: ours(x, use_causal_mask=True), hidden_dim, length, jit),
            "keras": wrap(lambda x: theirs(x, x, use_causal_mask=True), hidden_dim, length, jit),
        }
    ours = kt.layers.EncoderBlock(heads, 4 * hidden_dim, activation="relu")
    theirs = keras_hub.layers.TransformerEncoder(4 * hidden_dim, heads, activation="relu")
    return {
        "keras_transformer": wrap(ours, hidden_dim, length, jit),
        "keras-hub": wrap(theirs, hidden_dim, length, jit),
    }


def time_step(model: keras.Model, x: np.ndarray, repeats: int) -> float:
    """Median seconds of one `train_on_batch` after the first (compiling) call."""
    model.train_on_batch(x, x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=8192, help="batch × length per step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jit", choices=JIT, default="true",
                        help="compile setting of both models (the chapter runner uses XLA: true)")
    args = parser.parse_args(argv)
    print(f"backend={keras.config.backend()} jit_compile={args.jit} hidden_dim={args.hidden_dim} "
          f"heads={args.heads} tokens/step={args.tokens}")
    print(f"{'layer':<10} {'length':>6} {'batch':>5} {'ours ms':>9} {'ref ms':>9} {'ratio':>6}  reference")
    for name in ("attention", "encoder"):
        for length in args.lengths:
            batch = max(1, args.tokens // length)
            x = np.random.default_rng(0).normal(size=(batch, length, args.hidden_dim)).astype("float32")
            models = contenders(name, args.hidden_dim, args.heads, length, JIT[args.jit])
            samples = {key: [] for key in models}
            for _ in range(args.rounds):
                for key, model in models.items():
                    samples[key].append(time_step(model, x, args.repeats))
            ours = min(samples.pop("keras_transformer"))
            (ref_name, ref), = samples.items()
            ref = min(ref)
            print(f"{name:<10} {length:>6} {batch:>5} {ours * 1e3:>9.1f} {ref * 1e3:>9.1f} "
                  f"{ref / ours:>6.2f}  {ref_name}")


if __name__ == "__main__":
    main()

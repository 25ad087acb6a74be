"""Cost of self-attention against sequence length: full, BigBird and LSH attention, one run.

For each length, every contender runs one forward + backward pass of a
self-attention layer alone (batch 1, `--heads` x `--head-dim`), compiled with
XLA (`training.step_cost`), timed as the median of `--repeats` after a
warm-up, contenders alternating within each length. Memory is the working
memory XLA plans for the same pass (temporaries + outputs, from JAX's
compiled-program analysis), measured in a JAX subprocess so the timing
backend can be any. The contenders:

- `keras`: `keras.layers.MultiHeadAttention`, the reference of the ratios;
- `full`: `kt.layers.MultiHeadAttention` (the fused `dot_product_attention` path);
- `full_explicit`: the same layer asked for its weights (softmax materialized);
- `bigbird`: `kt.layers.BigBirdAttention` (`--block-size`, `--random-blocks`, window 3, 1 global);
- `lsh`: `kt.layers.LSHAttention` (`--chunk-length`, `--hashes`, `length / chunk` buckets).

Ratios are `keras time / contender time` (above 1: faster than Keras). The
slopes are least-squares fits of log(cost) on log(length) over the lengths
from 1,024 up (two of them at least, else "n/a"): 2 is quadratic, 1 linear.

    python benchmarks/attention_scaling.py                       # 512 .. 8192, writes runs/attention_scaling/
    python benchmarks/attention_scaling.py --lengths 1024 2048 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np

import keras_transformer as kt
from keras_transformer import plots
from keras_transformer.training.step_cost import (
    forward_backward_memory,
    time_forward_backward,
)

CONTENDERS = ("keras", "full", "full_explicit", "bigbird", "lsh")


class ExplicitAttention(keras.layers.Layer):
    """`kt.layers.MultiHeadAttention` on its explicit path: the softmax weights are computed."""

    def __init__(self, heads: int, head_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.attention = kt.layers.MultiHeadAttention(heads, head_dim)

    def call(self, x, training=None):
        return self.attention(x, return_attention_scores=True, training=training)[0]


class KerasSelfAttention(keras.layers.Layer):
    """`keras.layers.MultiHeadAttention` called as self-attention."""

    def __init__(self, heads: int, head_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.attention = keras.layers.MultiHeadAttention(heads, head_dim)

    def call(self, x, training=None):
        return self.attention(x, x, training=training)


def build(name: str, x: np.ndarray, args) -> keras.layers.Layer:
    """Contender `name`, built on `x`."""
    h, d, length = args.heads, args.head_dim, x.shape[1]
    if name == "keras":
        layer = KerasSelfAttention(h, d)
    elif name == "full":
        layer = kt.layers.MultiHeadAttention(h, d)
    elif name == "full_explicit":
        layer = ExplicitAttention(h, d)
    elif name == "bigbird":
        layer = kt.layers.BigBirdAttention(
            h, d, block_size=args.block_size, num_random_blocks=args.random_blocks, seed=0
        )
    else:
        layer = kt.layers.LSHAttention(
            h, d, num_buckets=max(2, 2 * (length // args.chunk_length // 2)),
            num_hashes=args.hashes, chunk_length=args.chunk_length, seed=0,
        )
    layer(x)
    return layer


def inputs(length: int, args) -> np.ndarray:
    rng = np.random.default_rng(length)
    return rng.normal(size=(1, length, args.heads * args.head_dim)).astype("float32")


def measure(args, kind: str) -> dict[str, dict[int, float]]:
    """`{contender: {length: seconds or bytes}}` for every contender that fits."""
    results = {name: {} for name in args.contenders}
    for length in args.lengths:
        for name in args.contenders:
            if name.startswith(("full", "keras")) and length > args.max_full_length:
                continue
            x = inputs(length, args)
            layer = build(name, x, args)
            if kind == "time":
                value = time_forward_backward(layer, x, repeats=args.repeats)
            else:
                value = forward_backward_memory(layer, x)
            results[name][length] = value
            print(f"  {kind} {name:14s} {length:6d}: {value:.4g}", file=sys.stderr, flush=True)
    return results


def memory_in_jax(argv: list[str]) -> dict[str, dict[int, float]]:
    """Runs this script's memory pass, with the same arguments, in a JAX subprocess."""
    command = [sys.executable, __file__, *argv, "--memory-only"]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return {name: {int(k): v for k, v in values.items()}
            for name, values in json.loads(out).items()}


def slope(values: dict[int, float], from_length: int = 1024) -> float | None:
    """Least-squares slope of log(value) on log(length) over lengths >= from_length; None below two."""
    points = [(n, v) for n, v in values.items() if n >= from_length]
    if len(points) < 2:  # no line to fit: `null` in the JSON, "n/a" in the table
        return None
    n, v = np.log(np.array(points, dtype=np.float64)).T
    return float(np.polyfit(n, v, 1)[0])


def table(title: str, values: dict, unit: str, scale: float, ratios: bool) -> str:
    lengths = sorted({n for v in values.values() for n in v})
    rows = [title, f"{'contender':14s}" + "".join(f"{n:>10d}" for n in lengths) + "   slope"]
    for name, by_length in values.items():
        cells = "".join(
            f"{by_length[n] * scale:>10.3g}" if n in by_length else f"{'-':>10s}" for n in lengths
        )
        fitted = slope(by_length)
        rows.append(f"{name:14s}{cells}   {'n/a' if fitted is None else f'{fitted:.2f}'}   ({unit})")
        if ratios and name != "keras" and "keras" in values:
            cells = "".join(
                f"{values['keras'][n] / by_length[n]:>9.2f}x"
                if n in by_length and n in values["keras"] else f"{'-':>10s}" for n in lengths
            )
            rows.append(f"{'  vs keras':14s}{cells}")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--random-blocks", type=int, default=3)
    parser.add_argument("--chunk-length", type=int, default=64)
    parser.add_argument("--hashes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-full-length", type=int, default=8192,
                        help="skip full attention above this length (its memory is quadratic)")
    parser.add_argument("--out", default="runs/attention_scaling")
    parser.add_argument("--memory-only", action="store_true",
                        help="print the memory results as JSON (run under KERAS_BACKEND=jax)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)

    if args.memory_only:
        print(json.dumps(measure(args, "memory")))
        return
    print(f"forward + backward of one self-attention layer, batch 1, {args.heads} heads x "
          f"{args.head_dim}; time on {keras.backend.backend()} + XLA, memory from XLA (JAX)")
    seconds = measure(args, "time")
    memory = memory_in_jax(argv)
    print(table("time, ms", seconds, "ms", 1e3, ratios=True))
    print(table("working memory, MiB", memory, "MiB", 2.0**-20, ratios=False))

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "backend": keras.backend.backend(), "heads": args.heads, "head_dim": args.head_dim,
        "seconds": seconds, "memory_bytes": memory,
        "time_slopes": {k: slope(v) for k, v in seconds.items()},
        "memory_slopes": {k: slope(v) for k, v in memory.items()},
    }
    (out / "scaling.json").write_text(json.dumps(results, indent=1))
    for name, values, ylabel in (("scaling_time.png", seconds, "seconds, forward + backward"),
                                 ("scaling_memory.png", memory, "bytes XLA plans")):
        plots.line_chart(
            {k: sorted(v) for k, v in values.items() if v},
            {k: [v[n] for n in sorted(v)] for k, v in values.items() if v},
            out / name, title=f"self-attention, {args.heads} heads x {args.head_dim}, batch 1",
            xlabel="sequence length", ylabel=ylabel, log_scale=True,
        )
    print(f"wrote {out / 'scaling.json'}, {out / 'scaling_time.png'}, {out / 'scaling_memory.png'}")


if __name__ == "__main__":
    main()

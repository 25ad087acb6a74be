"""Training tokens/s of `keras_transformer.models.GPT` vs the same GPT built from keras-hub layers.

The keras-hub model is `TokenAndPositionEmbedding` + `TransformerDecoder(normalize_first=True)`
× L + `LayerNormalization` + `Dense` — the same size, same batch, same
optimizer (AdamW) and the same compile settings. Training steps alternate
between the two in one process; each figure is the median over rounds.
Model FLOPs utilization uses nanoGPT's 6N + 12·L·H·T FLOPs per token against
the matmul peak measured on this device.

A third model bounds what any implementation can reach: the same matrix
products (token embedding, fused QKV, scores, scores × values, output
projection, the two feed-forward projections, the logits) and nothing else —
no normalization, softmax, activation, mask or bias — trained the same way.
Its speed over keras-hub's is the largest ratio a GPT of this size can show
on this backend and device, and its MFU the most a step built on these
products reaches. `--parts` adds that model with each missing part put back
alone (softmax, causal mask, LayerNorm, tanh-GELU, biases) and with all of
them, which is where a GPT step's time goes beyond its matrix products.

    python benchmarks/gpt_throughput.py
    python benchmarks/gpt_throughput.py --parts
    python benchmarks/gpt_throughput.py --policy mixed_bfloat16
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import keras_hub
import numpy as np

import keras_transformer as kt
from keras_transformer import training
from keras_transformer.training.memory import reuse_freed_blocks

SIZES = {  # name: (layers, heads, width, block, batch)
    "4L-128w-block128-batch32": (4, 4, 128, 128, 32),
    "cpu-preset (block64-batch12)": (4, 4, 128, 64, 12),
}
VOCAB = 65


def keras_hub_gpt(layers: int, heads: int, width: int, block: int) -> keras.Model:
    token_ids = keras.Input((block,), dtype="int32")
    x = keras_hub.layers.TokenAndPositionEmbedding(VOCAB, block, width)(token_ids)
    for _ in range(layers):
        x = keras_hub.layers.TransformerDecoder(
            4 * width, heads, normalize_first=True, activation="gelu"
        )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
    return keras.Model(token_ids, keras.layers.Dense(VOCAB, dtype="float32")(x))


def ours(layers: int, heads: int, width: int, block: int) -> keras.Model:
    return kt.models.GPT(VOCAB, block, layers, heads, width, 4 * width, pad_id=None)


PARTS = ("softmax", "causal mask", "layer norm", "gelu", "biases")


def matmuls_plus(layers: int, heads: int, width: int, block: int, parts=()) -> keras.Model:
    """The GPT's matrix products at the same sizes, with only the `PARTS` named in `parts` around them."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"parts must be among {PARTS}; got {sorted(unknown)}.")
    bias = "biases" in parts
    causal = np.tril(np.ones((block, block), bool))

    def norm(x):
        return keras.layers.LayerNormalization(epsilon=1e-5)(x) if "layer norm" in parts else x

    token_ids = keras.Input((block,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, width)(token_ids)
    for _ in range(layers):
        qkv = keras.layers.Dense(3 * width, use_bias=bias)(norm(x))
        q, k, v = keras.ops.unstack(keras.ops.reshape(qkv, (-1, block, 3, heads, width // heads)), axis=2)
        if "softmax" in parts:  # scaled on the queries, the cheaper side
            q = q * (width // heads) ** -0.5
        scores = keras.ops.einsum("bqhd,bkhd->bhqk", q, k)
        if "causal mask" in parts:
            scores = keras.ops.where(causal, scores, -1e9)
        if "softmax" in parts:
            scores = keras.ops.softmax(scores, axis=-1)
        mixed = keras.ops.reshape(keras.ops.einsum("bhqk,bkhd->bqhd", scores, v), (-1, block, width))
        x = x + keras.layers.Dense(width, use_bias=bias)(mixed)
        hidden = keras.layers.Dense(4 * width, use_bias=bias)(norm(x))
        if "gelu" in parts:
            hidden = keras.activations.gelu(hidden, approximate=True)
        x = x + keras.layers.Dense(width, use_bias=bias)(hidden)
    return keras.Model(token_ids, keras.layers.Dense(VOCAB, use_bias=False, dtype="float32")(norm(x)))


def contenders(layers: int, heads: int, width: int, block: int, parts: bool) -> dict:
    """Builders of the models to time, by name: keras-hub's first (the reference)."""
    models = {
        "keras-hub": lambda: keras_hub_gpt(layers, heads, width, block),
        "ours": lambda: ours(layers, heads, width, block),
        "matmuls only (ceiling)": lambda: matmuls_plus(layers, heads, width, block),
    }
    if parts:
        for part in PARTS:
            models[f"matmuls + {part}"] = lambda part=part: matmuls_plus(
                layers, heads, width, block, (part,))
        models["matmuls + all of them"] = lambda: matmuls_plus(layers, heads, width, block, PARTS)
    return models


def compiled(model: keras.Model, block: int) -> keras.Model:
    model(np.zeros((1, block), "int32"))
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    return model


def seconds_per_step(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(loss)  # wait for the last step
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--policy", default="float32", help="e.g. mixed_bfloat16")
    parser.add_argument("--parts", action="store_true",
                        help="also time the matrix products with each other part of a GPT step")
    args = parser.parse_args(argv)
    if keras.config.backend() == "jax":
        reuse_freed_blocks()  # as the runner does there, for every model alike
    keras.config.set_dtype_policy(args.policy)
    compute = keras.config.dtype_policy().compute_dtype
    peak = training.measure_matmul_peak(compute)
    print(f"backend={keras.config.backend()} policy={args.policy} "
          f"measured {compute} matmul peak={peak / 1e9:.0f} GFLOP/s")
    for name, (layers, heads, width, block, batch) in SIZES.items():
        rng = np.random.default_rng(0)
        x = rng.integers(0, VOCAB, (batch, block)).astype("int32")
        y = np.roll(x, -1, axis=1)
        models = {key: compiled(build(), block)
                  for key, build in contenders(layers, heads, width, block, args.parts).items()}
        for model in models.values():
            seconds_per_step(model, x, y, 3)  # compile and warm up
        times = {key: [] for key in models}
        for _ in range(args.rounds):
            for key, model in models.items():
                times[key].append(seconds_per_step(model, x, y, args.steps))
        rate = {key: batch * block / statistics.median(t) for key, t in times.items()}
        n = models["ours"].count_params() - block * width  # without position embeddings
        flops = training.gpt_flops_per_token(n, layers, width, block)
        print(f"\n{name}\n{'model':<26} {'tokens/s':>9} {'/ keras-hub':>11} {'MFU':>6}")
        for key in models:
            mfu = training.model_flops_utilization(flops, rate[key], peak)
            print(f"{key:<26} {rate[key]:>9,.0f} {rate[key] / rate['keras-hub']:>11.2f} {mfu:>6.1%}")


if __name__ == "__main__":
    main()

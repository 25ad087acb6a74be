"""Training tokens/s of `keras_transformer.models.GPT` vs the same GPT built from keras-hub layers.

The keras-hub model is `TokenAndPositionEmbedding` + `TransformerDecoder(normalize_first=True)`
× L + `LayerNormalization` + `Dense` — the same size, same batch, same
optimizer (AdamW) and the same compile settings. Training steps alternate
between the two in one process; each figure is the median over rounds.
Model FLOPs utilization uses nanoGPT's 6N + 12·L·H·T FLOPs per token against
the matmul peak measured on this device.

    python benchmarks/gpt_throughput.py
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
    args = parser.parse_args(argv)
    keras.config.set_dtype_policy(args.policy)
    compute = keras.config.dtype_policy().compute_dtype
    peak = training.measure_matmul_peak(compute)
    print(f"backend={keras.config.backend()} policy={args.policy} "
          f"measured {compute} matmul peak={peak / 1e9:.0f} GFLOP/s")
    print(f"{'size':<30} {'keras-hub tok/s':>15} {'ours tok/s':>11} {'ratio':>6} {'our MFU':>8}")
    for name, (layers, heads, width, block, batch) in SIZES.items():
        rng = np.random.default_rng(0)
        x = rng.integers(0, VOCAB, (batch, block)).astype("int32")
        y = np.roll(x, -1, axis=1)
        models = {
            "keras-hub": compiled(keras_hub_gpt(layers, heads, width, block), block),
            "ours": compiled(ours(layers, heads, width, block), block),
        }
        for model in models.values():
            seconds_per_step(model, x, y, 3)  # compile and warm up
        times = {key: [] for key in models}
        for _ in range(args.rounds):
            for key, model in models.items():
                times[key].append(seconds_per_step(model, x, y, args.steps))
        tokens = batch * block
        rate = {key: tokens / statistics.median(t) for key, t in times.items()}
        gpt = models["ours"]
        n = gpt.count_params() - block * width  # without position embeddings
        flops = training.gpt_flops_per_token(n, layers, width, block)
        mfu = training.model_flops_utilization(flops, rate["ours"], peak)
        print(f"{name:<30} {rate['keras-hub']:>15,.0f} {rate['ours']:>11,.0f} "
              f"{rate['ours'] / rate['keras-hub']:>6.2f} {mfu:>8.1%}")


if __name__ == "__main__":
    main()

"""CoLA fine-tuning of the shipped MiniLM checkpoint: this package's chapter vs Hugging Face `transformers`.

One recipe for both (BERT's, Devlin et al. 2019, appendix A.3): AdamW at
5e-5 with weight decay 0.01 (not on biases and normalization weights),
batch 32, sentences of up to 64 word pieces, 3 epochs, 10% warm-up. The
`transformers` side is the loop its `Trainer` runs by default: a linear
decay to 0, gradients clipped at norm 1, PyTorch's AdamW (eps 1e-8),
batches padded to their longest sentence. Ours is
`chapters/05_bert_cola.py --preset cpu --set initializations=checkpoint`:
the same linear decay (to 1e-7) and random batches, each padded to a length
bucket; no clipping; Keras' AdamW (eps 1e-7).

Each run is a fresh process, the two alternate seed by seed, and both read
the same sentences (this package's CoLA loader, `$KT_DATA_DIR`). The table
gives the in-domain MCC after each epoch, the out-of-domain MCC at the end,
the process's wall time and peak resident memory, then mean ± standard
deviation over the seeds and our ratios to `transformers`.

    python benchmarks/cola_finetuning.py --seeds 0 1 2
    python benchmarks/cola_finetuning.py --seeds 0 --epochs 1   # a quick look

The `transformers` side needs `torch` and `transformers`, which the package
does not install (tox's torch environment has both): on a machine without a
GPU, install a CPU build of torch first, then `pip install transformers`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
EPOCH_STEPS = 8551 // 32  # the chapter's steps per epoch: whole batches only
ENGINES = ("transformers", "keras_transformer")


def transformers_run(data: dict, seed: int, epochs: int) -> dict:
    """Fine-tunes with `transformers` and PyTorch; returns the MCC after each epoch."""
    import numpy as np
    import torch
    import transformers
    from sklearn.metrics import matthews_corrcoef

    folder = data["checkpoint_dir"]
    transformers.set_seed(seed)
    tokenizer = transformers.BertTokenizerFast.from_pretrained(folder)
    model = transformers.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    train = tokenizer(data["in_domain_train"]["sentences"], max_length=64, truncation=True)
    labels = np.asarray(data["in_domain_train"]["labels"])
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for p in model.parameters() if all(p is not q for q in no_decay)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=5e-5, eps=1e-8,
    )
    steps = epochs * EPOCH_STEPS
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, steps // 10, steps)

    def batch(rows):
        padded = tokenizer.pad({k: [train[k][i] for i in rows] for k in train},
                               return_tensors="pt")
        return padded, torch.as_tensor(labels[rows])

    def mcc(split: str) -> float:
        model.eval()
        inputs = tokenizer(data[split]["sentences"], max_length=64, truncation=True,
                           padding=True, return_tensors="pt")
        with torch.no_grad():
            predicted = model(**inputs).logits.argmax(-1).numpy()
        model.train()
        return float(matthews_corrcoef(data[split]["labels"], predicted))

    order_rng = np.random.default_rng(seed)
    model.train()
    in_domain = []
    for _ in range(epochs):
        order = order_rng.permutation(len(labels))
        for step in range(EPOCH_STEPS):
            inputs, y = batch(order[step * 32:(step + 1) * 32])
            loss = torch.nn.functional.cross_entropy(model(**inputs).logits, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        in_domain.append(mcc("in_domain_dev"))
    return {"in_domain_mcc": in_domain, "out_of_domain_mcc": mcc("out_of_domain_dev")}


def keras_transformer_run(seed: int, epochs: int, out: str) -> dict:
    """Runs chapter 05's CoLA script on the checkpoint alone; reads its metrics."""
    command = [
        sys.executable, str(REPO / "chapters" / "05_bert_cola.py"), "--preset", "cpu",
        "--set", "initializations=checkpoint", "--seed", str(seed), "--out", out,
        "--set", f"steps={epochs * EPOCH_STEPS}", "--set", f"warmup_steps={epochs * EPOCH_STEPS // 10}",
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    history = json.loads((pathlib.Path(out) / "metrics.json").read_text())["history"]
    at = {record["step"]: record for record in history}
    return {
        "in_domain_mcc": [at[(e + 1) * EPOCH_STEPS]["checkpoint_in_domain_mcc"]
                          for e in range(epochs)],
        "out_of_domain_mcc": history[-1]["checkpoint_out_of_domain_mcc"],
    }


def timed(command: list[str]) -> tuple[dict, float, float]:
    """Runs `command`; returns its last stdout line as JSON, wall seconds, peak RSS (MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed (exit status {os.waitstatus_to_exitcode(status)}).")
    return json.loads(output.strip().splitlines()[-1]), time.perf_counter() - start, usage.ru_maxrss / 1024


def cola_sentences(data_dir: str | None) -> dict:
    """The three CoLA splits as sentences and labels, with the checkpoint's folder."""
    import keras_transformer as kt
    from keras_transformer.data import cola

    splits = cola.load_cola(data_dir)
    data = {name: {"sentences": list(s.sentences), "labels": [int(y) for y in s.labels]}
            for name, s in splits.items()}
    return {**data, "checkpoint_dir": str(kt.models.minilm_checkpoint_dir())}


def mean_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("KT_DATA_DIR"))
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # one run
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine == "transformers":
        data = json.loads(pathlib.Path(args.data).read_text())
        print(json.dumps(transformers_run(data, args.seed, args.epochs)))
        return
    if args.engine == "keras_transformer":
        print(json.dumps(keras_transformer_run(args.seed, args.epochs, args.out)))
        return

    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        parser.error(f"the transformers side needs {' and '.join(missing)}: install a CPU build "
                     f"of torch, then `pip install transformers` (see this script's docstring).")
    results = {engine: [] for engine in ENGINES}
    with tempfile.TemporaryDirectory() as scratch:
        data_file = pathlib.Path(scratch) / "cola.json"
        data_file.write_text(json.dumps(cola_sentences(args.data_dir)))
        for seed in args.seeds:
            for engine in ENGINES:
                command = [sys.executable, __file__, "--engine", engine, "--seed", str(seed),
                           "--epochs", str(args.epochs), "--data", str(data_file),
                           "--out", f"{scratch}/{engine}-{seed}"]
                scores, wall, peak = timed(command)
                results[engine].append({**scores, "wall_s": wall, "peak_mib": peak})
                print(f"{engine:17s} seed {seed}: in-domain MCC "
                      + " / ".join(f"{m:.3f}" for m in scores["in_domain_mcc"])
                      + f", out-of-domain {scores['out_of_domain_mcc']:.3f}, "
                      f"{wall:.0f} s, peak {peak:,.0f} MiB", flush=True)

    print(f"\n| engine | in-domain MCC, epochs 1..{args.epochs} | out-of-domain | "
          "wall s | peak MiB |\n|---|---|---|---|---|")
    for engine, runs in results.items():
        epochs = " / ".join(mean_spread([r["in_domain_mcc"][e] for r in runs])
                            for e in range(args.epochs))
        print(f"| {engine} | {epochs} | {mean_spread([r['out_of_domain_mcc'] for r in runs])} "
              f"| {statistics.mean(r['wall_s'] for r in runs):.0f} "
              f"| {statistics.mean(r['peak_mib'] for r in runs):,.0f} |")
    ours, theirs = results["keras_transformer"], results["transformers"]
    final = [statistics.mean(r["in_domain_mcc"][-1] for r in runs) for runs in (ours, theirs)]
    wall = [statistics.mean(r["wall_s"] for r in runs) for runs in (ours, theirs)]
    print(f"\nkeras_transformer / transformers: final in-domain MCC "
          f"{final[0] - final[1]:+.3f}, wall time x{wall[0] / wall[1]:.2f}")


if __name__ == "__main__":
    main()

"""Does chapter 06's ELECTRA discriminator learn to spot replaced tokens? Its held-out AUC, step by step.

Chapter 06 pretrains ELECTRA at its `cpu` preset and reports the
discriminator's held-out scores (`metrics.replaced_token_scores`). This
benchmark trains the same model on the same rows, with any preset field
changed (`--set`), and prints every `--every` steps the AUC of its
"replaced" logits, the accuracy beside the all-original baseline, the
generator's masked-LM accuracy, and the tokens the generator most often puts
in. `--replacements uniform` is the control: the masked positions get tokens
drawn uniformly from the vocabulary instead of the generator's samples (not
ELECTRA's task), so the discriminator's side of the model is tested alone.

    python benchmarks/electra_discriminator.py                      # 1,000 steps, generator then uniform
    python benchmarks/electra_discriminator.py --steps 750 --set learning_rate=5e-4 --set min_learning_rate=5e-5
    python benchmarks/electra_discriminator.py --steps 4000 --set warmup_steps=400 --replacements generator
"""

from __future__ import annotations

import argparse
import pathlib
import time

import keras_transformer as kt  # before keras, see keras_transformer/_tensorflow_import.py

import keras
import numpy as np

from keras_transformer.training.optimizer import build_optimizer
from keras_transformer.training.preset import apply_overrides
from keras_transformer.training.script_module import load_script

CHAPTER = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "06_bert_family.py"


class UniformReplacements(kt.models.ElectraPretrainer):
    """The control: masked positions get uniformly drawn non-special tokens, not the generator's samples."""

    first_token = 0  # ids below it are special tokens: `train` sets it from the chapter

    def _sample(self, mlm_logits):
        shape = keras.ops.shape(mlm_logits)[:2]
        return keras.random.randint(shape, self.first_token, self.generator.vocab_size,
                                    seed=self.seed_generator, dtype="int32")


def report(model, task, vocabulary: list[str]) -> str:
    """One line of held-out scores, and the generator's commonest replacements."""
    out = model.predict(dict(task.heldout), batch_size=128, verbose=0)
    real = task.heldout["padding_mask"].astype(bool)
    scores = kt.metrics.replaced_token_scores(out["rtd_logits"], out["rtd_labels"], real)
    used = task.heldout["mask_weights"] > 0
    mlm = float((np.argmax(out["mlm_logits"], -1) == task.heldout["mask_ids"])[used].mean())
    ids, counts = np.unique(out["corrupted_ids"][real][out["rtd_labels"][real] == 1],
                            return_counts=True)
    top = np.argsort(-counts)[:12]
    commonest = " ".join(vocabulary[ids[i]] for i in top)
    return (f"AUC {scores['rtd_auc']:.3f} | accuracy {scores['rtd_accuracy']:.4f} "
            f"(all original {scores['rtd_baseline_accuracy']:.4f}) | generator MLM {mlm:.3f} | "
            f"commonest 12 replacements ({counts[top].sum() / counts.sum():.0%}): {commonest}")


def train(chapter, corpus, config, replacements: str, every: int) -> None:
    task = chapter.objective_task("electra", corpus)(config, None)
    keras.utils.set_random_seed(config.seed)
    model = task.build_model()
    if replacements == "uniform":
        model = UniformReplacements.from_config(model.get_config())
        model.first_token = len(chapter.WORDPIECE_SPECIALS)
    model(task.train_batch(0)[0])
    model.compile(optimizer=build_optimizer(config, model))
    vocabulary = corpus.vocabulary("electra")
    start = time.perf_counter()
    for step in range(config.steps):
        model.train_on_batch(task.train_batch(step)[0])
        if (step + 1) % every == 0 or step + 1 == config.steps:
            print(f"{replacements:9s} step {step + 1:5d} ({time.perf_counter() - start:4.0f} s): "
                  f"{report(model, task, vocabulary)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=250, help="steps between reports")
    parser.add_argument("--replacements", choices=("generator", "uniform", "both"), default="both")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a field of chapter 06's cpu preset")
    args = parser.parse_args()
    chapter = load_script(CHAPTER)
    config = apply_overrides(chapter.CPU, ["objectives=electra", f"steps={args.steps}", *args.set])
    corpus = chapter.Corpus(config, None)
    kinds = ("generator", "uniform") if args.replacements == "both" else (args.replacements,)
    for replacements in kinds:
        train(chapter, corpus, config, replacements, args.every)


if __name__ == "__main__":
    main()

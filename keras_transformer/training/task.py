"""What a chapter supplies to the runner: data, model, loss and evaluation."""

import pathlib

import keras
import numpy as np

from keras_transformer.training.preset import Preset


class Task:
    """A chapter's training problem; subclass it and pass the class to `main`.

    The runner constructs `Task(config, data_dir)`, builds and compiles
    `build_model()` with `loss()`, trains on `train_batch(step)` for
    `config.steps` steps and calls `evaluate(model)` every
    `config.eval_interval` steps. Exact resumption rests on `train_batch`
    being a pure function of `(config.seed, step)`; draw any other
    randomness in `__init__` from `config.seed` too.

    Attributes:
        headline: key of `evaluate`'s result reported as the run's figure.
        headline_mode: `"min"` if lower is better, `"max"` otherwise.
        steps_per_epoch: steps that make one pass over the training data, if
            that is defined; it makes `--epochs` available.
        needs_tensorflow: whether the task uses TensorFlow itself (keras-hub's
            tokenizers, tf.data). A chapter whose task does not, run by `main`,
            keeps TensorFlow Text out of its process (0.12 GB less memory), and
            on JAX or PyTorch TensorFlow too: 0.6 GB less, and no TensorBoard
            logs.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.training.preset import Preset
    >>> from keras_transformer.training.task import Task
    >>> class CopyTask(Task):
    ...     def build_model(self):
    ...         return keras.Sequential([keras.Input((8,), dtype="int32"),
    ...                                  keras.layers.Embedding(10, 10)])
    ...     def loss(self):
    ...         return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ...     def train_batch(self, step):
    ...         rng = np.random.default_rng([self.config.seed, step])
    ...         x = rng.integers(0, 10, (self.config.batch_size, 8))
    ...         return x, x
    ...     def evaluate(self, model):
    ...         x, y = self.train_batch(10**9)
    ...         return {"val_loss": model.evaluate(x, y, verbose=0)}
    ...     def tokens_per_step(self):
    ...         return self.config.batch_size * 8
    >>> task = CopyTask(Preset(batch_size=4))
    >>> x, y = task.train_batch(0)
    >>> x.shape, task.tokens_per_step()
    ((4, 8), 32)
    """

    headline: str = "val_loss"
    headline_mode: str = "min"
    steps_per_epoch: int | None = None
    needs_tensorflow: bool = True

    def __init__(self, config: Preset, data_dir: str | None = None) -> None:
        self.config = config
        self.data_dir = data_dir

    def build_model(self) -> keras.Model:
        """Returns the uncompiled model, built or buildable from a batch."""
        raise NotImplementedError(f"{type(self).__name__} must define build_model().")

    def loss(self) -> keras.losses.Loss:
        """Returns the training loss, e.g. sparse cross-entropy on logits.

        A model with several outputs (a dict) takes a dict of losses keyed
        like its outputs; `train_batch` then gives `y` as a dict with the
        same keys, and the runner minimizes the sum.
        """
        raise NotImplementedError(f"{type(self).__name__} must define loss().")

    def train_batch(self, step: int) -> tuple:
        """Returns batch `step` as `(x, y)` or `(x, y, sample_weight)` arrays."""
        raise NotImplementedError(f"{type(self).__name__} must define train_batch().")

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """Returns evaluation metrics, including the `headline` key."""
        raise NotImplementedError(f"{type(self).__name__} must define evaluate().")

    def tokens_per_step(self) -> int:
        """Returns the tokens one training step consumes (for tokens/s)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define tokens_per_step()."
        )

    def flops_per_token(self, model: keras.Model) -> float:
        """Returns training FLOPs per token; by default `6 x trainable params`.

        The default is the dense-layer rule (2 FLOPs forward and 4 backward
        per parameter) without attention's sequence-length term; transformer
        chapters override it, e.g. with `gpt_flops_per_token`.
        """
        return 6.0 * sum(int(np.prod(v.shape)) for v in model.trainable_variables)

    def finish(self, model: keras.Model, run_dir: pathlib.Path, metrics: dict) -> dict:
        """Writes chapter extras (samples, plots) to `run_dir` after training.

        Args:
            model: the trained model.
            run_dir: the run folder.
            metrics: the run's final metrics (history, headline, throughput);
                read them here rather than from `metrics.json`, which the
                runner writes once, after `finish` returns.

        Returns:
            Entries to add to the final metrics (e.g. test-set scores); the
            runner merges them into `train()`'s result and `metrics.json`.
            They must be JSON-serializable and must not reuse a runner key.
        """
        return {}

"""Linear warm-up, then a decay to the minimum: by a cosine (nanoGPT) or a straight line (BERT)."""

import math

import keras
from keras import ops

from keras_transformer._typing import Tensor


@keras.saving.register_keras_serializable(package="keras_transformer")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak_learning_rate`, cosine decay to the minimum.

    With `s` the number of updates already applied (the optimizer's
    `iterations`), W = `warmup_steps` and D = `decay_steps`:

    - `s < W`: `peak * (s + 1) / W`, so update W - 1 is the first at the peak;
    - `W <= s <= D`: `min + (peak - min) * (1 + cos(pi * (s - W) / (D - W))) / 2`;
    - `s > D`: `min_learning_rate`.

    Args:
        peak_learning_rate: rate at the end of warm-up.
        min_learning_rate: rate reached at `decay_steps`.
        warmup_steps: length of the warm-up, `>= 0`.
        decay_steps: step at which the decay ends (usually the run's steps).
        accumulation_steps: optimizer iterations per update. Keras counts
            every micro-batch when it accumulates gradients
            (`gradient_accumulation_steps`), so the schedule divides its
            step by this to advance once per update.

    Example:

    >>> from keras_transformer.training.schedule import WarmupCosineDecay
    >>> schedule = WarmupCosineDecay(1e-3, 1e-4, warmup_steps=10, decay_steps=100)
    >>> round(float(schedule(4)), 6), round(float(schedule(100)), 6)
    (0.0005, 0.0001)
    """

    def __init__(
        self,
        peak_learning_rate: float,
        min_learning_rate: float,
        warmup_steps: int,
        decay_steps: int,
        accumulation_steps: int = 1,
    ) -> None:
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}.")
        if warmup_steps < 0 or decay_steps < warmup_steps:
            raise ValueError(
                f"warmup_steps and decay_steps need 0 <= warmup_steps <= "
                f"decay_steps, got {warmup_steps} and {decay_steps}."
            )
        if not 0 <= min_learning_rate <= peak_learning_rate < math.inf:
            raise ValueError(
                f"the learning rates need 0 <= min_learning_rate <= peak_learning_rate, both "
                f"finite; got {min_learning_rate!r} and {peak_learning_rate!r}."
            )
        self.peak_learning_rate = peak_learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.accumulation_steps = accumulation_steps

    def __call__(self, step):
        step = ops.cast(ops.floor_divide(step, self.accumulation_steps), "float32")
        peak, low = self.peak_learning_rate, self.min_learning_rate
        warmup = peak * (step + 1.0) / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(
            self.decay_steps - self.warmup_steps, 1
        )
        decayed = low + (peak - low) * self.remaining(ops.clip(progress, 0.0, 1.0))
        return ops.where(step < self.warmup_steps, warmup, decayed)

    @staticmethod
    def remaining(progress: Tensor) -> Tensor:
        """The share of `peak - min` left at `progress` in [0, 1] through the decay: a half cosine."""
        return 0.5 * (1.0 + ops.cos(math.pi * progress))

    def get_config(self) -> dict:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "min_learning_rate": self.min_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "accumulation_steps": self.accumulation_steps,
        }


@keras.saving.register_keras_serializable(package="keras_transformer")
class WarmupLinearDecay(WarmupCosineDecay):
    """Linear warm-up to `peak_learning_rate`, then a straight line down to the minimum.

    BERT's fine-tuning schedule (and the default of Hugging Face's `Trainer`):
    the same warm-up, arguments and step counting as `WarmupCosineDecay`, but
    for `W <= s <= D` the rate is `min + (peak - min) * (D - s) / (D - W)`.

    Example:

    >>> from keras_transformer.training.schedule import WarmupLinearDecay
    >>> schedule = WarmupLinearDecay(1e-3, 0.0, warmup_steps=10, decay_steps=110)
    >>> [round(float(schedule(s)), 6) for s in (10, 35, 60, 110)]
    [0.001, 0.00075, 0.0005, 0.0]
    """

    @staticmethod
    def remaining(progress: Tensor) -> Tensor:
        return 1.0 - progress


#: The decay shapes a preset's `lr_decay` may name.
SCHEDULES = {"cosine": WarmupCosineDecay, "linear": WarmupLinearDecay}

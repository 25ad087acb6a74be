"""AdamW as nanoGPT configures it, built from a preset."""

import keras

from keras_transformer.training.preset import Preset
from keras_transformer.training.schedule import SCHEDULES


def no_decay_variables(model: keras.Model) -> list:
    """Returns the trainable variables that weight decay should skip.

    As nanoGPT does: every weight of rank >= 2 decays (matrices and
    embedding tables, which a tied GPT also uses as its output projection);
    biases and normalization scales/offsets (rank 1) do not, since shrinking
    them only removes capacity.

    Example (of 4 trainable variables only the Dense kernel decays):

    >>> import keras
    >>> from keras_transformer.training.optimizer import no_decay_variables
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2),
    ...                           keras.layers.LayerNormalization()])
    >>> [variable.name for variable in no_decay_variables(model)]
    ['bias', 'gamma', 'beta']
    """
    return [v for v in model.trainable_variables if len(v.shape) < 2]


def build_optimizer(config: Preset, model: keras.Model) -> keras.optimizers.AdamW:
    """Returns AdamW with warm-up + decay (`config.lr_decay`), decoupled weight decay and clipping.

    With `config.gradient_accumulation_steps` k > 1 it updates every k-th
    call, with the mean of the k gradients (clipped as one).

    `model` must be built, so its variables exist for the decay exclusions.

    Example:

    >>> import keras
    >>> from keras_transformer.training.optimizer import build_optimizer
    >>> from keras_transformer.training.preset import Preset
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> optimizer = build_optimizer(Preset(steps=100, warmup_steps=10), model)
    >>> optimizer.global_clipnorm
    1.0
    """
    if not model.built:  # no variables yet: nothing would be excluded from weight decay
        raise ValueError(
            f"`model` must be built before `build_optimizer` (call it once on a batch, or "
            f"`model.build(shape)`), so biases and norms can be kept out of weight decay; "
            f"{model.name} is not."
        )
    optimizer = keras.optimizers.AdamW(
        learning_rate=SCHEDULES[config.lr_decay](
            config.learning_rate,
            config.min_learning_rate,
            warmup_steps=min(config.warmup_steps, config.steps),
            decay_steps=config.steps,
            accumulation_steps=config.gradient_accumulation_steps,
        ),
        weight_decay=config.weight_decay,
        beta_1=config.beta1,
        beta_2=config.beta2,
        global_clipnorm=config.grad_clip or None,
        # Keras sums the micro-batches' gradients and applies their mean.
        gradient_accumulation_steps=(
            config.gradient_accumulation_steps if config.gradient_accumulation_steps > 1 else None
        ),
    )
    optimizer.exclude_from_weight_decay(var_list=no_decay_variables(model))
    return optimizer

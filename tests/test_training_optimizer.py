"""The learning-rate schedule and AdamW's weight-decay exclusions."""

import math

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_transformer.training import Preset
from keras_transformer.training import WarmupCosineDecay
from keras_transformer.training import WarmupLinearDecay
from keras_transformer.training import build_optimizer
from keras_transformer.training import no_decay_variables


def cosine(ratio):
    """nanoGPT's decay: the share of `peak - low` left after `ratio` of the decay."""
    return 0.5 * (1 + math.cos(math.pi * ratio))


def straight_line(ratio):
    """BERT's decay: the share of `peak - low` left after `ratio` of the decay."""
    return 1 - ratio


def reference_lr(step, peak, low, warmup, decay, remaining=cosine):
    """nanoGPT's get_lr, written out in plain Python, with the decay's shape as an argument."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if step > decay:
        return low
    ratio = (step - warmup) / max(decay - warmup, 1)
    return low + remaining(ratio) * (peak - low)


@pytest.mark.parametrize("schedule_class, remaining",
                         [(WarmupCosineDecay, cosine), (WarmupLinearDecay, straight_line)])
@given(
    step=st.integers(0, 3000), warmup=st.integers(0, 200),
    extra=st.integers(0, 2000), low_fraction=st.floats(0.0, 1.0),
)
def test_schedule_matches_the_reference_formula(schedule_class, remaining, step, warmup, extra,
                                                low_fraction):
    """Each schedule equals its plain-Python formula (warm-up, then nanoGPT's cosine or BERT's line) at every step."""
    peak, decay = 1e-3, warmup + extra
    low = peak * low_fraction
    schedule = schedule_class(peak, low, warmup, decay)
    np.testing.assert_allclose(
        float(schedule(step)), reference_lr(step, peak, low, warmup, decay, remaining),
        rtol=1e-5, atol=1e-9,
    )


@pytest.mark.parametrize("lr_decay, schedule_class",
                         [("cosine", WarmupCosineDecay), ("linear", WarmupLinearDecay)])
def test_the_preset_picks_the_decay_shape(lr_decay, schedule_class):
    """`lr_decay` chooses the optimizer's schedule; an unknown shape is a ValueError naming the choices."""
    optimizer = build_optimizer(Preset(steps=100, warmup_steps=10, lr_decay=lr_decay), _toy_model())
    assert type(optimizer._learning_rate) is schedule_class
    with pytest.raises(ValueError, match=r"lr_decay must be one of \['cosine', 'linear'\], got 'step'"):
        Preset(lr_decay="step")


@given(step=st.integers(0, 3000), warmup=st.integers(0, 200), parts=st.integers(2, 8))
def test_accumulated_schedule_advances_once_per_update(step, warmup, parts):
    """With k micro-batches per update, iteration i gets the rate of update i // k in the reference formula."""
    peak, low, decay = 1e-3, 1e-5, warmup + 500
    schedule = WarmupCosineDecay(peak, low, warmup, decay, accumulation_steps=parts)
    np.testing.assert_allclose(
        float(schedule(step)), reference_lr(step // parts, peak, low, warmup, decay),
        rtol=1e-5, atol=1e-9,
    )


def test_schedule_key_points():
    """Warm-up is linear and reaches the peak; the decay ends exactly at the minimum."""
    schedule = WarmupCosineDecay(1e-3, 1e-4, warmup_steps=10, decay_steps=110)
    lrs = [float(schedule(s)) for s in range(0, 10)]
    np.testing.assert_allclose(lrs, [1e-3 * (s + 1) / 10 for s in range(10)], rtol=1e-6)
    np.testing.assert_allclose(float(schedule(10)), 1e-3, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(60)), 5.5e-4, rtol=1e-5)
    np.testing.assert_allclose(float(schedule(110)), 1e-4, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(10_000)), 1e-4, rtol=1e-6)


@pytest.mark.parametrize("schedule_class", [WarmupCosineDecay, WarmupLinearDecay])
def test_schedule_serializes(schedule_class):
    """Each schedule round-trips through Keras serialization as its own class."""
    schedule = schedule_class(3e-4, 3e-5, 5, 50, accumulation_steps=2)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(restored) is schedule_class
    assert restored.get_config() == schedule.get_config()


def test_bad_schedule_arguments():
    """decay_steps before the end of warm-up, or fewer than one iteration per update, is a ValueError naming the argument."""
    with pytest.raises(ValueError, match="warmup_steps and decay_steps"):
        WarmupCosineDecay(1e-3, 1e-4, warmup_steps=10, decay_steps=5)
    with pytest.raises(ValueError, match="accumulation_steps must be >= 1, got 0"):
        WarmupCosineDecay(1e-3, 1e-4, warmup_steps=1, decay_steps=5, accumulation_steps=0)
    for peak, floor in ((1e-4, 1e-3), (-1e-3, -1e-2), (math.inf, 1e-4)):
        with pytest.raises(ValueError, match="0 <= min_learning_rate <= peak_learning_rate"):
            WarmupCosineDecay(peak, floor, warmup_steps=1, decay_steps=5)


@pytest.mark.parametrize("field, value", [
    ("learning_rate", -1.0), ("learning_rate", math.inf), ("learning_rate", math.nan),
    ("weight_decay", math.nan), ("weight_decay", math.inf), ("grad_clip", math.nan),
])
def test_presets_refuse_rates_that_are_not_finite(field, value):
    """A negative or non-finite learning rate, weight decay or clipping norm is a ValueError naming that field."""
    with pytest.raises(ValueError, match=field):
        Preset(**{field: value})


def test_build_optimizer_needs_a_built_model():
    """An unbuilt model has no variables to keep out of weight decay, so `build_optimizer` refuses it."""
    with pytest.raises(ValueError, match="`model` must be built"):
        build_optimizer(Preset(), keras.Sequential([keras.layers.Dense(2)]))


def _toy_model():
    inputs = keras.Input((4,), dtype="int32")
    x = keras.layers.Embedding(10, 8)(inputs)
    x = keras.layers.LayerNormalization()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs)


def test_weight_decay_only_on_matrices():
    """As in nanoGPT, weights of rank >= 2 decay (kernels, embeddings); biases and norms do not."""
    model = _toy_model()
    matrices = [model.layers[1].embeddings, model.layers[-1].kernel]
    optimizer = build_optimizer(Preset(steps=10, warmup_steps=2), model)
    optimizer.build(model.trainable_variables)
    decayed = [v for v in model.trainable_variables if optimizer._use_weight_decay(v)]
    assert decayed == matrices
    assert len(no_decay_variables(model)) == len(model.trainable_variables) - 2


def test_optimizer_follows_the_preset():
    """AdamW takes betas, weight decay and global clipping from the preset (0 = no clipping)."""
    config = Preset(steps=100, beta1=0.8, beta2=0.95, weight_decay=0.05, grad_clip=0.5)
    optimizer = build_optimizer(config, _toy_model())
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.weight_decay) == (0.8, 0.95, 0.05)
    assert optimizer.global_clipnorm == 0.5
    assert build_optimizer(Preset(grad_clip=0.0), _toy_model()).global_clipnorm is None

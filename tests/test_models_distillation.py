"""What DistilBERT's parts promise: the student's initialization, the soft targets, the three losses."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_transformer as kt
from keras_transformer.losses import distillation_loss, hidden_cosine_loss, soft_targets
from keras_transformer.models.distillation import student_layers
from tests.helpers import assert_close, seeds, to_numpy

VOCAB, MAX_LENGTH = 25, 8
logit_arrays = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 3), st.integers(2, 6)),
    elements=st.floats(-20, 20, allow_nan=False),
)


def teacher_bert(num_layers=4, **overrides):
    return kt.models.BERT(**{**dict(
        vocab_size=VOCAB, max_length=MAX_LENGTH, num_layers=num_layers, num_heads=2,
        hidden_dim=8, intermediate_dim=16, dropout=0.0), **overrides})


def batch(seed=0, size=2, length=6):
    g = np.random.default_rng(seed)
    lengths = g.integers(2, length + 1, size)
    real = np.arange(length)[None, :] < lengths[:, None]
    ids = np.where(real, g.integers(1, VOCAB, (size, length)), 0).astype("int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": real}


@given(st.integers(1, 4), st.data())
def test_the_student_starts_from_the_chosen_teacher_layers(depth, data):
    """Every student block holds the weights of the teacher block it was made from, and the embeddings and pooler are the teacher's; a student of all the layers computes what the teacher computes."""
    picked = sorted(data.draw(st.sets(st.integers(0, depth - 1), min_size=1), label="layers"))
    teacher = teacher_bert(depth)
    student = kt.models.distil_student(teacher, picked)
    assert student.num_layers == len(picked)
    pairs = [(student.encoder.blocks[i], teacher.encoder.blocks[j]) for i, j in enumerate(picked)]
    pairs += [(student.embeddings, teacher.embeddings), (student.pooler, teacher.pooler),
              (student.embeddings_norm, teacher.embeddings_norm)]
    for mine, theirs in pairs:
        for a, b in zip(mine.weights, theirs.weights, strict=True):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    if picked == list(range(depth)):
        x = batch(depth)
        assert_close(student(x)["sequence_output"], to_numpy(teacher(x)["sequence_output"]))


def test_the_default_student_takes_every_other_layer_from_the_first():
    """By default the student has half the teacher's layers: 0, 2, 4, ... as in DistilBERT."""
    assert student_layers(12) == [0, 2, 4, 6, 8, 10]
    assert student_layers(6) == [0, 2, 4]
    assert student_layers(1) == [0]
    assert kt.models.distil_student(teacher_bert(4)).num_layers == 2


def test_a_student_of_a_frozen_teacher_is_trainable():
    """A Distiller freezes its teacher; a student made from that teacher afterwards still trains."""
    teacher = kt.models.BertSpanQA(teacher_bert(2))
    kt.models.Distiller(kt.models.BertSpanQA(teacher_bert(1)), teacher)
    assert not teacher.backbone.trainable
    student = kt.models.distil_student(teacher.backbone)
    assert student.trainable and student.trainable_weights


@given(logit_arrays)
def test_soft_targets_approach_uniform_as_the_temperature_grows(logits):
    """Softened targets stay within `e^(R/T)/V` of uniform (R: the logits' range), so they approach uniform as T grows."""
    classes = logits.shape[-1]
    spread = np.ptp(logits, axis=-1, keepdims=True)
    previous = np.inf
    for temperature in (1.0, 10.0, 1e3, 1e6):
        p = to_numpy(soft_targets(logits.astype("float32"), temperature)).astype(np.float64)
        bound = (np.exp(spread / temperature) - 1) / classes + 1e-6
        deviation = np.abs(p - 1 / classes)
        assert np.all(deviation <= bound), temperature
        assert deviation.max() <= previous + 1e-6
        previous = deviation.max()
    assert previous < 1e-4


@given(logit_arrays, seeds, st.sampled_from([0.5, 1.0, 2.0, 8.0]))
def test_distillation_loss_is_t_squared_times_the_soft_cross_entropy(student, seed, temperature):
    """The soft loss is `T² · Σ softmax(t/T) · -log softmax(s/T)`, averaged over positions with their weights."""
    g = np.random.default_rng(seed)
    teacher = student + g.normal(size=student.shape) * 3
    weights = (g.random(student.shape[0]) < 0.7).astype("float32")
    weights[0] = 1.0

    def log_softmax(z):
        z = z / temperature
        return z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))

    per_row = -(np.exp(log_softmax(teacher)) * log_softmax(student)).sum(-1) * temperature**2
    expected = (per_row * weights).sum() / weights.sum()
    f32 = lambda a: a.astype("float32")  # noqa: E731
    actual = distillation_loss(f32(student), f32(teacher), temperature, weights)
    assert_close(actual, expected, atol=1e-3, rtol=1e-4)


@given(seeds)
def test_hidden_cosine_loss_averages_one_minus_cosine_over_real_tokens(seed):
    """The cosine loss is the mean of `1 - cos` over real tokens; padded positions do not count."""
    g = np.random.default_rng(seed)
    real = batch(seed)["padding_mask"]
    s, t = g.normal(size=(2, *real.shape, 5))
    cos = (s * t).sum(-1) / np.linalg.norm(s, axis=-1) / np.linalg.norm(t, axis=-1)
    expected = (1 - cos)[real].mean()
    assert_close(hidden_cosine_loss(s.astype("float32"), t.astype("float32"), real), expected,
                 atol=1e-5)
    assert_close(hidden_cosine_loss(s.astype("float32"), 3 * s.astype("float32"), real), 0.0, atol=1e-5)


@pytest.fixture(scope="module")
def span_models():
    keras.utils.set_random_seed(0)
    teacher = kt.models.BertSpanQA(teacher_bert(4))
    student = kt.models.BertSpanQA(kt.models.distil_student(teacher.backbone))
    return student, teacher


def test_distillation_trains_the_student_and_leaves_the_teacher_alone(span_models):
    """Fitting a Distiller lowers its loss, changes the student and leaves every teacher weight as it was."""
    student, teacher = span_models
    distiller = kt.models.Distiller(student, teacher)
    x = batch(3, size=4)
    lengths = x["padding_mask"].sum(1)
    y = {"start_logits": lengths // 2, "end_logits": lengths - 1}
    distiller(x)
    frozen = [to_numpy(w).copy() for w in teacher.weights]
    initial = [to_numpy(w).copy() for w in student.weights]
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = distiller.fit(x, y, epochs=10, verbose=0).history["loss"]
    assert history[-1] < history[0]
    for before, after in zip(frozen, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, to_numpy(after))
    assert any(not np.array_equal(b, to_numpy(a)) for b, a in zip(initial, student.weights))


def numpy_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_a_training_step_minimizes_the_weighted_sum_of_the_three_losses():
    """A training step's loss is `5·T²·soft CE + 2·hard CE + (1 - cos)` (DistilBERT's weights), with the teacher in inference mode; `evaluate` reports `2·hard` alone."""
    keras.utils.set_random_seed(2)
    teacher = kt.models.BertSpanQA(teacher_bert(4, dropout=0.5))  # dropout shows a training-mode teacher
    student = kt.models.BertSpanQA(teacher_bert(2))
    distiller = kt.models.Distiller(student, teacher, temperature=2.0)
    x = batch(5, size=3)
    lengths = x["padding_mask"].sum(1)
    y = {"start_logits": lengths // 2, "end_logits": lengths - 1}  # real tokens
    s_out, s_hidden = student.call_with_hidden(x)
    t_out, t_hidden = teacher.call_with_hidden(x)
    soft = hard = 0.0
    for key in y:
        s, t = (to_numpy(o[key]).astype(np.float64) for o in (s_out, t_out))
        soft += -(np.exp(numpy_log_softmax(t / 2)) * numpy_log_softmax(s / 2)).sum(-1).mean() * 4
        hard += -numpy_log_softmax(s)[np.arange(3), y[key]].mean()
    a, b = (to_numpy(h["sequence_output"]).astype(np.float64) for h in (s_hidden, t_hidden))
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    cosine = (1 - cos)[x["padding_mask"]].mean()
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    # A training-mode teacher would draw other dropout masks at every step.
    losses = [float(distiller.train_on_batch(x, y)) for _ in range(2)]
    assert abs(losses[0] - losses[1]) < 1e-6 * abs(losses[0])
    assert_close(losses[0], 5 * soft + 2 * hard + cosine, atol=1e-5, rtol=1e-5)
    assert_close(distiller.evaluate(x, y, verbose=0), 2 * hard, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: kt.models.distil_student(teacher_bert(2), [0, 1, 1]), "cannot be deeper"),
    (lambda: kt.models.distil_student(teacher_bert(2), [0, 2]), "increasing teacher layer"),
    (lambda: kt.models.distil_student(teacher_bert(2), []), "1 to 2 teacher layers"),
    (lambda: student_layers(2, num_layers=3), "cannot be deeper"),
    (lambda: kt.models.Distiller(kt.models.BertSpanQA(teacher_bert(3)),
                                 kt.models.BertSpanQA(teacher_bert(2))), "must not be deeper"),
    (lambda: kt.models.Distiller(kt.models.BertSpanQA(teacher_bert(1)),
                                 kt.models.BertSpanQA(teacher_bert(2, hidden_dim=16))), "hidden_dim"),
    (lambda: kt.models.Distiller(kt.models.BertSpanQA(teacher_bert(1)),
                                 kt.models.BertClassifier(teacher_bert(2), 2)), "same kind"),
    (lambda: kt.models.Distiller(kt.models.BertClassifier(teacher_bert(1), 3),
                                 kt.models.BertClassifier(teacher_bert(2), 2)), "num_classes"),
    (lambda: kt.models.Distiller(kt.models.BertSpanQA(teacher_bert(1)),
                                 kt.models.BertSpanQA(teacher_bert(2)), temperature=0), "temperature"),
])
def test_bad_arguments_raise_value_errors_that_say_what_to_do(make, match):
    """A student deeper than its teacher, bad layer indices, mismatched models or T <= 0 is a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        make()

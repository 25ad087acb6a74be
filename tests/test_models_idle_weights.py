"""Weights no output reads stay out of training: the BERT pooler under masked-LM, span, ELECTRA and distillation heads."""

import warnings

import keras
import numpy as np
import pytest

import keras_transformer as kt
from tests.test_models_electra import electra, masked_batch

SIZE = dict(vocab_size=23, max_length=10, num_layers=2, num_heads=2, hidden_dim=16,
            intermediate_dim=32, dropout=0.0)
BATCH, LENGTH = 4, 8


def backbone():
    return kt.models.BERT(**SIZE)


def token_inputs(seed=0):
    g = np.random.default_rng(seed)
    return {"token_ids": g.integers(5, SIZE["vocab_size"], (BATCH, LENGTH)).astype("int32"),
            "segment_ids": np.zeros((BATCH, LENGTH), "int32")}


def span_task(bert):
    x = token_inputs()
    y = {"start_logits": np.arange(BATCH) % LENGTH, "end_logits": (np.arange(BATCH) + 1) % LENGTH}
    return kt.models.BertSpanQA(bert), x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def masked_lm_task(bert):
    x = {**token_inputs(), "mask_positions": np.tile(np.array([[1, 3]]), (BATCH, 1))}
    y = np.take_along_axis(x["token_ids"], x["mask_positions"], axis=1)
    return kt.models.BertMaskedLM(bert), x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def values(weights):
    return [np.array(w.numpy()) for w in weights]


def fit(model, x, y=None, loss=None):
    """Two epochs with AdamW's weight decay on; returns the warnings fit raised."""
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.5), loss=loss)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    return [str(w.message) for w in caught]


def assert_untouched(before, weights):
    for old, new in zip(before, values(weights)):
        np.testing.assert_array_equal(new, old)


def assert_trained(before, weights):
    assert any(not np.array_equal(old, new) for old, new in zip(before, values(weights)))


def no_missing_gradient_warning(messages):
    return not [m for m in messages if "Gradients do not exist" in m]


@pytest.mark.parametrize("make_task", [span_task, masked_lm_task], ids=["span", "masked_lm"])
def test_a_head_that_never_reads_the_pooler_leaves_it_as_it_was(make_task):
    """Fitting a span or masked-LM head trains the encoder, leaves the pooler bit for bit as it was, and warns of no missing gradient."""
    bert = backbone()
    model, x, y, loss = make_task(bert)
    model(x)
    pooler, encoder = values(bert.pooler.weights), values(bert.encoder.weights)
    messages = fit(model, x, y, loss)
    assert_untouched(pooler, bert.pooler.weights)
    assert_trained(encoder, bert.encoder.weights)
    assert no_missing_gradient_warning(messages), messages


def test_a_classifier_on_the_same_backbone_trains_the_pooler():
    """The pooler stays trainable: a classifier put on a backbone fine-tuned for spans trains it."""
    bert = backbone()
    model, x, y, loss = span_task(bert)
    fit(model, x, y, loss)
    pooler = values(bert.pooler.weights)
    classifier = kt.models.BertClassifier(bert, num_classes=2, dropout=0.0)
    fit(classifier, x, np.arange(BATCH) % 2, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert bert.pooler.trainable
    assert_trained(pooler, bert.pooler.weights)


def test_electra_leaves_both_poolers_as_they_were():
    """Replaced-token detection trains the discriminator and leaves the generator's and discriminator's poolers untouched."""
    model = electra()
    x, _ = masked_batch(np.random.default_rng(0), batch=BATCH, length=LENGTH)
    model(x)
    poolers = [*model.generator.pooler.weights, *model.discriminator.pooler.weights]
    before, encoder = values(poolers), values(model.discriminator.encoder.weights)
    messages = fit(model, x)
    assert_untouched(before, poolers)
    assert_trained(encoder, model.discriminator.encoder.weights)
    assert no_missing_gradient_warning(messages), messages


def test_distilling_a_span_model_leaves_the_students_pooler_as_it_was():
    """A Distiller of span models trains the student's encoder but not its pooler."""
    teacher, x, y, _ = span_task(backbone())
    teacher(x)
    student = kt.models.BertSpanQA(kt.models.distil_student(teacher.backbone))
    distiller = kt.models.Distiller(student, teacher)
    distiller(x)
    pooler, encoder = values(student.backbone.pooler.weights), values(student.backbone.encoder.weights)
    messages = fit(distiller, x, y)
    assert_untouched(pooler, student.backbone.pooler.weights)
    assert_trained(encoder, student.backbone.encoder.weights)
    assert no_missing_gradient_warning(messages), messages


def test_idle_weights_count_as_non_trainable_and_the_total_stays():
    """The pooler's parameters move from the trainable to the non-trainable count; the total is unchanged."""
    bert = backbone()
    model, x, _, _ = span_task(bert)
    model(x)

    def count(weights):
        return sum(int(np.prod(w.shape)) for w in weights)

    hidden = SIZE["hidden_dim"]
    assert count(model.trainable_weights) + count(model.non_trainable_weights) == model.count_params()
    assert count(model.non_trainable_weights) == hidden * hidden + hidden
    assert count(model.trainable_variables) == count(model.trainable_weights)

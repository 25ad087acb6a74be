"""A model still works after a `fit`, `evaluate` or `predict` that raised.

Keras leaves a model broken when such a loop fails in its first step: on JAX
its variables stay empty, on TensorFlow the step's `tf.function` refuses the
next trace (`keras_transformer/models/recovers_from_errors.py`). These tests
feed each model family a sequence longer than its `max_length`, which fails
while the step is traced, or interrupt the first step, and check that the model
keeps its weights, predicts as before and trains on.
"""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

VOCAB, MAX_LENGTH = 12, 6

to_numpy = keras.ops.convert_to_numpy


def gpt():
    model = kt.models.GPT(VOCAB, MAX_LENGTH, num_layers=1, num_heads=2, hidden_dim=8,
                          intermediate_dim=16)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def gpt_batch(length):
    ids = np.ones((2, length), "int32")
    return ids, ids


def classifier():
    model = kt.models.BertClassifier(
        kt.models.BERT(vocab_size=VOCAB, max_length=MAX_LENGTH, num_layers=1, num_heads=2,
                       hidden_dim=8, intermediate_dim=16),
        num_classes=2,
    )
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def classifier_batch(length):
    inputs = {"token_ids": np.ones((2, length), "int32"),
              "segment_ids": np.zeros((2, length), "int32"),
              "padding_mask": np.ones((2, length), "bool")}
    return inputs, np.array([0, 1])


def transformer():
    model = kt.models.Seq2SeqTransformer(VOCAB, VOCAB, max_length=MAX_LENGTH, num_layers=1,
                                         num_heads=2, hidden_dim=8, intermediate_dim=16)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def transformer_batch(length):
    ids = np.ones((2, length), "int32")
    return {"encoder_token_ids": ids, "decoder_token_ids": ids}, ids


FAMILIES = {"gpt": (gpt, gpt_batch), "bert_classifier": (classifier, classifier_batch),
            "seq2seq": (transformer, transformer_batch)}

RUNS = {
    "fit": lambda model, x, y: model.fit(x, y, epochs=1, verbose=0),
    "evaluate": lambda model, x, y: model.evaluate(x, y, verbose=0),
    "predict": lambda model, x, y: model.predict(x, verbose=0),
}


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.sampled_from(sorted(RUNS)),
       st.integers(1, 3))
def test_a_loop_that_raises_keeps_the_weights(family, run, excess):
    """A loop that fails on a too-long batch leaves every weight as it was and the model predicting as before."""
    make, batch = FAMILIES[family]
    model = make()
    x, y = batch(MAX_LENGTH)
    # A call, not `predict`: TensorFlow would trace the next `predict` for any
    # length, and the length check needs the length known while tracing.
    before = model(x)
    weights = [to_numpy(w) for w in model.weights]
    with pytest.raises(ValueError, match="max_length|longer"):
        RUNS[run](model, *batch(MAX_LENGTH + excess))
    for kept, weight in zip(weights, model.weights, strict=True):
        np.testing.assert_array_equal(kept, to_numpy(weight))
    np.testing.assert_allclose(to_numpy(model.predict(x, verbose=0)), to_numpy(before),
                               rtol=1e-6, atol=1e-6)


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.sampled_from(sorted(RUNS)))
def test_a_fresh_model_whose_first_loop_raises_still_works(family, run):
    """A model only constructed whose first loop fails on a too-long batch then predicts as its own call does."""
    make, batch = FAMILIES[family]
    model = make()
    with pytest.raises(ValueError, match="max_length|longer"):
        RUNS[run](model, *batch(MAX_LENGTH + 1))
    x, _ = batch(MAX_LENGTH)
    np.testing.assert_allclose(to_numpy(model.predict(x, verbose=0)), to_numpy(model(x)),
                               rtol=1e-5, atol=1e-6)


class InterruptedGPT(kt.models.GPT):
    """A GPT whose first training step raises `KeyboardInterrupt`, as Ctrl-C while it compiles would."""

    interrupted = False

    def train_step(self, *args, **kwargs):
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super().train_step(*args, **kwargs)


def test_fit_interrupted_in_its_first_step_trains_again():
    """A first `fit` stopped by Ctrl-C inside its first step leaves a model that trains on the next `fit`."""
    model = InterruptedGPT(VOCAB, MAX_LENGTH, num_layers=1, num_heads=2, hidden_dim=8,
                           intermediate_dim=16)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.ensure_built()
    x, y = gpt_batch(MAX_LENGTH)
    weights = [to_numpy(w) for w in model.weights]
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=1, verbose=0)
    for kept, weight in zip(weights, model.weights, strict=True):
        np.testing.assert_array_equal(kept, to_numpy(weight))
    losses = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]

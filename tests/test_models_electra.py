"""What `keras_transformer.models.ElectraPretrainer` promises: replaced-token labels, tied tables, the loss."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_transformer as kt
from keras_transformer.models.electra import put_at_positions, replaced_token_labels
from tests.helpers import (
    assert_close,
    reload_keras_file,
    seeds,
    to_numpy,
    weight_gradients,
)

VOCAB, MAX_LENGTH, MASK = 23, 10, 4
SIZE = dict(vocab_size=VOCAB, max_length=MAX_LENGTH, num_heads=2, num_layers=1, dropout=0.0)


def electra(seed=0, **overrides):
    discriminator = kt.models.BERT(hidden_dim=16, intermediate_dim=32, **SIZE)
    generator = kt.models.BERT(hidden_dim=8, intermediate_dim=16, embedding_dim=16, **SIZE)
    return kt.models.ElectraPretrainer(generator, discriminator, seed=seed, **overrides)


def masked_batch(g, batch=2, length=8, slots=3):
    """Right-padded rows with distinct masked positions among the real tokens, as a masker gives them.

    Returns the model's input dict and the unmasked token ids.
    """
    lengths = g.integers(1, length + 1, batch)
    real = np.arange(length)[None, :] < lengths[:, None]
    original = np.where(real, g.integers(5, VOCAB, (batch, length)), 0).astype("int32")
    positions = np.zeros((batch, slots), "int32")
    weights = np.zeros((batch, slots), "float32")
    for row, n in enumerate(lengths):
        used = min(n, g.integers(1, slots + 1))
        positions[row, :used] = g.choice(n, used, replace=False)
        weights[row, :used] = 1.0
    mask_ids = np.take_along_axis(original, positions, axis=1) * (weights > 0)
    masked = original.copy()
    for row, col in zip(*np.nonzero(weights)):
        masked[row, positions[row, col]] = MASK
    return {
        "token_ids": masked, "segment_ids": np.zeros_like(masked), "padding_mask": real,
        "mask_positions": positions, "mask_ids": mask_ids.astype("int32"), "mask_weights": weights,
    }, original


@st.composite
def masked_batches(draw):
    batch, length = draw(st.integers(1, 3), label="batch"), draw(st.integers(2, MAX_LENGTH), label="length")
    slots = draw(st.integers(1, length), label="slots")
    return masked_batch(np.random.default_rng(draw(seeds)), batch, length, slots)


def reference_corruption(batch, sampled):
    """The corrupted ids and labels, written out position by position in NumPy."""
    corrupted = batch["token_ids"].copy()
    original = batch["token_ids"].copy()
    for row, slot in zip(*np.nonzero(batch["mask_weights"])):
        position = batch["mask_positions"][row, slot]
        corrupted[row, position] = sampled[row, slot]
        original[row, position] = batch["mask_ids"][row, slot]
    return corrupted, (corrupted != original).astype("int32")


@given(masked_batches(), seeds)
def test_labels_are_one_exactly_where_the_sample_differs_from_the_original(drawn, seed):
    """Writing samples into the masked positions and labelling them marks 1 exactly where a sample differs from the original token."""
    batch, original = drawn
    g = np.random.default_rng(seed)
    # Half the slots sample their original token, so both labels occur.
    sampled = np.where(g.random(batch["mask_ids"].shape) < 0.5, batch["mask_ids"],
                       g.integers(0, VOCAB, batch["mask_ids"].shape)).astype("int32")
    args = batch["mask_positions"], batch["mask_weights"]
    restored = to_numpy(put_at_positions(batch["token_ids"], args[0], batch["mask_ids"], args[1]))
    corrupted = to_numpy(put_at_positions(batch["token_ids"], args[0], sampled, args[1]))
    expected_corrupted, expected_labels = reference_corruption(batch, sampled)
    np.testing.assert_array_equal(restored, original)
    np.testing.assert_array_equal(corrupted, expected_corrupted)
    np.testing.assert_array_equal(to_numpy(replaced_token_labels(restored, corrupted)), expected_labels)


@pytest.fixture(scope="module")
def pretrainer():
    keras.utils.set_random_seed(0)
    return electra()


def sampling_only(model, token):
    """Make the generator's head put all its probability on `token`."""
    bias = np.zeros(VOCAB, "float32")
    bias[token] = 1e4
    model.generator_head.output_bias.assign(bias)


@given(masked_batches())
def test_a_generator_that_samples_the_originals_replaces_nothing(pretrainer, drawn):
    """When the generator samples the original token at every masked position, the corrupted input is the original and every label is 0; when it samples a token that is never the original, exactly the masked positions are labelled 1."""
    batch, original = drawn
    token = int(batch["mask_ids"].max())  # fake a generator that always predicts this token
    batch["mask_ids"] = np.where(batch["mask_weights"] > 0, token, 0).astype("int32")
    original = put_at_positions(batch["token_ids"], batch["mask_positions"], batch["mask_ids"],
                                batch["mask_weights"])
    pretrainer(batch)
    sampling_only(pretrainer, token)
    out = pretrainer(batch)
    np.testing.assert_array_equal(to_numpy(out["corrupted_ids"]), to_numpy(original))
    assert to_numpy(out["rtd_labels"]).sum() == 0
    sampling_only(pretrainer, 1)  # [UNK]-like id 1: never an original token here
    out = pretrainer(batch)
    expected = np.zeros_like(batch["token_ids"])
    for row, slot in zip(*np.nonzero(batch["mask_weights"])):
        expected[row, batch["mask_positions"][row, slot]] = 1
    np.testing.assert_array_equal(to_numpy(out["rtd_labels"]), expected)


def test_generator_and_discriminator_share_their_embedding_tables_through_a_save(tmp_path):
    """The generator uses the discriminator's token, position and segment tables (and its MLM head the shared token table), also after a `.keras` round trip."""
    model = electra()
    batch, _ = masked_batch(np.random.default_rng(0))
    before = model(batch)["mlm_logits"]
    restored = reload_keras_file(model)
    for m in (model, restored):
        gen, disc = m.generator.embeddings, m.discriminator.embeddings
        for name in ("token_embedding", "position_embedding", "segment_embedding"):
            assert getattr(gen, name) is getattr(disc, name), name
        assert m.generator_head.token_embedding is disc.token_embedding
    assert_close(restored(batch)["mlm_logits"], to_numpy(before), atol=1e-5)
    # The generator's embedding layer owns just its projection to its narrower width.
    shared = {id(w) for w in model.discriminator.embeddings.weights}
    own = [w for w in model.generator.embeddings.weights if id(w) not in shared]
    assert {id(w) for w in own} == {id(w) for w in model.generator.embeddings.projection.weights}


@given(masked_batches(), seeds)
def test_the_two_losses_average_over_used_slots_and_real_tokens(pretrainer, drawn, seed):
    """The generator loss is the cross-entropy averaged over the used prediction slots only; the discriminator loss is the binary cross-entropy averaged over every real token, replaced or not, padding left out."""
    batch, _ = drawn
    g = np.random.default_rng(seed)
    shape = batch["token_ids"].shape
    outputs = {"mlm_logits": (g.normal(size=(*batch["mask_ids"].shape, VOCAB)) * 3).astype("float32"),
               "rtd_logits": (g.normal(size=shape) * 5).astype("float32"),
               "rtd_labels": g.integers(0, 2, shape).astype("int32")}
    terms = pretrainer.loss_terms(batch, outputs)
    p = 1 / (1 + np.exp(-outputs["rtd_logits"].astype("float64")))
    y = outputs["rtd_labels"]
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_close(terms["discriminator"], bce[batch["padding_mask"]].mean(), atol=1e-4, rtol=1e-4)
    logits = outputs["mlm_logits"].astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, batch["mask_ids"][..., None], -1)[..., 0]
    used = batch["mask_weights"] > 0
    assert_close(terms["generator"], -picked[used].mean(), atol=1e-4, rtol=1e-4)


def test_the_discriminator_loss_does_not_reach_the_generator():
    """No gradient of the discriminator's loss reaches a weight that only the generator has (its samples are not back-propagated through), while it does reach the shared token table."""
    model = electra(seed=3)
    batch, _ = masked_batch(np.random.default_rng(0))
    model(batch)
    shared = {id(w) for w in model.discriminator.weights}
    own = [v for v in model.generator.trainable_variables + model.generator_head.trainable_variables
           if id(v) not in shared]
    table = model.discriminator.embeddings.token_embedding.embeddings

    def discriminator_loss():
        return model.loss_terms(batch, model(batch))["discriminator"]

    *own_grads, table_grad = weight_gradients(discriminator_loss, [], [*own, table])
    assert own and all(g is None or np.all(g == 0) for g in own_grads)
    assert table_grad is not None and np.any(table_grad != 0)  # the probe sees gradients


def test_fit_lowers_the_loss_on_a_fixed_batch():
    """A few optimizer steps on one batch lower `MLM + λ·RTD` on it: the model trains with an optimizer alone."""
    keras.utils.set_random_seed(1)
    model = electra(seed=1)
    batch, _ = masked_batch(np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(batch, epochs=15, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.parametrize("make, match", [
    (lambda: kt.models.ElectraPretrainer(
        kt.models.BERT(hidden_dim=8, intermediate_dim=16, **{**SIZE, "vocab_size": VOCAB + 1}),
        kt.models.BERT(hidden_dim=16, intermediate_dim=32, **SIZE)), "share one vocabulary"),
    (lambda: kt.models.ElectraPretrainer(
        kt.models.BERT(hidden_dim=8, intermediate_dim=16, **SIZE),
        kt.models.BERT(hidden_dim=16, intermediate_dim=32, **SIZE)), "table width"),
    (lambda: electra(discriminator_weight=0), "discriminator_weight"),
    (lambda: electra(seed=-1), "seed"),
    (lambda: kt.models.ElectraPretrainer("bert", None), "must be a `BERT`"),
])
def test_bad_arguments_raise_value_errors_that_say_what_to_do(make, match):
    """A vocabulary or table-width mismatch, a non-positive λ, a bad seed or a non-BERT model is a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        make()


def test_masked_ids_outside_the_vocabulary_are_named(pretrainer):
    """An original token (`mask_ids`) outside the vocabulary is a ValueError naming `mask_ids`, not a loss-time gather error."""
    batch, _ = masked_batch(np.random.default_rng(0))
    batch["mask_ids"] = batch["mask_ids"] + VOCAB
    with pytest.raises(ValueError, match="`mask_ids` must lie in"):
        pretrainer(batch)


def test_missing_mask_inputs_are_named(pretrainer):
    """Calling without the masked-LM inputs is a ValueError that lists the keys needed."""
    batch, _ = masked_batch(np.random.default_rng(0))
    del batch["mask_weights"]
    with pytest.raises(ValueError, match="mask_weights"):
        pretrainer(batch)

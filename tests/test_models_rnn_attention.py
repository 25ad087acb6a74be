"""What `keras_transformer.models.RNNAttentionSeq2Seq` and `layers.AdditiveAttention` promise."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt
from keras_transformer.models.decoding import pad_after_end
from tests.helpers import BACKEND


def to_numpy(x):
    """A writable NumPy copy of a backend tensor."""
    return np.array(keras.ops.convert_to_numpy(x))


SRC_VOCAB, TGT_VOCAB = 19, 17
PAD, START, END = 0, 1, 2


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = kt.models.RNNAttentionSeq2Seq(
        SRC_VOCAB, TGT_VOCAB, embedding_dim=8, hidden_dim=12, dropout=0.1, pad_id=PAD
    )
    model({"encoder_token_ids": np.ones((1, 3), "int32"),
           "decoder_token_ids": np.ones((1, 2), "int32")})
    return model


def ids(draw, shape, vocab, low=3):
    size = int(np.prod(shape))
    return np.array(draw(st.lists(st.integers(low, vocab - 1), min_size=size, max_size=size)),
                    "int32").reshape(shape)


def padded_sources(draw, batch, length, kinds=("right", "arbitrary")):
    """Source ids with padding (right, or anywhere) and at least one real token per row."""
    tokens = ids(draw, (batch, length), SRC_VOCAB)
    if draw(st.sampled_from(kinds)) == "right":
        real = np.arange(length)[None] < np.array(
            draw(st.lists(st.integers(1, length), min_size=batch, max_size=batch)))[:, None]
    else:
        real = np.array(draw(st.lists(st.booleans(), min_size=batch * length,
                                      max_size=batch * length))).reshape(batch, length)
        real[:, draw(st.integers(0, length - 1))] = True
    return np.where(real, tokens, PAD).astype("int32")


def run(model, source, target):
    inputs = {"encoder_token_ids": source, "decoder_token_ids": target}
    return to_numpy(model(inputs)), to_numpy(model.alignments(source, target))


@settings(max_examples=10)
@given(st.data())
def test_alignments_are_distributions_over_real_source_tokens(model, data):
    """Logits are (B, T, V), alignments (B, T, S), each alignment row is >= 0, exactly 0 at padding and sums to 1."""
    batch, s, t = (data.draw(st.integers(1, n)) for n in (3, 7, 6))
    source = padded_sources(data.draw, batch, s)
    target = ids(data.draw, (batch, t), TGT_VOCAB, low=1)
    logits, weights = run(model, source, target)
    assert logits.shape == (batch, t, TGT_VOCAB) and weights.shape == (batch, t, s)
    assert np.all(weights >= 0)
    np.testing.assert_array_equal(weights * (source == PAD)[:, None, :], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


@settings(max_examples=8)
@given(st.data())
def test_source_padding_changes_nothing(model, data):
    """Appending padding, or squeezing padding out from between the tokens, changes no logit and no alignment to a real token."""
    batch, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    source = padded_sources(data.draw, batch, s)
    target = ids(data.draw, (batch, data.draw(st.integers(1, 5))), TGT_VOCAB, low=1)
    logits, weights = run(model, source, target)
    extra = data.draw(st.integers(1, 4))
    appended = np.concatenate([source, np.full((batch, extra), PAD, "int32")], axis=1)
    logits_appended, weights_appended = run(model, appended, target)
    np.testing.assert_allclose(logits_appended, logits, atol=1e-5)
    np.testing.assert_allclose(weights_appended[..., :s], weights, atol=1e-6)
    for row in range(batch):
        real = source[row] != PAD
        logits_row, weights_row = run(model, source[row: row + 1, real], target[row: row + 1])
        np.testing.assert_allclose(logits_row[0], logits[row], atol=1e-5)
        np.testing.assert_allclose(weights_row[0], weights[row][:, real], atol=1e-6)


@settings(max_examples=6)
@given(st.data())
def test_no_future_leak(model, data):
    """Logits and alignments at t never change when decoder tokens after t change."""
    batch, t_len = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 6))
    t = data.draw(st.integers(0, t_len - 2))
    source = padded_sources(data.draw, batch, 5)
    target = ids(data.draw, (batch, t_len), TGT_VOCAB, low=1)
    changed = target.copy()
    changed[:, t + 1:] = ids(data.draw, (batch, t_len - t - 1), TGT_VOCAB, low=0)
    (before, w_before), (after, w_after) = run(model, source, target), run(model, source, changed)
    np.testing.assert_allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-5)
    np.testing.assert_allclose(w_before[:, : t + 1], w_after[:, : t + 1], atol=1e-6)


def greedy_by_full_passes(model, source, steps):
    """The reference: rerun the teacher-forced model on the whole prefix for each token."""
    tokens = np.full((len(source), 1), START, "int32")
    for _ in range(steps):
        last = run(model, source, tokens)[0][:, -1]
        last[:, PAD] = -np.inf
        tokens = np.concatenate([tokens, last.argmax(-1)[:, None].astype("int32")], axis=1)
    return pad_after_end(tokens[:, 1:], END, PAD)


@settings(max_examples=6)
@given(st.data())
def test_stepwise_greedy_translation_equals_teacher_forced_passes(model, data):
    """Greedy `translate` (one GRU step per token) yields the tokens of repeated teacher-forced passes."""
    batch, steps = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    source = padded_sources(data.draw, batch, 5)
    out = model.translate(source, steps, START, END)
    assert out.shape == (batch, steps) and out.dtype == np.int32
    np.testing.assert_array_equal(out, greedy_by_full_passes(model, source, steps))


@settings(max_examples=6)
@given(st.data())
def test_beam_search(model, data):
    """Beam size 1 is greedy, and a wider beam reports each translation's own teacher-forced score."""
    batch, steps = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    beam, alpha = data.draw(st.integers(2, 4)), data.draw(st.sampled_from([0.0, 0.6]))
    source = padded_sources(data.draw, batch, 5)
    np.testing.assert_array_equal(
        model.translate(source, steps, START, END, beam_size=1, length_penalty=alpha),
        model.translate(source, steps, START, END),
    )
    tokens, scores = model.translate(
        source, steps, START, END, beam_size=beam, length_penalty=alpha, return_scores=True
    )
    np.testing.assert_allclose(
        model.score(source, tokens, START, END, length_penalty=alpha), scores, atol=1e-4
    )


def test_save_and_load_reproduce_logits_and_alignments(model, tmp_path):
    """A `.keras` round trip (safe_mode, no custom_objects) reproduces logits and alignments exactly."""
    source, target = np.array([[3, 4, 0, 5]]), np.array([[START, 5, 6]])
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for got, want in zip(run(loaded, source, target), run(model, source, target)):
        np.testing.assert_array_equal(got, want)
    assert loaded.get_config() == model.get_config()


def test_fit_runs_with_a_padding_aware_loss(model):
    """One `fit` step with a loss that ignores padding labels runs and gives a finite loss (XLA-compiled on TensorFlow and JAX)."""
    keras.utils.set_random_seed(3)
    clone = kt.models.RNNAttentionSeq2Seq.from_config(model.get_config())
    targets = np.array([[5, 6, 7], [8, 0, 0]])
    decoder_inputs, labels = kt.models.teacher_forcing_batch(targets, START, END, PAD)
    clone.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD), jit_compile=BACKEND != "torch")  # torch.compile: test_jit.py
    history = clone.fit(
        {"encoder_token_ids": np.array([[3, 4, 5], [6, 0, 0]]), "decoder_token_ids": decoder_inputs},
        labels, epochs=1, verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])


def test_additive_attention_layer_round_trips_and_matches_numpy():
    """`AdditiveAttention` equals vᵀ tanh(W s + U h_j) softmaxed over real positions, and `from_config` keeps its config."""
    keras.utils.set_random_seed(4)
    layer = kt.layers.AdditiveAttention(units=5)
    rng = np.random.default_rng(0)
    query, values = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 4, 6)).astype("float32")
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    context, weights = (to_numpy(x) for x in layer(query, values, mask=mask))
    w_q, w_k, b_k = (to_numpy(v).astype(np.float64) for v in (
        layer.query_dense.kernel, layer.key_dense.kernel, layer.key_dense.bias))
    v = to_numpy(layer.score_dense.kernel).astype(np.float64)[:, 0]
    scores = np.tanh((query @ w_q)[:, None] + values @ w_k + b_k) @ v
    scores = np.where(mask, scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(context, np.einsum("bs,bsd->bd", expected, values), atol=1e-5)
    assert kt.layers.AdditiveAttention.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(dropout=-0.1), "dropout"),
        (dict(pad_id=SRC_VOCAB), "pad_id"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, match):
    """Impossible hyperparameters raise a ValueError naming the argument."""
    args = dict(source_vocab_size=SRC_VOCAB, target_vocab_size=TGT_VOCAB, embedding_dim=4,
                hidden_dim=4) | kwargs
    with pytest.raises(ValueError, match=match):
        kt.models.RNNAttentionSeq2Seq(**args)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m({"decoder_token_ids": np.ones((1, 2), "int32")}), "encoder_token_ids"),
        (lambda m: m({"encoder_token_ids": np.array([[3, SRC_VOCAB]]),
                      "decoder_token_ids": np.ones((1, 2), "int32")}), "encoder_token_ids"),
        (lambda m: m({"encoder_token_ids": np.ones((1, 2), "int32"),
                      "decoder_token_ids": np.array([[1, TGT_VOCAB]])}), "decoder_token_ids"),
        (lambda m: m.translate(np.ones((1, 2), "int32"), 3, start_id=PAD), "start_id"),
        (lambda m: m.translate(np.ones((1, 2), "int32"), 0), "max_length"),
        (lambda m: m.translate(np.ones((2,), "int32"), 3), "source_ids"),
    ],
)
def test_bad_inputs_raise(model, call, match):
    """Missing inputs, ids outside the vocabulary and impossible translation requests raise a ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        call(model)

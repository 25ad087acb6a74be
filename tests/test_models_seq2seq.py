"""What `keras_transformer.models.Seq2SeqTransformer` and the teacher-forcing and decoding helpers promise."""

import itertools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt
from keras_transformer.models.decoding import _top_k_indices, pad_after_end
from tests.helpers import BACKEND, gradient


def to_numpy(x):
    """A writable NumPy copy of a backend tensor."""
    return np.array(keras.ops.convert_to_numpy(x))


SRC_VOCAB, TGT_VOCAB, MAX_LENGTH = 19, 17, 10
PAD, START, END = 0, 1, 2


def make_model(seed, **overrides):
    keras.utils.set_random_seed(seed)
    kwargs = dict(
        source_vocab_size=SRC_VOCAB, target_vocab_size=TGT_VOCAB, max_length=MAX_LENGTH,
        num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, dropout=0.1,
    )
    kwargs.update(overrides)
    model = kt.models.Seq2SeqTransformer(**kwargs)
    model({"encoder_token_ids": np.ones((1, 3), "int32"),
           "decoder_token_ids": np.ones((1, 2), "int32")})
    return model


@pytest.fixture(scope="module")
def paper_model():
    """The paper's layout: sinusoidal positions, post-LN, tied output, separate tables."""
    return make_model(0)


@pytest.fixture(scope="module")
def variant_model():
    """Learned positions, pre-LN, one shared source/target table, an untied output."""
    return make_model(
        1, source_vocab_size=TGT_VOCAB, position="learned", norm_first=True,
        share_embeddings=True, tie_output=False,
    )


@pytest.fixture(scope="module", params=["paper", "variant"])
def model(request, paper_model, variant_model):
    return paper_model if request.param == "paper" else variant_model


def ids(draw, shape, vocab, low=3):
    """Random real (non-special) ids of `shape`."""
    size = int(np.prod(shape))
    return np.array(draw(st.lists(st.integers(low, vocab - 1), min_size=size, max_size=size)),
                    "int32").reshape(shape)


def right_padded(draw, batch, length, vocab):
    """`(batch, length)` ids, each row right-padded to a random real length >= 1."""
    tokens = ids(draw, (batch, length), vocab)
    lengths = np.array(draw(st.lists(st.integers(1, length), min_size=batch, max_size=batch)))
    tokens[np.arange(length)[None] >= lengths[:, None]] = PAD
    return tokens


def sources(draw, model, batch, length):
    """Right-padded source ids in the model's source vocabulary."""
    return right_padded(draw, batch, length, model.source_vocab_size)


def logits(model, source, target):
    return to_numpy(model({"encoder_token_ids": source, "decoder_token_ids": target}))


# ----------------------------------------------------------------- teacher forcing


@given(st.data())
def test_teacher_forcing_labels_are_the_inputs_shifted_left(data):
    """`teacher_forcing_batch` gives inputs starting with start_id and labels ending with end_id, with the label at t equal to the input at t + 1."""
    batch, length = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 8))
    targets = right_padded(data.draw, batch, length, TGT_VOCAB)
    inputs, labels = kt.models.teacher_forcing_batch(targets, START, END, PAD)
    assert inputs.shape == labels.shape == (batch, length + 1)
    np.testing.assert_array_equal(inputs[:, 0], START)
    np.testing.assert_array_equal(labels[:, :-1], inputs[:, 1:])
    np.testing.assert_array_equal(kt.models.shift_right(labels, START), inputs)
    for row, target in zip(labels, targets):
        real = list(target[target != PAD])
        assert list(row) == real + [END] + [PAD] * (length - len(real))


@pytest.mark.parametrize(
    "targets, match",
    [
        (np.array([[0, 5, 6]]), "right-padded"),
        (np.array([[5, END, 0]]), "end_id"),
        (np.array([5, 6]), "target_ids"),
    ],
)
def test_bad_teacher_forcing_targets_raise(targets, match):
    """Left-padded targets, targets that already hold special tokens, or a wrong rank raise a ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        kt.models.teacher_forcing_batch(targets, START, END, PAD)


# ------------------------------------------------------------------- the forward


@settings(max_examples=8)
@given(st.data())
def test_logits_shape_and_no_future_leak(model, data):
    """Logits are (B, T, target_vocab) and logits at t never change when decoder tokens after t change."""
    batch = data.draw(st.integers(1, 3))
    s, t_len = data.draw(st.integers(1, MAX_LENGTH)), data.draw(st.integers(2, MAX_LENGTH))
    t = data.draw(st.integers(0, t_len - 2))
    source = sources(data.draw, model, batch, s)
    target = ids(data.draw, (batch, t_len), TGT_VOCAB)
    changed = target.copy()
    changed[:, t + 1:] = ids(data.draw, (batch, t_len - t - 1), TGT_VOCAB, low=0)
    before, after = logits(model, source, target), logits(model, source, changed)
    assert before.shape == (batch, t_len, TGT_VOCAB)
    np.testing.assert_allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-5)
    assert not np.allclose(before, after, atol=1e-5) or np.array_equal(target, changed)


@settings(max_examples=6)
@given(st.data())
def test_no_gradient_flows_from_future_decoder_positions(model, data):
    """d logits[:, :t+1] / d decoder-embedding[:, s] is exactly 0 for every s > t, and not all 0 for s <= t."""
    batch, t_len = data.draw(st.integers(1, 2)), data.draw(st.integers(2, 6))
    t = data.draw(st.integers(0, t_len - 2))
    source = sources(data.draw, model, batch, 5)
    target = ids(data.draw, (batch, t_len), TGT_VOCAB)
    encoded = model.encode(source)
    source_mask = model.padding_mask(source)
    embedded = to_numpy(model.embed_target(target))
    grad = gradient(
        lambda x: model.decode_embeddings(x, encoded, source_mask)[:, : t + 1], embedded
    )
    assert np.all(grad[:, t + 1:] == 0.0), "gradient flows from the future"
    assert np.any(grad[:, : t + 1] != 0.0)


@settings(max_examples=8)
@given(st.data())
def test_source_padding_changes_no_logit(model, data):
    """Appending padding to the source, or changing the encoder's input or output vectors at padded positions, changes no logit."""
    batch, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    extra = data.draw(st.integers(1, MAX_LENGTH - s))
    source = sources(data.draw, model, batch, s)
    target = ids(data.draw, (batch, data.draw(st.integers(1, 5))), TGT_VOCAB)
    expected = logits(model, source, target)
    padded = np.concatenate([source, np.full((batch, extra), PAD, "int32")], axis=1)
    np.testing.assert_allclose(logits(model, padded, target), expected, atol=1e-5)

    real = model.padding_mask(padded)
    keep = to_numpy(real)[..., None]
    noise = np.random.default_rng(data.draw(st.integers(0, 2**16))).normal(
        0, 3, (batch, s + extra, model.hidden_dim)).astype("float32")
    embedded = np.where(keep, to_numpy(model.embed_source(padded)), noise)
    encoded = to_numpy(model.encoder(embedded, padding_mask=real))
    encoded = np.where(keep, encoded, -noise)
    np.testing.assert_allclose(
        to_numpy(model.decode(target, encoded, real)), expected, atol=1e-5
    )


@given(st.data())
def test_beam_selection_equals_a_stable_sort(data):
    """Beam search keeps each row's k best candidates in the order of a stable descending sort (ties, -inf included)."""
    rows, width = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 40))
    k = data.draw(st.integers(1, width))
    values = st.sampled_from([-np.inf, -2.0, -1.0, -0.5, 0.0, 1.5])
    scores = np.array(data.draw(st.lists(values, min_size=rows * width, max_size=rows * width)))
    scores = scores.reshape(rows, width)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(_top_k_indices(scores, k), expected)


@settings(max_examples=6)
@given(st.data())
def test_cross_attention_scores_are_causal_alignments_over_real_source_tokens(model, data):
    """`cross_attention_scores` gives, per layer and head, a distribution over real source tokens
    for each target position, unchanged by later target tokens, and asking for it changes no output."""
    batch, s, t = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)),
                   data.draw(st.integers(2, 6)))
    source = sources(data.draw, model, batch, s)
    target = ids(data.draw, (batch, t), TGT_VOCAB)
    scores = to_numpy(model.cross_attention_scores(source, target))
    assert scores.shape == (batch, model.num_layers, model.num_heads, t, s)
    real = source != PAD
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)
    assert np.all(scores.transpose(0, 4, 1, 2, 3)[~real] == 0.0)

    cut = data.draw(st.integers(1, t - 1))
    changed = target.copy()
    changed[:, cut:] = ids(data.draw, (batch, t - cut), TGT_VOCAB)
    np.testing.assert_allclose(
        to_numpy(model.cross_attention_scores(source, changed))[..., :cut, :],
        scores[..., :cut, :], atol=1e-6,
    )

    encoded = model.encode(source)
    masks = dict(decoder_padding_mask=model.padding_mask(target),
                 encoder_padding_mask=model.padding_mask(source))
    with_scores, _ = model.decoder(model.embed_target(target), encoded,
                                   return_cross_attention_scores=True, **masks)
    plain = model.decoder(model.embed_target(target), encoded, **masks)
    np.testing.assert_allclose(to_numpy(with_scores), to_numpy(plain), atol=1e-6)


@settings(max_examples=6)
@given(st.data())
def test_cached_step_logits_equal_full_forward_logits(model, data):
    """Feeding decoder tokens one by one through the KV cache gives the logits of one full forward pass."""
    batch, t_len = data.draw(st.integers(1, 3)), data.draw(st.integers(1, MAX_LENGTH))
    source = sources(data.draw, model, batch, 6)
    target = ids(data.draw, (batch, t_len), TGT_VOCAB)
    full = logits(model, source, target)
    cross = model.decoder.compute_cross_attention_cache(model.encode(source))
    cache = model.decoder.init_cache(batch, t_len)
    for index in range(t_len):
        step, cache = model.call_with_cache(
            target[:, index: index + 1], cache, index, cross, model.padding_mask(source)
        )
        np.testing.assert_allclose(to_numpy(step)[:, 0], full[:, index], atol=1e-4)


# ------------------------------------------------------------------------ decoding


def greedy_by_full_passes(model, source, steps):
    """The reference: rerun the whole decoder for every token, take the argmax (never padding)."""
    tokens = np.full((len(source), 1), START, "int32")
    for _ in range(steps):
        last = logits(model, source, tokens)[:, -1]
        last[:, PAD] = -np.inf
        tokens = np.concatenate([tokens, last.argmax(-1)[:, None].astype("int32")], axis=1)
    return pad_after_end(tokens[:, 1:], END, PAD)


@settings(max_examples=6)
@given(st.data())
def test_cached_greedy_translation_equals_full_forward_passes(model, data):
    """Greedy `translate` with the KV cache yields the tokens of repeated full forward passes."""
    batch, steps = data.draw(st.integers(1, 3)), data.draw(st.integers(1, MAX_LENGTH))
    source = sources(data.draw, model, batch, 6)
    out = model.translate(source, steps, START, END)
    assert out.shape == (batch, steps) and out.dtype == np.int32
    np.testing.assert_array_equal(out, greedy_by_full_passes(model, source, steps))


@settings(max_examples=6)
@given(st.data())
def test_beam_of_one_is_greedy(model, data):
    """Beam search with beam_size=1 returns the greedy translation, whatever the length penalty."""
    batch, steps = data.draw(st.integers(1, 3)), data.draw(st.integers(1, MAX_LENGTH))
    alpha = data.draw(st.sampled_from([0.0, 0.6, 2.0]))
    source = sources(data.draw, model, batch, 6)
    np.testing.assert_array_equal(
        model.translate(source, steps, START, END, beam_size=1, length_penalty=alpha),
        model.translate(source, steps, START, END),
    )


def numpy_rescore(model, source, tokens, alpha):
    """Teacher-forced log p(tokens | source) up to and including the first end token, over GNMT's penalty ((5 + n) / 6)^alpha."""
    decoder_inputs = np.concatenate([np.full((len(tokens), 1), START), tokens[:, :-1]], axis=1)
    logits = keras.ops.convert_to_numpy(
        model({"encoder_token_ids": source, "decoder_token_ids": decoder_inputs})).astype(np.float64)
    scores = []
    for row, row_logits in zip(tokens, logits):
        ends = np.flatnonzero(row == END)
        n = ends[0] + 1 if len(ends) else len(row)
        z = row_logits[:n] - row_logits[:n].max(-1, keepdims=True)
        log_p = z[np.arange(n), row[:n]] - np.log(np.exp(z).sum(-1))
        scores.append(log_p.sum() / ((5 + n) / 6) ** alpha)
    return np.array(scores)


@settings(max_examples=6)
@given(st.data())
def test_beam_scores_are_the_models_own_scores(model, data):
    """The score beam search reports for each translation equals a teacher-forced rescoring of it in NumPy, penalty written out."""
    batch, steps = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    beam, alpha = data.draw(st.integers(2, 4)), data.draw(st.sampled_from([0.0, 0.6, 1.0]))
    source = sources(data.draw, model, batch, 6)
    tokens, scores = model.translate(
        source, steps, START, END, beam_size=beam, length_penalty=alpha, return_scores=True
    )
    np.testing.assert_array_equal(tokens, pad_after_end(tokens, END, PAD))
    np.testing.assert_allclose(numpy_rescore(model, source, tokens, alpha), scores, atol=1e-4)
    np.testing.assert_allclose(
        model.score(source, tokens, START, END, length_penalty=alpha), scores, atol=1e-4
    )


@pytest.fixture(scope="module")
def tiny_vocab_model():
    """Target vocabulary {pad, start, end, 3, 4}: every hypothesis can be enumerated."""
    return make_model(2, target_vocab_size=5)


@settings(max_examples=6)
@given(st.data())
def test_exhaustive_beam_finds_the_best_hypothesis(tiny_vocab_model, data):
    """A beam wide enough to prune nothing returns the best-scoring sequence of all, which beats greedy."""
    model = tiny_vocab_model
    steps, alpha = 3, data.draw(st.sampled_from([0.0, 0.6, 1.5]))
    source = right_padded(data.draw, 1, 5, SRC_VOCAB)
    every = np.unique(pad_after_end(
        np.array(list(itertools.product(range(1, 5), repeat=steps)), "int32"), END, PAD
    ), axis=0)
    all_scores = model.score(np.repeat(source, len(every), 0), every, START, END, alpha)
    tokens, score = model.translate(
        source, steps, START, END, beam_size=64, length_penalty=alpha, return_scores=True
    )
    assert score[0] == pytest.approx(all_scores.max(), abs=1e-5)
    greedy = model.translate(source, steps, START, END)
    assert score[0] >= model.score(source, greedy, START, END, alpha)[0] - 1e-6


def test_sampled_translations_pad_after_the_end(paper_model):
    """Any sampler's output has padding exactly after the first end token and nowhere before it."""
    import keras_hub

    source = np.array([[3, 4, 5, 6], [7, 8, 0, 0]])
    for sampler in ("top_k", keras_hub.samplers.RandomSampler(seed=3)):
        out = paper_model.translate(source, 8, START, END, sampler=sampler)
        assert out.shape == (2, 8)
        np.testing.assert_array_equal(out, pad_after_end(out, END, PAD))
        for row in out:
            stop = list(row).index(END) if END in row else len(row)
            assert PAD not in row[:stop]


def test_translation_is_that_of_the_model_without_dropout(paper_model):
    """Dropout is off in `translate`: it matches a twin built without dropout that holds the same weights."""
    twin = make_model(0, dropout=0.0)
    twin.set_weights(paper_model.get_weights())
    source = np.array([[3, 4, 5], [6, 7, 0]])
    np.testing.assert_array_equal(
        paper_model.translate(source, 5, START, END), twin.translate(source, 5, START, END)
    )


def test_fit_runs_with_a_padding_aware_loss():
    """One `fit` step on `teacher_forcing_batch` output runs and gives a finite loss (XLA-compiled on TensorFlow and JAX)."""
    model = make_model(3)
    decoder_inputs, labels = kt.models.teacher_forcing_batch(
        np.array([[5, 6, 7], [8, 0, 0]]), START, END, PAD)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=PAD), jit_compile=BACKEND != "torch")  # torch.compile: test_jit.py
    history = model.fit(
        {"encoder_token_ids": np.array([[3, 4, 5], [6, 0, 0]]), "decoder_token_ids": decoder_inputs},
        labels, epochs=1, verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])


# ----------------------------------------------------------------- weights, saving


def test_tied_and_shared_tables(paper_model, variant_model):
    """Tied output reuses the target table (one vocab-sized weight per table); shared embeddings use one table for both sides."""
    assert [tuple(w.shape) for w in paper_model.weights if TGT_VOCAB in w.shape] == [(TGT_VOCAB, 16)]
    assert [tuple(w.shape) for w in paper_model.weights if SRC_VOCAB in w.shape] == [(SRC_VOCAB, 16)]
    assert variant_model.source_embedding is variant_model.target_embedding
    assert sorted(tuple(w.shape) for w in variant_model.weights if TGT_VOCAB in w.shape) == [
        (16, TGT_VOCAB), (TGT_VOCAB,), (TGT_VOCAB, 16)]


def test_save_and_load_reproduce_logits_and_translations(model, tmp_path):
    """A `.keras` round trip (safe_mode, no custom_objects) reproduces logits and translations exactly."""
    source, target = np.array([[3, 4, 5, 0]]), np.array([[START, 5, 6]])
    path = tmp_path / "seq2seq.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(logits(loaded, source, target), logits(model, source, target))
    np.testing.assert_array_equal(
        loaded.translate(source, 6, START, END, beam_size=2),
        model.translate(source, 6, START, END, beam_size=2),
    )
    assert loaded.get_config() == model.get_config()
    if model.share_embeddings:
        assert loaded.source_embedding is loaded.target_embedding


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(share_embeddings=True), "share_embeddings"),
        (dict(position="rotary"), "position"),
        (dict(num_heads=3), "num_heads"),
        (dict(dropout=1.0), "dropout"),
        (dict(pad_id=99), "pad_id"),
    ],
)
def test_bad_constructor_arguments_raise(overrides, match):
    """Impossible hyperparameters raise a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        make_model(0, **overrides)


@pytest.mark.parametrize(
    "inputs, match",
    [
        ({"encoder_token_ids": np.ones((1, 3), "int32")}, "decoder_token_ids"),
        (np.ones((1, 3), "int32"), "dict"),
        ({"encoder_token_ids": np.array([[1, SRC_VOCAB]]),
          "decoder_token_ids": np.ones((1, 2), "int32")}, "encoder_token_ids"),
        ({"encoder_token_ids": np.ones((1, 3), "int32"),
          "decoder_token_ids": np.ones((1, MAX_LENGTH + 1), "int32")}, "max_length"),
        ({"encoder_token_ids": np.ones((3,), "int32"),
          "decoder_token_ids": np.ones((1, 2), "int32")}, "encoder_token_ids"),
    ],
)
def test_bad_inputs_raise(paper_model, inputs, match):
    """A missing key, a non-dict, ids outside the vocabulary, a too-long target or a wrong rank raise a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        paper_model(inputs)


def test_scoring_targets_outside_the_vocabulary_raises(paper_model):
    """`score` of a target holding an id past the vocabulary, even as its last token, is a ValueError naming `target_ids`."""
    with pytest.raises(ValueError, match="`target_ids` must lie in"):
        paper_model.score(np.array([[3, 4]]), np.array([[3, TGT_VOCAB]]), START, END)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_length=MAX_LENGTH + 1), "max_length"),
        (dict(max_length=0), "max_length"),
        (dict(start_id=PAD), "start_id"),
        (dict(end_id=TGT_VOCAB), "end_id"),
        (dict(beam_size=0), "beam_size"),
        (dict(return_scores=True), "beam_size"),
        (dict(sampler="beam"), "beam_size"),
        (dict(sampler="nucleus"), "`sampler` must be a keras-hub sampler or one of"),
    ],
)
def test_bad_translation_requests_raise(paper_model, kwargs, match):
    """Impossible translation requests raise a ValueError naming the argument."""
    args = dict(max_length=4, start_id=START, end_id=END) | kwargs
    with pytest.raises(ValueError, match=match):
        paper_model.translate(np.array([[3, 4]]), **args)

"""What `keras_transformer.models.GPT` promises."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

to_numpy = keras.ops.convert_to_numpy

VOCAB, MAX_LENGTH = 23, 16


@pytest.fixture(scope="module")
def gpt():
    keras.utils.set_random_seed(0)
    model = kt.models.GPT(
        VOCAB, MAX_LENGTH, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        dropout=0.1, pad_id=None,
    )
    model(np.zeros((1, 4), "int32"))
    return model


@pytest.fixture(scope="module")
def padded_gpt():
    keras.utils.set_random_seed(1)
    model = kt.models.GPT(
        VOCAB, MAX_LENGTH, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        pad_id=0,
    )
    model(np.ones((1, 4), "int32"))
    return model


def ids(draw, batch, length, low=0):
    return np.array(
        draw(st.lists(st.integers(low, VOCAB - 1), min_size=batch * length, max_size=batch * length))
    ).reshape(batch, length)


@settings(max_examples=10)
@given(st.data())
def test_logits_shape_and_no_future_leak(gpt, data):
    """Logits are (B, T, vocab) and logits at t never change when tokens after t change."""
    batch = data.draw(st.integers(1, 3))
    length = data.draw(st.integers(2, MAX_LENGTH))
    t = data.draw(st.integers(0, length - 2))
    tokens = ids(data.draw, batch, length)
    changed = tokens.copy()
    changed[:, t + 1:] = ids(data.draw, batch, length - t - 1)
    before = to_numpy(gpt(tokens))
    after = to_numpy(gpt(changed))
    assert before.shape == (batch, length, VOCAB)
    np.testing.assert_allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-5)


def greedy_by_full_passes(model, prompt, steps):
    """The reference: re-run the whole sequence for every new token, take the argmax."""
    tokens = prompt
    for _ in range(steps):
        logits = to_numpy(model(tokens))
        tokens = np.concatenate([tokens, logits[:, -1].argmax(-1)[:, None]], axis=1)
    return tokens


# `jit_compile` chooses between an XLA program and a graph on TensorFlow only.
JIT_CHOICES = [True, False] if keras.backend.backend() == "tensorflow" else [True]


@pytest.mark.parametrize("jit_compile", JIT_CHOICES)
@settings(max_examples=8)
@given(st.data())
def test_cached_generation_equals_full_forward_passes(gpt, jit_compile, data):
    """Greedy generation with the KV cache, XLA-compiled or not, yields the tokens of repeated full forward passes."""
    batch = data.draw(st.integers(1, 3))
    prompt_length = data.draw(st.integers(1, 6))
    steps = data.draw(st.integers(1, MAX_LENGTH - prompt_length))
    prompt = ids(data.draw, batch, prompt_length)
    np.testing.assert_array_equal(
        gpt.generate(prompt, steps, jit_compile=jit_compile), greedy_by_full_passes(gpt, prompt, steps)
    )


@settings(max_examples=6)
@given(st.data())
def test_right_padded_prompts_generate_like_single_prompts(padded_gpt, data):
    """Each right-padded prompt in a batch continues exactly as it would alone."""
    lengths = data.draw(st.lists(st.integers(1, 5), min_size=2, max_size=3))
    steps = data.draw(st.integers(1, 6))
    rows = [ids(data.draw, 1, n, low=1)[0] for n in lengths]
    batch = np.zeros((len(rows), max(lengths)), "int32")
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
    out = padded_gpt.generate(batch, steps)
    for i, row in enumerate(rows):
        alone = padded_gpt.generate(row[None], steps + max(lengths) - len(row))
        np.testing.assert_array_equal(out[i], alone[0])


@settings(max_examples=6)
@given(st.data())
def test_prompts_with_a_pad_before_a_real_token_raise(padded_gpt, data):
    """A left- or interior-padded prompt raises a ValueError that asks for right-padded `prompt_ids`."""
    length = data.draw(st.integers(2, 6))
    row = ids(data.draw, 1, length, low=1)[0]
    pads = data.draw(st.lists(st.integers(0, length - 2), min_size=1, unique=True))
    row[pads] = 0  # the last token stays real, so some pad comes before it
    batch = np.stack([ids(data.draw, 1, length, low=1)[0], row])
    with pytest.raises(ValueError, match="prompt_ids.*right-padded"):
        padded_gpt.generate(batch, 2)


def test_padded_generation_never_emits_the_pad():
    """With `pad_id` set, `generate` never writes `pad_id`, even when it is the likeliest token."""
    keras.utils.set_random_seed(3)
    model = kt.models.GPT(VOCAB, MAX_LENGTH, num_layers=1, num_heads=2, hidden_dim=8,
                          intermediate_dim=16, pad_id=0)
    model(np.ones((1, 2), "int32"))
    # Every final hidden state becomes e_0, so the logits are column 0 of the table: id 0 wins.
    norm = model.decoder.final_norm
    norm.gamma.assign(np.zeros(8))
    norm.beta.assign(np.eye(8)[0])
    table = model.embeddings.token_embedding.embeddings
    values = np.array(keras.ops.convert_to_numpy(table))
    values[0, 0] += 10
    table.assign(values)
    assert keras.ops.convert_to_numpy(model(np.array([[3, 4]])))[0, -1].argmax() == 0
    out = model.generate(np.array([[3, 4], [5, 0]]), 6)
    assert (out[0] != 0).all() and (out[1, 1:] != 0).all()  # row 1 generates from index 1


@settings(max_examples=4)
@given(st.data())
def test_long_generation_keeps_the_prompt_and_matches_generate_within_one_window(gpt, data):
    """`generate_long` writes any number of tokens, and equals `generate` while they fit."""
    prompt = ids(data.draw, 2, data.draw(st.integers(1, 4)))
    short = data.draw(st.integers(1, MAX_LENGTH - prompt.shape[1]))
    np.testing.assert_array_equal(gpt.generate_long(prompt, short), gpt.generate(prompt, short))
    long = gpt.generate_long(prompt, 3 * MAX_LENGTH)
    assert long.shape == (2, prompt.shape[1] + 3 * MAX_LENGTH)
    np.testing.assert_array_equal(long[:, : prompt.shape[1]], prompt)
    assert long.min() >= 0 and long.max() < VOCAB


def test_generation_at_inference_is_that_of_the_model_without_dropout(gpt):
    """Dropout is off in `generate` and in plain calls: they match a twin built without dropout that holds the same weights."""
    twin = kt.models.GPT(VOCAB, MAX_LENGTH, num_layers=2, num_heads=2, hidden_dim=16,
                         intermediate_dim=32, dropout=0.0, pad_id=None)
    twin(np.zeros((1, 4), "int32"))
    twin.set_weights(gpt.get_weights())
    prompt = np.array([[3, 4, 5]])
    np.testing.assert_array_equal(gpt.generate(prompt, 5), twin.generate(prompt, 5))
    np.testing.assert_allclose(to_numpy(gpt(prompt)), to_numpy(twin(prompt)), atol=1e-6)


def test_generation_follows_changed_weights_and_draws_afresh_on_every_call():
    """A decoding loop compiled once reads the weights as they are now, and a seeded sampler draws anew on each call."""
    import keras_hub

    keras.utils.set_random_seed(2)
    model = kt.models.GPT(VOCAB, MAX_LENGTH, num_layers=1, num_heads=2, hidden_dim=16,
                          intermediate_dim=32, pad_id=None)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    model.generate(prompt, 6)  # compiled (where the backend compiles) with these weights
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    np.testing.assert_array_equal(model.generate(prompt, 6), greedy_by_full_passes(model, prompt, 6))
    sampler = keras_hub.samplers.RandomSampler(seed=3)
    first, second = (model.generate(prompt, 10, sampler=sampler) for _ in range(2))
    assert (first != second).any()


def test_keras_hub_samplers_are_accepted(gpt):
    """`generate` takes keras-hub sampler names and instances and keeps the prompt."""
    import keras_hub

    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    for sampler in ("top_k", keras_hub.samplers.TopPSampler(p=0.9, seed=1)):
        out = gpt.generate(prompt, 4, sampler=sampler)
        assert out.shape == (2, 7)
        np.testing.assert_array_equal(out[:, :3], prompt)
        assert out.min() >= 0 and out.max() < VOCAB


def beam_search_by_full_passes(model, prompt, steps, num_beams):
    """The reference: keep the `num_beams` likeliest continuations, scoring each by full forward passes."""
    beams = [(list(prompt), 0.0)]
    for _ in range(steps):
        candidates = []
        for tokens, score in beams:
            logits = to_numpy(model(np.array([tokens])))[0, -1].astype("float64")
            log_probs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
            candidates += [(tokens + [v], score + log_probs[v]) for v in range(VOCAB)]
        beams = sorted(candidates, key=lambda c: -c[1])[:num_beams]
    return beams[0][0]


@settings(max_examples=4, deadline=None)
@given(st.data())
def test_beam_search_keeps_the_likeliest_continuations(gpt, data):
    """`sampler="beam"` returns, for each prompt, the best of the beams a full-pass beam search keeps."""
    import keras_hub

    batch, prompt_length = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 4))
    steps, num_beams = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    prompt = ids(data.draw, batch, prompt_length)
    out = gpt.generate(prompt, steps, sampler=keras_hub.samplers.BeamSampler(num_beams))
    for row, tokens in zip(prompt, out):
        assert tokens.tolist() == beam_search_by_full_passes(gpt, row.tolist(), steps, num_beams)


def test_output_logits_reuse_the_token_embedding(gpt):
    """The output projection is tied to the token embedding: no separate vocab-sized kernel."""
    vocab_sized = [w for w in gpt.weights if VOCAB in w.shape]
    assert len(vocab_sized) == 1 and vocab_sized[0].shape == (VOCAB, 16)


@pytest.mark.parametrize(
    "prompt, steps, match",
    [
        (np.zeros((1, 10), "int32") + 1, 7, "max_length"),
        (np.zeros((1, 3), "int32") + 1, 0, "max_new_tokens"),
        (np.zeros((3,), "int32") + 1, 2, "prompt_ids"),
        (np.zeros((1, 3), "int32"), 2, "real"),
        (np.array([[1, VOCAB]]), 2, "`prompt_ids` must lie in \\[0, vocab_size\\)"),
        (np.array([[1, -1]]), 2, "`prompt_ids` must lie in"),
    ],
)
def test_bad_generation_requests_raise(padded_gpt, prompt, steps, match):
    """Impossible generation requests raise a ValueError that names the problem; XLA would gather garbage for ids outside the vocabulary."""
    with pytest.raises(ValueError, match=match):
        padded_gpt.generate(prompt, steps)


@pytest.mark.parametrize("call, match", [
    (lambda m: m.generate_long(np.array([[1, 2, 3]]), -5), "`max_new_tokens` must be an int >= 1"),
    (lambda m: m.generate_long(np.array([[1, 2, 3]]), 0), "`max_new_tokens` must be an int >= 1"),
    (lambda m: m.generate(np.array([[1, 2]]), 3, sampler="nucleus"), "`sampler` must be.*'top_p'"),
    (lambda m: m.generate(np.array([[1, 2]]), 3, sampler="Greedy"), "`sampler` must be"),
    (lambda m: m.generate(np.array([[1, 2]]), 3, sampler="contrastive"), "hidden states.*'greedy'"),
])
def test_bad_generation_arguments_raise(gpt, call, match):
    """A non-positive length for `generate_long`, an unknown sampler name or one these models cannot feed is a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        call(gpt)


@pytest.mark.parametrize("pad_id", [-1, VOCAB, VOCAB + 5, 1.5])
def test_a_pad_id_outside_the_vocabulary_is_rejected(pad_id):
    """`pad_id` must be None or an id of the vocabulary, for GPT and BERT alike."""
    size = dict(vocab_size=VOCAB, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                intermediate_dim=16, pad_id=pad_id)
    for model in (kt.models.GPT, kt.models.BERT):
        with pytest.raises(ValueError, match="`pad_id` must be None .* \\[0, vocab_size\\)"):
            model(**size)


def test_padded_prompts_for_long_generation_raise(padded_gpt):
    """`generate_long` refuses prompts that hold `pad_id` instead of reading pads as context."""
    with pytest.raises(ValueError, match="prompt_ids.*padded"):
        padded_gpt.generate_long(np.array([[3, 4, 0]]), 20)


def test_ids_outside_the_vocabulary_raise(gpt):
    """Token ids >= vocab_size are rejected in eager calls instead of gathering garbage."""
    with pytest.raises(ValueError, match="vocab_size"):
        gpt(np.array([[1, VOCAB]]))


def test_save_and_load_reproduce_logits(gpt, tmp_path):
    """A `.keras` round trip (safe_mode, no custom_objects) reproduces the logits exactly."""
    tokens = np.array([[1, 2, 3, 4, 5]])
    path = tmp_path / "gpt.keras"
    gpt.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(loaded(tokens)), to_numpy(gpt(tokens)))
    assert loaded.get_config() == gpt.get_config()


@given(st.integers(1, 3), st.sampled_from([1, 2, 4]), st.integers(1, 3), st.integers(2, 40))
@settings(max_examples=10, deadline=None)
def test_a_gpt_without_biases_has_nanogpts_bias_free_parameter_count(layers, heads, width_per_head, vocab):
    """`GPT(use_bias=False)` has nanoGPT's `bias=False` count: V·H + T·H + L·(12H² + 2H) + H (no biases, no LayerNorm offsets)."""
    hidden = heads * width_per_head * 2
    gpt = kt.models.GPT(vocab, MAX_LENGTH, layers, heads, hidden, 4 * hidden, pad_id=None,
                        use_bias=False)
    gpt(np.zeros((1, 3), "int32"))
    expected = vocab * hidden + MAX_LENGTH * hidden + layers * (12 * hidden**2 + 2 * hidden) + hidden
    assert gpt.count_params() == expected

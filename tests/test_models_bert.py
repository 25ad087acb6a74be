"""What `keras_transformer.models.BERT`, its heads and task models promise."""

import json

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt
from tests.helpers import reload_keras_file

VOCAB, MAX_LENGTH, HIDDEN = 31, 12, 16


def small_bert(**overrides):
    config = dict(
        vocab_size=VOCAB, max_length=MAX_LENGTH, num_layers=2, num_heads=2,
        hidden_dim=HIDDEN, intermediate_dim=32, dropout=0.1,
    )
    return kt.models.BERT(**{**config, **overrides})


@pytest.fixture(scope="module")
def bert():
    keras.utils.set_random_seed(0)
    model = small_bert()
    model(inputs(np.ones((1, 4), "int32")))
    return model


def inputs(token_ids, segment_ids=None, padding_mask=None):
    out = {"token_ids": np.asarray(token_ids, "int32")}
    out["segment_ids"] = np.zeros_like(out["token_ids"]) if segment_ids is None \
        else np.asarray(segment_ids, "int32")
    if padding_mask is not None:
        out["padding_mask"] = np.asarray(padding_mask, bool)
    return out


def draw_batch(data, min_length=1):
    """Random right-padded rows: token ids (0 = pad), segment ids and the real lengths."""
    batch = data.draw(st.integers(1, 3), label="batch")
    length = data.draw(st.integers(min_length, MAX_LENGTH), label="length")
    lengths = data.draw(st.lists(st.integers(1, length), min_size=batch, max_size=batch))
    ids = np.array(data.draw(st.lists(
        st.integers(1, VOCAB - 1), min_size=batch * length, max_size=batch * length
    ))).reshape(batch, length)
    real = np.arange(length)[None, :] < np.array(lengths)[:, None]
    segments = np.array(data.draw(st.lists(
        st.integers(0, 1), min_size=batch * length, max_size=batch * length
    ))).reshape(batch, length)
    return np.where(real, ids, 0), np.where(real, segments, 0), real


def plain(config):
    """A config as JSON sees it (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(config))


def as_numpy(outputs):
    return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in outputs.items()}


@settings(max_examples=8)
@given(st.data())
def test_output_shapes(bert, data):
    """`sequence_output` is (B, T, hidden) and `pooled_output` is (B, hidden), matching compute_output_shape."""
    ids, segments, _ = draw_batch(data)
    out = bert(inputs(ids, segments))
    assert tuple(out["sequence_output"].shape) == (*ids.shape, HIDDEN)
    assert tuple(out["pooled_output"].shape) == (ids.shape[0], HIDDEN)
    expected = bert.compute_output_shape({"token_ids": ids.shape, "segment_ids": ids.shape})
    assert {k: tuple(v.shape) for k, v in out.items()} == expected


@settings(max_examples=10)
@given(st.data())
def test_padded_tokens_do_not_change_real_outputs(bert, data):
    """Changing the token and segment ids at padded positions leaves real positions' outputs and the pooled output unchanged."""
    ids, segments, real = draw_batch(data)
    noise = np.array(data.draw(st.lists(
        st.integers(1, VOCAB - 1), min_size=ids.size, max_size=ids.size
    ))).reshape(ids.shape)
    changed_ids = np.where(real, ids, noise)
    changed_segments = np.where(real, segments, 1 - segments)
    before = as_numpy(bert(inputs(ids, segments)))
    after = as_numpy(bert(inputs(changed_ids, changed_segments, padding_mask=real)))
    np.testing.assert_allclose(
        after["sequence_output"][real], before["sequence_output"][real], atol=1e-5
    )
    np.testing.assert_allclose(after["pooled_output"], before["pooled_output"], atol=1e-5)


def test_explicit_padding_mask_equals_the_one_derived_from_pad_id(bert):
    """Passing `padding_mask` explicitly gives the same outputs as deriving it from pad_id=0."""
    ids = np.array([[2, 5, 7, 0, 0], [3, 4, 0, 0, 0]])
    derived = as_numpy(bert(inputs(ids)))
    explicit = as_numpy(bert(inputs(ids, padding_mask=ids != 0)))
    for key in derived:
        np.testing.assert_array_equal(derived[key], explicit[key])


@settings(max_examples=6)
@given(st.data())
def test_segment_ids_change_the_outputs(bert, data):
    """Flipping the segment ids of the real tokens changes the sequence output."""
    ids, segments, real = draw_batch(data)
    a = as_numpy(bert(inputs(ids, segments)))["sequence_output"]
    b = as_numpy(bert(inputs(ids, np.where(real, 1 - segments, 0))))["sequence_output"]
    assert np.abs(a[real] - b[real]).max() > 1e-4


def test_dropout_is_off_at_inference_and_on_in_training(bert):
    """Two inference calls agree exactly; two training calls (dropout 0.1) differ."""
    x = inputs(np.array([[2, 3, 4, 5, 6]]))
    first, second = as_numpy(bert(x)), as_numpy(bert(x))
    np.testing.assert_array_equal(first["sequence_output"], second["sequence_output"])
    trained = as_numpy(bert(x, training=True))
    assert not np.allclose(trained["sequence_output"], first["sequence_output"])


def test_pooled_output_is_tanh_dense_of_the_first_position(bert):
    """`pooled_output` = tanh(W · sequence_output[:, 0] + b), computed here in NumPy."""
    out = as_numpy(bert(inputs(np.array([[2, 3, 4, 0], [5, 6, 0, 0]]))))
    kernel, bias = (np.asarray(w) for w in bert.pooler.weights)
    expected = np.tanh(out["sequence_output"][:, 0] @ kernel + bias)
    np.testing.assert_allclose(out["pooled_output"], expected, atol=1e-5)


def test_embedding_layer_norm_and_post_ln_encoder():
    """The embedding sum is layer-normalized and the encoder is post-LN with exact GELU (BERT's layout)."""
    model = small_bert()
    assert model.encoder.norm_first is False and model.encoder.final_norm is None
    assert model.encoder.blocks[0].activation == "gelu"
    assert model.embeddings_norm.epsilon == 1e-12


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[1, 2, 3]]), "dict"),
        ({"segment_ids": np.zeros((1, 3), "int32")}, "token_ids"),
        ({"token_ids": np.ones((1, 3), "int32")}, "segment_ids"),
        ({**inputs(np.ones((1, 3))), "mask": np.ones((1, 3))}, "mask"),
        (inputs(np.ones((1, 3)), segment_ids=np.zeros((1, 4))), "segment_ids"),
        (inputs(np.ones((1, 3)), padding_mask=np.ones((2, 3))), "padding_mask"),
        (inputs(np.ones((3,))), "rank 2"),
        (inputs(np.array([[1, VOCAB]])), "vocab_size"),
        (inputs(np.ones((1, 3)), segment_ids=np.array([[0, 1, 2]])), "segment_ids"),
        (inputs(np.ones((1, MAX_LENGTH + 1))), "max_length"),
    ],
)
def test_bad_inputs_raise_value_errors_that_name_the_problem(bert, bad, match):
    """Non-dict inputs, missing/unknown keys, mismatched shapes and out-of-range ids raise a ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        bert(bad)


@pytest.mark.parametrize(
    "overrides, match",
    [({"num_heads": 3}, "divisible"), ({"dropout": 1.0}, "dropout"),
     ({"num_layers": 0}, "num_layers"), ({"num_segments": -1}, "num_segments"),
     ({"embedding_dim": 0}, "embedding_dim")],
)
def test_bad_hyperparameters_raise(overrides, match):
    """Impossible sizes raise a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        small_bert(**overrides)


def test_without_segments_the_model_takes_token_ids_alone():
    """With num_segments=0 the model runs on token ids alone and rejects segment ids."""
    model = small_bert(num_segments=0)
    out = model({"token_ids": np.array([[2, 3, 0]])})
    assert tuple(out["pooled_output"].shape) == (1, HIDDEN)
    with pytest.raises(ValueError, match="num_segments=0"):
        model({"token_ids": np.array([[2, 3, 0]]), "segment_ids": np.zeros((1, 3), "int32")})


def test_save_and_load_reproduce_outputs(bert, tmp_path):
    """A `.keras` round trip (safe_mode, no custom_objects) reproduces both outputs exactly."""
    x = inputs(np.array([[2, 3, 4, 0], [5, 6, 7, 8]]), np.array([[0, 0, 1, 0], [0, 1, 1, 1]]))
    path = tmp_path / "bert.keras"
    bert.save(path)
    loaded = keras.saving.load_model(path)
    expected, actual = as_numpy(bert(x)), as_numpy(loaded(x))
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])
    assert loaded.get_config() == bert.get_config()


@pytest.mark.parametrize("num_segments", [2, 0])
def test_bert_folder_round_trip_reproduces_outputs_and_tokens(num_segments, tmp_path):
    """`save_bert_folder` then `load_bert_folder` gives the same outputs and a tokenizer over the same vocabulary."""
    from keras_transformer.models.bert.folder import load_bert_folder, save_bert_folder

    model = small_bert(num_segments=num_segments)
    x = {"token_ids": np.array([[2, 3, 4, 0], [5, 6, 7, 8]])}
    if num_segments:
        x["segment_ids"] = np.array([[0, 0, 1, 0], [0, 1, 1, 1]])
    expected = as_numpy(model(x))
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"]
    vocabulary += [f"w{i}" for i in range(model.vocab_size - len(vocabulary))]
    save_bert_folder(tmp_path, model, vocabulary)
    loaded, tokenizer = load_bert_folder(tmp_path, name="reloaded")
    actual = as_numpy(loaded(x))
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])
    assert loaded.name == "reloaded"
    assert np.asarray(tokenizer("The cats")).tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="vocab_size"):
        save_bert_folder(tmp_path, model, vocabulary[:-1])


def test_bert_folder_without_weights_is_the_same_architecture_freshly_initialized(tmp_path):
    """`load_bert_backbone(folder, weights=False)` has the saved config and variable shapes but none of the saved values."""
    from keras_transformer.models.bert.folder import load_bert_backbone, save_bert_folder

    model = small_bert()
    save_bert_folder(tmp_path, model, [f"w{i}" for i in range(model.vocab_size)])
    fresh = load_bert_backbone(tmp_path, weights=False)
    assert fresh.get_config() == model.get_config()
    assert [v.shape for v in fresh.weights] == [v.shape for v in model.weights]
    changed = [not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
               for a, b in zip(fresh.weights, model.weights)]
    # Every randomly initialized matrix differs; biases and norms start equal.
    assert all(c for c, v in zip(changed, model.weights) if len(v.shape) == 2)


def test_bert_folder_loads_with_another_dropout_rate_and_the_saved_weights(tmp_path):
    """`load_bert_backbone(folder, dropout=r)` gives the saved weights, value for value, with dropout rate r; a rate outside [0, 1) is a ValueError naming `dropout`."""
    from keras_transformer.models.bert.folder import load_bert_backbone, save_bert_folder

    model = small_bert(dropout=0.0)
    save_bert_folder(tmp_path, model, [f"w{i}" for i in range(model.vocab_size)])
    loaded = load_bert_backbone(tmp_path, dropout=0.25)
    assert loaded.dropout == 0.25 and model.dropout == 0.0
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for rate in (1.0, -0.1):
        with pytest.raises(ValueError, match="dropout"):
            load_bert_backbone(tmp_path, dropout=rate)


def test_fit_runs_with_a_classifier_head():
    """`BertClassifier` trains inside `model.fit` and its loss goes down on a learnable toy task."""
    keras.utils.set_random_seed(3)
    model = kt.models.BertClassifier(small_bert(dropout=0.0), num_classes=2, dropout=0.0)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, VOCAB, size=(32, 6))
    labels = (ids[:, 1] > VOCAB // 2).astype("int32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(inputs(ids), labels, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert model(inputs(ids[:3])).shape == (3, 2)



# ----------------------------------------------------------------------------- ALBERT's savings


@settings(max_examples=8)
@given(st.integers(2, 40), st.integers(1, 8), st.sampled_from([8, 16]), st.integers(0, 2))
def test_factorized_embeddings_count_v_times_e_plus_e_times_h(vocab, width, hidden, segments):
    """With `embedding_dim=E` the embedding block holds (V + positions + segments)·E table weights plus one E→H projection (E·H + H)."""
    model = small_bert(vocab_size=vocab, hidden_dim=hidden, embedding_dim=width, num_segments=segments)
    model.build({"token_ids": (None, None), **({"segment_ids": (None, None)} if segments else {})})
    tables = (vocab + MAX_LENGTH + segments) * width
    projection = width * hidden + hidden if width != hidden else 0
    assert model.embeddings.count_params() == tables + projection


@pytest.mark.parametrize("num_layers", [1, 2, 4])
def test_shared_weights_make_the_parameter_count_independent_of_depth(num_layers):
    """With `share_weights=True` a BERT of any depth has the parameters of a one-layer BERT, and runs that one block `num_layers` times."""
    def built(**overrides):
        model = small_bert(**overrides)
        model(inputs(np.ones((1, 3), "int32")))
        return model

    shared = built(num_layers=num_layers, share_weights=True)
    assert shared.count_params() == built(num_layers=1).count_params()
    blocks = shared.encoder.layer_blocks()
    assert len(blocks) == num_layers and all(block is blocks[0] for block in blocks)


def test_albert_sized_bert_round_trips_and_pretrains_with_a_tied_head(tmp_path):
    """A factorized, shared BERT reloads from `.keras` with the same outputs, and its tied MLM head predicts from the E-wide table."""
    keras.utils.set_random_seed(2)
    model = kt.models.BertPretrainer(small_bert(embedding_dim=4, share_weights=True, num_layers=3))
    x = {**inputs(np.array([[2, 3, 4, 5, 6]])), "mask_positions": np.array([[1, 3]])}
    out = as_numpy(model(x))
    assert out["mlm_logits"].shape == (1, 2, VOCAB)
    assert model.backbone.embeddings.token_embedding.embeddings.shape == (VOCAB, 4)
    path = tmp_path / "albert.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for key, value in out.items():
        np.testing.assert_array_equal(as_numpy(loaded(x))[key], value)
    assert loaded.backbone.get_config()["embedding_dim"] == 4
    assert loaded.backbone.get_config()["share_weights"] is True

# ----------------------------------------------------------------------------- heads


@pytest.fixture(scope="module")
def pretrainer():
    keras.utils.set_random_seed(1)
    model = kt.models.BertPretrainer(small_bert())
    model({**inputs(np.ones((1, 5), "int32")), "mask_positions": np.zeros((1, 2), "int32")})
    return model


def test_mlm_head_reuses_the_token_embedding(pretrainer):
    """The MLM output projection is the token embedding table itself: one vocab×hidden weight, shared."""
    vocab_sized = [w for w in pretrainer.weights if w.shape == (VOCAB, HIDDEN)]
    assert len(vocab_sized) == 1
    assert pretrainer.mlm_head.token_embedding is pretrainer.backbone.embeddings.token_embedding


def test_mlm_logits_follow_changes_to_the_embedding_table(pretrainer):
    """Editing the token embedding table changes the MLM logits exactly as E · h predicts."""
    x = {**inputs(np.array([[2, 3, 4, 5, 6]])), "mask_positions": np.array([[1, 3]])}
    table = pretrainer.backbone.embeddings.token_embedding.embeddings
    original = np.asarray(table).copy()
    try:
        # Zeroing row 7 of E zeroes its logit everywhere, up to the output bias:
        # the head has no other vocab-sized kernel that could hide the tie.
        edited = original.copy()
        edited[7] = 0.0
        table.assign(edited)
        logits = keras.ops.convert_to_numpy(pretrainer(x)["mlm_logits"])
        bias = keras.ops.convert_to_numpy(pretrainer.mlm_head.output_bias)
        np.testing.assert_allclose(logits[..., 7], bias[7], atol=1e-6)
    finally:
        table.assign(original)


def test_mlm_head_gathers_the_masked_positions(pretrainer):
    """Logits for mask position p equal the head applied to sequence_output[:, p] alone."""
    x = inputs(np.array([[2, 3, 4, 5, 6], [7, 8, 9, 0, 0]]))
    positions = np.array([[4, 0, 2], [1, 1, 0]])
    out = pretrainer({**x, "mask_positions": positions})
    assert tuple(out["mlm_logits"].shape) == (2, 3, VOCAB)
    assert tuple(out["nsp_logits"].shape) == (2, 2)
    for j in range(3):
        single = pretrainer({**x, "mask_positions": positions[:, j : j + 1]})["mlm_logits"]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(single)[:, 0], keras.ops.convert_to_numpy(out["mlm_logits"])[:, j],
                                   atol=1e-5)


def test_masked_lm_alone_predicts_what_the_pretrainers_mlm_head_predicts(pretrainer, tmp_path):
    """`BertMaskedLM` on the pretrainer's backbone, given its MLM head's weights, gives the same MLM logits, before and after a `.keras` round trip, with its head tied to the token table."""
    mlm = kt.models.BertMaskedLM(pretrainer.backbone)
    x = {**inputs(np.array([[2, 3, 4, 5, 6], [7, 8, 9, 0, 0]])),
         "mask_positions": np.array([[4, 0, 2], [1, 1, 0]])}
    mlm(x)
    mlm.mlm_head.set_weights(pretrainer.mlm_head.get_weights())
    expected = keras.ops.convert_to_numpy(pretrainer(x)["mlm_logits"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mlm(x)), expected, atol=1e-5)
    restored = reload_keras_file(mlm)
    assert restored.mlm_head.token_embedding is restored.backbone.embeddings.token_embedding
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), expected, atol=1e-5)


def test_pretrainer_needs_mask_positions(pretrainer):
    """A pretrainer call without `mask_positions` raises a ValueError naming the key."""
    with pytest.raises(ValueError, match="mask_positions"):
        pretrainer(inputs(np.array([[2, 3]])))


def test_pretrainer_round_trip_keeps_the_tie(pretrainer, tmp_path):
    """After a `.keras` round trip the pretrainer gives the same logits and its MLM head is still tied."""
    x = {**inputs(np.array([[2, 3, 4, 5, 6]])), "mask_positions": np.array([[1, 3]])}
    path = tmp_path / "pretrainer.keras"
    pretrainer.save(path)
    loaded = keras.saving.load_model(path)
    for key, value in as_numpy(pretrainer(x)).items():
        np.testing.assert_array_equal(as_numpy(loaded(x))[key], value)
    assert loaded.mlm_head.token_embedding is loaded.backbone.embeddings.token_embedding
    assert plain(loaded.get_config()) == plain(pretrainer.get_config())


@settings(max_examples=8)
@given(st.data())
def test_span_head_masks_padding(data):
    """Start/end logits are (B, T); at padded positions they are -1e9, far below every real logit."""
    keras.utils.set_random_seed(2)
    model = kt.models.BertSpanQA(small_bert())
    ids, segments, real = draw_batch(data)
    out = as_numpy(model(inputs(ids, segments)))
    for key in ("start_logits", "end_logits"):
        logits = out[key]
        assert logits.shape == ids.shape and np.isfinite(logits).all()
        assert (logits[~real] == kt.models.bert.heads.MASKED_LOGIT).all()
        assert (np.abs(logits[real]) < 1e3).all()
        assert real[np.arange(len(ids)), logits.argmax(-1)].all()


def test_classifier_and_span_models_round_trip(tmp_path):
    """`BertClassifier` and `BertSpanQA` reload from `.keras` files with identical outputs and configs."""
    x = inputs(np.array([[2, 3, 4, 0]]))
    for model in (kt.models.BertClassifier(small_bert(), num_classes=3),
                  kt.models.BertSpanQA(small_bert())):
        expected = model(x)
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        actual = loaded(x)
        if isinstance(expected, dict):
            expected, actual = as_numpy(expected), as_numpy(actual)
            for key in expected:
                np.testing.assert_array_equal(actual[key], expected[key])
        else:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(actual), keras.ops.convert_to_numpy(expected))
        assert plain(loaded.get_config()) == plain(model.get_config())


@pytest.mark.parametrize(
    "head, args",
    [
        (kt.models.BertNextSentenceHead, {}),
        (kt.models.BertClassifierHead, {"num_classes": 4, "dropout": 0.2}),
        (kt.models.BertSpanHead, {}),
    ],
)
def test_heads_config_round_trip(head, args):
    """Each head's `from_config(get_config())` rebuilds an identical configuration."""
    layer = head(**args, initializer_range=0.05)
    config = layer.get_config()
    assert head.from_config(config).get_config() == config


def test_mlm_head_rejects_a_plain_embedding():
    """The MLM head needs a ReversibleEmbedding to tie to, and says so."""
    with pytest.raises(ValueError, match="ReversibleEmbedding"):
        kt.models.BertMaskedLMHead(keras.layers.Embedding(VOCAB, HIDDEN))


def test_task_models_join_a_functional_model_of_unknown_length():
    """Classifier and span QA with a short `max_length` take `keras.Input((None,))` on every backend
    (their output shapes are stated, not traced with a stand-in length)."""
    inputs = {k: keras.Input((None,), dtype=d, name=k)
              for k, d in (("token_ids", "int32"), ("segment_ids", "int32"), ("padding_mask", "bool"))}
    classifier = kt.models.BertClassifier(small_bert(), 3)(inputs)
    spans = kt.models.BertSpanQA(small_bert())(inputs)
    assert tuple(classifier.shape) == (None, 3) and tuple(spans["start_logits"].shape) == (None, None)
    model = keras.Model(inputs, {"classes": classifier, **spans})
    x = {"token_ids": np.array([[2, 3, 4, 0]]), "segment_ids": np.zeros((1, 4), "int32"),
         "padding_mask": np.array([[True, True, True, False]])}
    out = model.predict(x, verbose=0)
    assert out["classes"].shape == (1, 3) and out["end_logits"].shape == (1, 4)


# ------------------------------------------------------------------ fresh models

FRESH_BATCH = {**inputs(np.array([[2, 3, 4, 0], [5, 6, 0, 0]])), "mask_positions": np.array([[1, 2], [0, 1]])}
FRESH_MODELS = {
    "BERT": lambda: small_bert(),
    "BertPretrainer": lambda: kt.models.BertPretrainer(small_bert()),
    "BertMaskedLM": lambda: kt.models.BertMaskedLM(small_bert()),
    "BertClassifier": lambda: kt.models.BertClassifier(small_bert(), num_classes=3),
    "BertSpanQA": lambda: kt.models.BertSpanQA(small_bert()),
}


def fresh_inputs(name):
    """The batch a model takes: only the masked-LM models take `mask_positions`."""
    keep = name in ("BertPretrainer", "BertMaskedLM")
    return {k: v for k, v in FRESH_BATCH.items() if keep or k != "mask_positions"}


def predicted(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, dict) else {"logits": out}


@pytest.mark.parametrize("name", sorted(FRESH_MODELS))
def test_fresh_model_predicts_as_after_a_prior_call(name):
    """A model fresh from its constructor predicts, and gives what the same weights give after a prior call."""
    x = fresh_inputs(name)
    fresh = FRESH_MODELS[name]()
    first = predicted(fresh, x)
    warmed = FRESH_MODELS[name]()
    warmed({k: v[:1, :3] if k != "mask_positions" else v[:1] for k, v in x.items()})
    warmed.set_weights(fresh.get_weights())
    second = predicted(warmed, x)
    assert sorted(first) == sorted(second)
    for key in first:
        np.testing.assert_allclose(first[key], second[key], atol=1e-6)


@pytest.mark.parametrize("num_segments", [2, 0])
def test_fresh_backbone_saves_to_a_bert_folder(num_segments, tmp_path):
    """`save_bert_folder` takes a backbone fresh from its constructor, and the folder reloads to the same outputs."""
    from keras_transformer.models.bert.folder import load_bert_folder, save_bert_folder

    model = small_bert(num_segments=num_segments)
    vocabulary = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(VOCAB - 2)]
    save_bert_folder(tmp_path, model, vocabulary)
    loaded, _ = load_bert_folder(tmp_path)
    x = {"token_ids": np.array([[2, 3, 4, 0]])}
    if num_segments:
        x["segment_ids"] = np.zeros((1, 4), "int32")
    for key, value in as_numpy(model(x)).items():
        np.testing.assert_array_equal(as_numpy(loaded(x))[key], value)

"""Every model's decoding and inspection methods work on a model that was only constructed.

Each test runs a method on a fresh model, again on the same model after a
forward call, and on a called twin given the fresh model's weights: all agree.
"""

import re

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_transformer as kt

VOCAB, MAX_LENGTH = 20, 10
PAD, START, END = 0, 1, 2

to_numpy = keras.ops.convert_to_numpy

sizes = st.fixed_dictionaries({
    "num_layers": st.integers(1, 2),
    "num_heads": st.sampled_from([1, 2]),
    "hidden_dim": st.sampled_from([8, 16]),
})


def gpt(num_layers=1, num_heads=2, hidden_dim=8):
    return kt.models.GPT(
        VOCAB, MAX_LENGTH, num_layers=num_layers, num_heads=num_heads,
        hidden_dim=hidden_dim, intermediate_dim=16,
    )


def transformer(num_layers=1, num_heads=2, hidden_dim=8):
    return kt.models.Seq2SeqTransformer(
        VOCAB, VOCAB, max_length=MAX_LENGTH, num_layers=num_layers, num_heads=num_heads,
        hidden_dim=hidden_dim, intermediate_dim=16,
    )


def rnn(hidden_dim=8, **_):
    return kt.models.RNNAttentionSeq2Seq(VOCAB, VOCAB, embedding_dim=8, hidden_dim=hidden_dim)


def seq2seq_inputs():
    return {"encoder_token_ids": np.ones((1, 3), "int32"),
            "decoder_token_ids": np.ones((1, 2), "int32")}


WARM_UP = {gpt: lambda m: m(np.ones((1, 3), "int32")),
           transformer: lambda m: m(seq2seq_inputs()),
           rnn: lambda m: m(seq2seq_inputs())}


def fresh_and_called(make, method, **kwargs):
    """`method` on a fresh model, on that model after a call, and on a called twin with its weights."""
    fresh = make(**kwargs)
    results = [method(fresh)]
    WARM_UP[make](fresh)
    results.append(method(fresh))
    called = make(**kwargs)
    WARM_UP[make](called)
    called.set_weights(fresh.get_weights())
    results.append(method(called))
    return results


def assert_same(results):
    """Every result (an array or a tuple of arrays) equals the first one."""
    first = results[0] if isinstance(results[0], tuple) else (results[0],)
    for other in results[1:]:
        other = other if isinstance(other, tuple) else (other,)
        for a, b in zip(first, other, strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-6)


sources = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], "int32")
targets = np.array([[5, 6, 2, 0], [7, 2, 0, 0]], "int32")


# ------------------------------------------------------------------------ GPT


@settings(max_examples=2)
@given(sizes)
def test_gpt_generates_on_a_fresh_model(size):
    """`GPT.generate` works on a fresh model and continues prompts as a called model does."""
    prompt = np.array([[3, 4, 5], [6, 7, 0]])
    assert_same(fresh_and_called(gpt, lambda m: m.generate(prompt, 4), **size))


def test_gpt_generates_long_text_on_a_fresh_model():
    """`GPT.generate_long` works on a fresh model and writes what a called model writes."""
    prompt = np.array([[3, 4, 5]])
    assert_same(fresh_and_called(gpt, lambda m: m.generate_long(prompt, 2 * MAX_LENGTH)))


@settings(max_examples=3)
@given(sizes)
def test_gpt_init_cache_on_a_fresh_model(size):
    """`GPT.init_cache` works on a fresh model and has the called model's shape and dtype."""
    fresh = gpt(**size).init_cache(2, 6)
    model = gpt(**size)
    WARM_UP[gpt](model)
    called = model.init_cache(2, 6)
    assert fresh.shape == called.shape == (
        2, size["num_layers"], 2, 6, size["num_heads"], size["hidden_dim"] // size["num_heads"]
    )
    assert fresh.dtype == called.dtype


# ------------------------------------------------------------ Seq2SeqTransformer


@settings(max_examples=3)
@given(sizes, st.sampled_from([None, 1, 3]))
def test_transformer_translates_on_a_fresh_model(size, beam_size):
    """`Seq2SeqTransformer.translate` (greedy or beam) works fresh and equals the called model's."""
    assert_same(fresh_and_called(
        transformer, lambda m: m.translate(sources, 5, START, END, beam_size=beam_size), **size
    ))


def test_transformer_samples_on_a_fresh_model():
    """`Seq2SeqTransformer.translate` with a seeded keras-hub sampler works fresh and equals the called model's."""
    import keras_hub

    def sample(model):
        return model.translate(sources, 5, START, END,
                               sampler=keras_hub.samplers.TopKSampler(k=3, seed=4))

    assert_same(fresh_and_called(transformer, sample))


@settings(max_examples=3)
@given(sizes)
def test_transformer_scores_and_cross_attention_on_a_fresh_model(size):
    """`score` and `cross_attention_scores` work fresh and equal the called model's results."""
    decoder_ids = kt.models.shift_right(targets, START)
    assert_same(fresh_and_called(
        transformer, lambda m: m.cross_attention_scores(sources, decoder_ids), **size
    ))
    assert_same(fresh_and_called(transformer, lambda m: m.score(sources, targets), **size))


# ------------------------------------------------------------ RNNAttentionSeq2Seq


@settings(max_examples=3)
@given(st.sampled_from([8, 12]), st.sampled_from([None, 1, 3]))
def test_rnn_translates_on_a_fresh_model(hidden_dim, beam_size):
    """`RNNAttentionSeq2Seq.translate` (greedy or beam) works fresh and equals the called model's."""
    assert_same(fresh_and_called(
        rnn, lambda m: m.translate(sources, 5, START, END, beam_size=beam_size),
        hidden_dim=hidden_dim,
    ))


def test_rnn_scores_and_alignments_on_a_fresh_model():
    """`RNNAttentionSeq2Seq.score` and `.alignments` work fresh and equal the called model's."""
    decoder_ids = kt.models.shift_right(targets, START)
    assert_same(fresh_and_called(rnn, lambda m: m.score(sources, targets)))
    assert_same(fresh_and_called(rnn, lambda m: m.alignments(sources, decoder_ids)))


# ------------------------------------------------------------------- Decoder


@settings(max_examples=4)
@given(sizes, st.integers(1, 3), st.integers(1, 6))
def test_fresh_decoder_stack_builds_its_cache_from_hidden_dim(size, batch, length):
    """A fresh `Decoder` given `hidden_dim` makes the same cache as a called one."""
    def make():
        return kt.layers.Decoder(size["num_layers"], num_heads=size["num_heads"],
                                 intermediate_dim=16)

    fresh = make().init_cache(batch, length, hidden_dim=size["hidden_dim"])
    called = make()
    called(np.zeros((1, 2, size["hidden_dim"]), "float32"))
    expected = called.init_cache(batch, length)
    assert fresh.shape == expected.shape
    assert fresh.dtype == expected.dtype
    np.testing.assert_array_equal(to_numpy(fresh), 0)


def test_fresh_decoder_stack_without_hidden_dim_raises():
    """A fresh `Decoder` asked for a cache without `hidden_dim` raises a ValueError naming it."""
    decoder = kt.layers.Decoder(1, num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match="hidden_dim"):
        decoder.init_cache(1, 4)


# --------------------------------------------------- every model: counts, summary


def bert(**kwargs):
    return kt.models.BERT(vocab_size=VOCAB, max_length=MAX_LENGTH, num_layers=2, num_heads=2,
                          hidden_dim=8, intermediate_dim=16, **kwargs)


ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
bert_inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids)}
masked_inputs = {**bert_inputs, "mask_positions": np.array([[1, 2], [0, 1]], "int32")}
electra_inputs = {**masked_inputs, "mask_ids": np.array([[4, 5], [6, 7]], "int32"),
                  "mask_weights": np.ones((2, 2), "float32")}

# Each model family, as (make, the inputs of a forward call).
FAMILIES = {
    "gpt": (gpt, np.ones((1, 3), "int32")),
    "transformer": (transformer, seq2seq_inputs()),
    "rnn": (rnn, seq2seq_inputs()),
    "bert": (bert, bert_inputs),
    "albert": (lambda: bert(embedding_dim=4, share_weights=True), bert_inputs),
    "classifier": (lambda: kt.models.BertClassifier(bert(), num_classes=3), bert_inputs),
    "span_qa": (lambda: kt.models.BertSpanQA(bert()), bert_inputs),
    "masked_lm": (lambda: kt.models.BertMaskedLM(bert()), masked_inputs),
    "pretrainer": (lambda: kt.models.BertPretrainer(bert()), masked_inputs),
    "electra": (lambda: kt.models.ElectraPretrainer(
        kt.models.BERT(vocab_size=VOCAB, max_length=MAX_LENGTH, num_layers=1, num_heads=1,
                       hidden_dim=4, intermediate_dim=8, embedding_dim=8), bert()),
        electra_inputs),
    "distiller": (lambda: kt.models.Distiller(
        kt.models.BertSpanQA(kt.models.distil_student(bert())), kt.models.BertSpanQA(bert())),
        bert_inputs),
}


def weight_count(model):
    """Parameters counted from the variables themselves, not by Keras."""
    return sum(int(np.prod(v.shape)) for v in model.weights)


def total_params_in_summary(model):
    printed = []
    model.summary(print_fn=lambda text, **_: printed.append(text))
    return int(re.search(r"Total params: ([\d,]+)", "\n".join(printed))[1].replace(",", ""))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_fresh_model_counts_the_weights_a_call_builds(family):
    """`count_params()` and `summary()` on a model only constructed count the weights a forward call builds."""
    make, inputs = FAMILIES[family]
    called = make()
    called(inputs)
    expected = weight_count(called)
    assert make().count_params() == expected
    assert total_params_in_summary(make()) == expected
    assert total_params_in_summary(called) == expected  # the summary of a called model works too


# ELECTRA's outputs that follow the generator's sampled tokens, not only its weights.
SAMPLED_OUTPUTS = ("corrupted_ids", "rtd_labels", "rtd_logits")


def outputs(model, inputs):
    """Every output of a call that the weights alone decide, in a fixed order, as float64 NumPy."""
    result = model(inputs)
    if isinstance(result, dict):
        result = {k: v for k, v in result.items() if k not in SAMPLED_OUTPUTS}
    return [to_numpy(t).astype("float64") for t in keras.tree.flatten(result)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_fresh_model_saves_and_loads_its_weights(family, tmp_path):
    """Weights saved from a model only constructed load into another such model, and a `.keras` file of it keeps them."""
    make, inputs = FAMILIES[family]
    keras.utils.set_random_seed(0)
    saved = make()
    saved.save_weights(tmp_path / "fresh.weights.h5")
    saved.save(tmp_path / "fresh.keras")
    keras.utils.set_random_seed(1)  # the loaded models would draw other weights
    restored = make()
    restored.load_weights(tmp_path / "fresh.weights.h5")
    loaded = keras.saving.load_model(tmp_path / "fresh.keras")
    expected = outputs(saved, inputs)
    for model in (restored, loaded):
        for got, want in zip(outputs(model, inputs), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

"""Bad input is a `ValueError` whose message names the offending argument."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import keras_transformer as kt
from keras_transformer import layers as L
from keras_transformer import masks
from keras_transformer.ops import scaled_dot_product_attention as sdpa
from tests.helpers import (
    MAX_BATCH,
    WIDTH,
    decoder,
    decoder_block,
    encoder_block,
    self_attention,
    to_numpy,
)

shapes = st.tuples(st.integers(1, MAX_BATCH), st.integers(2, 6), st.integers(2, 6))


def zeros(*shape, dtype="float32"):
    return np.zeros(shape, dtype)


@given(shapes, st.sampled_from([2, 3, 5]))
def test_wrong_rank_names_the_argument(shape, rank):
    """Inputs of the wrong rank raise a ValueError naming the argument and its expected axes."""
    b, t, _ = shape
    bad = zeros(*([b, t, 2, 2, 2][:rank]))
    with pytest.raises(ValueError, match="`query`"):
        sdpa(bad, zeros(b, t, 1, 2), zeros(b, t, 1, 2))
    if rank != 3:
        with pytest.raises(ValueError, match="`query`"):
            self_attention(1, 4)(bad)
        with pytest.raises(ValueError, match="`inputs`"):
            encoder_block(1)(bad)
        with pytest.raises(ValueError, match="`inputs`"):
            L.SinusoidalPositionEncoding()(bad)
    ids = np.zeros((b, t, 2) if rank != 3 else (b,), "int32")
    with pytest.raises(ValueError, match="`token_ids`"):
        L.TokenAndPositionEmbedding(5, 8, 4)(ids)
    with pytest.raises(ValueError, match="`token_ids`"):
        masks.padding_mask(ids)
    with pytest.raises(ValueError, match="`padding_mask`"):
        encoder_block(1)(zeros(b, t, WIDTH), padding_mask=np.ones((b, t, t), bool))


@given(shapes, st.sampled_from(["transposed", "rank5", "rank1", "wrong batch"]))
def test_unbroadcastable_mask_is_rejected(shape, kind):
    """A mask that does not broadcast to (B, N, T, S) raises a ValueError naming the attention mask and the accepted shapes."""
    b, t, s = shape
    assume(t != s)
    mask = {"transposed": np.ones((b, s, t), bool), "rank5": np.ones((b, 1, 1, t, s), bool),
            "rank1": np.ones((s,), bool), "wrong batch": np.ones((b + 1, t, s), bool)}[kind]
    with pytest.raises(ValueError, match="attention mask"):
        sdpa(zeros(b, t, 1, 2), zeros(b, s, 1, 2), zeros(b, s, 1, 2), mask=mask)
    with pytest.raises(ValueError, match="attention mask"):
        L.MultiHeadAttention(1, 2)(zeros(b, t, 4), zeros(b, s, 4), attention_mask=mask)


@given(shapes)
def test_float_mask_is_rejected(shape):
    """A float mask is ambiguous (additive or multiplicative?) and raises a ValueError that says True = may attend."""
    b, t, s = shape
    with pytest.raises(ValueError, match="True = may attend"):
        sdpa(zeros(b, t, 1, 2), zeros(b, s, 1, 2), zeros(b, s, 1, 2), mask=np.ones((b, t, s)))


@given(st.integers(1, 4), st.integers(1, 16))
def test_heads_must_divide_the_width(num_heads, width):
    """A block whose num_heads does not divide the input width raises a ValueError naming hidden_dim and num_heads."""
    assume(width % num_heads)
    for layer in (L.EncoderBlock(num_heads, 8), L.DecoderBlock(num_heads, 8)):
        with pytest.raises(ValueError, match="`hidden_dim`.*`num_heads`"):
            layer(zeros(1, 3, width))


@given(st.integers(1, 20), st.sampled_from([-3, -1, 0, 1, 5]))
def test_token_ids_outside_the_vocabulary_are_rejected(vocab_size, offset):
    """Eager token ids outside [0, vocab_size) raise a ValueError naming vocab_size."""
    bad = vocab_size + offset if offset >= 0 else offset
    ids = np.array([[0, bad]], "int32")
    with pytest.raises(ValueError, match="vocab_size"):
        L.TokenAndPositionEmbedding(vocab_size, 8, 4)(ids)


@given(shapes, st.sampled_from([-1, 1]), st.sampled_from(
    ["Encoder", "EncoderBlock", "reversible Encoder", "Decoder self", "Decoder cross",
     "query_mask", "value_mask"]))
def test_padding_mask_of_another_length_names_the_argument(shape, off_by, layer):
    """A padding mask whose length is not its sequence's raises a ValueError naming the mask and the length it needs."""
    b, t, s = shape
    x, memory = zeros(b, t, WIDTH), zeros(b, s, WIDTH)
    blocks = dict(num_heads=2, intermediate_dim=8)
    target = s if layer in ("Decoder cross", "value_mask") else t
    bad = np.ones((b, target + off_by), bool)
    name, call = {
        "Encoder": ("padding_mask", lambda: L.Encoder(1, **blocks)(x, padding_mask=bad)),
        "EncoderBlock": ("padding_mask", lambda: L.EncoderBlock(**blocks)(x, padding_mask=bad)),
        "reversible Encoder": ("padding_mask",
                               lambda: L.Encoder(1, reversible=True, **blocks)(x, padding_mask=bad)),
        "Decoder self": ("decoder_padding_mask",
                         lambda: L.Decoder(1, **blocks)(x, memory, decoder_padding_mask=bad)),
        "Decoder cross": ("encoder_padding_mask",
                          lambda: L.Decoder(1, **blocks)(x, memory, encoder_padding_mask=bad)),
        "query_mask": ("query_mask", lambda: L.MultiHeadAttention(2, 4)(x, query_mask=bad)),
        "value_mask": ("value_mask", lambda: L.MultiHeadAttention(2, 4)(x, memory, value_mask=bad)),
    }[layer]
    with pytest.raises(ValueError, match=f"`{name}` must have shape \\(batch, {target}\\)"):
        call()


@pytest.mark.parametrize("lengths, name", [((-1,), "query_length"), ((2, -3), "key_length")])
def test_negative_causal_mask_lengths_are_rejected(lengths, name):
    """`causal_mask` with a negative length raises a ValueError naming that length."""
    with pytest.raises(ValueError, match=f"`{name}` must be >= 0"):
        masks.causal_mask(*lengths)


def test_segment_ids_outside_the_segments_name_num_segments():
    """A segment id past the model's segments raises a ValueError naming num_segments, not the vocabulary."""
    bert = kt.models.BERT(vocab_size=11, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                          intermediate_dim=16)
    ids = np.array([[2, 5, 6, 3]])
    with pytest.raises(ValueError, match=r"`segment_ids` must lie in \[0, num_segments\) = \[0, 2\)"):
        bert({"token_ids": ids, "segment_ids": np.array([[0, 1, 2, 0]])})
    with pytest.raises(ValueError, match=r"got a single input of shape \(1, 4\).*token_ids"):
        bert(ids)


@given(st.integers(1, 3), st.integers(2, 6), st.sampled_from([0, 1]), st.sampled_from([-1, 1]))
def test_bert_segments_of_another_shape_name_both_inputs(batch, length, axis, change):
    """`segment_ids` whose batch or length differs from `token_ids`' raise a ValueError naming both shapes."""
    bert = kt.models.BERT(vocab_size=11, max_length=8, num_layers=1, num_heads=2, hidden_dim=8,
                          intermediate_dim=16)
    segment_shape = [batch, length]
    segment_shape[axis] += change
    with pytest.raises(ValueError, match=(
            rf"`segment_ids` must have the shape of `token_ids`, \(batch, length\): "
            rf"\({batch}, {length}\); got \({segment_shape[0]}, {segment_shape[1]}\)")):
        bert({"token_ids": np.full((batch, length), 2), "segment_ids": np.zeros(segment_shape, "int32")})


@pytest.mark.parametrize("call", [
    lambda: kt.losses.SmoothedSparseCrossentropy(0.1)(np.array([[9, 1]]), zeros(1, 2, 8)),
    lambda: kt.losses.SmoothedSparseCrossentropy(0.1)(np.array([[-1, 1]]), zeros(1, 2, 8)),
])
def test_labels_outside_the_classes_are_rejected(call):
    """Labels outside [0, number of classes) raise a ValueError naming `y_true` instead of a backend gather error."""
    with pytest.raises(ValueError, match="`y_true` must lie in \\[0, number of classes\\)"):
        call()


@given(st.integers(2, 8), st.sampled_from([-2, -1, 0, 3]))
def test_mask_positions_outside_the_sequence_are_rejected(length, offset):
    """Eager mask_positions outside [0, length) of the sequences raise a ValueError naming mask_positions."""
    bad = length + offset if offset >= 0 else offset
    backbone = kt.models.BERT(vocab_size=11, max_length=8, num_layers=1, num_heads=2,
                              hidden_dim=8, intermediate_dim=16)
    head = kt.models.BertMaskedLMHead(backbone.embeddings.token_embedding)
    with pytest.raises(ValueError, match="`mask_positions`"):
        head(zeros(1, length, 8), np.array([[0, bad]], "int32"))


@given(st.integers(1, 6), st.integers(1, 4), st.integers(-3, 8))
def test_cache_index_out_of_range_is_rejected(cache_length, t, index):
    """A cache write that does not fit, index < 0 or index + T > cache length, raises a ValueError naming cache_update_index."""
    assume(index < 0 or index + t > cache_length)
    layer = self_attention(1, 4)
    cache = zeros(1, 2, cache_length, 1, 4)
    with pytest.raises(ValueError, match="`cache_update_index`"):
        layer(zeros(1, t, WIDTH), cache=cache, cache_update_index=index, use_causal_mask=True)


@given(st.sampled_from([(1, 2, 4, 2, 4), (1, 3, 4, 1, 4), (1, 2, 4, 1, 3), (2, 4, 1, 4)]))
def test_bad_cache_shape_is_rejected(shape):
    """A cache that is not (batch, 2, max_length, num_heads, key_dim) raises a ValueError naming `cache` and the expected shape."""
    with pytest.raises(ValueError, match="`cache` must have shape"):
        self_attention(1, 4)(zeros(1, 1, WIDTH), cache=zeros(*shape), cache_update_index=0)
    with pytest.raises(ValueError, match="`cache` must have shape"):
        decoder(1)(zeros(1, 1, WIDTH), cache=zeros(1, *shape), cache_update_index=0)


@given(shapes)
def test_causal_with_unequal_lengths_is_rejected(shape):
    """`is_causal` / `use_causal_mask` with T != S and no cache offset raises a ValueError instead of aligning top-left."""
    b, t, s = shape
    assume(t != s)
    with pytest.raises(ValueError, match="`is_causal=True`"):
        sdpa(zeros(b, t, 1, 2), zeros(b, s, 1, 2), zeros(b, s, 1, 2), is_causal=True)
    with pytest.raises(ValueError, match="`use_causal_mask=True`"):
        L.MultiHeadAttention(1, 2)(zeros(b, t, 4), zeros(b, s, 4), use_causal_mask=True)


def test_decoder_block_must_be_called_consistently():
    """A block built without cross-attention, then given an encoder sequence, raises a ValueError saying how it was built."""
    with pytest.raises(ValueError, match="without cross-attention"):
        decoder_block(1)(zeros(1, 2, WIDTH), zeros(1, 3, WIDTH))


def test_cross_attention_scores_need_an_encoder_sequence_and_no_cache():
    """Asking a decoder block for cross-attention scores without an encoder sequence is a ValueError saying what it needs."""
    block = L.DecoderBlock(num_heads=2, intermediate_dim=8)
    with pytest.raises(ValueError, match="return_cross_attention_scores"):
        block(np.zeros((1, 3, 4), "float32"), return_cross_attention_scores=True)


@given(st.integers(-6, -1), st.sampled_from(["PositionEmbedding", "learned", "sinusoidal"]))
def test_negative_start_index_is_rejected(start_index, layer):
    """A negative integer `start_index` raises a ValueError naming it instead of wrapping to the table's end."""
    call = {
        "PositionEmbedding": lambda: L.PositionEmbedding(10)(zeros(1, 3, 4), start_index=start_index),
        "learned": lambda: L.TokenAndPositionEmbedding(10, 10, 4)(
            np.zeros((1, 3), "int32"), start_index=start_index),
        "sinusoidal": lambda: L.TokenAndPositionEmbedding(10, 10, 4, position="sinusoidal")(
            np.zeros((1, 3), "int32"), start_index=start_index),
    }[layer]
    with pytest.raises(ValueError, match=f"`start_index` must be >= 0.*got {start_index}"):
        call()


@given(shapes, st.sampled_from([-1, 1]), st.booleans())
def test_additive_attention_mask_of_another_length_names_mask(shape, off_by, single):
    """An AdditiveAttention `mask` that is not (batch, S) raises a ValueError naming `mask` and the length it needs."""
    b, t, s = shape
    query = zeros(b, 4) if single else zeros(b, t, 4)
    with pytest.raises(ValueError, match=f"`mask` must have shape \\(batch, {s}\\)"):
        L.AdditiveAttention(4)(query, zeros(b, s, 4), mask=np.ones((b, s + off_by), bool))


@given(st.integers(1, MAX_BATCH), st.integers(1, MAX_BATCH))
def test_additive_attention_query_and_values_batches_must_agree(query_batch, values_batch):
    """AdditiveAttention with static query and values batches that differ raises a ValueError naming both sizes."""
    assume(query_batch != values_batch)
    with pytest.raises(ValueError, match=f"`query` and `values` must have the same batch size.*"
                                         f"got {query_batch} and {values_batch}"):
        L.AdditiveAttention(4)(zeros(query_batch, 4), zeros(values_batch, 3, 4))


def test_additive_attention_project_keys_needs_a_built_layer():
    """`project_keys` on an AdditiveAttention never built raises a ValueError saying to call or build it first."""
    with pytest.raises(ValueError, match="`project_keys` needs a built layer"):
        L.AdditiveAttention(4).project_keys(zeros(2, 3, 4))


@pytest.mark.parametrize("batch, source_length", [(0, 3), (2, 0), (0, 0)])
@pytest.mark.parametrize("single", [True, False])
def test_additive_attention_takes_empty_inputs(batch, source_length, single):
    """An empty batch or a length-0 source gives outputs of the right shape; a length-0 source gives a zero context."""
    query = zeros(batch, 4) if single else zeros(batch, 2, 4)
    context, weights = L.AdditiveAttention(4)(query, np.ones((batch, source_length, 5), "float32"))
    prefix = (batch,) if single else (batch, 2)
    assert tuple(context.shape) == (*prefix, 5)
    assert tuple(weights.shape) == (*prefix, source_length)
    if source_length == 0:
        assert not to_numpy(context).any()


@given(shapes, st.sampled_from([0, 1, 2]))
def test_reversible_streams_must_have_one_shape(shape, axis):
    """A ReversibleBlock given streams x1 and x2 of different shapes raises a ValueError naming both shapes."""
    x1 = zeros(*shape[:2], WIDTH)
    x2_shape = [*shape[:2], WIDTH]
    x2_shape[axis] += 1
    with pytest.raises(ValueError, match="`x2` must have the shape of `x1`"):
        L.ReversibleBlock(num_heads=2, intermediate_dim=8)(x1, zeros(*x2_shape))


@pytest.mark.parametrize("built", ["never called", "self-attention only"])
@pytest.mark.parametrize("stack", [True, False])
def test_cross_attention_cache_needs_a_decoder_built_for_cross_attention(built, stack):
    """`compute_cross_attention_cache` on a decoder never called, or built without cross-attention, raises a ValueError saying so."""
    layer = (L.Decoder(1, num_heads=2, intermediate_dim=8) if stack
             else L.DecoderBlock(num_heads=2, intermediate_dim=8))
    if built == "self-attention only":
        layer(zeros(1, 2, WIDTH))
    with pytest.raises(ValueError, match="needs a decoder built for cross-attention"):
        layer.compute_cross_attention_cache(zeros(1, 3, WIDTH))


def tiny_gpt():
    return kt.models.GPT(20, 10, 1, 2, hidden_dim=8, intermediate_dim=16, pad_id=None)


@pytest.mark.parametrize("call, name", [
    (lambda g, p: g.generate(p, 2.0), "max_new_tokens"),
    (lambda g, p: g.generate_long(p, 2, context=2.5), "context"),
    (lambda g, p: g.generate(p, 2, stop_token_ids=2.0), "stop_token_ids"),
    (lambda g, p: g.generate(p, 2, stop_token_ids=[3, 20]), "stop_token_ids"),
    (lambda g, p: g.generate(p, 2, stop_token_ids="3"), "stop_token_ids"),
])
def test_gpt_generation_arguments_are_checked(call, name):
    """A non-integer count or context, or stop ids that are not ids of the vocabulary, raise a ValueError naming the argument."""
    with pytest.raises(ValueError, match=f"`{name}` must"):
        call(tiny_gpt(), np.ones((1, 2), "int32"))


def test_gpt_generate_takes_a_single_stop_token_id():
    """`generate(..., stop_token_ids=id)` accepts one id and generates as with `[id]`."""
    gpt, prompt = tiny_gpt(), np.ones((2, 2), "int32")
    np.testing.assert_array_equal(gpt.generate(prompt, 3, stop_token_ids=5),
                                  gpt.generate(prompt, 3, stop_token_ids=[5]))


def test_gpt_generate_on_an_empty_batch_returns_an_empty_array():
    """`generate` on an empty prompt batch returns an empty int32 array of the output's length."""
    out = tiny_gpt().generate(np.zeros((0, 2), "int32"), 3)
    assert out.shape == (0, 5) and out.dtype == np.int32


@pytest.mark.parametrize("return_attention_scores", [False, True])
def test_lsh_attention_takes_an_empty_batch(return_attention_scores):
    """LSHAttention on an empty batch returns empty outputs (and scores) of the right shape."""
    layer = L.LSHAttention(num_heads=2, key_dim=4, num_buckets=4, num_hashes=2, chunk_length=4)
    out = layer(zeros(0, 8, WIDTH), return_attention_scores=return_attention_scores)
    if return_attention_scores:
        out, scores = out
        assert tuple(scores.shape) == (0, 2, 8, 8)
    assert tuple(out.shape) == (0, 8, WIDTH)


@given(st.integers(1, 4), st.integers(1, 16))
def test_models_check_that_heads_divide_the_width_at_construction(num_heads, hidden_dim):
    """GPT and Seq2SeqTransformer whose num_heads does not divide hidden_dim raise a ValueError at construction."""
    assume(hidden_dim % num_heads)
    with pytest.raises(ValueError, match="`hidden_dim`.*`num_heads`"):
        kt.models.GPT(20, 10, 1, num_heads, hidden_dim=hidden_dim, intermediate_dim=16)
    with pytest.raises(ValueError, match="`hidden_dim`.*`num_heads`"):
        kt.models.Seq2SeqTransformer(20, 22, 8, 1, num_heads, hidden_dim, 16)


def test_seq2seq_activation_is_checked_at_construction():
    """A Seq2SeqTransformer `activation` unknown to Keras raises a ValueError naming it at construction."""
    with pytest.raises(ValueError, match="`activation` must be a Keras activation"):
        kt.models.Seq2SeqTransformer(20, 22, 8, 1, 2, 8, 16, activation="nope")


@pytest.mark.parametrize("source_length, target_length, name", [
    (0, 3, "encoder_token_ids"), (3, 0, "decoder_token_ids")])
def test_rnn_sequences_of_length_zero_are_rejected(source_length, target_length, name):
    """RNNAttentionSeq2Seq given a length-0 source or target raises a ValueError naming it."""
    model = kt.models.RNNAttentionSeq2Seq(20, 20, embedding_dim=8, hidden_dim=8)
    with pytest.raises(ValueError, match=f"`{name}` must hold at least one token"):
        model({"encoder_token_ids": np.ones((2, source_length), "int32"),
               "decoder_token_ids": np.ones((2, target_length), "int32")})


def test_rnn_empty_batch_gives_empty_logits():
    """RNNAttentionSeq2Seq on an empty batch returns empty logits and translations of the right shape."""
    model = kt.models.RNNAttentionSeq2Seq(20, 20, embedding_dim=8, hidden_dim=8)
    source = np.ones((0, 3), "int32")
    logits = model({"encoder_token_ids": source, "decoder_token_ids": np.ones((0, 4), "int32")})
    assert tuple(logits.shape) == (0, 4, 20)
    assert model.translate(source, max_length=3).shape == (0, 3)


# Every way token ids (or positions) enter a model, as `(name, call(ids))`.
VOCAB_IDS = 20


def _gpt():
    return kt.models.GPT(VOCAB_IDS, 8, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)


def _seq2seq():
    return kt.models.Seq2SeqTransformer(VOCAB_IDS, VOCAB_IDS, 8, num_layers=1, num_heads=2,
                                        hidden_dim=8, intermediate_dim=16)


def _bert():
    return kt.models.BERT(vocab_size=VOCAB_IDS, max_length=8, num_layers=1, num_heads=2,
                          hidden_dim=8, intermediate_dim=16)


ID_ENTRY_POINTS = {
    "token_ids": lambda ids: L.TokenAndPositionEmbedding(VOCAB_IDS, 8, 4)(ids),
    "gpt": lambda ids: _gpt()(ids),
    "prompt_ids": lambda ids: _gpt().generate(ids, 2),
    "bert": lambda ids: _bert()({"token_ids": ids, "segment_ids": np.zeros(ids.shape, "int32")}),
    "mask_positions": lambda ids: kt.models.BertMaskedLM(_bert())(
        {"token_ids": np.ones(ids.shape, "int32"), "segment_ids": np.zeros(ids.shape, "int32"),
         "mask_positions": ids}),
    "encoder_token_ids": lambda ids: _seq2seq()(
        {"encoder_token_ids": ids, "decoder_token_ids": np.ones(ids.shape, "int32")}),
    "translate": lambda ids: _seq2seq().translate(ids, 3),
    "target_ids": lambda ids: _seq2seq().score(np.ones(ids.shape, "int32"), ids),
}


@pytest.mark.parametrize("entry", sorted(ID_ENTRY_POINTS))
@given(st.sampled_from(["float32", "float64", "bool"]), st.integers(1, 2), st.integers(1, 3))
def test_token_ids_that_are_not_integers_raise(entry, dtype, batch, length):
    """Ids of a float (or bool) dtype raise a ValueError at every entry point, even whole-valued ones, instead of being truncated."""
    ids = np.ones((batch, length), dtype)
    with pytest.raises(ValueError, match="must hold integers; got dtype"):
        ID_ENTRY_POINTS[entry](ids)


@given(st.lists(st.integers(1, 3), min_size=2, max_size=2, unique=True), st.integers(1, 4))
def test_inputs_of_different_batch_sizes_raise(batches, length):
    """An encoder and a decoder input (or a query and its values) of different batch sizes raise a ValueError naming both, instead of broadcasting."""
    source_batch, target_batch = batches
    source = np.ones((source_batch, length), "int32")
    target = np.ones((target_batch, length), "int32")
    model = _seq2seq()
    with pytest.raises(ValueError, match="`encoder_token_ids` and `decoder_token_ids`.*same batch"):
        model({"encoder_token_ids": source, "decoder_token_ids": target})
    with pytest.raises(ValueError, match="`encoder_token_ids` and `decoder_token_ids`.*same batch"):
        model.score(source, target)
    with pytest.raises(ValueError, match="`query` and `value`.*same batch"):
        model.cross_attention_scores(source, target)
    with pytest.raises(ValueError, match="`query` and `value`.*same batch"):
        decoder(1, cross=True)(zeros(target_batch, length, WIDTH), zeros(source_batch, length, WIDTH))


@given(st.sampled_from(["nope", "relux", 3]))
def test_an_unknown_activation_raises_at_construction(activation):
    """BERT and Seq2SeqTransformer refuse an activation Keras does not know when built, not at their first call."""
    with pytest.raises(ValueError, match="`activation` must be a Keras activation"):
        kt.models.BERT(vocab_size=VOCAB_IDS, max_length=8, num_layers=1, num_heads=2,
                       hidden_dim=8, intermediate_dim=16, activation=activation)
    with pytest.raises(ValueError, match="`activation` must be a Keras activation"):
        kt.models.Seq2SeqTransformer(VOCAB_IDS, VOCAB_IDS, 8, num_layers=1, num_heads=2,
                                     hidden_dim=8, intermediate_dim=16, activation=activation)


@given(st.integers(1, 3))
def test_bert_refuses_sequences_of_length_zero(batch):
    """A BERT input of length 0 raises a ValueError naming token_ids (its pooler reads position 0)."""
    ids = np.zeros((batch, 0), "int32")
    with pytest.raises(ValueError, match="`token_ids` must hold at least one token"):
        _bert()({"token_ids": ids, "segment_ids": ids})


def test_translation_without_a_length_limit_needs_max_length():
    """An RNN model, which has no length limit, asked to translate without `max_length` says that it needs one."""
    rnn = kt.models.RNNAttentionSeq2Seq(VOCAB_IDS, VOCAB_IDS, embedding_dim=4, hidden_dim=4)
    with pytest.raises(ValueError, match="`max_length` is required: this model has no length limit"):
        rnn.translate(np.ones((1, 3), "int32"))

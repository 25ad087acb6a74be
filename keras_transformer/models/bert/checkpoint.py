"""Load a Hugging Face BERT checkpoint (`config.json` + `model.safetensors`) into `BERT`.

Only the `safetensors` format is read, with `safetensors.numpy.load_file`:
it holds plain arrays, so loading runs no code from the file (unlike the
pickled `pytorch_model.bin`, which this module never opens).

Hugging Face stores a Linear layer's weight as `(out, in)`; Keras kernels are
`(in, out)`. Our self-attention fuses Q, K and V into one `qkv` kernel
`(d, 3, heads, head_dim)`, so the three `query/key/value` weights are
transposed, split into heads and stacked along axis 1.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import keras
import numpy as np

if TYPE_CHECKING:
    from keras_transformer.models.bert.backbone import BERT

_BertT = TypeVar("_BertT", bound="BERT")
_TaskT = TypeVar("_TaskT", bound=keras.Model)

#: Weights of heads: loaded by the task model that holds the head
#: (`BertPretrainer`, `BertClassifier`, `BertSpanQA`), otherwise skipped with a warning.
HEAD_PREFIXES = ("cls.", "classifier.", "qa_outputs.")
#: The MLM decoder: Hugging Face ties its weight to the word embeddings and its
#: bias to `cls.predictions.bias`, so a file holds copies (or only these names).
TIED = {
    "cls.predictions.decoder.weight": "embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}
#: Prefixes that task checkpoints put before the backbone's weights.
MODEL_PREFIXES = ("bert.",)
#: Hugging Face activations and ours.
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}

def read_hf_config(folder: str | os.PathLike) -> dict:
    """The raw `config.json` of a Hugging Face model folder.

    Example:
    >>> import json, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = (Path(folder) / "config.json").write_text(json.dumps({"model_type": "bert"}))
    >>> read_hf_config(folder)
    {'model_type': 'bert'}
    """
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"No `config.json` in {folder}: not a Hugging Face model folder.")
    return json.loads(path.read_text())


def read_hf_bert_config(folder: str | os.PathLike) -> dict:
    """`BERT` constructor arguments from a Hugging Face BERT `config.json`.

    Example:
    >>> import json, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> sizes = {"vocab_size": 99, "max_position_embeddings": 20, "num_hidden_layers": 2,
    ...          "num_attention_heads": 4, "hidden_size": 32, "intermediate_size": 37}
    >>> _ = (Path(folder) / "config.json").write_text(json.dumps(sizes))
    >>> config = read_hf_bert_config(folder)
    >>> config["num_layers"], config["hidden_dim"], config["activation"]
    (2, 32, 'gelu')
    """
    path = Path(folder) / "config.json"
    config = read_hf_config(folder)
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(
            f"{path} describes a {model_type!r} model; `BERT.from_hf_checkpoint` "
            "reads BERT checkpoints (model_type 'bert') only."
        )
    position = config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise ValueError(
            f"{path} uses position_embedding_type={position!r}; only 'absolute' "
            "(learned) positions are supported."
        )
    act = config.get("hidden_act", "gelu")
    if act not in ACTIVATIONS:
        raise ValueError(
            f"{path} uses hidden_act={act!r}; supported: {sorted(ACTIVATIONS)}."
        )
    keys = {
        "vocab_size": "vocab_size",
        "max_length": "max_position_embeddings",
        "num_layers": "num_hidden_layers",
        "num_heads": "num_attention_heads",
        "hidden_dim": "hidden_size",
        "intermediate_dim": "intermediate_size",
    }
    missing = [hf for hf in keys.values() if hf not in config]
    if missing:
        raise ValueError(f"{path} lacks the keys {missing}.")
    return {
        **{ours: config[hf] for ours, hf in keys.items()},
        "num_segments": config.get("type_vocab_size", 2),
        "dropout": config.get("hidden_dropout_prob", 0.1),
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
        "pad_id": config.get("pad_token_id", 0),
        "activation": ACTIVATIONS[act],
        "initializer_range": config.get("initializer_range", 0.02),
    }


def read_safetensors(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of `model.safetensors` in `folder`, names normalized (see `normalize_name`).

    A tied MLM decoder stored under its own names only (`TIED`) also fills
    the names it is tied to.

    Example:
    >>> import tempfile
    >>> from safetensors.numpy import save_file
    >>> folder = tempfile.mkdtemp()
    >>> save_file({"bert.embeddings.LayerNorm.gamma": np.ones(4, "float32")},
    ...           folder + "/model.safetensors")
    >>> sorted(read_safetensors(folder))
    ['embeddings.LayerNorm.weight']
    """
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        others = sorted(p.name for p in Path(folder).glob("*.bin"))
        hint = (
            f" (found {others}: pickled PyTorch files are not loaded; convert them "
            "to safetensors)" if others else ""
        )
        raise FileNotFoundError(f"No `model.safetensors` in {folder}{hint}.")
    from safetensors.numpy import load_file

    arrays = {normalize_name(k): v for k, v in load_file(str(path)).items()}
    for copy, kept in TIED.items():  # a file may keep only one name of a tied pair
        if kept not in arrays and copy in arrays:
            arrays[kept] = arrays[copy]
    return arrays


def normalize_name(name: str) -> str:
    """Drop a task prefix (`bert.`) and rename old-style `LayerNorm.gamma/beta`.

    Example:
    >>> normalize_name("bert.encoder.layer.0.output.LayerNorm.gamma")
    'encoder.layer.0.output.LayerNorm.weight'
    """
    for prefix in MODEL_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


def _same(w):
    return w


def _transpose(w):
    return w.T


def bert_weight_map(model: BERT) -> list:
    """`[(variable, [hf names], combine)]`: how each of `model`'s weights is made from HF arrays.

    Example:
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=50, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> bert.build({"token_ids": (None, None), "segment_ids": (None, None)})
    >>> targets = bert_weight_map(bert)
    >>> targets[0][1]
    ['embeddings.word_embeddings.weight']
    >>> [name.split(".")[-2] for name in targets[6][1]]  # Q, K and V make one kernel
    ['query', 'key', 'value']
    """
    d, n = model.hidden_dim, model.num_heads
    h = d // n
    emb = model.embeddings
    targets = [
        (emb.token_embedding.embeddings, ["embeddings.word_embeddings.weight"], _same),
        (emb.position_embedding.embeddings, ["embeddings.position_embeddings.weight"],
         lambda w: w[: model.max_length]),
    ]
    if emb.segment_embedding is not None:
        targets.append(
            (emb.segment_embedding.embeddings, ["embeddings.token_type_embeddings.weight"], _same)
        )
    targets += _norm(model.embeddings_norm, "embeddings.LayerNorm")
    for i, block in enumerate(model.encoder.blocks):
        p = f"encoder.layer.{i}."
        attention = block.self_attention
        qkv = [p + f"attention.self.{x}" for x in ("query", "key", "value")]
        targets += [
            (attention.qkv.kernel, [x + ".weight" for x in qkv],
             lambda *ws: np.stack([w.T.reshape(d, n, h) for w in ws], axis=1)),
            (attention.qkv.bias, [x + ".bias" for x in qkv],
             lambda *bs: np.stack([b.reshape(n, h) for b in bs], axis=0)),
            (attention.output_dense.kernel, [p + "attention.output.dense.weight"],
             lambda w: w.T.reshape(n, h, d)),
            (attention.output_dense.bias, [p + "attention.output.dense.bias"], _same),
            *_norm(block.self_attention_norm, p + "attention.output.LayerNorm"),
            *_dense(block.feed_forward.intermediate, p + "intermediate.dense"),
            *_dense(block.feed_forward.output_dense, p + "output.dense"),
            *_norm(block.feed_forward_norm, p + "output.LayerNorm"),
        ]
    targets += _dense(model.pooler, "pooler.dense")
    return targets


def _dense(layer, name):
    return [(layer.kernel, [name + ".weight"], _transpose), (layer.bias, [name + ".bias"], _same)]


def _norm(layer, name):
    return [(layer.gamma, [name + ".weight"], _same), (layer.beta, [name + ".bias"], _same)]


def load_bert_weights(model: BERT, arrays: dict, strict: bool = True) -> list[str]:
    """Assign HF arrays (normalized names) to a built `BERT`; return the skipped head weights.

    Raises a `ValueError` listing every unknown weight, every missing one
    (unless `strict=False`) and every shape mismatch.

    Example:
    >>> from keras_transformer.models import BERT
    >>> bert = BERT(vocab_size=50, max_length=8, num_layers=1, num_heads=2,
    ...             hidden_dim=8, intermediate_dim=16)
    >>> bert.build({"token_ids": (None, None), "segment_ids": (None, None)})
    >>> load_bert_weights(bert, {"encoder.rotary": np.zeros(3)}, strict=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: The checkpoint does not fit this BERT: unknown weights ...['encoder.rotary']...
    """
    return _assign_weights(bert_weight_map(model), arrays, strict=strict)


def _assign_weights(targets: list, arrays: dict, strict: bool = True,
                   optional: tuple = (), what: str = "this BERT") -> list[str]:
    """Assign HF arrays to the variables of `targets` (see `bert_weight_map`).

    Head weights no target uses are skipped with a warning and returned;
    `optional` names may be absent without an error or a warning (weights
    the model holds but never uses). Everything else unknown, missing
    (unless `strict=False`) or mis-shaped is a `ValueError` naming it.
    """
    used = {name for _, names, _ in targets for name in names}
    skipped = sorted(
        k for k in arrays if k.startswith(HEAD_PREFIXES) and k not in used and k not in TIED
    )
    unknown = sorted(
        k for k in arrays
        if k not in used and k not in skipped and k not in TIED and not k.endswith("position_ids")
    )
    missing = sorted(name for name in used if name not in arrays and name not in optional)
    problems = []
    if unknown:
        problems.append(f"unknown weights (not part of a BERT encoder): {unknown}")
    if missing and strict:
        problems.append(f"missing weights: {missing}")
    mismatched = []
    values = []
    for variable, names, combine in targets:
        if any(name not in arrays for name in names):
            continue
        value = np.asarray(combine(*(arrays[name] for name in names)))
        if tuple(value.shape) != tuple(variable.shape):
            sources = ", ".join(f"{name} {tuple(arrays[name].shape)}" for name in names)
            mismatched.append(
                f"{sources} make {tuple(value.shape)} for {variable.path} of shape "
                f"{tuple(variable.shape)}"
            )
        values.append((variable, value))
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched))
    if problems:
        raise ValueError(
            f"The checkpoint does not fit {what}: " + " | ".join(problems)
            + ". Check that config.json matches model.safetensors."
        )
    if missing:
        warnings.warn(
            f"Checkpoint lacks {missing}; these weights keep their random initialization.",
            stacklevel=3,
        )
    for variable, value in values:
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} head weights that the model does not hold: {skipped}. "
            "They are listed in `model.skipped_checkpoint_weights`.",
            stacklevel=3,
        )
    return skipped


def load_bert_checkpoint(cls: type[_BertT], folder: str | os.PathLike,
                         dtype: str | keras.DTypePolicy | None = None, strict: bool = True,
                         **overrides: Any) -> _BertT:
    """Build `cls` (a `BERT`) from `folder`'s config.json and load its model.safetensors.

    Example (the shipped all-MiniLM-L6-v2: 6 layers, 384 wide, a 30,522-piece vocabulary):
    >>> from keras_transformer.models import BERT, minilm_checkpoint_dir
    >>> bert = load_bert_checkpoint(BERT, minilm_checkpoint_dir())
    >>> bert.num_layers, bert.hidden_dim, bert.vocab_size, bert.count_params()
    (6, 384, 30522, 22713216)
    """
    config = {**read_hf_bert_config(folder), **overrides}
    if dtype is not None:
        config["dtype"] = dtype
    arrays = read_safetensors(folder)
    model = cls(**config)
    shapes = {"token_ids": (None, None)}
    if model.num_segments:
        shapes["segment_ids"] = (None, None)
    model.build(shapes)
    model.skipped_checkpoint_weights = tuple(load_bert_weights(model, arrays, strict=strict))
    return model


# ----------------------------------------------------------------------------- task heads

_MLM_HEAD = (
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.bias",
)

#: Per task model: the Hugging Face class whose checkpoints hold its head, and the head's weights.
TASK_HEADS = {
    "BertPretrainer": ("BertForPreTraining",
                       (*_MLM_HEAD, "cls.seq_relationship.weight", "cls.seq_relationship.bias")),
    "BertMaskedLM": ("BertForMaskedLM", _MLM_HEAD),
    "BertClassifier": ("BertForSequenceClassification", ("classifier.weight", "classifier.bias")),
    "BertSpanQA": ("BertForQuestionAnswering", ("qa_outputs.weight", "qa_outputs.bias")),
}


def _head_weight_map(model) -> list:
    """`[(variable, [hf names], combine)]` for the head of a built task model (see `TASK_HEADS`)."""
    kind = type(model).__name__
    if kind in ("BertPretrainer", "BertMaskedLM"):
        mlm, p = model.mlm_head, "cls.predictions."
        targets = [
            *_dense(mlm.transform, p + "transform.dense"),
            *_norm(mlm.norm, p + "transform.LayerNorm"),
            (mlm.output_bias, [p + "bias"], _same),
        ]
        if kind == "BertPretrainer":
            targets += _dense(model.nsp_head.dense, "cls.seq_relationship")
        return targets
    if kind == "BertClassifier":
        return _dense(model.head.dense, "classifier")
    if kind == "BertSpanQA":
        return _dense(model.head.dense, "qa_outputs")
    raise ValueError(f"No Hugging Face head is known for {kind}; expected one of {sorted(TASK_HEADS)}.")


def _check_head_present(kind: str, arrays: dict, folder) -> None:
    """Raise a `ValueError` naming the head weights `folder` lacks for task model `kind`."""
    hf_class, names = TASK_HEADS[kind]
    missing = [name for name in names if name not in arrays]
    if missing:
        raise ValueError(
            f"The checkpoint in {folder} has no {kind} head: it lacks {missing} "
            f"(a {hf_class} checkpoint holds them). To start from its encoder alone, "
            f"load it with `BERT.from_hf_checkpoint(folder)` and put a new head on it: "
            f"`{kind}(backbone, ...)`."
        )


def _classifier_arguments(config: dict, arrays: dict, num_classes=None, dropout=None) -> dict:
    """`num_classes` and `dropout` of a `BertClassifier` for a sequence-classification checkpoint.

    The number of classes is the row count of `classifier.weight`; a
    `num_classes` argument or a config `num_labels`/`id2label` that disagrees
    with it is a `ValueError`. Dropout is `classifier_dropout`, else
    `hidden_dropout_prob`, as in Hugging Face.
    """
    rows = int(arrays["classifier.weight"].shape[0])
    stated = config.get("num_labels", len(config.get("id2label", {})) or None)
    for name, value in (("num_classes", num_classes), ("config.json num_labels", stated)):
        if value is not None and value != rows:
            raise ValueError(
                f"`{name}` is {value} but the checkpoint's classifier.weight has {rows} rows "
                f"(one per class); leave num_classes out to take it from the checkpoint."
            )
    if dropout is None:
        dropout = config.get("classifier_dropout")
        if dropout is None:
            dropout = config.get("hidden_dropout_prob", 0.1)
    return {"num_classes": rows, "dropout": dropout}


def _check_decoder_tied(config: dict, arrays: dict) -> None:
    """Refuse an MLM decoder weight that differs from the word embeddings when the config unties them.

    `BertMaskedLMHead` always ties; Hugging Face does too unless
    `tie_word_embeddings` is false, and then ignores a stored copy.
    """
    decoder = arrays.get("cls.predictions.decoder.weight")
    if decoder is None or config.get("tie_word_embeddings", True):
        return
    if not np.array_equal(decoder, arrays["embeddings.word_embeddings.weight"]):
        raise ValueError(
            "The checkpoint's cls.predictions.decoder.weight differs from "
            "embeddings.word_embeddings.weight (tie_word_embeddings is false), but "
            "BertMaskedLMHead ties its output weights to the token embedding."
        )


def load_task_checkpoint(cls: type[_TaskT], folder: str | os.PathLike,
                         dtype: str | keras.DTypePolicy | None = None, strict: bool = True,
                         task_arguments: dict | None = None, **overrides: Any) -> _TaskT:
    """Build task model `cls` on a `BERT` from `folder` and load the backbone's and the head's weights.

    `task_arguments` go to `cls` (`None` values are filled from the
    checkpoint); `overrides` to the backbone.

    Example:
    >>> from keras_transformer.models import BertSpanQA
    >>> qa = load_task_checkpoint(BertSpanQA, "bert-squad/")  # doctest: +SKIP
    """
    from keras_transformer.models.bert.backbone import BERT

    kind = cls.__name__
    raw = read_hf_config(folder)
    backbone_config = {**read_hf_bert_config(folder), **overrides}
    arrays = read_safetensors(folder)
    _check_head_present(kind, arrays, folder)
    arguments = dict(task_arguments or {})
    if kind == "BertClassifier":
        arguments.update(_classifier_arguments(
            raw, arrays, arguments.get("num_classes"), arguments.get("dropout")
        ))
    if kind in ("BertPretrainer", "BertMaskedLM"):
        _check_decoder_tied(raw, arrays)
    if dtype is not None:
        backbone_config["dtype"] = arguments["dtype"] = dtype
    model = cls(BERT(**backbone_config), **arguments)
    model.ensure_built()
    # Hugging Face's span and masked-LM models have no pooler; ours holds one they never use.
    optional = () if model.reads_pooled_output else ("pooler.dense.weight", "pooler.dense.bias")
    targets = bert_weight_map(model.backbone) + _head_weight_map(model)
    skipped = tuple(_assign_weights(targets, arrays, strict, optional, what=f"this {kind}"))
    model.skipped_checkpoint_weights = model.backbone.skipped_checkpoint_weights = skipped
    return model

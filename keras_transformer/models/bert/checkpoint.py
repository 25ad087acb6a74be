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
import warnings
from pathlib import Path

import keras
import numpy as np

#: Weights of heads `BERT` does not have: skipped with a warning, never an error.
HEAD_PREFIXES = ("cls.", "classifier.", "qa_outputs.")
#: Prefixes that task checkpoints put before the backbone's weights.
MODEL_PREFIXES = ("bert.",)
#: Hugging Face activations and ours.
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}

def read_hf_bert_config(folder) -> dict:
    """`BERT` constructor arguments from a Hugging Face BERT `config.json`."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"No `config.json` in {folder}: not a Hugging Face model folder.")
    config = json.loads(path.read_text())
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


def read_safetensors(folder) -> dict[str, np.ndarray]:
    """The arrays of `model.safetensors` in `folder`, names normalized (see `normalize_name`)."""
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        others = sorted(p.name for p in Path(folder).glob("*.bin"))
        hint = (
            f" (found {others}: pickled PyTorch files are not loaded; convert them "
            "to safetensors)" if others else ""
        )
        raise FileNotFoundError(f"No `model.safetensors` in {folder}{hint}.")
    from safetensors.numpy import load_file

    return {normalize_name(k): v for k, v in load_file(str(path)).items()}


def normalize_name(name: str) -> str:
    """Drop a task prefix (`bert.`) and rename old-style `LayerNorm.gamma/beta`."""
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


def bert_weight_map(model) -> list:
    """`[(variable, [hf names], combine)]`: how each of `model`'s weights is made from HF arrays."""
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


def load_bert_weights(model, arrays: dict, strict: bool = True) -> list[str]:
    """Assign HF arrays (normalized names) to a built `BERT`; return the skipped head weights.

    Raises a `ValueError` listing every unknown weight, every missing one
    (unless `strict=False`) and every shape mismatch.
    """
    targets = bert_weight_map(model)
    used = {name for _, names, _ in targets for name in names}
    skipped = sorted(k for k in arrays if k.startswith(HEAD_PREFIXES))
    unknown = sorted(
        k for k in arrays
        if k not in used and k not in skipped and not k.endswith("position_ids")
    )
    missing = sorted(name for name in used if name not in arrays)
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
            "The checkpoint does not fit this BERT: " + " | ".join(problems)
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
            f"Skipped {len(skipped)} head weights that BERT does not hold: {skipped}. "
            "They are listed in `model.skipped_checkpoint_weights`.",
            stacklevel=3,
        )
    return skipped


def load_bert_checkpoint(cls, folder, dtype=None, strict: bool = True, **overrides):
    """Build `cls` (a `BERT`) from `folder`'s config.json and load its model.safetensors."""
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

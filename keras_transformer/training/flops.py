"""FLOP counts, measured peak FLOP/s and model FLOPs utilization (MFU)."""

import time

import keras
import numpy as np

from keras_transformer.layers._checks import check_positive
from keras_transformer.training.devices import accelerator

_peaks: dict[tuple, float] = {}


def gpt_flops_per_token(
    num_params: int, num_layers: int, hidden_dim: int, seq_len: int
) -> float:
    """Returns the training FLOPs per token of a GPT: `6N + 12 L H T`.

    The estimate of nanoGPT's `estimate_mfu` (after the PaLM paper, appendix
    B): each parameter costs 2 FLOPs per token forward and 4 backward (6N),
    and attention's QK^T and AV matmuls add `12 * L * H * T` (H = heads x
    head size = hidden_dim). N counts the parameters without the position
    embeddings; a tied token embedding counts once, since it is also the
    output projection.

    Example:

    >>> from keras_transformer.training.flops import gpt_flops_per_token
    >>> gpt_flops_per_token(10_000_000, num_layers=6, hidden_dim=384, seq_len=256)
    67077888.0
    """
    return float(6 * num_params + 12 * num_layers * hidden_dim * seq_len)


def gpt_model_flops_per_token(model: keras.Model, seq_len: int) -> float:
    """Training FLOPs per token of a built `GPT` on windows of `seq_len` tokens.

    Applies `gpt_flops_per_token` with the sizes from `model.get_config()`;
    N is `model.count_params()` less the learned position table
    (`max_length x hidden_dim`, a look-up), with the tied token table
    counted once.

    Example:

    >>> import numpy as np
    >>> from keras_transformer.models import GPT
    >>> from keras_transformer.training.flops import gpt_model_flops_per_token
    >>> gpt = GPT(vocab_size=65, max_length=32, num_layers=2, num_heads=2,
    ...           hidden_dim=16, intermediate_dim=64, pad_id=None)
    >>> _ = gpt(np.zeros((1, 8), "int32"))
    >>> gpt_model_flops_per_token(gpt, seq_len=32)
    58080.0
    """
    config = model.get_config()
    missing = [k for k in ("max_length", "num_layers", "hidden_dim") if k not in config]
    if missing:
        raise ValueError(
            f"model must be a GPT whose config has max_length, num_layers and "
            f"hidden_dim, got a {type(model).__name__} without {missing}."
        )
    if not model.built:
        raise ValueError("model must be built (called on a batch) to count its parameters.")
    if not 1 <= seq_len <= config["max_length"]:
        raise ValueError(
            f"seq_len must be between 1 and the model's max_length "
            f"{config['max_length']}, got {seq_len}."
        )
    positions = config["max_length"] * config["hidden_dim"]
    return gpt_flops_per_token(
        model.count_params() - positions, config["num_layers"], config["hidden_dim"], seq_len
    )


def bert_flops_per_token(task_model: keras.Model, seq_len: int) -> float:
    """Training FLOPs per token of a BERT task model (backbone + head): `6N + 12 L H T`.

    `task_model.backbone` is a `BERT` (or `task_model` is one: the backbone
    alone, e.g. ELECTRA's generator); N counts every parameter of the task
    model that a token is multiplied by: not the embedding tables (look-ups,
    not matmuls; an MLM head tied to the token table does multiply by it, but
    only at the few masked positions, which this estimate leaves out), and a
    block shared across layers (ALBERT) once per layer it runs at.

    Example (1,888 of the 6,640 parameters are the token, position and segment tables):

    >>> import keras
    >>> from keras_transformer.models import BERT
    >>> from keras_transformer.training.flops import bert_flops_per_token
    >>> bert = BERT(vocab_size=100, max_length=16, num_layers=2, num_heads=2,
    ...             hidden_dim=16, intermediate_dim=32)
    >>> ids = keras.KerasTensor((1, 4), "int32")  # symbolic: builds the model without computing
    >>> _ = bert({"token_ids": ids, "segment_ids": ids})
    >>> bert.count_params(), bert_flops_per_token(bert, seq_len=16)  # 6 x 4752 + 12 x 2 x 16 x 16
    (6640, 34656.0)
    """
    from keras_transformer.models.bert.backbone import BERT

    backbone = task_model if isinstance(task_model, BERT) else getattr(task_model, "backbone", None)
    if not isinstance(backbone, BERT):
        raise ValueError(
            f"`task_model` must be a `BERT` or a model with a `BERT` `.backbone`; got "
            f"{type(task_model).__name__}. For a GPT use `gpt_model_flops_per_token`."
        )
    embeddings = backbone.embeddings
    tables = [embeddings.token_embedding, embeddings.position_embedding, embeddings.segment_embedding]
    looked_up = sum(int(np.prod(w.shape)) for table in tables if table is not None for w in table.weights)
    reused = 0
    if backbone.encoder.share_weights:
        reused = (backbone.num_layers - 1) * backbone.encoder.blocks[0].count_params()
    return gpt_flops_per_token(
        task_model.count_params() - looked_up + reused, backbone.num_layers, backbone.hidden_dim, seq_len
    )


def measure_matmul_peak(
    dtype: str = "float32", size: int | None = None, min_seconds: float = 0.2
) -> float:
    """Returns the FLOP/s of a compiled square matmul on the current backend.

    This is the reference for MFU on machines whose spec-sheet peak is
    unknown (any CPU): a large matmul is the fastest thing the device does.
    The first call compiles and is not timed; the result is cached per
    process for each `(backend, dtype, size)`.

    Args:
        dtype: `"float32"`, `"bfloat16"` or `"float16"`.
        size: matrix side; default 4096 on accelerators, 1024 on CPU.
        min_seconds: time at least this long, for a stable figure.

    Example:

    >>> from keras_transformer.training.flops import measure_matmul_peak
    >>> peak = measure_matmul_peak("float32", size=256)
    >>> peak > 0
    True
    """
    if size is None:
        size = 1024 if accelerator() == "cpu" else 4096
    check_positive(size=size)
    key = (keras.backend.backend(), dtype, size)
    if key not in _peaks:
        matmul = _compiled_matmul()
        rng = np.random.default_rng(0)
        a = keras.ops.convert_to_tensor(rng.standard_normal((size, size)), dtype)
        b = keras.ops.convert_to_tensor(rng.standard_normal((size, size)), dtype)
        _wait(matmul(a, b))  # compile and warm up
        repeats = 1
        while True:
            start = time.perf_counter()
            for _ in range(repeats):
                result = matmul(a, b)
            _wait(result)  # devices run asynchronously; wait for the last one
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds or repeats >= 1000:
                break
            repeats = min(1000, 2 * repeats + int(repeats * min_seconds / elapsed))
        _peaks[key] = 2.0 * size**3 * repeats / elapsed
    return _peaks[key]


def model_flops_utilization(
    flops_per_token: float, tokens_per_second: float, peak_flops: float
) -> float:
    """Returns MFU: achieved model FLOP/s as a fraction of `peak_flops`.

    Example:

    >>> from keras_transformer.training.flops import model_flops_utilization
    >>> model_flops_utilization(6e6, tokens_per_second=10_000, peak_flops=1e11)
    0.6
    """
    if peak_flops <= 0:
        raise ValueError(f"peak_flops must be > 0, got {peak_flops!r}.")
    return flops_per_token * tokens_per_second / peak_flops


def _compiled_matmul():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(jax.numpy.matmul)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(tf.linalg.matmul, jit_compile=True)
    return keras.ops.matmul  # torch and numpy run one library kernel anyway


def _wait(result) -> None:
    # Reading one element back forces all queued work to finish, without
    # paying for a copy of the whole matrix.
    keras.ops.convert_to_numpy(keras.ops.cast(result[0, 0], "float32"))

"""The fields every chapter preset shares, and `key=value` overrides."""

import dataclasses
import math
import types
import typing
from collections.abc import Collection
from collections.abc import Sequence

import numpy as np

from keras_transformer.data.buckets import LengthBuckets, buckets_up_to
from keras_transformer.training.schedule import SCHEDULES

DTYPE_POLICIES = (None, "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass
class Preset:
    """Training settings common to every chapter; chapters subclass it.

    A chapter adds its model and data fields in a subclass, gives every field
    a default, and defines `smoke`, `cpu` and `gpu` instances. The runner
    prints the preset at start and saves it to `config.json`.

    The optimizer is AdamW with linear warm-up to `learning_rate` over
    `warmup_steps`, then a decay to `min_learning_rate` at `steps`, by a
    cosine or a straight line (`lr_decay`).
    Evaluation runs every `eval_interval` steps and at the end; checkpoints
    are taken at evaluation points, every `checkpoint_interval` steps (a
    multiple of `eval_interval`) and at the end. A step is one update: with
    `gradient_accumulation_steps` k > 1 its `batch_size` rows go through the
    model as k micro-batches, which makes the same update (up to rounding) in
    about 1/k of the activation memory, except that dropout draws other masks
    and a loss averaged over tokens (masked LM) weighs the micro-batches
    equally rather than by their token counts.

    Example:

    >>> import dataclasses
    >>> from keras_transformer.training.preset import Preset, apply_overrides
    >>> @dataclasses.dataclass
    ... class GPTConfig(Preset):
    ...     num_layers: int = 4
    >>> smoke = GPTConfig(steps=20, eval_interval=10, checkpoint_interval=10)
    >>> apply_overrides(smoke, ["num_layers=2", "learning_rate=3e-4"]).num_layers
    2
    """

    steps: int = 1000
    batch_size: int = 32
    # Rows are fed in this many equal micro-batches whose mean gradient makes
    # each update: the updates of `batch_size` rows at 1/k of the activations.
    gradient_accumulation_steps: int = 1
    seed: int = 1337
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 100
    lr_decay: str = "cosine"  # "cosine" (nanoGPT) or "linear" (BERT): the shape after warm-up
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # global-norm clipping; 0 turns it off
    eval_interval: int = 250
    checkpoint_interval: int = 250
    dtype_policy: str | None = None  # None = float32
    jit_compile: bool = True  # XLA on TensorFlow (else graph mode); JAX always jits, PyTorch runs eagerly
    # TensorFlow op determinism, for bit-exact GPU runs; Keras then turns XLA
    # off. CPU runs (all backends) repeat exactly without it.
    deterministic: bool = False

    def __post_init__(self):
        positive = ("steps", "batch_size", "gradient_accumulation_steps", "eval_interval",
                    "checkpoint_interval")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(
                f"batch_size must split into gradient_accumulation_steps equal "
                f"micro-batches, got batch_size={self.batch_size} and "
                f"gradient_accumulation_steps={self.gradient_accumulation_steps}; "
                f"pick a divisor of batch_size."
            )
        for name in ("seed", "warmup_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
        if not 0 < self.learning_rate < math.inf:  # NaN fails every comparison
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate!r}.")
        if not 0 < self.min_learning_rate <= self.learning_rate:
            raise ValueError(
                f"min_learning_rate must be in (0, learning_rate="
                f"{self.learning_rate}], got {self.min_learning_rate!r}."
            )
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be in [0, 1), got {getattr(self, name)!r}."
                )
        if not (0 <= self.weight_decay < math.inf and 0 <= self.grad_clip < math.inf):
            raise ValueError(
                f"weight_decay and grad_clip must be finite and >= 0, got "
                f"{self.weight_decay!r} and {self.grad_clip!r}."
            )
        if self.checkpoint_interval % self.eval_interval:
            raise ValueError(
                f"checkpoint_interval must be a multiple of eval_interval "
                f"(checkpoints are taken at evaluation points), got "
                f"checkpoint_interval={self.checkpoint_interval} and "
                f"eval_interval={self.eval_interval}."
            )
        if self.lr_decay not in SCHEDULES:
            raise ValueError(
                f"lr_decay must be one of {sorted(SCHEDULES)}, got {self.lr_decay!r}."
            )
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(
                f"dtype_policy must be one of {DTYPE_POLICIES}, got "
                f"{self.dtype_policy!r}."
            )


@dataclasses.dataclass
class FineTuningPreset(Preset):
    """Fine-tuning on a labelled dataset: row length, length buckets, subsets for quick runs.

    SQuAD (`span_qa.SpanQAPreset`) and CoLA (`cola_probe.FolderColaPreset`,
    chapter 05's `ColaConfig`) subclass it with their own defaults.

    Example:

    >>> from keras_transformer.training.preset import FineTuningPreset
    >>> preset = FineTuningPreset(max_length=64, bucket_lengths="16,32,128", batch_size=2)
    >>> preset.buckets()  # 128 is longer than a row: max_length closes the list
    (16, 32, 64)
    >>> preset.length_buckets([10, 20, 70, 40, 5]).num_dropped  # 70 positions fit no bucket
    1
    """

    max_length: int = 128  # tokens per row
    bucket_lengths: str = ""  # shorter padded lengths of training batches besides max_length
    # Batches are drawn from chunks of this many batches sorted by length
    # (`LengthBuckets`): more, less padding; fewer, more random batches.
    chunk_batches: int = 64
    train_size: int = 0  # 0: every training example; n: n of them
    eval_size: int = 0  # 0: every evaluation example; n: the first n
    eval_batch_size: int = 64

    def __post_init__(self):
        super().__post_init__()
        if self.chunk_batches < 1:
            raise ValueError(f"chunk_batches must be >= 1, got {self.chunk_batches!r}.")
        if self.train_size < 0 or self.eval_size < 0:
            raise ValueError(
                f"train_size and eval_size must be >= 0 (0 = all); got {self.train_size} "
                f"and {self.eval_size}."
            )
        self.buckets()  # raises on a malformed list

    def buckets(self) -> tuple[int, ...]:
        """Padded lengths of training batches: `bucket_lengths` below `max_length`, then it."""
        return buckets_up_to(self.bucket_lengths, self.max_length)

    def length_buckets(self, lengths: Sequence[int] | np.ndarray) -> LengthBuckets:
        """The training batches of examples needing `lengths` positions: this preset's batch size,
        seed, `buckets()` and `chunk_batches`."""
        return LengthBuckets(lengths, self.batch_size, self.seed, self.buckets(), self.chunk_batches)


def probe_preset(preset_class: type[Preset], parent: Preset, steps: int, batch_size: int,
                 learning_rate: float, **fields: typing.Any) -> Preset:
    """A short fine-tuning run's preset, with the seed and precision of the `parent` run.

    The recipe every probe of a pretrained encoder shares: AdamW with weight
    decay 0.01 and beta2 0.999, 10% warm-up, a decay to a hundredth of the
    peak learning rate, one evaluation and one checkpoint at the end.
    `fields` add to that or replace any of it (e.g. `eval_interval` for a
    curve).

    Example:
    >>> probe = probe_preset(Preset, Preset(seed=7), steps=50, batch_size=8, learning_rate=1e-4)
    >>> probe.seed, probe.warmup_steps, probe.eval_interval, probe.min_learning_rate
    (7, 5, 50, 1e-06)
    """
    recipe = dict(
        steps=steps, batch_size=batch_size, seed=parent.seed, learning_rate=learning_rate,
        min_learning_rate=learning_rate / 100, warmup_steps=max(steps // 10, 1),
        weight_decay=0.01, beta2=0.999, eval_interval=steps, checkpoint_interval=steps,
        dtype_policy=parent.dtype_policy, jit_compile=parent.jit_compile,
    )
    return preset_class(**{**recipe, **fields})


def apply_overrides(preset: Preset, overrides: list[str]) -> Preset:
    """Returns a copy of `preset` with `key=value` strings applied.

    Values are parsed by the field's annotated type: `int`, `float`, `str`,
    `bool` (`true/false/1/0/yes/no`), and `X | None` (`none`/`null` → None).

    Raises:
        ValueError: a string is not `key=value`, the key is not a field, or
            the value does not parse as the field's type.

    Example (a `-` in a key reads as `_`, as on the command line):

    >>> from keras_transformer.training.preset import Preset, apply_overrides
    >>> preset = apply_overrides(Preset(), ["steps=20", "dtype-policy=mixed_bfloat16", "jit_compile=no"])
    >>> preset.steps, preset.dtype_policy, preset.jit_compile
    (20, 'mixed_bfloat16', False)
    """
    hints = typing.get_type_hints(type(preset))
    names = [field.name for field in dataclasses.fields(preset)]
    changes = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}.")
        if key not in names:
            raise ValueError(
                f"--set got unknown field {key!r}; valid fields of "
                f"{type(preset).__name__}: {', '.join(names)}."
            )
        changes[key] = parse_value(text.strip(), hints[key], key)
    return dataclasses.replace(preset, **changes)


def parse_names(name: str, spec: str, allowed: Collection[str]) -> list[str]:
    """The names in a comma-separated `spec`, in order; a ValueError unless they are distinct and `allowed`.

    A chapter that trains several models in turn names them in one preset
    field (`models`, `attentions`, `initializations`), so `--set` can pick some.

    Example:

    >>> from keras_transformer.training.preset import parse_names
    >>> parse_names("models", " rnn, transformer", ("transformer", "rnn"))
    ['rnn', 'transformer']
    >>> parse_names("models", "rnn,rnn", ("transformer", "rnn"))
    Traceback (most recent call last):
    ...
    ValueError: models must be distinct comma-separated names from ['rnn', 'transformer']; got 'rnn,rnn'.
    """
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names or len(set(names)) != len(names) or not set(names) <= set(allowed):
        raise ValueError(
            f"{name} must be distinct comma-separated names from {sorted(allowed)}; got {spec!r}."
        )
    return names


def parse_value(text: str, annotation: typing.Any, name: str = "value") -> bool | int | float | str | None:
    """Parses `text` as a value of the type `annotation`.

    Example:

    >>> from keras_transformer.training.preset import parse_value
    >>> parse_value("yes", bool), parse_value("none", float | None), parse_value("3e-4", float)
    (True, None, 0.0003)
    >>> parse_value("ten", int, "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps needs a value of type int, got 'ten'.
    """
    args = typing.get_args(annotation)
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    if is_union and type(None) in args:
        if text.lower() in ("none", "null"):
            return None
        (annotation,) = [a for a in args if a is not type(None)]
    try:
        if annotation is bool:
            return {"true": True, "1": True, "yes": True,
                    "false": False, "0": False, "no": False}[text.lower()]
        if annotation in (int, float, str):
            return annotation(text)
    except (KeyError, ValueError):
        raise ValueError(
            f"{name} needs a value of type {annotation.__name__}, got {text!r}."
        ) from None
    raise ValueError(f"{name} has type {annotation}, which --set cannot parse.")

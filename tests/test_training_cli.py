"""The chapter command line: presets, flags and `--set` overrides."""

import argparse
import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.training import Preset
from keras_transformer.training import apply_overrides
from keras_transformer.training.cli import build_parser
from keras_transformer.training.cli import config_from_args
from keras_transformer.training.preset import parse_names


@dataclasses.dataclass
class ToyConfig(Preset):
    num_layers: int = 4
    dropout: float = 0.1
    position: str = "learned"
    max_length: int | None = None
    tie_weights: bool = True


PRESETS = {
    "smoke": ToyConfig(steps=20, eval_interval=10, checkpoint_interval=10),
    "cpu": ToyConfig(),
    "gpu": ToyConfig(steps=5000, batch_size=64),
}


def _config(*argv):
    args = build_parser(PRESETS).parse_args(list(argv))
    return args.config, args


def test_default_preset_is_cpu():
    """With no flags the cpu preset is used unchanged."""
    config, args = _config()
    assert args.preset == "cpu" and config == PRESETS["cpu"]


def test_flags_and_set_override_fields_with_their_types():
    """--steps/--batch-size/--seed and --set key=value change fields, parsed by field type."""
    config, _ = _config(
        "--preset", "gpu", "--steps", "7", "--seed", "3", "--batch-size", "2",
        "--set", "dropout=0.25", "--set", "tie_weights=false", "--set", "max_length=none",
        "--set", "position=sinusoidal", "--set", "dtype_policy=mixed_bfloat16",
        "--set", "num-layers=2",
    )
    assert (config.steps, config.seed, config.batch_size) == (7, 3, 2)
    assert config.dropout == 0.25 and config.tie_weights is False
    assert config.max_length is None and config.position == "sinusoidal"
    assert config.dtype_policy == "mixed_bfloat16" and config.num_layers == 2
    assert PRESETS["gpu"].steps == 5000  # the preset itself is untouched


def test_unknown_field_lists_the_valid_ones():
    """--set with an unknown field raises ValueError listing the valid fields."""
    with pytest.raises(ValueError, match="unknown field .num_heads.*learning_rate.*num_layers"):
        apply_overrides(PRESETS["cpu"], ["num_heads=4"])


@pytest.mark.parametrize(
    "override, match",
    [("num_layers=two", "num_layers needs a value of type int"),
     ("tie_weights=maybe", "tie_weights needs a value of type bool"),
     ("num_layers", "key=value"),
     ("steps=0", "steps must be an integer >= 1, got 0"),
     ("dtype_policy=float64", "dtype_policy must be one of"),
     ("min_learning_rate=1.0", "min_learning_rate")],
)
def test_bad_values_are_value_errors(override, match):
    """Unparsable or invalid override values raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=match):
        apply_overrides(PRESETS["cpu"], [override])


def test_checkpoints_must_fall_on_evaluation_points():
    """checkpoint_interval not a multiple of eval_interval is a ValueError naming both."""
    with pytest.raises(ValueError, match="checkpoint_interval.*eval_interval"):
        ToyConfig(eval_interval=100, checkpoint_interval=150)


@pytest.mark.parametrize("argv, match", [
    (["--steps", "5", "--epochs", "1"], "--steps and --epochs both set"),
    (["--set", "bogus=1"], "unknown field .bogus."),
    (["--steps", "0"], "steps must be an integer >= 1"),
    (["--set", "num_layers"], "key=value"),
])
def test_bad_settings_are_usage_errors(capsys, argv, match):
    """A bad setting ends parsing as an unknown flag does: exit status 2, the usage line and the reason."""
    with pytest.raises(SystemExit) as stopped:
        build_parser(PRESETS).parse_args(argv)
    message = capsys.readouterr().err
    assert stopped.value.code == 2 and message.startswith("usage:")
    assert re.search(match, message) and "Traceback" not in message


def test_config_from_args_raises_for_parsed_but_clashing_flags():
    """Called on its own, `config_from_args` raises a ValueError for --steps with --epochs."""
    args = argparse.Namespace(preset="cpu", overrides=[], steps=5, epochs=1.0, batch_size=None,
                              seed=None)
    with pytest.raises(ValueError, match="--steps and --epochs"):
        config_from_args(PRESETS, args)


def test_data_dir_defaults_to_the_environment(monkeypatch):
    """--data-dir defaults to $KT_DATA_DIR."""
    monkeypatch.setenv("KT_DATA_DIR", "/somewhere/data")
    assert _config()[1].data_dir == "/somewhere/data"


def test_unknown_preset_is_rejected():
    """--preset accepts only the chapter's preset names."""
    with pytest.raises(SystemExit):
        _config("--preset", "tpu")


NAMES = ("transformer", "rnn", "lstm")


@settings(deadline=None, max_examples=50)
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
       st.lists(st.sampled_from(["", " ", "  "]), min_size=6, max_size=6))
def test_parse_names_keeps_distinct_known_names_in_order(names, spaces):
    """`parse_names` returns distinct allowed names in the order given, whatever spaces surround them."""
    spec = ",".join(f"{spaces[2 * i]}{n}{spaces[2 * i + 1]}" for i, n in enumerate(names))
    assert parse_names("models", spec, NAMES) == names


@pytest.mark.parametrize("spec", ["", " , ", "rnn,rnn", "rnn,gru", "RNN"])
def test_parse_names_rejects_repeats_unknown_and_empty_naming_the_field(spec):
    """An empty list, a repeated or an unknown name is a ValueError naming the field and the valid names."""
    with pytest.raises(ValueError, match=r"^models must be distinct comma-separated names from "
                                         r"\['lstm', 'rnn', 'transformer'\]; got "):
        parse_names("models", spec, NAMES)

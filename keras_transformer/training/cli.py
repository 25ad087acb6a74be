"""The command line every chapter script shares."""

import argparse
import dataclasses
import os
from collections.abc import Sequence

from keras_transformer.training.preset import Preset
from keras_transformer.training.preset import apply_overrides


class ChapterParser(argparse.ArgumentParser):
    """An argument parser that also applies the settings, so that a bad one is a usage error.

    The parsed namespace carries the settings as `config` (the chosen preset
    with the command line's overrides). `--set bogus=1`, `--steps 0` or
    `--steps` with `--epochs` end with the usage line and the reason (exit
    status 2), as an unknown flag does, instead of a traceback from the
    chapter's first line of work.
    """

    def __init__(self, presets: dict[str, Preset], **kwargs):
        super().__init__(**kwargs)
        self.presets = presets

    def parse_args(self, args: Sequence[str] | None = None,
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed = super().parse_args(args, namespace)
        try:
            parsed.config = config_from_args(self.presets, parsed)
        except ValueError as error:
            self.error(str(error))
        return parsed


def build_parser(presets: dict[str, Preset], description: str | None = None) -> ChapterParser:
    """Returns the argument parser of a chapter script with these presets.

    Example:

    >>> from keras_transformer.training.cli import build_parser
    >>> from keras_transformer.training.preset import Preset
    >>> parser = build_parser({"smoke": Preset(steps=10), "cpu": Preset()})
    >>> args = parser.parse_args(["--preset", "smoke", "--set", "seed=3"])
    >>> args.overrides, args.config.steps, args.config.seed
    (['seed=3'], 10, 3)
    """
    parser = ChapterParser(presets, description=description)
    parser.add_argument(
        "--preset", choices=list(presets), default="cpu" if "cpu" in presets else next(iter(presets)),
        help="settings to start from (default: %(default)s)",
    )
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument(
        "--epochs", type=float,
        help="training length in passes over the training data (instead of --steps)",
    )
    parser.add_argument("--batch-size", type=int, help="global batch size")
    parser.add_argument("--seed", type=int, help="seed of initialization, data order, dropout")
    parser.add_argument(
        "--data-dir", default=os.environ.get("KT_DATA_DIR") or None,
        help="local data folder (default: $KT_DATA_DIR, else download to a cache)",
    )
    parser.add_argument("--out", help="run folder (default: runs/<chapter>-<preset>)")
    parser.add_argument(
        "--resume", action="store_true",
        help="continue from the run folder's checkpoint, if it has one",
    )
    parser.add_argument(
        "--distribute", action="store_true",
        help="data-parallel training over all local devices (jax, tensorflow)",
    )
    env = os.environ.get
    parser.add_argument(
        "--num-processes", type=int, default=env("KERAS_DISTRIBUTION_NUM_PROCESSES", "1"),
        help="data-parallel processes training together, on one machine or several "
             "(jax; default: $KERAS_DISTRIBUTION_NUM_PROCESSES, else 1)",
    )
    parser.add_argument(
        "--process-id", type=int, default=env("KERAS_DISTRIBUTION_PROCESS_ID", "0"),
        help="this process's index, 0 to --num-processes - 1 "
             "(default: $KERAS_DISTRIBUTION_PROCESS_ID, else 0)",
    )
    parser.add_argument(
        "--coordinator", default=env("KERAS_DISTRIBUTION_JOB_ADDRESSES"),
        help="host:port of process 0 (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
    )
    parser.add_argument(
        "--power-watts", type=float,
        help="device power for the energy estimate (default: an assumption per device)",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any preset field, e.g. --set learning_rate=3e-4 (repeatable)",
    )
    return parser


def config_from_args(presets: dict[str, Preset], args: argparse.Namespace) -> Preset:
    """Returns the chosen preset with the command line's overrides applied.

    `--set` overrides apply first, then the dedicated flags (`--steps`,
    `--batch-size`, `--seed`). `--epochs` is applied by the runner, which
    knows the task's `steps_per_epoch`.
    """
    config = apply_overrides(presets[args.preset], args.overrides)
    flags = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed}
    if args.steps is not None and args.epochs is not None:
        raise ValueError(
            f"--steps and --epochs both set the training length; got "
            f"--steps {args.steps} and --epochs {args.epochs}, pass one."
        )
    return dataclasses.replace(
        config, **{k: v for k, v in flags.items() if v is not None}
    )

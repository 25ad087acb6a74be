"""Find a dataset file: a local data folder, or a checksummed download cache.

Every loader asks for its files through `resolve_data_file`, so all datasets
share one lookup order and one set of error messages.
"""

import hashlib
import os
import pathlib
import shutil
import urllib.error
import urllib.request

DATA_DIR_ENV = "KT_DATA_DIR"
CACHE_DIR_ENV = "KT_CACHE_DIR"
DEFAULT_CACHE_DIR = pathlib.Path("~/.cache/keras_transformer/datasets")

# Hashing a few megabytes takes milliseconds; remember verified files anyway
# so loaders called in a loop (tests, notebooks) don't re-read them.
_verified: set[tuple[str, int, int]] = set()


def resolve_data_file(
    relative_path: str,
    *,
    origin: str,
    sha256: str,
    data_dir: str | os.PathLike | None = None,
) -> pathlib.Path:
    """Returns the path of a verified local copy of a dataset file.

    Lookup order:

    1. `data_dir`, when given (chapter scripts pass `--data-dir` here);
    2. the folder named by the `KT_DATA_DIR` environment variable;
    3. a download cache, `~/.cache/keras_transformer/datasets` (or
       `KT_CACHE_DIR`), filled from `origin` on first use.

    A local data folder is never downloaded into: a missing file there is an
    error, so a run never mixes a folder's copies with fresh downloads. Every
    file's sha256 is checked, local copies included, because it costs
    milliseconds at these sizes and catches a truncated or edited copy.

    Args:
        relative_path: path inside the data folder, e.g.
            `"tiny_shakespeare/input.txt"`.
        origin: public URL of the file.
        sha256: expected hex digest of the file.
        data_dir: optional local data folder.

    Returns:
        The path of the file.

    Raises:
        FileNotFoundError: a local data folder lacks the file.
        ConnectionError: the download failed (e.g. offline).
        ValueError: the file's checksum is wrong (a downloaded file is removed).

    Example:

    >>> import os
    >>> path = resolve_data_file(
    ...     "tiny_shakespeare/input.txt",
    ...     origin="https://raw.githubusercontent.com/karpathy/char-rnn/"
    ...     "master/data/tinyshakespeare/input.txt",
    ...     sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ...     data_dir=os.environ["KT_DATA_DIR"],
    ... )
    >>> path.name, path.stat().st_size  # found in the folder and checked, not downloaded
    ('input.txt', 1115394)
    """
    relative = pathlib.PurePosixPath(relative_path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(
            f"relative_path must be a path inside the data folder, "
            f"got {relative_path!r}."
        )
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir = os.environ[DATA_DIR_ENV]
        where = f"the {DATA_DIR_ENV} folder"
    else:
        where = "the data_dir folder (--data-dir)"

    if data_dir is not None:
        path = pathlib.Path(data_dir).expanduser() / relative
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist ({where} {data_dir!r} has no "
                f"{relative_path}). Copy it there from {origin}, or point "
                f"--data-dir / {DATA_DIR_ENV} at a folder that has it."
            )
        _check_sha256(path, sha256, origin)
        return path

    cache = pathlib.Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)
    path = cache.expanduser() / relative
    if path.is_file():
        try:
            _check_sha256(path, sha256, origin)
            return path
        except ValueError:
            path.unlink()  # a stale or broken cache entry: fetch it again
    _download(origin, path, relative_path)
    try:
        _check_sha256(path, sha256, origin)
    except ValueError:
        path.unlink()
        raise
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """Returns the hex sha256 digest of a file, read in 1 MiB blocks.

    Example (the digest of "abc", FIPS 180-2's test vector):

    >>> import pathlib, tempfile
    >>> from keras_transformer.data.files import file_sha256
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: pathlib.Path, expected: str, origin: str) -> None:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    actual = file_sha256(path)
    if actual != expected.lower():
        raise ValueError(
            f"{path} has sha256 {actual}, but the file from {origin} has "
            f"sha256 {expected}. The copy is damaged or a different version; "
            f"replace it with the file from the origin."
        )
    _verified.add(key)


def _download(origin: str, path: pathlib.Path, relative_path: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.part-{os.getpid()}")
    print(f"Downloading {relative_path} from {origin}")
    try:
        with urllib.request.urlopen(origin, timeout=60) as response:
            with open(partial, "wb") as f:
                shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise ConnectionError(
            f"Could not download {relative_path} from {origin} ({error}). "
            f"If this machine is offline, copy the file to "
            f"<data folder>/{relative_path} and pass --data-dir <data folder> "
            f"or set {DATA_DIR_ENV}."
        ) from error
    # Publish the file only once complete, so a killed download leaves no
    # truncated file under the final name.
    os.replace(partial, path)

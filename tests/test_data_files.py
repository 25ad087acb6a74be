"""Dataset file lookup: local folders, the download cache, checksums, errors."""

import hashlib
import pathlib

import pytest

from keras_transformer.data import file_sha256, resolve_data_file

CONTENT = b"To be, or not to be\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
ORIGIN = "https://example.org/plays/hamlet.txt"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KT_DATA_DIR", raising=False)
    monkeypatch.setenv("KT_CACHE_DIR", str(tmp_path / "cache"))


def _data_dir(root: pathlib.Path, content: bytes = CONTENT) -> pathlib.Path:
    (root / "plays").mkdir(parents=True)
    (root / "plays" / "hamlet.txt").write_bytes(content)
    return root


def test_data_dir_argument_returns_the_verified_local_file(tmp_path):
    """A file in the data_dir folder is returned when its checksum matches."""
    root = _data_dir(tmp_path / "data")
    path = resolve_data_file("plays/hamlet.txt", origin=ORIGIN, sha256=SHA, data_dir=root)
    assert path == root / "plays" / "hamlet.txt"


def test_environment_variable_is_used_and_the_argument_wins(tmp_path, monkeypatch):
    """KT_DATA_DIR is used when no data_dir is given, and data_dir overrides it."""
    env_root = _data_dir(tmp_path / "env")
    arg_root = _data_dir(tmp_path / "arg")
    monkeypatch.setenv("KT_DATA_DIR", str(env_root))
    assert resolve_data_file("plays/hamlet.txt", origin=ORIGIN, sha256=SHA).parent.parent == env_root
    assert resolve_data_file(
        "plays/hamlet.txt", origin=ORIGIN, sha256=SHA, data_dir=arg_root
    ).parent.parent == arg_root


def test_missing_local_file_names_the_path_and_the_origin(tmp_path):
    """A data folder without the file raises FileNotFoundError naming full path and origin."""
    with pytest.raises(FileNotFoundError) as error:
        resolve_data_file("plays/hamlet.txt", origin=ORIGIN, sha256=SHA, data_dir=tmp_path)
    assert str(tmp_path / "plays" / "hamlet.txt") in str(error.value)
    assert ORIGIN in str(error.value)


def test_wrong_local_copy_fails_the_checksum(tmp_path):
    """A local file whose sha256 differs raises ValueError naming both digests."""
    root = _data_dir(tmp_path, b"To be, or not to be, that is the question\n")
    with pytest.raises(ValueError, match=SHA) as error:
        resolve_data_file("plays/hamlet.txt", origin=ORIGIN, sha256=SHA, data_dir=root)
    assert "hamlet.txt" in str(error.value)


def test_download_fills_the_cache_once(tmp_path):
    """Without a data folder the file is downloaded into KT_CACHE_DIR and verified."""
    source = tmp_path / "origin.txt"
    source.write_bytes(CONTENT)
    origin = source.as_uri()
    path = resolve_data_file("plays/hamlet.txt", origin=origin, sha256=SHA)
    assert path == tmp_path / "cache" / "plays" / "hamlet.txt"
    assert path.read_bytes() == CONTENT
    source.unlink()  # a second call must not need the origin
    assert resolve_data_file("plays/hamlet.txt", origin=origin, sha256=SHA) == path


def test_download_with_wrong_checksum_is_removed(tmp_path):
    """A downloaded file with the wrong sha256 raises ValueError and is deleted."""
    source = tmp_path / "origin.txt"
    source.write_bytes(b"something else\n")
    with pytest.raises(ValueError, match="sha256"):
        resolve_data_file("plays/hamlet.txt", origin=source.as_uri(), sha256=SHA)
    assert not (tmp_path / "cache" / "plays" / "hamlet.txt").exists()
    assert not list((tmp_path / "cache" / "plays").iterdir())


def test_failed_download_says_how_to_work_offline(tmp_path):
    """An unreachable origin raises ConnectionError naming the file, the origin and KT_DATA_DIR."""
    origin = (tmp_path / "no-such-file.txt").as_uri()
    with pytest.raises(ConnectionError) as error:
        resolve_data_file("plays/hamlet.txt", origin=origin, sha256=SHA)
    message = str(error.value)
    assert "plays/hamlet.txt" in message and origin in message
    assert "KT_DATA_DIR" in message and "--data-dir" in message


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd"])
def test_paths_outside_the_data_folder_are_rejected(bad, tmp_path):
    """relative_path may not escape the data folder."""
    with pytest.raises(ValueError, match="relative_path"):
        resolve_data_file(bad, origin=ORIGIN, sha256=SHA, data_dir=tmp_path)


def test_file_sha256_matches_hashlib(tmp_path):
    """file_sha256 equals hashlib's digest of the whole file."""
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT * 100_000)
    assert file_sha256(path) == hashlib.sha256(CONTENT * 100_000).hexdigest()

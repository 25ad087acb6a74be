"""Where the tests find the shared real datasets, and a marker for tests that need one."""

import os
import pathlib

import pytest

DATA_DIR = os.environ.get("KT_DATA_DIR") or str(
    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
)


def needs_data(relative_path: str):
    """Skip unless `relative_path` (a file or folder) is in the data folder."""
    return pytest.mark.skipif(
        not (pathlib.Path(DATA_DIR) / relative_path).exists(),
        reason=f"no {relative_path} in {DATA_DIR} (set KT_DATA_DIR)",
    )

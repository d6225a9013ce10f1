"""Shared fixtures: the offline data root (../shared/data beside the clone, or $SGD_DATA_ROOT)."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = Path(os.environ.get("SGD_DATA_ROOT", REPO.parent / "shared" / "data")).resolve()
    if not (root / "MNIST" / "raw").is_dir():
        message = f"offline data not found at {root}; set SGD_DATA_ROOT to the folder holding MNIST/ and cifar-10-batches-py/"
        if os.environ.get("REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return root

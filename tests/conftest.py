"""Shared fixtures. Tests never reach a model hub: HF_HUB_OFFLINE is set before any import."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from pathlib import Path

import pytest
from hypothesis import settings

# Speed is measured in bench/, not by per-example deadlines that a busy 2-core machine trips.
settings.register_profile("uncertain", deadline=None)
settings.load_profile("uncertain")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not beside the checkout")
    return REALDATA

"""Shared fixtures. Tests never reach a model hub: HF_HUB_OFFLINE is set before any import."""

from __future__ import annotations

import os
from collections.abc import Iterator

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


# `make test` installs every tool and package the tests use, so there a skip means something is
# missing that should not be: UNCERTAIN_STRICT_SKIPS=1 (the Makefile sets it) makes it a failure.
STRICT_SKIPS = os.environ.get("UNCERTAIN_STRICT_SKIPS") == "1"
STRICT_SKIP_MESSAGE = "skipped under `make test`, which installs everything the tests use: "


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = STRICT_SKIP_MESSAGE + _skip_reason(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT_SKIPS and report.skipped:
        report.outcome = "failed"
        report.longrepr = STRICT_SKIP_MESSAGE + _skip_reason(report.longrepr)


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)

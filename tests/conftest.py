"""Shared fixtures, the data kept beside the repository, strict skips, and the fast tier.

Tests never reach a model hub: HF_HUB_OFFLINE is set before any import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ["HF_HUB_OFFLINE"] = "1"

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Speed is measured in bench/, not by per-example deadlines that a busy 2-core machine trips.
settings.register_profile("uncertain", deadline=None)
settings.load_profile("uncertain")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# Real recordings, scans and corpora too large for the repository sit in a folder beside it
# (CI has it); a clone alone does not, and the tests that read them skip there.
SHARED = ROOT.parent / "shared"
REALDATA = SHARED / "realdata"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


# -- data beside the repository ------------------------------------------------------------


_MISSING_SHARED_DATA: set[str] = set()  # the skip reasons `shared_data` gave


def shared_data(path: Path) -> Path:
    """`path`, a folder of the shared data beside the repository; a skip naming it if absent.

    A clone alone has no such folder, so this skip stays a skip under strict skips (it is
    nothing `make test` installs), except in CI, which has the folder and must run the tests.
    """
    if not path.is_dir():
        reason = "../" + path.relative_to(ROOT.parent).as_posix() + " is not beside the repository"
        _MISSING_SHARED_DATA.add(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The real recordings and scans beside the repository (`audio/fit`, `ocr/fit`, ...)."""
    return shared_data(REALDATA)


# -- strict skips ----------------------------------------------------------------------------

# `make test` installs every tool and package the tests use, so there a skip means something is
# missing that should not be: UNCERTAIN_STRICT_SKIPS=1 (the Makefile sets it) makes it a failure.
# Missing shared data is the one allowed skip, since a clone alone has none, but not in CI.
STRICT_SKIPS = os.environ.get("UNCERTAIN_STRICT_SKIPS") == "1"
IN_CI = os.environ.get("CI") in ("true", "1")
STRICT_SKIP_MESSAGE = "skipped under `make test`, which installs everything the tests use: "
CI_DATA_MESSAGE = "skipped in CI, which must have the data beside the repository: "


def strict_failure(reason: str) -> bool:
    """Whether a test or module skipped for `reason` fails under strict skips."""
    return STRICT_SKIPS and (IN_CI or reason not in _MISSING_SHARED_DATA)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if _refused and report.when in ("setup", "call"):
        # Whatever became of the refusal (a thread or an error handler may have caught it),
        # a test that started an engine under --no-engines is a skip.
        path, line = item.reportinfo()[:2]
        report.outcome = "skipped"
        report.longrepr = (os.fspath(path), (line or 0) + 1, f"Skipped: {_refused[0]}")
    if report.skipped and not hasattr(report, "wasxfail"):
        _strict(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        _strict(report)


def _strict(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = _skip_reason(report.longrepr)
    if strict_failure(reason):
        report.outcome = "failed"
        missing_data = reason in _MISSING_SHARED_DATA
        report.longrepr = (CI_DATA_MESSAGE if missing_data else STRICT_SKIP_MESSAGE) + reason


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


# -- the fast tier: no engines ---------------------------------------------------------------

# Tests that use an engine fixture get the `engine` marker, which `make test-fast`
# (`-m "not engine and not slow" --no-engines`) leaves out; with --no-engines any other test
# that starts an engine (Whisper, Tesseract, RapidOCR, the llama.cpp server, Ray, Chromium, a
# Jupyter kernel, the CLI in a subprocess) is skipped at that moment, so that tier runs none.
ENGINE_FIXTURES = frozenset(
    {
        "llm_server",  # llm/conftest.py: the llama.cpp server
        "test_llm_path",  # llm/conftest.py: assembles and checks the 0.5 GB test model
        "jfk_doc",  # integrations/conftest.py: Whisper on samples/
        "drug_doc",
        "kernel_name",  # integrations/test_notebook.py: a Jupyter kernel
        "ray_session",  # integrations/test_ray.py
        "browser",  # browser/test_report_browser.py: Chromium
        "realdata_dir",  # real recordings and scans: slow to read, and not in a clone alone
    }
)
# Programs that are engines or run one: Tesseract, sox (corpus building), Chromium, the CLI,
# unshare (tests that mount a tmpfs and run the CLI in it).
ENGINE_PROGRAMS = frozenset(
    {"tesseract", "sox", "chromium", "chromium-browser", "uncertain", "unshare"}
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-engines",
        action="store_true",
        help="skip any test at the moment it starts an engine or an engine's program "
        "(`make test-fast`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--no-engines"):
        _refuse_engines()
        # A test skipped where it starts an engine leaves the files and sockets it opened
        # before to the garbage collector, which warns; the full run keeps this warning.
        config.addinivalue_line("filterwarnings", "ignore::ResourceWarning")


def _engine_program(args: Any) -> str | None:
    """The engine a subprocess command line starts, or None for an ordinary tool."""
    if isinstance(args, (str, bytes, os.PathLike)):
        words = os.fsdecode(args).split() if isinstance(args, str) else [os.fsdecode(args)]
    else:
        words = [os.fsdecode(word) for word in args]
    if not words:
        return None
    program = Path(words[0])
    name = program.name
    if name in ENGINE_PROGRAMS:
        return name
    # Another Python runs the CLI, a model server, a Ray worker or a Jupyter kernel; a
    # program inside an installed package is an engine's own binary (Ray, Playwright).
    if name.startswith("python") or program == Path(sys.executable):
        return "a Python subprocess (the CLI, a model server or a kernel)"
    if "site-packages" in program.parts:
        return name
    return None


_refused: list[str] = []  # why the current test was refused an engine (--no-engines)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _refused.clear()


def _refuse_engines() -> None:
    """Make starting an engine skip the test that does it, for the rest of this run."""

    def needs(engine: str) -> None:
        _refused.append(f"starts {engine}; runs under `make test`, not with --no-engines")
        pytest.skip(_refused[-1])

    popen_init = subprocess.Popen.__init__

    def guarded_popen(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        engine = _engine_program(args)
        if engine is not None:
            needs(engine)
        popen_init(self, args, *more, **options)

    subprocess.Popen.__init__ = guarded_popen  # type: ignore[method-assign]

    # In-process engines: Whisper (CTranslate2) and ONNX Runtime (RapidOCR, Silero VAD).
    from faster_whisper import WhisperModel
    from onnxruntime import InferenceSession

    def refuse(engine: str) -> Any:
        return lambda *args, **options: needs(engine)

    WhisperModel.__init__ = refuse("Whisper")
    InferenceSession.__init__ = refuse("ONNX Runtime")

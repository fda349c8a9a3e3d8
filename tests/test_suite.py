"""The suite's own rules: data beside the repository, strict skips, warnings, the fast tier."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import ROOT, SHARED, shared_data


def test_missing_shared_data_skips_naming_the_folder() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        shared_data(SHARED / "realdata-not-here")
    assert skipped.value.msg == "../shared/realdata-not-here is not beside the repository"


def test_present_shared_data_is_the_folder(tmp_path: Path) -> None:
    assert shared_data(tmp_path) == tmp_path


@pytest.mark.parametrize(
    ("strict", "ci", "missing_data", "other_skip"),
    [
        (False, False, False, False),  # a plain run: every skip is a skip
        (True, False, False, True),  # `make test` in a clone alone: only missing data skips
        (True, True, True, True),  # `make test` in CI, which has the data: no skip passes
    ],
)
def test_strict_skips_let_only_missing_shared_data_through(
    monkeypatch: pytest.MonkeyPatch, strict: bool, ci: bool, missing_data: bool, other_skip: bool
) -> None:
    monkeypatch.setattr(conftest, "STRICT_SKIPS", strict)
    monkeypatch.setattr(conftest, "IN_CI", ci)
    with pytest.raises(pytest.skip.Exception) as skipped:
        shared_data(SHARED / "corpus-not-here")
    assert conftest.strict_failure(str(skipped.value.msg)) is missing_data
    assert conftest.strict_failure("needs tesseract") is other_skip


def test_an_unnamed_warning_fails_the_test() -> None:
    with pytest.raises(UserWarning):
        warnings.warn("nobody named this warning", UserWarning, stacklevel=1)


@pytest.mark.parametrize(
    ("command", "engine"),
    [
        (["tesseract", "page.png", "stdout"], "tesseract"),
        ("sox -n -r 16000 out.wav", "sox"),
        ([sys.executable, "-m", "uncertain", "transcribe", "x.wav"], "a Python subprocess"),
        ([str(Path(sys.prefix) / "lib" / "site-packages" / "ray" / "raylet")], "raylet"),
        (["dpkg-query", "-S", "/usr/bin/sox"], None),
        (["qpdf", "--check", "x.pdf"], None),
    ],
)
def test_no_engines_knows_an_engine_by_its_program(command: object, engine: str | None) -> None:
    found = conftest._engine_program(command)
    if engine is None:
        assert found is None
    else:
        assert found is not None and found.startswith(engine)


def test_make_test_fast_leaves_out_engines_and_slow_tests() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile.split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    assert '-m "not engine and not slow" --no-engines' in recipe
    assert "UNCERTAIN_STRICT_SKIPS" not in recipe

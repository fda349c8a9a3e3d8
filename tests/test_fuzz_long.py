"""The long fuzzing run: every fuzzing property at 40 times its short-run example count."""

from __future__ import annotations

import pytest

from tests.fuzzing import run_fuzzing


@pytest.mark.slow
def test_long_fuzzing_run() -> None:
    result = run_fuzzing(40)
    assert result.returncode == 0, result.stdout[-4000:]

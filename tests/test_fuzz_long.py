"""The long fuzzing run: every fuzzing property at 40 times its short-run example count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzzing import FUZZ_TESTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_long_fuzzing_run() -> None:
    env = dict(os.environ, UNCERTAIN_FUZZ_SCALE="40")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            *FUZZ_TESTS,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-4000:]

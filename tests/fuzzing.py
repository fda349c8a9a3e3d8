"""How many examples property tests run: the default run is short; a long run scales it.

`UNCERTAIN_FUZZ_SCALE=40 pytest ...` (what `bench/fuzz.py` and the `slow` test
`tests/test_fuzz_long.py` do) multiplies every fuzzing test's example count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCALE = max(1, int(os.environ.get("UNCERTAIN_FUZZ_SCALE", "1")))

# The tests that parse untrusted input: document JSON, hOCR, prompts, every output format,
# the entries of a folder walk and the bytes of a pipe.
FUZZ_TESTS = [
    "tests/test_document.py::test_any_json_gives_document_or_input_error",
    "tests/test_document.py::test_json_round_trip_is_identity",
    "tests/adapters/test_hocr.py::test_fuzzed_token_soup_gives_a_page_or_a_value_error",
    "tests/adapters/test_hocr.py::test_fuzzed_arbitrary_input_gives_a_page_or_a_value_error",
    "tests/adapters/test_hocr.py::test_fuzzed_edits_of_real_markup",
    "tests/test_render_properties.py",
    "tests/exporters/test_hostile.py",
    # Folders of pipes, sockets, devices and links; bytes through a pipe in pieces.
    "tests/test_reliability.py::test_fuzzed_folders_are_walked_without_blocking",
    "tests/test_reliability.py::test_fuzzed_streams_come_through_a_pipe_whole_or_refused",
]


def examples(default: int) -> int:
    """The example count for a property test whose short-run count is `default`."""
    return default * SCALE


def run_fuzzing(scale: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run every fuzzing test at `scale` times its example count, in a fresh pytest process."""
    env = dict(os.environ, UNCERTAIN_FUZZ_SCALE=str(scale), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            *extra,
            *FUZZ_TESTS,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )

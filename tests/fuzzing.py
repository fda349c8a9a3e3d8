"""How many examples property tests run: the default run is short; a long run scales it.

`UNCERTAIN_FUZZ_SCALE=40 pytest ...` (what `bench/fuzz.py` and the `slow` test
`tests/test_fuzz_long.py` do) multiplies every fuzzing test's example count.
"""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("UNCERTAIN_FUZZ_SCALE", "1")))

# The tests that parse untrusted input: document JSON, hOCR, prompts, every output format.
FUZZ_TESTS = [
    "tests/test_document.py::test_any_json_gives_document_or_input_error",
    "tests/test_document.py::test_json_round_trip_is_identity",
    "tests/adapters/test_hocr.py::test_fuzzed_token_soup_gives_a_page_or_a_value_error",
    "tests/adapters/test_hocr.py::test_fuzzed_arbitrary_input_gives_a_page_or_a_value_error",
    "tests/adapters/test_hocr.py::test_fuzzed_edits_of_real_markup",
    "tests/test_render_properties.py",
    "tests/exporters/test_hostile.py",
]


def examples(default: int) -> int:
    """The example count for a property test whose short-run count is `default`."""
    return default * SCALE

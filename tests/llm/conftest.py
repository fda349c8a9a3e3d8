"""A real local model for the LLM tests: llama.cpp's OpenAI-compatible server on 127.0.0.1.

The server runs through `serve.py` (CPU weight repacking off: it crashes in this build). The
model is the test fixture GGUF (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, extra `testmodel`),
assembled once into the user cache. The server is started once per session on a free port
and stopped at the end; requests use temperature 0 and a fixed seed, so answers repeat.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from uncertain.models import assemble_test_llm

from .serve import served

READY_TIMEOUT = 180.0  # loading 0.5 GB on a busy 2-core machine
SLOW = 600.0  # seconds per answer: a shared machine made single calls take minutes


@pytest.fixture(scope="session")
def test_llm_path() -> Path:
    return assemble_test_llm()


@pytest.fixture(scope="session")
def llm_server(test_llm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT/v1`) of a running server for the test model."""
    log = tmp_path_factory.mktemp("llm") / "server.log"
    # One thread: llama.cpp's threads spin while they wait for each other, and on a machine
    # shared with other jobs two of them ran eight times slower than one.
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(
                served(test_llm_path, log, threads=1, ready_timeout=READY_TIMEOUT)
            )
        except RuntimeError as error:
            pytest.fail(str(error))
        yield base_url

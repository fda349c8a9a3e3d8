"""A real local model for the LLM tests: llama.cpp's OpenAI-compatible server on 127.0.0.1.

The server runs through `serve.py` (CPU weight repacking off: it crashes in this build). The
model is the test fixture GGUF (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, extra `testmodel`),
assembled once into the user cache. The server is started once per session on a free port
and stopped at the end; requests use temperature 0 and a fixed seed, so answers repeat.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from uncertain.models import assemble_test_llm

MODEL = "qwen2.5-coder-0.5b-instruct"
SERVE = Path(__file__).resolve().parent / "serve.py"  # llama_cpp.server without CPU repacking
READY_TIMEOUT = 180.0  # loading 0.5 GB on a busy 2-core machine
SLOW = 600.0  # seconds per answer: a shared machine made single calls take minutes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def test_llm_path() -> Path:
    return assemble_test_llm()


@pytest.fixture(scope="session")
def llm_server(test_llm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT/v1`) of a running server for the test model."""
    port = free_port()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    command = [
        sys.executable,
        str(SERVE),
        "--model",
        str(test_llm_path),
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        # One thread: llama.cpp's threads spin while they wait for each other, and on a
        # machine shared with other jobs two of them ran eight times slower than one.
        "--n_threads",
        "1",
        "--seed",
        "0",
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited ({server.returncode}): {log.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                tail = log.read_text()[-2000:]
                pytest.fail(f"llama_cpp.server not ready in {READY_TIMEOUT:.0f} s: {tail}")
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

"""Run llama-cpp-python's OpenAI-compatible server with CPU weight repacking turned off.

    python tests/llm/serve.py --model MODEL.gguf --host 127.0.0.1 --port 8080 ...

The same arguments as `python -m llama_cpp.server`. llama.cpp repacks quantized weights for
the CPU's vector units ("extra buffer types"); in llama-cpp-python 0.3.36 built for an AVX-512
machine that path crashes (general protection fault in libggml-cpu) on any prompt longer than
a token or two. llama-cpp-python does not expose the switch, so the model's default
parameters are patched before the server loads the model.

`served(...)` starts that server for the test model on a free local port and stops it: the
test fixture and bench/downstream.py both use it.
"""

from __future__ import annotations

import contextlib
import runpy
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MODEL = "qwen2.5-coder-0.5b-instruct"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def served(
    model: Path, log: Path, *, threads: int = 1, ready_timeout: float = 180.0
) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT/v1`) of this server for `model`, running until
    the block ends; its output goes to `log`. `RuntimeError` with the log's tail when it
    exits early or is not ready within `ready_timeout` seconds."""
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--model", str(model), "--model_alias", MODEL),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--n_ctx", "4096", "--n_threads", str(threads), "--seed", "0"),
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if server.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server exited ({server.returncode}): {tail}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server not ready in {ready_timeout:.0f} s: {tail}")
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _serve_without_repacking() -> None:
    import llama_cpp
    import llama_cpp.llama

    default_params = llama_cpp.llama_model_default_params

    def no_repack() -> llama_cpp.llama_model_params:
        params = default_params()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama.llama_cpp.llama_model_default_params = no_repack  # type: ignore[assignment]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _serve_without_repacking()

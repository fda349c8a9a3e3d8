"""Run llama-cpp-python's OpenAI-compatible server with CPU weight repacking turned off.

    python tests/llm/serve.py --model MODEL.gguf --host 127.0.0.1 --port 8080 ...

The same arguments as `python -m llama_cpp.server`. llama.cpp repacks quantized weights for
the CPU's vector units ("extra buffer types"); in llama-cpp-python 0.3.36 built for an AVX-512
machine that path crashes (general protection fault in libggml-cpu) on any prompt longer than
a token or two. llama-cpp-python does not expose the switch, so the model's default
parameters are patched before the server loads the model. Used by the test fixture and by
bench/downstream.py.
"""

from __future__ import annotations

import runpy

import llama_cpp
import llama_cpp.llama

_default_params = llama_cpp.llama_model_default_params


def _no_repack() -> llama_cpp.llama_model_params:
    params = _default_params()
    params.use_extra_bufts = False
    return params


llama_cpp.llama.llama_cpp.llama_model_default_params = _no_repack  # type: ignore[assignment]

if __name__ == "__main__":
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)

"""Endpoints that fail on demand, for the faults the real model cannot produce when asked:
a scripted client (the OpenAI SDK's own response type), and a tiny real HTTP server."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openai.types.chat import ChatCompletion

_numbers = itertools.count()


def completion(
    content: str | None,
    *,
    refusal: str | None = None,
    tokens: Sequence[tuple[str, float]] = (),
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """A chat completion's JSON, with `tokens` as its log-probabilities."""
    choice: dict[str, Any] = {
        "index": 0,
        "finish_reason": finish_reason,
        "message": {"role": "assistant", "content": content, "refusal": refusal},
    }
    if tokens:
        choice["logprobs"] = {
            "content": [
                {"token": t, "logprob": p, "bytes": None, "top_logprobs": []} for t, p in tokens
            ]
        }
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [choice],
    }


class ScriptedClient:
    """Answers each request with the next of `replies` (completion JSON), keeping the requests.
    A fresh `base_url` each, since the output constraint a server accepted is remembered per
    endpoint."""

    def __init__(self, *replies: dict[str, Any]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.base_url = f"http://scripted-{next(_numbers)}.invalid/v1"
        self.api_key = "not-needed"
        self.chat = self
        self.completions = self

    def create(self, **request: Any) -> ChatCompletion:
        self.requests.append(request)
        return ChatCompletion.model_validate(self.replies.pop(0))


Respond = Callable[[dict[str, Any]], tuple[int, Any]]


@contextlib.contextmanager
def serve(respond: Respond, requests: list[dict[str, Any]], *, delay: float = 0.0) -> Iterator[str]:
    """A local endpoint answering each JSON request with `respond(request)`: a status and a
    JSON body, after `delay` seconds. The requests go to `requests`."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            requests.append(body)
            if delay and stop.wait(delay):
                return
            status, answer = respond(body)
            data = json.dumps(answer).encode()
            with contextlib.suppress(OSError):  # the client gave up first (timeout test)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()

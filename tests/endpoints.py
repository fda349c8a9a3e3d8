"""A tiny real HTTP server on 127.0.0.1 that answers chat requests as a test scripts it, for
the endpoint faults a real model server cannot produce on demand (errors, refusals, delays,
echoed credentials), and the chat completion JSON such a server sends."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handle = Callable[[BaseHTTPRequestHandler, dict[str, Any]], None]
"""Answers one request: the handler (its path and headers) and the request's JSON body."""


@contextlib.contextmanager
def serve(
    handle: Handle, requests: list[dict[str, Any]] | None = None, *, delay: float = 0.0
) -> Iterator[str]:
    """A local endpoint (its base URL) that answers each request with `handle`, after `delay`
    seconds; the JSON bodies it gets go to `requests`."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if requests is not None:
                requests.append(body)
            if delay and stop.wait(delay):
                return
            with contextlib.suppress(OSError):  # the client gave up first (timeout tests)
                handle(self, body)

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


def send_json(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def reply(status: int, body: object) -> Handle:
    """A `Handle` that answers every request with `status` and the JSON `body`."""
    return lambda handler, _: send_json(handler, status, body)


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

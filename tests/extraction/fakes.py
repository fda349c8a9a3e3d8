"""Endpoints that fail on demand, for the faults the real model cannot produce when asked:
a scripted client (the OpenAI SDK's own response type), and a tiny real HTTP server."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from openai.types.chat import ChatCompletion

from tests import endpoints
from tests.endpoints import completion, send_json

__all__ = ["Respond", "ScriptedClient", "completion", "serve"]

_numbers = itertools.count()


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
    with endpoints.serve(
        lambda handler, body: send_json(handler, *respond(body)), requests, delay=delay
    ) as base_url:
        yield base_url

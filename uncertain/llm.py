"""`ask`: a question about a document, sent to any OpenAI-compatible chat endpoint.

The document goes in as `to_messages` renders it (marks, probabilities, alternatives), the
answer comes back with `trace` hits: the parts of the answer that rest on marked words.
OpenAI, vLLM, Ollama, llama.cpp's server and most others speak this API; the `openai` SDK
(extra `llm`) is imported only when `ask` is called.

Failures become one-line `EngineError`s that name the endpoint: unreachable, timed out, an
HTTP error status, an empty or refused answer. The API key is read from `OPENAI_API_KEY`
(or the client passed in) and never appears in a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from uncertain.document import Document
from uncertain.errors import EngineError
from uncertain.render import MarksOption, Style, TraceHit, to_messages, trace

__all__ = ["Answer", "ask", "complete", "openai_client"]

_INSTALL_HINT = 'pip install "uncertain-ingest[llm]"'
_LOCAL_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


@dataclass(frozen=True)
class Answer:
    """A model's answer about a document, and the weak spots it rests on.

    `text` is the answer as the model wrote it, `hits` the places where it rests on marked
    words (see `trace`), `model` the model that answered, `endpoint` where it was asked.
    """

    text: str
    hits: list[TraceHit] = field(default_factory=list)
    model: str = ""
    endpoint: str = ""

    def __str__(self) -> str:
        if not self.hits:
            return self.text
        lines = [self.text, "", "rests on uncertain words:"]
        lines += [f"  - {hit}" for hit in self.hits]
        return "\n".join(lines)


def _openai() -> Any:
    try:
        import openai
    except ImportError:
        raise EngineError(f"ask needs the openai package; {_INSTALL_HINT}") from None
    return openai


def _scrub(message: str, secret: str | None) -> str:
    """One line, without the API key (some servers echo the header back)."""
    if secret and secret != _LOCAL_KEY:
        message = message.replace(secret, "***")
    return " ".join(message.split())


def openai_client(base_url: str | None, timeout: float) -> Any:
    """The `openai.OpenAI` client `ask` uses when given none: for `base_url` (None:
    `OPENAI_BASE_URL`, else OpenAI), the key from `OPENAI_API_KEY` (a placeholder for a local
    server), `timeout` seconds per request and no retries. `EngineError` when there is no
    endpoint to ask, or the `llm` extra is missing."""
    openai = _openai()
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        if base_url is None and not os.environ.get("OPENAI_BASE_URL"):
            raise EngineError(
                "no endpoint to ask: set OPENAI_API_KEY for OpenAI, or pass base_url "
                "(--base-url) for a local server such as llama.cpp, vLLM or Ollama"
            )
        key = _LOCAL_KEY
    # Retries would turn an unreachable endpoint into a long silent wait: fail once, clearly.
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)


_client = openai_client  # its name before it was public


def complete(
    client: Any, request: dict[str, Any], *, endpoint: str, timeout: float, secret: str | None
) -> Any:
    """`client.chat.completions.create(**request)`, its failures turned into one-line
    `EngineError`s naming `endpoint` (unreachable, timed out, an HTTP error status, anything
    else the SDK raises), without `secret` in them."""
    openai = _openai()
    model = request.get("model", "")
    try:
        response = client.chat.completions.create(**request)
    except openai.APITimeoutError:
        raise EngineError(
            f"{endpoint}: no answer within {timeout:g} s; raise the timeout or use a smaller model"
        ) from None
    except openai.APIConnectionError as error:
        cause = error.__cause__ or error
        raise EngineError(
            _scrub(f"{endpoint}: cannot connect ({cause}); is the server running?", secret)
        ) from None
    except openai.APIStatusError as error:
        hint = {
            401: "check OPENAI_API_KEY",
            403: "check OPENAI_API_KEY",
            404: f"check the model name {model!r} and the base URL",
            429: "rate limited: wait and retry",
        }.get(error.status_code, "see the server's log")
        failure = EngineError(
            _scrub(f"{endpoint}: HTTP {error.status_code} ({error.message}); {hint}", secret)
        )
        failure.status_code = error.status_code
        raise failure from None
    except openai.OpenAIError as error:  # malformed responses and other SDK failures
        raise EngineError(_scrub(f"{endpoint}: {type(error).__name__}: {error}", secret)) from None
    return response


def ask(
    doc: Document,
    question: str,
    *,
    model: str,
    base_url: str | None = None,
    client: Any = None,
    style: Style = "inline",
    timeout: float = 120.0,
    max_tokens: int | None = 512,
    temperature: float = 0.0,
    seed: int | None = 0,
    marks: MarksOption = "auto",
    max_marks: int | None = None,
    **render_options: Any,
) -> Answer:
    """Ask `question` about `doc` and trace the answer back to the document's weak spots.

    `model` names the model at the endpoint. `base_url` is the endpoint's OpenAI-compatible
    root (for example `http://127.0.0.1:8080/v1`; default: `OPENAI_BASE_URL`, else OpenAI).
    `client` is an `openai.OpenAI` client to use instead (then `base_url` and `timeout` are
    ignored). `style` and the other render options say how the document is rendered
    (see `render`). Greedy decoding (`temperature=0`, a fixed `seed`) makes answers repeat
    where the server honours it. Raises `EngineError` naming the endpoint when the call fails
    or the answer is empty or refused.
    """
    openai = _openai()
    if client is None:
        client = openai_client(base_url, timeout)
    endpoint = str(getattr(client, "base_url", base_url or "the endpoint")).rstrip("/")
    secret = getattr(client, "api_key", None)
    messages = to_messages(doc, question, style, marks=marks, max_marks=max_marks, **render_options)
    request: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature}
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if seed is not None:
        request["seed"] = seed
    response = complete(client, request, endpoint=endpoint, timeout=timeout, secret=secret)
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise EngineError(f"{endpoint}: the answer has no choices; see the server's log")
    message = choices[0].message
    refusal = getattr(message, "refusal", None)
    if refusal or choices[0].finish_reason == "content_filter":
        why = _scrub(str(refusal), secret) if refusal else "content filter"
        raise EngineError(f"{endpoint}: model {model} refused to answer ({why})")
    text = (message.content or "").strip()
    if not text:
        raise EngineError(f"{endpoint}: model {model} gave an empty answer")
    hits = trace(doc, text, style=style, marks=marks, max_marks=max_marks)
    return Answer(
        text=text, hits=hits, model=str(getattr(response, "model", model)), endpoint=endpoint
    )

"""`ask`: a question about a document, sent to any OpenAI-compatible chat endpoint.

The document goes in as `to_messages` renders it (marks, probabilities, alternatives), the
answer comes back with `trace` hits: the parts of the answer that rest on marked words.
OpenAI, vLLM, Ollama, llama.cpp's server and most others speak this API; the `openai` SDK
(extra `llm`) is imported only when `ask` is called.

Failures become one-line `EngineError`s that name the endpoint: unreachable, timed out, an
HTTP error status, an empty or refused answer. The API key is read from `OPENAI_API_KEY`
(or the client passed in) and never appears in a message; an endpoint is named as
`display_endpoint` writes it (no user name, password, query or fragment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from uncertain.document import Document
from uncertain.errors import EngineError
from uncertain.render import MarksOption, Style, TraceHit, to_messages, trace

__all__ = [
    "Answer",
    "Connection",
    "ask",
    "complete",
    "connect",
    "display_endpoint",
    "openai_client",
]

_INSTALL_HINT = 'pip install "uncertain-ingest[llm]"'
_LOCAL_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


@dataclass(frozen=True)
class Answer:
    """A model's answer about a document, and the weak spots it rests on.

    `text` is the answer as the model wrote it, `hits` the places where it rests on marked
    words (see `trace`), `model` the model that answered, `endpoint` where it was asked (as
    `display_endpoint` writes it: without credentials).
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


def display_endpoint(url: str) -> str:
    """`url` as it may be shown: scheme, host, port and path only.

    User name, password, query and fragment are dropped, since they may carry credentials
    (`http://user:pw@host/v1`, `?api_key=...`). Every message that names an endpoint writes
    it this way. A string that is not a full URL loses the same parts, found by their
    separators (`@`, `?`, `#`).
    """
    parts = urlsplit(url.strip())
    if parts.netloc:
        # The host and port as written: the text after the last "@" (a password may hold "@").
        host = parts.netloc.rpartition("@")[2]
        scheme = f"{parts.scheme}:" if parts.scheme else ""
        return f"{scheme}//{host}{parts.path}"
    text = url.strip().split("#", 1)[0].split("?", 1)[0]
    head, slash, path = text.partition("/")
    return head.rpartition("@")[2] + slash + path


def _secrets(api_key: str | None, urls: list[str]) -> list[tuple[str, str]]:
    """What to replace in a message, and by what: each URL by its display form, then the
    parts of a URL that may be secret (password, query, fragment), then the API key."""
    pairs = [(url, display_endpoint(url)) for url in sorted(urls, key=len, reverse=True)]
    for url in urls:
        parts = urlsplit(url)
        for part in (parts.password, parts.query, parts.fragment):
            if part:
                pairs += [(part, "***"), (unquote(part), "***")]
    if api_key and api_key != _LOCAL_KEY:
        pairs.append((api_key, "***"))
    return pairs


def _scrub(message: str, secrets: list[tuple[str, str]]) -> str:
    """One line, without the API key or an endpoint's credentials (some servers echo the
    header or the URL back)."""
    for secret, shown in secrets:
        message = message.replace(secret, shown)
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


@dataclass(frozen=True)
class Connection:
    """An endpoint ready to ask: the `openai` client, the endpoint as messages show it
    (`display_endpoint`), what to mask in messages, and the timeout per request."""

    client: Any
    endpoint: str
    secrets: list[tuple[str, str]]
    timeout: float


def connect(base_url: str | None, client: Any, timeout: float) -> Connection:
    """A `Connection` for `client`, or for a new client of `base_url` (see `openai_client`)."""
    if client is None:
        client = openai_client(base_url, timeout)
    urls = [str(u) for u in (getattr(client, "base_url", None), base_url) if u]
    endpoint = display_endpoint(urls[0]).rstrip("/") if urls else "the endpoint"
    secrets = _secrets(getattr(client, "api_key", None), urls)
    return Connection(client, endpoint, secrets, timeout)


def complete(connection: Connection, request: dict[str, Any]) -> Any:
    """`client.chat.completions.create(**request)`, its failures turned into one-line
    `EngineError`s naming the endpoint (unreachable, timed out, an HTTP error status, with
    `status_code` set, anything else the SDK raises), with no credentials in them."""
    openai = _openai()
    endpoint, secrets, model = connection.endpoint, connection.secrets, request.get("model", "")
    client = connection.client
    try:
        response = client.chat.completions.create(**request)
    except openai.APITimeoutError:
        raise EngineError(
            f"{endpoint}: no answer within {connection.timeout:g} s; "
            "raise the timeout or use a smaller model"
        ) from None
    except openai.APIConnectionError as error:
        cause = error.__cause__ or error
        raise EngineError(
            _scrub(f"{endpoint}: cannot connect ({cause}); is the server running?", secrets)
        ) from None
    except openai.APIStatusError as error:
        hint = {
            401: "check OPENAI_API_KEY",
            403: "check OPENAI_API_KEY",
            404: f"check the model name {model!r} and the base URL",
            429: "rate limited: wait and retry",
        }.get(error.status_code, "see the server's log")
        failure = EngineError(
            _scrub(f"{endpoint}: HTTP {error.status_code} ({error.message}); {hint}", secrets)
        )
        failure.status_code = error.status_code
        raise failure from None
    except openai.OpenAIError as error:  # malformed responses and other SDK failures
        raise EngineError(_scrub(f"{endpoint}: {type(error).__name__}: {error}", secrets)) from None
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
    connection = connect(base_url, client, timeout)
    endpoint, secrets = connection.endpoint, connection.secrets
    messages = to_messages(doc, question, style, marks=marks, max_marks=max_marks, **render_options)
    request: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature}
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if seed is not None:
        request["seed"] = seed
    response = complete(connection, request)
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise EngineError(f"{endpoint}: the answer has no choices; see the server's log")
    message = choices[0].message
    refusal = getattr(message, "refusal", None)
    if refusal or choices[0].finish_reason == "content_filter":
        why = _scrub(str(refusal), secrets) if refusal else "content filter"
        raise EngineError(f"{endpoint}: model {model} refused to answer ({why})")
    text = (message.content or "").strip()
    if not text:
        raise EngineError(f"{endpoint}: model {model} gave an empty answer")
    hits = trace(doc, text, style=style, marks=marks, max_marks=max_marks)
    return Answer(
        text=text, hits=hits, model=str(getattr(response, "model", model)), endpoint=endpoint
    )

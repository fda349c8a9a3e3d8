"""The request `extract` sends: the messages, the output constraint, the token log-probabilities.

The document goes in through `to_messages` (plain text inside an escaped `<document>` fence),
so that text on a page can neither close the fence nor pass for the instructions or the schema.
The output is constrained to the schema where the server can: OpenAI's structured outputs
(`response_format` of type `json_schema`), or llama.cpp's (`json_object` with a `schema`,
which its server turns into a grammar). The servers that know neither get the schema in the
prompt alone. The chosen tokens' log-probabilities are asked for with `top_logprobs=0`:
llama-cpp-python returns none without it, and more alternatives cost it far more time.

With `constrain="auto"` the first form a server accepts is remembered per endpoint, so a
server that refuses `json_schema` costs one refused request per process.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Literal

from uncertain.document import Document
from uncertain.errors import EngineError
from uncertain.extraction.schema import FieldSpec, SchemaSpec
from uncertain.llm import Connection, complete
from uncertain.render import to_messages

__all__ = ["Constraint", "Reply", "ask_for_fields", "messages_for"]

Constraint = Literal["auto", "json_schema", "json_object", "none"]
CONSTRAINTS: tuple[Constraint, ...] = ("auto", "json_schema", "json_object", "none")

_INSTRUCTIONS = (
    "Extract the fields below from the document and answer with one JSON object that has "
    "exactly these properties. Copy each value as it is written in the document (dates as "
    "YYYY-MM-DD, amounts as numbers); use null where the document does not give a value. "
    "Do not add properties, comments or explanations."
)
_ORDER: tuple[Constraint, ...] = ("json_schema", "json_object", "none")
_accepted: dict[str, Constraint] = {}  # endpoint -> the first constraint it accepted
_accepted_lock = threading.Lock()


@dataclass(frozen=True)
class Reply:
    """The answer's text, its tokens with their log-probabilities (empty when the server gave
    none), why it stopped, what it refused (if it did), and which constraint was used."""

    text: str
    tokens: tuple[tuple[str, float], ...]
    finish_reason: str | None
    refusal: str | None
    constraint: Constraint
    model: str


def _describe(spec: FieldSpec) -> str:
    kind = "date (YYYY-MM-DD)" if spec.kind == "date" else spec.kind
    about = f": {spec.description}" if spec.description else ""
    return f"{spec.name} ({kind}{', or null' if spec.nullable else ''}){about}"


def messages_for(doc: Document, schema: SchemaSpec) -> list[dict[str, str]]:
    """The chat messages that ask for `schema`'s fields from `doc`."""
    lines = [_INSTRUCTIONS, "", "Fields:"]
    lines += [f"- {_describe(f)}" for f in schema.fields]
    for item in schema.items:
        about = f": {item.description}" if item.description else ""
        lines.append(f"- {item.name} (a list of objects{about}), each with:")
        lines += [f"  - {_describe(f)}" for f in item.fields]
    lines += ["", "JSON Schema of the answer:", json.dumps(schema.json_schema)]
    return to_messages(doc, "\n".join(lines), "plain", marks="none")


def _response_format(constraint: Constraint, schema: SchemaSpec) -> dict[str, Any] | None:
    if constraint == "json_schema":
        name = "".join(c if c.isalnum() or c in "_-" else "_" for c in schema.title)[:64]
        return {
            "type": "json_schema",
            "json_schema": {"name": name or "fields", "schema": schema.json_schema, "strict": True},
        }
    if constraint == "json_object":
        return {"type": "json_object", "schema": schema.json_schema}
    return None


def _refused_option(error: EngineError) -> str | None:
    """Which option the server refused, `logprobs` or `format` (the output constraint), or
    None when it failed for another reason."""
    if error.status_code is None or not 400 <= error.status_code < 600:
        return None
    text = str(error).lower()
    if "logprobs" in text:
        return "logprobs"
    if any(word in text for word in ("response_format", "json_schema", "schema")):
        return "format"
    return None


def ask_for_fields(
    connection: Connection,
    messages: list[dict[str, str]],
    schema: SchemaSpec,
    *,
    model: str,
    constraint: Constraint,
    max_tokens: int,
    seed: int | None,
) -> Reply:
    """Ask for the fields; `EngineError` (one line, naming the endpoint) when the call fails."""
    endpoint = connection.endpoint
    if constraint == "auto":
        with _accepted_lock:
            known = _accepted.get(endpoint)
        ladder = [known] if known else list(_ORDER)
    else:
        ladder = [constraint]
    logprobs = True
    for step, tried in enumerate(ladder):
        while True:
            request: dict[str, Any] = {
                "model": model,
                "messages": messages,
                "temperature": 0.0,
                "max_tokens": max_tokens,
            }
            if seed is not None:
                request["seed"] = seed
            response_format = _response_format(tried, schema)
            if response_format is not None:
                request["response_format"] = response_format
            if logprobs:
                request["logprobs"] = True
                request["top_logprobs"] = 0
            try:
                response = complete(connection, request)
            except EngineError as error:
                refused = _refused_option(error)
                if refused == "logprobs" and logprobs:
                    logprobs = False  # answers without the model's own probabilities
                    continue
                if refused == "format" and step < len(ladder) - 1:
                    break
                raise
            if constraint == "auto":
                with _accepted_lock:
                    _accepted[endpoint] = tried
            return _reply(response, tried, model)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _reply(response: Any, constraint: Constraint, model: str) -> Reply:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise EngineError(f"model {model}: the answer has no choices; see the server's log")
    choice = choices[0]
    message = choice.message
    tokens: list[tuple[str, float]] = []
    content = getattr(getattr(choice, "logprobs", None), "content", None) or []
    for entry in content:
        try:
            tokens.append((str(entry.token), float(entry.logprob)))
        except (AttributeError, TypeError, ValueError):
            tokens = []
            break
    refusal = getattr(message, "refusal", None)
    if not refusal and choice.finish_reason == "content_filter":
        refusal = "content filter"
    return Reply(
        text=message.content or "",
        tokens=tuple(tokens),
        finish_reason=choice.finish_reason,
        refusal=str(refusal) if refusal else None,
        constraint=constraint,
        model=str(getattr(response, "model", model) or model),
    )

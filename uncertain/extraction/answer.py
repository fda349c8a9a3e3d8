"""Reading a model's JSON answer: its values, where each value sits in the answer text, and the
model's own log-probabilities for the tokens that wrote it.

The standard `json` module gives values but not positions, and a field's token probabilities
are those of the tokens inside its value, so this module parses JSON with a position for
every scalar (`parse_answer`), then maps the tokens that the server returned onto those
positions (`value_logprobs`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

Positions = dict[str, tuple[int, int]]

__all__ = ["AnswerError", "ParsedAnswer", "parse_answer", "value_logprobs"]

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LITERALS = {"true": True, "false": False, "null": None}
_MAX_DEPTH = 16


class AnswerError(ValueError):
    """The answer is not one JSON object."""


@dataclass
class ParsedAnswer:
    """The answer's value and, per scalar's path (`total`, `items[0].name`), its character
    range in the answer text (strings without their quotes)."""

    value: Any
    positions: Positions = field(default_factory=dict)


def parse_answer(text: str) -> ParsedAnswer:
    """Parse `text` as one JSON object (surrounding whitespace and a Markdown code fence
    allowed); `AnswerError` saying what is wrong otherwise."""
    start = text.find("{")
    if start < 0:
        raise AnswerError(f"no JSON object in the answer: {_excerpt(text)}")
    positions: Positions = {}
    try:
        value, end = _value(text, start, "", positions, 0)
    except (ValueError, IndexError) as error:
        raise AnswerError(f"malformed JSON ({error}): {_excerpt(text)}") from None
    rest = text[end:].strip().removesuffix("```").strip()
    if rest:
        raise AnswerError(f"text after the JSON object: {_excerpt(rest)}")
    if not isinstance(value, dict):
        raise AnswerError("the answer is not a JSON object")
    return ParsedAnswer(value, positions)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def _skip(text: str, i: int) -> int:
    match = _WHITESPACE.match(text, i)
    return match.end() if match else i


def _value(text: str, i: int, path: str, positions: Positions, depth: int) -> tuple[Any, int]:
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    i = _skip(text, i)
    char = text[i]
    if char == "{":
        return _object(text, i + 1, path, positions, depth)
    if char == "[":
        return _array(text, i + 1, path, positions, depth)
    if char == '"':
        value, end = scanstring(text, i + 1, True)
        positions[path] = (i + 1, end - 1)
        return value, end
    for literal, meaning in _LITERALS.items():
        if text.startswith(literal, i):
            positions[path] = (i, i + len(literal))
            return meaning, i + len(literal)
    match = _NUMBER.match(text, i)
    if match is None:
        raise ValueError(f"unexpected {text[i]!r} at character {i}")
    raw = match.group()
    positions[path] = (i, match.end())
    number: float | int = float(raw) if any(c in raw for c in ".eE") else int(raw)
    return number, match.end()


def _object(
    text: str, i: int, path: str, positions: Positions, depth: int
) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    i = _skip(text, i)
    if text[i] == "}":
        return out, i + 1
    while True:
        i = _skip(text, i)
        if text[i] != '"':
            raise ValueError(f"expected a property name at character {i}")
        key, i = scanstring(text, i + 1, True)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at character {i}")
        child = f"{path}.{key}" if path else key
        out[key], i = _value(text, i + 1, child, positions, depth + 1)
        i = _skip(text, i)
        if text[i] == "}":
            return out, i + 1
        if text[i] != ",":
            raise ValueError(f"expected ',' or '}}' at character {i}")
        i += 1


def _array(text: str, i: int, path: str, positions: Positions, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    i = _skip(text, i)
    if text[i] == "]":
        return out, i + 1
    while True:
        value, i = _value(text, i, f"{path}[{len(out)}]", positions, depth + 1)
        out.append(value)
        i = _skip(text, i)
        if text[i] == "]":
            return out, i + 1
        if text[i] != ",":
            raise ValueError(f"expected ',' or ']' at character {i}")
        i += 1


def value_logprobs(
    tokens: Sequence[tuple[str, float]], text: str, where: tuple[int, int]
) -> list[float]:
    """The log-probabilities of the tokens that overlap `where` in `text`, the answer that the
    tokens spell; empty when the tokens do not spell `text` (a server that returned none, or
    other tokens)."""
    if not tokens or "".join(t for t, _ in tokens) != text:
        return []
    start, end = where
    if end <= start:  # an empty string: the token that closed the quotes decided it
        end = start + 1
    out: list[float] = []
    position = 0
    for token, logprob in tokens:
        after = position + len(token)
        if after > start and position < end:
            out.append(logprob)
        if position >= end:
            break
        position = after
    return out


def dumps(value: Any) -> str:
    """Compact JSON, as written into messages and outputs."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

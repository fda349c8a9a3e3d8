"""Reading a rendered prompt back: exactly the document text and the marks shown."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from uncertain.errors import InputError
from uncertain.render.escaping import _bs_unescape, _xml_unescape
from uncertain.render.styles import _NOTES_SEPARATOR, Style, _check_style, _parse_ids


class ParsedMark(NamedTuple):
    """One mark read back from a rendered prompt.

    `start`/`end` are character offsets into `ParsedPrompt.text`, `confidence` is the rounded
    probability as rendered (None where it was not shown), `alternatives` the other readings
    shown, `span_ids` the ids shown (empty when rendered with `ids=False`).
    """

    start: int
    end: int
    confidence: float | None
    alternatives: tuple[str, ...]
    span_ids: tuple[int, ...]


@dataclass(frozen=True)
class ParsedPrompt:
    """What `parse` reads back from a rendered prompt: the document text and its marks."""

    text: str
    marks: list[ParsedMark] = field(default_factory=list)


# -- parsing rendered prompts back -------------------------------------------------------------


def _malformed(style: str, problem: str) -> InputError:
    return InputError(None, f"not a valid {style} prompt: {problem}")


# `<u>` since the compact syntax; `<unsure>` as the first versions wrote it.
_INLINE_TOKEN = re.compile(r'<(u|unsure)((?:\s+[a-z]+="[^"]*")*)>([^<]*)</\1>|<')
_INLINE_ATTR = re.compile(r'\s+([a-z]+)="([^"]*)"')


def _parse_inline(rendered: str) -> ParsedPrompt:
    out: list[str] = []
    length = 0
    marks: list[ParsedMark] = []
    position = 0
    for match in _INLINE_TOKEN.finditer(rendered):
        if match.group(1) is None:
            raise _malformed("inline", f"stray '<' at offset {match.start()}")
        before = _xml_unescape(rendered[position : match.start()])
        out.append(before)
        length += len(before)
        attrs = dict(_INLINE_ATTR.findall(match.group(2)))
        inner = _xml_unescape(match.group(3))
        alts = tuple(_xml_unescape(a) for a in attrs["alt"].split("|")) if "alt" in attrs else ()
        ids = _ids("inline", attrs["id"], match.start()) if "id" in attrs else ()
        p = _number("inline", attrs["p"], match.start()) if "p" in attrs else None
        marks.append(ParsedMark(length, length + len(inner), p, alts, ids))
        out.append(inner)
        length += len(inner)
        position = match.end()
    out.append(_xml_unescape(rendered[position:]))
    return ParsedPrompt("".join(out), marks)


def _ids(style: str, text: str, offset: int) -> tuple[int, ...]:
    try:
        return _parse_ids(text)
    except ValueError:
        raise _malformed(style, f"mark at offset {offset} has id={text!r}") from None


def _number(style: str, text: str, offset: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise _malformed(style, f"mark at offset {offset} has p={text!r}") from None


_BR_TOKEN = re.compile(r"\\u\{[0-9A-Fa-f]{1,6}\}|\\.|\[|\]|\||[^\\\[\]|]+|\\", re.S)
# The last field ends in `?`, the probability, ids and position; greedy `.*` takes the text up
# to the last `?` (the tail has none), so a `?` in the text itself needs no escape.
_BR_TAIL = re.compile(
    r"(.*)\?(\d+(?:\.\d+)?)?(?: #(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*))?(?: @\S+)?", re.S
)


def _parse_brackets(rendered: str) -> ParsedPrompt:
    out: list[str] = []
    length = 0
    marks: list[ParsedMark] = []
    fields: list[list[str]] | None = None  # raw fields of the open mark, or None outside
    for match in _BR_TOKEN.finditer(rendered):
        token = match.group()
        if fields is None:
            if token == "[":
                fields = [[]]
            else:
                piece = _bs_unescape(token)
                out.append(piece)
                length += len(piece)
            continue
        if token == "|":
            fields.append([])
        elif token == "]":
            raw = ["".join(f) for f in fields]
            tail = _BR_TAIL.fullmatch(raw[-1])
            if tail is None:
                raise _malformed("brackets", f"mark ending at {match.start()} has no '?'")
            raw[-1] = tail.group(1)
            inner = _bs_unescape(raw[0])
            ids = _parse_ids(tail.group(3)) if tail.group(3) else ()
            alts = tuple(_bs_unescape(a) for a in raw[1:])
            p = float(tail.group(2)) if tail.group(2) else None
            marks.append(ParsedMark(length, length + len(inner), p, alts, ids))
            out.append(inner)
            length += len(inner)
            fields = None
        elif token == "[":
            raise _malformed("brackets", f"unescaped '[' inside a mark at {match.start()}")
        else:
            fields[-1].append(token)
    if fields is not None:
        raise _malformed("brackets", "a mark is not closed")
    return ParsedPrompt("".join(out), marks)


_FN_BODY_TOKEN = re.compile(r"\\u\{[0-9A-Fa-f]{1,6}\}|\\.|\[(\d+)\]|[^\\\[]+|\[|\\", re.S)
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_FN_NOTE = re.compile(
    rf"\[(\d+)\] {_QUOTED} p=(\d+(?:\.\d+)?)(?: id=(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*))?"
    rf"(?: t=\S+| page=\d+ box=\S+)?(?:; or: ({_QUOTED}(?:, {_QUOTED})*))?"
)
_FN_ALT = re.compile(_QUOTED)


def _parse_footnotes(rendered: str) -> ParsedPrompt:
    body, notes = rendered, []
    cut = rendered.rfind(_NOTES_SEPARATOR)
    if cut >= 0:
        lines = rendered[cut + len(_NOTES_SEPARATOR) :].split("\n")
        parsed = [_FN_NOTE.fullmatch(line) for line in lines]
        # Only our own notes can follow: the body escapes every `[`, so it cannot fake one.
        if lines and all(parsed):
            body = rendered[:cut]
            notes = [m for m in parsed if m is not None]
    out: list[str] = []
    length = 0
    ends: dict[int, int] = {}
    for match in _FN_BODY_TOKEN.finditer(body):
        if match.group(1) is not None:
            ends[int(match.group(1))] = length
            continue
        piece = _bs_unescape(match.group())
        out.append(piece)
        length += len(piece)
    text = "".join(out)
    marks: list[ParsedMark] = []
    for note in notes:
        number = int(note.group(1))
        if number not in ends:
            raise _malformed("footnotes", f"note [{number}] has no marker in the text")
        marked = _bs_unescape(note.group(2))
        end = ends.pop(number)
        start = end - len(marked)
        if start < 0 or text[start:end] != marked:
            raise _malformed("footnotes", f"note [{number}] does not match the text it marks")
        alts = tuple(_bs_unescape(a) for a in _FN_ALT.findall(note.group(5) or ""))
        ids = _parse_ids(note.group(4)) if note.group(4) else ()
        marks.append(ParsedMark(start, end, float(note.group(3)), alts, ids))
    if ends:
        raise _malformed("footnotes", f"markers without notes: {sorted(ends)}")
    marks.sort(key=lambda m: m.start)
    return ParsedPrompt(text, marks)


def _parse_json(rendered: str) -> ParsedPrompt:
    try:
        items = json.loads(rendered)
    except json.JSONDecodeError as error:
        raise _malformed("json", str(error)) from None
    if not isinstance(items, list):
        raise _malformed("json", "expected a list of text pieces")
    out: list[str] = []
    length = 0
    marks: list[ParsedMark] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
            length += len(item)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("unsure"), str):
            raise _malformed("json", f"unexpected item {item!r}")
        inner = item["unsure"]
        alts = tuple(str(a) for a in item.get("alt", ()))
        ids = _parse_ids(item["id"]) if "id" in item else ()
        marks.append(ParsedMark(length, length + len(inner), float(item["p"]), alts, ids))
        out.append(inner)
        length += len(inner)
    return ParsedPrompt("".join(out), marks)


def parse(rendered: str, style: Style = "inline") -> ParsedPrompt:
    """Read a prompt written by `render` back: the exact document text and the marks shown.

    `plain` gives the text back as it is, with no marks. Raises `InputError` when `rendered`
    is not valid output of `style`, `UsageError` for an unknown style.
    """
    _check_style(style)
    if style == "inline":
        return _parse_inline(rendered)
    if style == "brackets":
        return _parse_brackets(rendered)
    if style == "footnotes":
        return _parse_footnotes(rendered)
    if style == "json":
        return _parse_json(rendered)
    return ParsedPrompt(rendered, [])

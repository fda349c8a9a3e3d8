"""Tracing an LLM answer back to the marked spans it rests on."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from uncertain.document import Document, Mark
from uncertain.errors import UsageError
from uncertain.render.escaping import _bs_unescape, _xml_unescape
from uncertain.render.styles import MarksOption, Style, _check_style, _parse_ids, _Run, _runs


@dataclass(frozen=True)
class TraceHit:
    """One place where an LLM answer rests on a marked span.

    `field` is the path of the answer value (`"patient.medications[0]"`, or None for free
    text), `value` the part of the answer that matched (a word, a phrase or an id reference),
    `text` the marked text in the document, `confidence` the probability that the document's
    reading is right, `alternatives` the other readings (the document's own reading included
    when the answer used an alternative), `how` what matched: `"text"`, `"alternative"`,
    `"fuzzy"` or `"id"`.
    """

    field: str | None
    value: str
    text: str
    confidence: float
    alternatives: tuple[str, ...]
    span_ids: tuple[int, ...]
    mark: Mark
    how: Literal["text", "alternative", "fuzzy", "id"]

    def __str__(self) -> str:
        also = f", also: {', '.join(self.alternatives)}" if self.alternatives else ""
        where = f"{self.field}: " if self.field is not None else ""
        # A value that quotes part of a longer marked phrase says which phrase.
        within = (
            f"in {self.text!r}, "
            if self.how != "id"
            and self.text.casefold() not in self.value.casefold()
            and self.value.casefold() in self.text.casefold()
            else ""
        )
        return f"{where}{self.value} ({within}p={self.confidence:.2f}{also})"


# -- tracing an answer back to marked spans ---------------------------------------------------

_WORD = re.compile(r"\w+")
_ID_REF = re.compile(
    r"(?<![\w#])(?:id\s*=\s*[\"']?|#)(\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)[\"']?",
    re.IGNORECASE,
)
_FOOTNOTE_REF = re.compile(r"\[(\d+)\]")
_MIN_EXACT = 3  # shorter readings ("a", "of") match too much of any answer to mean anything
_MIN_FUZZY = 5
_FUZZY_SCORE = 85.0
_TRACE_ALTERNATIVES = 10


def _leaves(answer: object, path: str | None) -> Iterable[tuple[str | None, str]]:
    if isinstance(answer, str):
        yield path, answer
    elif isinstance(answer, Mapping):
        for key, value in answer.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(answer, (list, tuple)):
        for index, value in enumerate(answer):
            yield from _leaves(value, f"{path or ''}[{index}]")
    elif isinstance(answer, (int, float)) and not isinstance(answer, bool):
        yield path, str(answer)
    elif answer is not None and not isinstance(answer, bool):
        raise UsageError(
            f"cannot trace an answer value of type {type(answer).__name__}",
            "pass text, or a dict/list of strings",
        )


@dataclass(frozen=True)
class _Needle:
    run: int
    words: tuple[str, ...]
    reading: str
    how: Literal["text", "alternative"]


def _needles(doc: Document, runs: list[_Run]) -> list[_Needle]:
    needles: list[_Needle] = []
    for number, run in enumerate(runs):
        readings: list[tuple[str, Literal["text", "alternative"]]] = [
            (doc.text[run.start : run.end], "text")
        ]
        readings += [(a, "alternative") for a in run.alternatives]
        if len(run.spans) > 1:  # an answer may quote one word of a marked phrase
            for span in run.spans:
                readings.append((span.text, "text"))
                readings += [(a.text, "alternative") for a in span.alternatives]
        for reading, how in readings:
            words = tuple(w.casefold() for w in _WORD.findall(reading))
            if words and sum(len(w) for w in words) >= _MIN_EXACT:
                needles.append(_Needle(number, words, reading, how))
    return needles


def _hit(
    doc: Document,
    run: _Run,
    path: str | None,
    value: str,
    how: Literal["text", "alternative", "fuzzy", "id"],
    used: str | None,
) -> TraceHit:
    own = doc.text[run.start : run.end]
    readings = list(run.alternatives)
    if how == "alternative" and used is not None:
        # The answer took another reading: the transcript's own one is the alternative now.
        readings = [r for r in [own, *readings] if used.casefold() not in r.casefold()]
    return TraceHit(
        field=path,
        value=value,
        text=own,
        confidence=run.confidence,
        alternatives=tuple(readings),
        span_ids=run.span_ids,
        mark=run.mark,
        how=how,
    )


def trace(
    doc: Document,
    answer: str | Mapping[str, Any] | Sequence[Any],
    *,
    style: Style | None = None,
    marks: MarksOption = "auto",
    max_marks: int | None = None,
) -> list[TraceHit]:
    """Which values of an LLM answer rest on marked spans of `doc`.

    `answer` is free text or extracted fields (nested dicts/lists of strings). A value rests
    on a mark when it contains the marked text or one of its alternatives (case-insensitive,
    whole words, or a near match), or refers to its span ids (`id="12"`, `#12-13`), or, for
    `style="footnotes"`, to its note (`[3]`). Words that the document also has outside any
    mark ("the", a name heard clearly elsewhere) are no evidence and are not reported.
    `marks` and `max_marks` must be those used to render, so that footnote numbers line up.
    One hit per value and mark, in answer order.
    """
    if style is not None:
        _check_style(style)
    runs = _runs(doc, marks, _TRACE_ALTERNATIVES, max_marks)
    if not runs:
        return []
    run_of_span = {i: n for n, run in enumerate(runs) for i in run.span_ids}
    needles = _needles(doc, runs)
    unescape: Callable[[str], str] = (
        _xml_unescape if style in ("inline", "plain") else _bs_unescape if style else str
    )
    values = [(path, unescape(raw)) for path, raw in _leaves(answer, None)]
    found = [_candidates(runs, needles, run_of_span, style, value) for _, value in values]
    common = _unmarked(doc, runs, {c.key for cs in found for c in cs if c.key is not None})
    hits: list[TraceHit] = []
    for (path, value), candidates in zip(values, found, strict=True):
        best: dict[int, _Candidate] = {}
        for candidate in candidates:
            if candidate.key in common:
                continue
            held = best.get(candidate.run)
            if held is None or (candidate.start, candidate.rank) < (held.start, held.rank):
                best[candidate.run] = candidate
        for c in sorted(best.values(), key=lambda c: c.start):
            hits.append(_hit(doc, runs[c.run], path, value[c.start : c.end], c.how, c.reading))
    return hits


class _Candidate(NamedTuple):
    run: int
    start: int
    end: int
    how: Literal["text", "alternative", "fuzzy", "id"]
    rank: int  # at the same place, prefer an exact reading, then an id, then a near match
    reading: str | None
    key: tuple[str, ...] | None  # the answer's words that matched; None for id references


def _candidates(
    runs: list[_Run],
    needles: list[_Needle],
    run_of_span: Mapping[int, int],
    style: str | None,
    value: str,
) -> list[_Candidate]:
    """Every place in one answer value that may rest on a mark."""
    found: list[_Candidate] = []
    for match in _ID_REF.finditer(value):
        for span_id in _parse_ids(re.sub(r"\s+", "", match.group(1))):
            if span_id in run_of_span:
                number = run_of_span[span_id]
                found.append(_Candidate(number, match.start(), match.end(), "id", 1, None, None))
    if style == "footnotes":
        for match in _FOOTNOTE_REF.finditer(value):
            number = int(match.group(1)) - 1
            if 0 <= number < len(runs):
                found.append(_Candidate(number, match.start(), match.end(), "id", 1, None, None))
    words = [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(value)]
    grams: dict[tuple[str, ...], tuple[int, int]] = {}
    for size in sorted({len(n.words) for n in needles}):
        for first in range(len(words) - size + 1):
            key = tuple(w[0] for w in words[first : first + size])
            grams.setdefault(key, (words[first][1], words[first + size - 1][2]))
    exact: set[int] = set()
    for needle in needles:
        place = grams.get(needle.words)
        if place is not None:
            exact.add(needle.run)
            found.append(
                _Candidate(needle.run, *place, needle.how, 0, needle.reading, needle.words)
            )
    found.extend(_fuzzy([n for n in needles if n.run not in exact], words))
    return found


def _fuzzy(needles: list[_Needle], words: list[tuple[str, int, int]]) -> list[_Candidate]:
    """Near matches (a misspelt or re-inflected reading) of readings not found exactly."""
    from rapidfuzz import fuzz, process

    by_size: dict[int, list[_Needle]] = {}
    for needle in needles:
        if sum(len(w) for w in needle.words) >= _MIN_FUZZY:
            by_size.setdefault(len(needle.words), []).append(needle)
    found: list[_Candidate] = []
    for size, group in by_size.items():
        windows = [tuple(w[0] for w in words[i : i + size]) for i in range(len(words) - size + 1)]
        if not windows:
            continue
        scores = process.cdist(
            [" ".join(n.words) for n in group],
            [" ".join(w) for w in windows],
            scorer=fuzz.ratio,
            score_cutoff=_FUZZY_SCORE,
        )
        for row, needle in enumerate(group):
            best = int(scores[row].argmax())
            if scores[row][best] > 0:
                start, end = words[best][1], words[best + size - 1][2]
                found.append(_Candidate(needle.run, start, end, "fuzzy", 2, None, windows[best]))
    return found


def _unmarked(doc: Document, runs: list[_Run], keys: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The word sequences among `keys` that the document also has outside the marks."""
    starts = [run.start for run in runs]
    common: set[tuple[str, ...]] = set()
    for key in keys:
        pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in key) + r"(?!\w)"
        for match in re.finditer(pattern, doc.text, re.IGNORECASE):
            inside = bisect_right(starts, match.start()) - 1
            if inside < 0 or runs[inside].end < match.end():
                common.add(key)
                break
    return common

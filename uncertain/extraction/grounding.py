"""Grounding: where in the document an extracted value was written.

A value is looked for in the words of the document, after normalising both sides:
- strings: case, spacing and punctuation folded, found exactly or, failing that, as the most
  similar stretch of text (rapidfuzz's partial alignment, similarity >= `FUZZY_MIN`);
- numbers: every word that reads as the same amount (`RM9.00`, `9.00`, `9`);
- dates: every run of up to three words that reads as the same day (`25/12/2018`,
  `25 Dec 2018`).
Among several places the best-read one is kept (highest lowest-word confidence); how many
there were, and how many words of the field's kind the document holds at all, are evidence
too: a total that appears twice on a receipt is more likely right, a date field on a page
full of dates is easier to get wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from uncertain.document import Document, Span
from uncertain.extraction.schema import FieldKind, parse_amount, parse_date

__all__ = ["FUZZY_MIN", "Grounding", "ground"]

FUZZY_MIN = 0.8
"""Lowest similarity (0..1) at which a string counts as found in the document."""

_DIGIT = re.compile(r"\d")
# A word that is an amount and nothing else: a currency word or sign before it, a sign or
# punctuation after it (`RM9.00`, `$1,234.50`, `9.00*`), never a date or a time (`25/12`).
_AMOUNT_WORD = re.compile(r"[(\[]?[^\W\d]{0,3}[$€£¥]?\s*[-+]?\d[\d,.' ]*[^\w/:]{0,2}")


@dataclass(frozen=True)
class Grounding:
    """Where a value was found: its spans (empty when not found), whether it was found
    verbatim (after normalising), how similar the found text is (1.0 when exact), how many
    places hold it, and how many places could hold a value of its kind."""

    span_ids: tuple[int, ...] = ()
    exact: bool = False
    similarity: float = 0.0
    occurrences: int = 0
    candidates: int = 0

    @property
    def found(self) -> bool:
        """Whether the value was found in the document at all."""
        return bool(self.span_ids)


def normalize(text: str) -> str:
    """Case, spacing, punctuation and accents folded: only letters and digits remain."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def ground(doc: Document, kind: FieldKind, value: object) -> Grounding:
    """Find `value` (already checked against its field's `kind`) in `doc`'s words."""
    if value is None or kind == "boolean" or not doc.spans:
        return Grounding()
    if kind in ("number", "integer") and isinstance(value, (int, float)):
        return _ground_amount(doc, float(value))
    if kind == "date":
        return _ground_date(doc, str(value))
    return _ground_text(doc, str(value))


def _best(doc: Document, places: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    def support(ids: tuple[int, ...]) -> float:
        found = [doc.span(i).confidence for i in ids]
        known = [c for c in found if c is not None]
        return min(known) if known else 0.0

    return max(places, key=support)


def _ground_amount(doc: Document, value: float) -> Grounding:
    amounts = [(s.id, parse_amount(s.text)) for s in doc.spans if _AMOUNT_WORD.fullmatch(s.text)]
    readable = [(i, a) for i, a in amounts if a is not None]
    places = [(i,) for i, a in readable if abs(a - value) < 0.005]
    if not places:
        return Grounding(candidates=len(readable))
    return Grounding(_best(doc, places), True, 1.0, len(places), len(readable))


def _windows(spans: list[Span], size: int) -> list[tuple[int, ...]]:
    return [tuple(s.id for s in spans[i : i + size]) for i in range(len(spans) - size + 1)]


def _ground_date(doc: Document, value: str) -> Grounding:
    target = parse_date(value)
    dated: dict[int, tuple[int, ...]] = {}  # first span id -> the shortest window reading as a date
    matches: list[tuple[int, ...]] = []
    for size in (1, 2, 3):
        for ids in _windows(doc.spans, size):
            if ids[0] in dated or not any(_DIGIT.search(doc.span(i).text) for i in ids):
                continue
            text = " ".join(doc.span(i).text for i in ids)
            parsed = parse_date(text)
            if parsed is None:
                continue
            dated[ids[0]] = ids
            if parsed == target:
                matches.append(ids)
    if not matches:
        # Written with other words around it ("Date:25/12/2018"): fall back to the text.
        found = _ground_text(doc, value)
        return Grounding(found.span_ids, False, found.similarity, found.occurrences, len(dated))
    return Grounding(_best(doc, matches), True, 1.0, len(matches), len(dated))


def _ground_text(doc: Document, value: str) -> Grounding:
    target = normalize(value)
    if not target:
        return Grounding()
    # The document's words, normalised and joined, with the span of every character.
    pieces: list[str] = []
    owner: list[int] = []
    starts: set[int] = set()
    ends: set[int] = set()
    for span in doc.spans:
        piece = normalize(span.text)
        if not piece:
            continue
        starts.add(len(owner))
        pieces.append(piece)
        owner.extend([span.id] * len(piece))
        ends.add(len(owner))
    joined = "".join(pieces)
    exact: list[tuple[int, ...]] = []
    position = joined.find(target)
    while position >= 0:
        if position in starts and position + len(target) in ends:
            exact.append(tuple(dict.fromkeys(owner[position : position + len(target)])))
        position = joined.find(target, position + 1)
    if exact:
        return Grounding(_best(doc, exact), True, 1.0, len(exact))
    if len(target) < 3 or not joined:
        return Grounding()
    from rapidfuzz import fuzz

    alignment = fuzz.partial_ratio_alignment(target, joined)
    if alignment is None:
        return Grounding()
    similarity = alignment.score / 100.0
    if similarity < FUZZY_MIN or alignment.dest_end <= alignment.dest_start:
        return Grounding(similarity=similarity)
    ids = tuple(dict.fromkeys(owner[alignment.dest_start : alignment.dest_end]))
    return Grounding(ids, False, similarity, 1)

"""Helpers shared by the exporters: confidence bands, marked runs, layout grouping, escaping."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from uncertain.document import Box, Document, Span, TimeRange
from uncertain.errors import InputError

# Confidence bands used by every coloured view; the lower bound of each band, highest first.
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.9, "high", "green"),
    (0.7, "good", "yellow"),
    (0.5, "fair", "dark_orange"),
    (0.0, "low", "red"),
)

# Characters XML 1.0 cannot carry at all (C0 controls except tab/newline/CR, surrogates,
# U+FFFE/U+FFFF). Writers replace them with U+FFFD so the output always parses.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Line breaks of every kind (a subtitle cue must stay on lines without blank ones).
LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")


def band(confidence: float | None) -> str | None:
    """Name of the confidence band ('high', 'good', 'fair', 'low'), None when unfused."""
    if confidence is None:
        return None
    for lower, name, _ in BANDS:
        if confidence >= lower:
            return name
    return "low"


def heat_class(confidence: float | None) -> str:
    """CSS class for a confidence decile: 'c0' (below 0.1) to 'c9' (0.9 and up), 'cn' unfused."""
    if confidence is None:
        return "cn"
    return f"c{min(9, int(confidence * 10))}"


def fmt_conf(confidence: float | None) -> str:
    """Two-decimal confidence, or 'n/a' for an unfused span."""
    return "n/a" if confidence is None else f"{confidence:.2f}"


def xml_safe(text: str) -> str:
    """Replace characters XML 1.0 forbids with U+FFFD (documented substitution)."""
    return _XML_INVALID.sub("\ufffd", text)


def nlp(probability: float) -> float:
    """Negative natural log probability (hOCR's `nlp`), capped for a zero probability."""
    return round(-math.log(max(probability, 1e-6)), 3)


@dataclass(frozen=True)
class Run:
    """A run of adjacent spans that should not be trusted (a mark, or spans under a threshold)."""

    span_ids: tuple[int, ...]
    confidence: float
    reason: str


def marked_runs(doc: Document, threshold: float | None = None) -> list[Run]:
    """The document's marks, plus runs of spans below `threshold` not already marked, in order.

    Unfused spans (confidence None) are never put in a threshold run.
    """
    runs = [Run(tuple(m.span_ids), m.confidence, m.reason) for m in doc.marks]
    if threshold is not None:
        current: list[Span] = []
        extra: list[Run] = []

        def close() -> None:
            if current:
                low = min(s.confidence for s in current if s.confidence is not None)
                extra.append(Run(tuple(s.id for s in current), low, "low_confidence"))
                current.clear()

        for span in doc.spans:
            if (
                span.confidence is not None
                and span.confidence < threshold
                and doc.mark_of(span.id) is None
            ):
                current.append(span)
            else:
                close()
        close()
        runs.extend(extra)
    position = {s.id: n for n, s in enumerate(doc.spans)}
    runs.sort(key=lambda r: position[r.span_ids[0]])
    return runs


def run_index(runs: list[Run]) -> dict[int, int]:
    """Span id -> index of the run that covers it."""
    return {span_id: n for n, run in enumerate(runs) for span_id in run.span_ids}


def run_text(doc: Document, run: Run) -> str:
    """The document text a run covers, from its first span's start to its last span's end."""
    return doc.text[doc.span(run.span_ids[0]).start : doc.span(run.span_ids[-1]).end]


def run_alternatives(doc: Document, run: Run, limit: int = 3) -> list[tuple[str, float | None]]:
    """Other readings of a run, most likely first.

    One span: its own alternatives. Several: one reading that swaps each span for its best
    alternative (probability: the product over the swapped spans).
    """
    spans = [doc.span(i) for i in run.span_ids]
    if len(spans) == 1:
        return [(a.text, a.confidence) for a in spans[0].alternatives[:limit]]
    if not any(s.alternatives for s in spans):
        return []
    parts: list[str] = []
    probability = 1.0
    for n, span in enumerate(spans):
        if n:
            parts.append(doc.text[spans[n - 1].end : span.start])
        if span.alternatives:
            parts.append(span.alternatives[0].text)
            probability *= span.alternatives[0].confidence
        else:
            parts.append(span.text)
    return [("".join(parts), probability)]


def summary(doc: Document) -> str:
    """One line: words, marked share, mean confidence, expected errors.

    The expected errors (`Document.expected_errors`) come with their rate per page for a
    document of several pages, and per minute for a recording of a minute or more; shorter
    sources show the count alone, which says more than a rate extrapolated from seconds.
    """
    mean = doc.mean_confidence()
    words = len(doc.spans)
    confidence = "not fused" if mean is None else f"mean confidence {mean:.2f}"
    line = f"{words} word{'s' if words != 1 else ''}, {doc.marked_share():.0%} marked, {confidence}"
    errors = doc.expected_errors()
    if errors is None:
        return line
    line += f", {errors:.1f} errors expected"
    per_page = doc.expected_errors_per_page()
    per_minute = doc.expected_errors_per_minute()
    if per_page is not None and len(doc.pages) > 1:
        line += f" ({per_page:.1f} per page)"
    elif per_minute is not None and (doc.source.duration or 0.0) >= 60.0:
        line += f" ({per_minute:.1f} per minute)"
    return line


def title_of(doc: Document) -> str:
    """A short name for the document: its source file name, or 'document'."""
    if doc.source.path:
        return PurePath(doc.source.path).name or doc.source.path
    return "document"


def is_timed(doc: Document) -> bool:
    """True for audio/video documents (by media type, or some span or segment has a time)."""
    if doc.source.media_type.startswith(("audio/", "video/")):
        return True
    return any(s.time is not None for s in doc.spans) or any(b.time is not None for b in doc.blocks)


def is_paged(doc: Document) -> bool:
    """True for images and PDFs (the document has pages)."""
    return bool(doc.pages)


# -- subtitles -----------------------------------------------------------------------------


@dataclass
class Cue:
    """One subtitle cue: a time range and the spans heard in it."""

    time: TimeRange
    spans: list[Span]


def cues(doc: Document, max_words: int = 12) -> list[Cue]:
    """One cue per segment block (time from the block or its spans).

    Without segment blocks, timed spans are grouped `max_words` at a time. Cues with no
    time at all are left out; `InputError` when nothing is timed.
    """
    out: list[Cue] = []
    groups: list[tuple[TimeRange | None, list[Span]]] = [
        (block.time, spans) for block, spans in doc.iter_blocks("segment")
    ]
    if not groups:
        timed = [s for s in doc.spans if s.time is not None]
        groups = [(None, timed[n : n + max_words]) for n in range(0, len(timed), max_words)]
    for time, spans in groups:
        if not spans:
            continue
        if time is None:
            times = [s.time for s in spans if s.time is not None]
            if not times:
                continue
            time = TimeRange(start=min(t.start for t in times), end=max(t.end for t in times))
        out.append(Cue(time, spans))
    if not out and not is_timed(doc):
        raise InputError(
            doc.source.path,
            "subtitles need timed words, and this document has none (it is not audio or video)",
            "choose another output format, e.g. -f text or -f json",
        )
    return out


# -- page layout (hOCR, ALTO) --------------------------------------------------------------


@dataclass
class Line:
    """Spans read on one line of a page."""

    key: tuple[str, int]
    spans: list[Span] = field(default_factory=list)

    @property
    def box(self) -> Box | None:
        return union([s.box for s in self.spans])


@dataclass
class Paragraph:
    key: tuple[str, int]
    lines: list[Line] = field(default_factory=list)

    @property
    def box(self) -> Box | None:
        return union([line.box for line in self.lines])


@dataclass
class Area:
    key: tuple[str, int]
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def box(self) -> Box | None:
        return union([p.box for p in self.paragraphs])


def union(boxes: list[Box | None]) -> Box | None:
    """Smallest box around all given boxes (None when there are none)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return Box(
        page=real[0].page,
        x0=min(b.x0 for b in real),
        y0=min(b.y0 for b in real),
        x1=max(b.x1 for b in real),
        y1=max(b.y1 for b in real),
    )


def layout(doc: Document) -> list[list[Area]]:
    """Areas > paragraphs > lines > spans, per page (index = page number).

    Region, paragraph and line blocks are used where the document has them; spans outside
    any line block are split into lines at line breaks in the text, outside any paragraph
    block at blank lines, and outside any region into one area per page. Spans without a
    box stay on the page of the span before them.
    """
    member: dict[str, dict[int, int]] = {"region": {}, "paragraph": {}, "line": {}}
    for number, block in enumerate(doc.blocks):
        if block.kind in member:
            for span_id in block.span_ids:
                member[block.kind].setdefault(span_id, number)
    pages: list[list[Area]] = [[] for _ in doc.pages]
    auto_line = auto_par = 0
    page = 0
    previous_end: int | None = None
    for span in doc.spans:
        if previous_end is not None:
            gap = doc.text[previous_end : span.start]
            breaks = len(LINE_BREAKS.findall(gap))
            auto_line += breaks > 0
            auto_par += breaks > 1
        previous_end = span.end
        if span.box is not None:
            page = span.box.page
        if page >= len(pages):
            continue
        keys = (
            _key(member["region"], span.id, page),
            _key(member["paragraph"], span.id, auto_par),
            _key(member["line"], span.id, auto_line),
        )
        areas = pages[page]
        if not areas or areas[-1].key != keys[0]:
            areas.append(Area(keys[0]))
        paragraphs = areas[-1].paragraphs
        if not paragraphs or paragraphs[-1].key != keys[1]:
            paragraphs.append(Paragraph(keys[1]))
        lines = paragraphs[-1].lines
        if not lines or lines[-1].key != keys[2]:
            lines.append(Line(keys[2]))
        lines[-1].spans.append(span)
    return pages


def _key(members: dict[int, int], span_id: int, auto: int) -> tuple[str, int]:
    block = members.get(span_id)
    return ("auto", auto) if block is None else ("block", block)


def require_pages(doc: Document, fmt: str) -> None:
    """`InputError` when a page format is asked of a document without pages."""
    if not doc.pages:
        raise InputError(
            doc.source.path,
            f"{fmt} describes page images, and this document has no pages "
            "(it is not an image or PDF)",
            "choose another output format, e.g. -f text or -f json",
        )


def char_confidences(span: Span) -> list[float] | None:
    """Per-character probabilities when the span's tokens are its characters, else None."""
    tokens = span.tokens
    if tokens and len(tokens) == len(span.text) and "".join(t.text for t in tokens) == span.text:
        return [t.probability for t in tokens]
    return None

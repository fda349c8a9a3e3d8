"""Building the `Document` from page results: text, spans with signals and alternatives,
line and paragraph blocks, boxes clipped to their page."""

from __future__ import annotations

import math
from typing import Any

from uncertain.adapters.hocr import HocrWord, PixelBox
from uncertain.adapters.tesseract.pages import _PageResult
from uncertain.adapters.tesseract.signals import (
    _MAX_ALTERNATIVES,
    _cross_match,
    alternatives_for,
    char_posteriors,
    word_signals,
)
from uncertain.document import Alternative, Block, Box, Document, Page, Source, Span


def _clip_box(box: PixelBox | None, page_index: int, page: Page) -> Box | None:
    if box is None or page.width <= 0 or page.height <= 0:
        return None
    x0 = min(max(box[0], 0.0), float(page.width))
    x1 = min(max(box[2], x0), float(page.width))
    y0 = min(max(box[1], 0.0), float(page.height))
    y1 = min(max(box[3], y0), float(page.height))
    return Box(page=page_index, x0=x0, y0=y0, x1=x1, y1=y1)


def _reread_alternatives(word: HocrWord, reread: HocrWord) -> list[Alternative]:
    """Other readings of a word in doubt whose crop read differently: that reading first."""
    posteriors = [char_posteriors(c) for c in reread.chars]
    chosen = [p.get(c.text, 0.0) for c, p in zip(reread.chars, posteriors, strict=True)]
    found = [Alternative(text=reread.text, confidence=math.prod(chosen))] if chosen else []
    found += alternatives_for(reread, posteriors)
    unique: dict[str, Alternative] = {}
    for alternative in found:
        if alternative.text != word.text and alternative.text.strip():
            unique.setdefault(alternative.text, alternative)
    return sorted(unique.values(), key=lambda a: -a.confidence)[:_MAX_ALTERNATIVES]


class _Builder:
    """Accumulates text, spans and blocks page by page."""

    def __init__(self, first_id: int = 0) -> None:
        self.first_id = first_id
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[Span] = []
        self.blocks: list[Block] = []
        self.pages: list[Page] = []

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def add(self, result: _PageResult) -> None:
        page_index = len(self.pages)
        page = result.page
        self.pages.append(page)
        if result.words is None:
            return
        matches = _cross_match(result.words, result.second) if result.second else None
        for paragraph in result.words.paragraphs:
            # Paragraphs (and pages) are apart by a blank line, lines by a newline, words by a
            # space; parse_hocr and the PDF text layer never give empty lines or paragraphs.
            paragraph_separator = "\n\n" if self.length else ""
            paragraph_ids: list[int] = []
            line_blocks: list[Block] = []
            for line_number, line in enumerate(paragraph.lines):
                line_height = (line.box[3] - line.box[1]) if line.box else None
                line_ids: list[int] = []
                for word_number, word in enumerate(line.words):
                    if word_number:
                        self._append(" ")
                    elif line_number:
                        self._append("\n")
                    else:
                        self._append(paragraph_separator)
                    span = self._span(word, page_index, page, result, line_height, matches)
                    self._append(word.text)
                    self.spans.append(span)
                    line_ids.append(span.id)
                if line_ids:
                    line_blocks.append(
                        Block(
                            kind="line",
                            span_ids=line_ids,
                            box=_clip_box(line.box, page_index, page),
                        )
                    )
                paragraph_ids += line_ids
            if paragraph_ids:
                self.blocks.append(
                    Block(
                        kind="paragraph",
                        span_ids=paragraph_ids,
                        box=_clip_box(paragraph.box, page_index, page),
                    )
                )
                self.blocks += line_blocks

    def _span(
        self,
        word: HocrWord,
        page_index: int,
        page: Page,
        result: _PageResult,
        line_height: float | None,
        matches: dict[int, HocrWord | None] | None,
    ) -> Span:
        box = _clip_box(word.box, page_index, page)
        common: dict[str, Any] = {
            "id": self.first_id + len(self.spans),
            "start": self.length,
            "end": self.length + len(word.text),
            "text": word.text,
            "box": box,
        }
        if result.digital:
            return Span(**common, confidence=1.0, signals={"digital": 1.0})
        with_choices = any(c.choices for c in word.chars)
        posteriors = [char_posteriors(c) for c in word.chars] if with_choices else []
        signals = word_signals(word, line_height, posteriors)
        alternatives = alternatives_for(word, posteriors)
        reread = result.rereads.get(id(word))
        if reread is not None:
            alternatives = _reread_alternatives(word, reread)
        if matches is not None:
            other = matches.get(id(word))
            agree = other is not None and other.text == word.text
            signals["cross_agreement"] = 1.0 if agree else 0.0
            signals["cross_word_confidence"] = (
                other.wconf / 100.0 if other is not None and other.wconf is not None else 0.0
            )
            if other is not None and not agree:
                other_posteriors = [char_posteriors(c) for c in other.chars]
                chosen = [
                    p.get(c.text, 0.0) for c, p in zip(other.chars, other_posteriors, strict=True)
                ]
                probability = math.prod(chosen) if chosen else 0.0
                known = {a.text for a in alternatives}
                if other.text not in known:
                    alternatives.append(Alternative(text=other.text, confidence=probability))
                alternatives.sort(key=lambda a: -a.confidence)
                alternatives = alternatives[: _MAX_ALTERNATIVES + 1]
        return Span(**common, signals=signals, alternatives=alternatives)

    def document(self, source: Source) -> Document:
        return Document(
            text="".join(self.parts),
            spans=self.spans,
            blocks=self.blocks,
            pages=self.pages,
            source=source,
        )

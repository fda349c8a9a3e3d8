"""Markdown: marks in bold with footnotes; everything else renders literally."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from tests.exporters.docs import audio_doc, image_doc
from uncertain.document import Document
from uncertain.exporters import export

FOOTNOTE_REF = re.compile(r"\[\^\d+\]")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.strong: list[str] = []
        self.tags: list[str] = []
        self._in_strong = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "strong":
            self._in_strong += 1
            self.strong.append("")
        self.tags.append(tag)

    # markdown-it writes a newline after every <br />, so line breaks come through as data.

    def handle_endtag(self, tag: str) -> None:
        if tag == "strong":
            self._in_strong -= 1
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._in_strong:
            self.strong[-1] += data


def body_and_notes(markdown: str) -> tuple[str, list[str]]:
    lines = markdown.split("\n")
    notes = [line for line in lines if line.startswith("[^")]
    body = "\n".join(line for line in lines[4:] if not line.startswith("[^"))
    return body, notes


def rendered(markdown: str) -> _Text:
    parser = _Text()
    parser.feed(MarkdownIt("commonmark").render(markdown))
    return parser


def words_rendered(doc: Document) -> list[str]:
    body, _ = body_and_notes(export(doc, "md"))
    return FOOTNOTE_REF.sub("", "".join(rendered(body).parts)).split()


def test_marked_words_are_bold_with_footnotes() -> None:
    doc = audio_doc()
    out = export(doc, "md")
    assert out.startswith(
        "# talk.wav\n\n*10 words, 40% marked, mean confidence 0.63, 3.7 errors expected*\n"
    )
    body, notes = body_and_notes(out)
    assert "**metaformin**[^2]" in body
    assert notes[1] == (
        "[^2]: **metaformin**: confidence 0.35 (low confidence); other readings: METAFORMIN? (0.65)"
    )
    assert rendered(body).strong == ["patient", "metaformin", "for", "diabetes"]


def test_words_render_back_exactly(any_doc: Document) -> None:
    assert words_rendered(any_doc) == any_doc.text.split()


def test_lines_of_a_scan_stay_lines() -> None:
    body, _ = body_and_notes(export(image_doc(fused=False), "md"))
    text = "".join(rendered(body).parts).strip()
    assert text.split("\n") == ["Invoice number 4711", "Total: 12,50 EUR", "Thank you"]


def test_markdown_syntax_in_text_is_literal() -> None:
    text = (
        "# not a heading\n- not a list\n1. not numbered\n    not code\n> not a quote\n*x* _y_ `z`"
    )
    doc = Document(text=text)
    body, _ = body_and_notes(export(doc, "md"))
    parser = rendered(body)
    assert set(parser.tags) <= {"p", "br"}
    assert "".join(parser.parts).split() == text.split()

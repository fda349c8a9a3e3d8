"""Long documents are asked about in parts: the parts cover the text, never cut a word, and
keep to `max_chars`."""

from __future__ import annotations

import pytest

from uncertain.document import Document, Source, Span
from uncertain.extraction import split_document

from .pages import CLEAN_PAGE, read_page


@pytest.fixture(scope="module")
def page() -> Document:
    return read_page(CLEAN_PAGE)


def assert_parts_cover(doc: Document, parts: list[Document], max_chars: int) -> None:
    assert "".join(part.text for part in parts) == doc.text
    assert all(len(part.text) <= max_chars for part in parts)
    # Every span in exactly one part, whole, with its id, and its offsets moved with the part.
    ids = [s.id for part in parts for s in part.spans]
    assert ids == [s.id for s in doc.spans]
    for part in parts:
        for span in part.spans:
            assert part.text[span.start : span.end] == span.text == doc.span(span.id).text


@pytest.mark.parametrize("max_chars", [200, 250, 300])
def test_parts_cover_the_text_and_keep_every_word(page: Document, max_chars: int) -> None:
    assert len(page.text) > max_chars  # the premise
    parts = split_document(page, max_chars)
    assert len(parts) >= 2
    assert_parts_cover(page, parts, max_chars)
    # Cut at line ends where there are any.
    assert all(part.text.endswith("\n") or parts[i + 1].text.startswith("\n")
               for i, part in enumerate(parts[:-1]))  # fmt: skip


def test_a_short_document_is_one_part(page: Document) -> None:
    assert split_document(page, len(page.text)) == [page]


def test_a_line_longer_than_a_part_is_cut_at_a_space() -> None:
    words = [f"w{i:03d}" for i in range(120)]
    text = " ".join(words)
    position, spans = 0, []
    for number, word in enumerate(words):
        start = text.index(word, position)
        position = start + len(word)
        spans.append(Span(id=number, start=start, end=position, text=word, confidence=0.9))
    doc = Document(text=text, spans=spans, source=Source(engine="test"))
    parts = split_document(doc, 200)
    assert len(parts) >= 3
    assert_parts_cover(doc, parts, 200)


def test_a_word_longer_than_a_part_is_never_cut() -> None:
    # Once a loop without end (the cut moved back to the start of the part), and a part of
    # no words before it.
    long = "x" * 300
    text = f"short line\n{long} tail"
    spans = [
        Span(id=0, start=0, end=5, text="short"),
        Span(id=1, start=6, end=10, text="line"),
        Span(id=2, start=11, end=311, text=long),
        Span(id=3, start=312, end=316, text="tail"),
    ]
    doc = Document(text=text, spans=spans, source=Source(engine="test"))
    parts = split_document(doc, 200)
    assert "".join(part.text for part in parts) == text
    assert [[s.id for s in part.spans] for part in parts] == [[0, 1], [2], [3]]
    assert len(parts[1].text) > 200  # the one part allowed to be longer: it holds the word

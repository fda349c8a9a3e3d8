"""Labelling a scanned page's words against its reference: printed parentheses are text."""

from __future__ import annotations

from uncertain.document import Document, Span
from uncertain.evaluate import label_page_spans


def _page(words: list[str]) -> Document:
    spans, start = [], 0
    for number, word in enumerate(words):
        spans.append(Span(id=number, start=start, end=start + len(word), text=word))
        start += len(word) + 1
    return Document(text=" ".join(words), spans=spans)


def test_words_in_printed_parentheses_are_right_when_read_right() -> None:
    """Whisper's normaliser drops "(coughs)" from transcripts; a book's "(said the youth)" is
    printed text, so its words are right when the page reads them."""
    words = ["or", "(said", "the", "youth)", "he", "went"]
    labels, _ = label_page_spans(_page(words), "or (said the youth) he went")
    assert labels == [True] * len(words)
    wrong, _ = label_page_spans(_page(["or", "(sald", "the", "youth)"]), "or (said the youth)")
    assert wrong == [True, False, True, True]

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


def test_page_wer_counts_printed_parentheses() -> None:
    """WER on a page keeps the words in printed parentheses on both sides: a page that reads
    them wrong has errors there, one that reads them right has none."""
    from uncertain.document import Box, Page
    from uncertain.evaluate import evaluate

    def scanned(words: list[str]) -> Document:
        doc = _page(words)
        box = Box(page=0, x0=0, y0=0, x1=10, y1=10)
        spans = [s.model_copy(update={"box": box, "confidence": 0.9}) for s in doc.spans]
        return doc.model_copy(update={"spans": spans, "pages": [Page(width=100, height=100)]})

    reference = "or (said the youth) he went"
    right = evaluate([(scanned(["or", "(said", "the", "youth)", "he", "went"]), reference)])
    wrong = evaluate([(scanned(["or", "(sald", "tho", "youth)", "he", "went"]), reference)])
    assert right.wer == 0.0
    assert wrong.wer == 2 / 6

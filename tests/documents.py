"""A builder shared by tests that write small documents by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from uncertain.document import Span


def word_spans(
    text: str, words: Sequence[str], fields: Callable[[int, str], dict[str, Any]]
) -> list[Span]:
    """One span per word, found in `text` left to right, with `fields(number, word)` added
    (confidence, alternatives, ...)."""
    spans, position = [], 0
    for number, word in enumerate(words):
        start = text.index(word, position)
        position = start + len(word)
        spans.append(Span(id=number, start=start, end=position, text=word, **fields(number, word)))
    return spans

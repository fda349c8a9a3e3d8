"""Resolution of readings: settle what calibrated evidence can settle, before any model sees
the text. The function is `resolve`, also `uncertain.resolve`.

For each word, `resolve` weighs the recognised reading against its alternatives (the N-best
hypotheses, the cross-check's reading, OCR character choices) and keeps the reading with the
highest probability of being right:

- the recognised reading is right with its calibrated `Span.confidence` c;
- an alternative is right only when the recognised reading is wrong, so with probability
  (1 - c) * q, where q is the chance that this alternative is the right reading of a wrong
  word. q comes from the alternative's engine score through a small table per source, fitted
  on the corpus fit split (`bench/downstream.py`; see `ALTERNATIVE_TABLES`).

A replaced reading is kept as the first alternative (with its calibrated c), the other
alternatives of that word that were weighed get their resolved probabilities (phrase readings
keep their engine score), and the span's confidence becomes the chosen reading's. Marks stay
(the word is still uncertain) with their confidence updated.
`source.settings["resolved"]` says the text was resolved and how many words changed.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from uncertain.crosscheck import normalize_word
from uncertain.document import Alternative, Document, Mark, Span

__all__ = [
    "ALTERNATIVE_TABLES",
    "MARGINS",
    "alternative_probabilities",
    "alternative_source",
    "resolve",
]

# Per source of alternatives, q as a step function of the engine's score: (score bin lower
# edges, q per bin). Fitted on the corpus fit split by `bench/downstream.py report --split fit
# --fit-tables` (with the calibrators of 2026-11-27):
# among wrong words whose alternative had that score, the share whose alternative was right.
ALTERNATIVE_TABLES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Whisper tiny.en, 3 hypotheses: 37 fit recordings, 85 wrong words.
    "nbest": ((0.0, 0.2), (0.143, 0.211)),
    # Whisper base's reading where it disagrees with tiny.en: 37 fit recordings (one bin:
    # too few to split by score).
    "cross": ((0.0,), (0.148,)),
    # Tesseract character choices: 24 fit pages, 459 wrong words.
    "ocr": ((0.0, 0.4, 0.5), (0.07, 0.079, 0.12)),
}
"""q (chance that an alternative is the right reading of a wrong word) by engine score."""

MARGINS: dict[str, float] = {"nbest": math.inf, "cross": math.inf, "ocr": math.inf}
"""By how much an alternative's probability must exceed the recognised reading's, per source
(`math.inf`: the source is never used). Chosen on the corpus fit split by
`bench/downstream.py report --split fit --choose-margins`: the smallest margin after which no
condition got worse at it or any larger margin, one step up for safety; a source that
fixed nothing on fit is not used."""


def alternative_source(span: Span, index: int, alternative: Alternative) -> str:
    """Where `span.alternatives[index]` came from: `cross` (the cross-check's reading),
    `nbest` (Whisper's N-best hypotheses) or `ocr` (Tesseract's character choices), the
    key of `ALTERNATIVE_TABLES` and `MARGINS` for it."""
    signals = span.signals
    if (
        index == 0
        and signals.get("cross_agreement") == 0.0
        and alternative.confidence
        == signals.get("cross_word_probability", signals.get("cross_word_confidence"))
    ):
        return "cross"
    if span.box is not None or "word_confidence" in signals:
        return "ocr"
    return "nbest"


_source = alternative_source  # its name before it was public


def _q(source: str, score: float) -> float:
    edges, values = ALTERNATIVE_TABLES[source]
    return values[max(bisect_right(edges, score) - 1, 0)]


def alternative_probabilities(span: Span) -> list[tuple[str, float]]:
    """Each distinct other reading of `span` with its probability of being the right one.

    Readings that equal the recognised one up to case and punctuation are left out (they
    change no word), and so are readings with another number of words (an N-best phrase
    attached to each word of a run); the best probability per reading counts. Empty when the
    span has no calibrated confidence.
    """
    return [(text, probability) for text, probability, _ in _ranked(span)]


def _ranked(span: Span) -> list[tuple[str, float, str]]:
    if span.confidence is None:
        return []
    own = normalize_word(span.text)
    size = len(span.text.split())
    wrong = 1.0 - span.confidence
    best: dict[str, tuple[str, float, str]] = {}
    for index, alternative in enumerate(span.alternatives):
        text = alternative.text.strip()
        key = normalize_word(text)
        if not key or key == own:
            continue
        if len(text.split()) != size:
            # A phrase reading stands for a run of words and is attached to each of them;
            # putting it in place of one word would repeat it. It stays an alternative.
            continue
        source = alternative_source(span, index, alternative)
        probability = wrong * _q(source, alternative.confidence)
        if key not in best or probability > best[key][1]:
            best[key] = (text, probability, source)
    return sorted(best.values(), key=lambda item: -item[1])


def resolve(doc: Document, *, margin: float | None = None) -> Document:
    """A new document whose text takes, per word, the reading most likely to be right.

    `margin`: an alternative replaces the recognised reading only when its probability is
    higher by more than this (default: `MARGINS` for the alternative's source). The input
    document is not changed. Documents without calibrated confidences (not fused) come back
    unchanged but for `source.settings`.
    """
    text = doc.text
    pieces: list[str] = []
    spans: list[Span] = []
    position = shift = changed = 0
    new_confidence: dict[int, float] = {}
    for span in doc.spans:
        choice = _choose(span, margin)
        pieces.append(text[position : span.start])
        start = span.start + shift
        if choice is None:
            pieces.append(span.text)
            spans.append(
                span
                if shift == 0
                else span.model_copy(update={"start": start, "end": span.end + shift})
            )
        else:
            reading, probability, others = choice
            pieces.append(reading)
            assert span.confidence is not None  # _choose only picks calibrated spans
            alternatives = [Alternative(text=span.text, confidence=span.confidence)]
            alternatives += [
                Alternative(text=t, confidence=min(max(p, 0.0), 1.0)) for t, p in others
            ]
            # Readings resolve does not weigh (phrases, the same word) stay as they were.
            weighed = {normalize_word(a.text) for a in alternatives} | {normalize_word(reading)}
            alternatives += [a for a in span.alternatives if normalize_word(a.text) not in weighed]
            spans.append(
                span.model_copy(
                    update={
                        "start": start,
                        "end": start + len(reading),
                        "text": reading,
                        "confidence": probability,
                        "alternatives": alternatives,
                        # The tokens spelled the replaced reading; the signals stay as the
                        # engine's evidence about this position.
                        "tokens": [],
                    }
                )
            )
            new_confidence[span.id] = probability
            shift += len(reading) - len(span.text)
            changed += 1
        position = span.end
    pieces.append(text[position:])
    marks = [_updated(mark, doc, new_confidence) for mark in doc.marks]
    settings = dict(doc.source.settings)
    settings["resolved"] = True
    settings["resolved_words"] = changed
    source = doc.source.model_copy(update={"settings": settings})
    return Document.model_validate(
        {
            "schema_version": doc.schema_version,
            "text": "".join(pieces),
            "spans": spans,
            "blocks": doc.blocks,
            "marks": marks,
            "pages": doc.pages,
            "source": source,
        }
    )


def _choose(
    span: Span, margin: float | None
) -> tuple[str, float, Sequence[tuple[str, float]]] | None:
    """The reading to put in place of `span`'s, its probability and the rest; None to keep."""
    if span.confidence is None or not span.alternatives:
        return None
    ranked = _ranked(span)
    # The likeliest reading that beats the recognised one by its source's margin; a source
    # that is not used (infinite margin) cannot displace a word, though its readings stay.
    for index, (reading, probability, source) in enumerate(ranked):
        needed = MARGINS[source] if margin is None else margin
        if probability > span.confidence + needed:
            others = ranked[:index] + ranked[index + 1 :]
            return reading, probability, [(t, p) for t, p, _ in others]
    return None


def _updated(mark: Mark, doc: Document, new_confidence: dict[int, float]) -> Mark:
    if not any(i in new_confidence for i in mark.span_ids):
        return mark
    product = 1.0
    for span_id in mark.span_ids:
        confidence = new_confidence.get(span_id, doc.span(span_id).confidence)
        product *= 1.0 if confidence is None else confidence
    return mark.model_copy(update={"confidence": product})

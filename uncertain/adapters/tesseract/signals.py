"""Signals and alternatives of one OCR word from its hOCR evidence, and matching the words of
a cross-check pass to the page's words (the signal list is in the package docstring)."""

from __future__ import annotations

import math
import re

from uncertain.adapters.hocr import HocrChar, HocrPage, HocrWord, PixelBox
from uncertain.adapters.lexicon import add_lexicon_signals
from uncertain.document import Alternative, Document

__all__ = ["alternatives_for", "char_posteriors", "document_signals", "word_signals"]

_CHOICE_TEMPERATURE = 5.0  # x_confs = 100 - 5 * rating; exp(-rating) is the path probability
_MAX_ALTERNATIVES = 3
_MIN_ALTERNATIVE_PROBABILITY = 0.01
_BEAM = 8


def char_posteriors(char: HocrChar) -> dict[str, float]:
    """Probability of each reading of one character, from its `lstm_choices` scores.

    The chosen character is always present: when the decoder's choice list lacks it, it is
    taken as tied with the best listed choice. Without choices the chosen character gets 1.
    """
    scores: dict[str, float] = {}
    for text, score in char.choices:
        scores[text] = max(scores.get(text, -math.inf), score)
    if not scores:
        return {char.text: 1.0}
    if char.text not in scores:
        scores[char.text] = max(scores.values())
    top = max(scores.values())
    weights = {t: math.exp((s - top) / _CHOICE_TEMPERATURE) for t, s in scores.items()}
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


def alternatives_for(word: HocrWord, posteriors: list[dict[str, float]]) -> list[Alternative]:
    """The most likely other readings of `word`, built from its character posteriors."""
    if not posteriors or all(len(p) == 1 for p in posteriors):
        return []
    beam: list[tuple[str, float]] = [("", 1.0)]
    for distribution in posteriors:
        options = sorted(distribution.items(), key=lambda item: -item[1])[:4]
        beam = sorted(
            ((text + option, p * q) for text, p in beam for option, q in options),
            key=lambda item: -item[1],
        )[:_BEAM]
    found: list[Alternative] = []
    for text, probability in beam:
        if text == word.text or probability < _MIN_ALTERNATIVE_PROBABILITY or not text.strip():
            continue
        found.append(Alternative(text=text, confidence=min(max(probability, 0.0), 1.0)))
        if len(found) == _MAX_ALTERNATIVES:
            break
    return found


def word_signals(
    word: HocrWord, line_height: float | None, posteriors: list[dict[str, float]]
) -> dict[str, float]:
    """The raw evidence about one OCR word, by stable signal name (see the module docstring)."""
    signals: dict[str, float] = {}
    if word.wconf is not None:
        signals["word_confidence"] = word.wconf / 100.0
    # No posteriors: the word was read without character choices (not in doubt).
    chosen = (
        [p.get(c.text, 0.0) for c, p in zip(word.chars, posteriors, strict=True)]
        if posteriors
        else []
    )
    if chosen:
        signals["min_char_confidence"] = min(chosen)
        signals["mean_char_confidence"] = sum(chosen) / len(chosen)
        signals["reading_probability"] = math.prod(chosen)
    xconfs = [c.conf / 100.0 for c in word.chars if c.conf is not None]
    if xconfs:
        signals["min_char_xconf"] = min(xconfs)
        signals["mean_char_xconf"] = sum(xconfs) / len(xconfs)
    signals["char_count"] = float(len(word.text))
    if word.box is not None and line_height:
        signals["box_height_ratio"] = (word.box[3] - word.box[1]) / line_height
    core = word.text.strip(".,;:!?()[]{}\"'«»„“”‘’-–—/%$€£")
    signals["is_numeric"] = 1.0 if core and re.fullmatch(r"[\d.,:/+-]+", core) else 0.0
    has_digit = any(ch.isdigit() for ch in core)
    has_alpha = any(ch.isalpha() for ch in core)
    signals["mixed_alnum"] = 1.0 if has_digit and has_alpha else 0.0
    return signals


def document_signals(doc: Document, language: str) -> Document:
    """`doc` with the signals that need the whole document: lexicon evidence about each word
    in `language` and repetition of readings (`uncertain.adapters.lexicon`)."""
    return add_lexicon_signals(doc, language)


# -- cross-check ----------------------------------------------------------------------------


def _overlap(a: PixelBox, b: PixelBox) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def _cross_match(first: HocrPage, second: HocrPage) -> dict[int, HocrWord | None]:
    """For each word of `first` (by id()), the word of `second` it overlaps most, if any."""
    others = [w for w in second.words() if w.box is not None]
    matches: dict[int, HocrWord | None] = {}
    for word in first.words():
        best: HocrWord | None = None
        best_overlap = 0.3  # below this the boxes do not describe the same word
        if word.box is not None:
            for other in others:
                assert other.box is not None
                overlap = _overlap(word.box, other.box)
                if overlap > best_overlap:
                    best, best_overlap = other, overlap
        matches[id(word)] = best
    return matches

"""Word alternatives from a decoding window's N-best hypotheses.

The hypotheses are weighed by the softmax of their log-probabilities and aligned word by
word to the decoded words, so each word gets the mass of the hypotheses that read it
differently, per reading (`nbest_agreement`, `hypothesis_count`, `alternatives`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from uncertain.document import Alternative

_WORD = re.compile(r"\w+", re.UNICODE)


UNCERTAIN_WORD_PROBABILITY = 0.7
"""With `alternatives`, the separate N-best search runs only for the decoding windows (30 s)
holding a word whose probability is below this; the others take their N-best list from the
decode's own beam. On 120 fit clips (clean, noisy, spontaneous) every clip with a word the
bundled tiny.en calibrator marks held a word below 0.69."""


def _holds_doubt(alignments: list[list[dict[str, Any]]]) -> bool:
    return any(
        float(entry.get("probability", 1.0)) < UNCERTAIN_WORD_PROBABILITY
        for alignment in alignments
        for entry in alignment
    )


@dataclass
class _WindowAlternatives:
    """The N-best reading of one decoding window, per word of its best hypothesis."""

    words: list[str]
    agreement: list[float]
    readings: list[dict[str, float]]
    count: int
    cursor: int = 0


def _normal(word: str) -> str:
    found = "".join(_WORD.findall(word.lower()))
    return found or word.strip()


def _window_alternatives(
    decoded: Any, nbest: Any, tokenizer: Any, length_penalty: float
) -> _WindowAlternatives | None:
    """Weigh the window's N-best hypotheses and align each to the decoded words (None when
    the window has no N-best list: no word in doubt and a decode that fell back to sampling,
    whose single hypothesis is no beam)."""
    if nbest is None:
        return None
    eot = tokenizer.eot

    def words_of(ids: Sequence[int]) -> list[str]:
        return str(tokenizer.decode([t for t in ids if t < eot])).split()

    best = words_of(decoded.sequences_ids[0])
    hypotheses = [words_of(ids) for ids in nbest.sequences_ids]
    scores = list(nbest.scores) if nbest.scores else [0.0] * len(hypotheses)
    logps = [
        float(score) * max(len(ids), 1) ** length_penalty
        for score, ids in zip(scores, nbest.sequences_ids, strict=False)
    ]
    top = max(logps) if logps else 0.0
    weights = [math.exp(lp - top) for lp in logps]
    total = sum(weights) or 1.0
    weights = [w / total for w in weights]
    best_norm = [_normal(w) for w in best]
    agreement = [0.0] * len(best)
    readings: list[dict[str, float]] = [{} for _ in best]
    for words, weight in zip(hypotheses, weights, strict=False):
        norm = [_normal(w) for w in words]
        matcher = difflib.SequenceMatcher(None, best_norm, norm, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for i in range(i1, i2):
                    agreement[i] += weight
            elif tag == "replace":
                if i2 - i1 == j2 - j1:
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=False):
                        readings[i][words[j]] = readings[i].get(words[j], 0.0) + weight
                else:
                    phrase = " ".join(words[j1:j2])
                    for i in range(i1, i2):
                        readings[i][phrase] = readings[i].get(phrase, 0.0) + weight
            # "delete": the hypothesis reads nothing there; the word gets no agreement.
    return _WindowAlternatives(best, agreement, readings, len(hypotheses))


def _attach_alternatives(spans: list[dict[str, Any]], window: _WindowAlternatives) -> None:
    """Map a segment's spans onto the window's best-hypothesis words and copy their readings."""
    if not spans or not window.words:
        return
    span_norm = [_normal(s["text"]) for s in spans]
    rest = [_normal(w) for w in window.words[window.cursor :]]
    matcher = difflib.SequenceMatcher(None, span_norm, rest, autojunk=False)
    last = -1
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=False):
                index = window.cursor + j
                span = spans[i]
                span["signals"]["nbest_agreement"] = _clip(window.agreement[index])
                span["signals"]["hypothesis_count"] = float(window.count)
                ranked = sorted(window.readings[index].items(), key=lambda kv: -kv[1])
                span["alternatives"] = [
                    Alternative(text=text, confidence=_clip(mass))
                    for text, mass in ranked
                    if text.strip()
                ]
                last = max(last, index)
    if last >= 0:
        window.cursor = last + 1


def _clip(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))

"""The signals a calibrator reads: `Feature` (one signal under a transform) and `span_signals`.

`span_signals` gives each span's engine signals plus a few derived from the document (word
length, neighbours' scores, the Whisper segment's scores, cross-check disagreement), as a
`dict[str, float]` per span. A `Feature` names one of them, the transform applied to it
(`raw`, `logit`, `log`, `indicator`) and the `default` a span that lacks it takes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from uncertain.document import Document

FloatArray = npt.NDArray[np.float64]
Transform = Literal["raw", "logit", "log", "indicator"]

_EPS = 1e-6
_TRANSFORMS: tuple[str, ...] = ("raw", "logit", "log", "indicator")


@dataclass(frozen=True)
class Feature:
    """One model input: signal `signal` under `transform`, `default` when the span lacks it.

    Transforms: `raw` (as is), `logit` (log(p / (1 - p)), p clipped to [1e-6, 1 - 1e-6]),
    `log` (natural log, clipped below at 1e-6), `indicator` (1 when the value is above
    `cutoff`, else 0).
    """

    signal: str
    transform: Transform = "raw"
    default: float = 0.0
    cutoff: float = 0.5

    @property
    def name(self) -> str:
        """A readable name such as `logit(word_probability)`."""
        if self.transform == "raw":
            return self.signal
        if self.transform == "indicator":
            return f"{self.signal}>{self.cutoff:g}"
        return f"{self.transform}({self.signal})"

    def apply(self, values: FloatArray) -> FloatArray:
        """The transform applied to a column of raw values."""
        if self.transform == "logit":
            p = np.clip(values, _EPS, 1.0 - _EPS)
            return cast(FloatArray, np.log(p) - np.log1p(-p))
        if self.transform == "log":
            return cast(FloatArray, np.log(np.maximum(values, _EPS)))
        if self.transform == "indicator":
            return (values > self.cutoff).astype(np.float64)
        return values

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "transform": self.transform,
            "default": self.default,
            "cutoff": self.cutoff,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Feature:
        if not isinstance(raw, dict) or not isinstance(raw.get("signal"), str):
            raise ValueError(f"a feature must be an object with a 'signal' name, not {raw!r}")
        transform = raw.get("transform", "raw")
        if transform not in _TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r} (known: {', '.join(_TRANSFORMS)})")
        return cls(
            signal=raw["signal"],
            transform=transform,
            default=_number(raw.get("default", 0.0), "default"),
            cutoff=_number(raw.get("cutoff", 0.5), "cutoff"),
        )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return float(value)


_WORD_CHARS = re.compile(r"\w", re.UNICODE)
_DIGIT = re.compile(r"\d")


def span_signals(doc: Document) -> list[dict[str, float]]:
    """Each span's signals plus a few derived from the document, as calibrators see them.

    Derived signals (never written back into `Span.signals`):
    `n_chars` (word characters in the span), `has_digit`, `capitalized`, `alnum_share`
    (share of the text that is letters or digits), `n_tokens` (ASR tokens),
    `mean_token_logprob` (mean log of the token probabilities), and for the main per-word
    score (`word_probability` or `word_confidence`) `context_min_<name>`, the lower of the
    neighbouring spans' values (spans next to an error are often wrong too). For OCR words a
    second reader looked at (`cross_checked` = 1): `cross_disagreement` (1 where the readings
    differ) and, only there (else 0), `cross_disagreement_logit` (logit of Tesseract's
    `word_confidence`), `cross_disagreement_other_logit` (logit of `cross_word_confidence`)
    and `cross_disagreement_similarity` (`cross_char_similarity`).

    OCR words a word list judged (`lexicon_known` present): `lexicon_miss` (1 when the word
    is not in the list), `lexicon_miss_capitalized` (a capitalised non-word: often a name,
    which no list holds) and `lexicon_miss_logit` (logit of `word_confidence` for a
    non-word, else 0: how far the engine's score is to be trusted off the vocabulary); 0
    elsewhere, so a language without a list reads as neither known nor unknown. Where a
    second reader disagreed and its reading was judged too: `cross_lexicon_gain`
    (`cross_lexicon_known` - `lexicon_known`: +1 when only the other reading is a word).

    Speech spans (those with `word_probability`) also get: `prev_word_probability` and
    `next_word_probability` (the word's own value at a segment's edge), `segment_min_word_
    probability` and `segment_mean_word_probability` over the span's Whisper segment,
    `seconds_per_char` (`word_duration` per word character: words said too fast or too slow
    for their spelling are often misheard), `tokens_per_char` (rare words split into many
    tokens), `first_token_probability`, and with a cross-check `context_cross_agreement`
    (the lower of the neighbours' `cross_agreement`).
    """
    rows: list[dict[str, float]] = []
    for span in doc.spans:
        text = span.text
        word_chars = len(_WORD_CHARS.findall(text))
        row = dict(span.signals)
        row["n_chars"] = float(word_chars)
        row["has_digit"] = 1.0 if _DIGIT.search(text) else 0.0
        row["capitalized"] = 1.0 if text[:1].isupper() else 0.0
        row["alnum_share"] = sum(c.isalnum() for c in text) / len(text)
        row["n_tokens"] = float(len(span.tokens))
        if span.tokens:
            row["mean_token_logprob"] = float(
                np.mean(np.log(np.maximum([t.probability for t in span.tokens], _EPS)))
            )
        rows.append(row)
    for row in rows:
        if row.get("cross_checked", 0.0) >= 0.5:
            _cross_disagreement(row)
        if "lexicon_known" in row:
            _lexicon(row)
    for name in ("word_probability", "word_confidence"):
        values = [row.get(name) for row in rows]
        for i, row in enumerate(rows):
            if values[i] is None:
                continue
            neighbours = [
                v
                for v in (
                    values[i - 1] if i else None,
                    values[i + 1] if i + 1 < len(values) else None,
                )
                if v is not None
            ]
            row[f"context_min_{name}"] = min(neighbours) if neighbours else cast(float, values[i])
    _speech_signals(doc, rows)
    return rows


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1.0 - 1e-4)
    return math.log(p / (1.0 - p))


def _cross_disagreement(row: dict[str, float]) -> None:
    """Derived signals of an OCR word a second reader looked at: where the readings differ,
    how sure each engine was and how alike the readings are (0 where they agree). A linear
    calibrator cannot otherwise weigh Tesseract's score differently when RapidOCR disagrees."""
    disagree = row.get("cross_agreement", 1.0) < 0.5
    row["cross_disagreement"] = 1.0 if disagree else 0.0
    if not disagree:
        row["cross_disagreement_logit"] = 0.0
        row["cross_disagreement_other_logit"] = 0.0
        row["cross_disagreement_similarity"] = 0.0
        return
    row["cross_disagreement_logit"] = _logit(row.get("word_confidence", 0.5))
    row["cross_disagreement_other_logit"] = _logit(row.get("cross_word_confidence", 0.0))
    row["cross_disagreement_similarity"] = row.get("cross_char_similarity", 0.0)


def _lexicon(row: dict[str, float]) -> None:
    """Derived signals of an OCR word a word list judged (see `span_signals`)."""
    miss = 1.0 if row["lexicon_known"] < 0.5 else 0.0
    row["lexicon_miss"] = miss
    row["lexicon_miss_capitalized"] = miss * row.get("capitalized", 0.0)
    row["lexicon_miss_logit"] = miss * _logit(row.get("word_confidence", 0.5))
    if "cross_lexicon_known" in row and row.get("cross_disagreement", 0.0) >= 0.5:
        row["cross_lexicon_gain"] = row["cross_lexicon_known"] - row["lexicon_known"]


def _speech_signals(doc: Document, rows: list[dict[str, float]]) -> None:
    """The derived speech signals of `span_signals`, added in place."""
    if not any("word_probability" in row for row in rows):
        return
    positions = {span.id: i for i, span in enumerate(doc.spans)}
    segment_of = [-1] * len(rows)
    for number, block in enumerate(doc.blocks):
        for span_id in block.span_ids:
            if span_id in positions:
                segment_of[positions[span_id]] = number
    members: dict[int, list[int]] = {}
    for i, number in enumerate(segment_of):
        members.setdefault(number if number >= 0 else -1 - i, []).append(i)
    for indices in members.values():
        values = [rows[i].get("word_probability") for i in indices]
        known = [v for v in values if v is not None]
        if not known:
            continue
        low, mean = min(known), float(np.mean(known))
        for k, i in enumerate(indices):
            row = rows[i]
            own = values[k]
            if own is None:
                continue
            before = values[k - 1] if k else None
            after = values[k + 1] if k + 1 < len(values) else None
            row["prev_word_probability"] = own if before is None else before
            row["next_word_probability"] = own if after is None else after
            row["segment_min_word_probability"] = low
            row["segment_mean_word_probability"] = mean
    _timing_signals(doc, rows)
    cross = [row.get("cross_agreement") for row in rows]
    for i, (span, row) in enumerate(zip(doc.spans, rows, strict=True)):
        if "word_probability" not in row:
            continue
        chars = max(row["n_chars"], 1.0)
        if "word_duration" in row:
            row["seconds_per_char"] = row["word_duration"] / chars
        row["tokens_per_char"] = row["n_tokens"] / chars
        if span.tokens:
            row["first_token_probability"] = span.tokens[0].probability
        if cross[i] is not None:
            around = [
                v
                for v in (cross[i - 1] if i else None, cross[i + 1] if i + 1 < len(cross) else None)
                if v is not None
            ]
            row["context_cross_agreement"] = min(around) if around else cast(float, cross[i])


def _timing_signals(doc: Document, rows: list[dict[str, float]]) -> None:
    """`gap_before`, `gap_after`, `neighbour_drop` and `recording_mean_logprob` (see
    `span_signals`), over the speech spans in document order, added in place."""
    speech = [i for i, row in enumerate(rows) if "word_probability" in row]
    if not speech:
        return
    probabilities = [rows[i]["word_probability"] for i in speech]
    mean_log = float(np.mean(np.log(np.maximum(probabilities, _EPS))))
    timed = [doc.spans[i].time for i in speech]
    last_end = max((t.end for t in timed if t is not None), default=0.0)
    duration = doc.source.duration if doc.source and doc.source.duration else last_end
    for k, i in enumerate(speech):
        row = rows[i]
        row["recording_mean_logprob"] = mean_log
        around = [probabilities[j] for j in (k - 1, k + 1) if 0 <= j < len(speech)]
        row["neighbour_drop"] = float(np.mean(around)) - probabilities[k] if around else 0.0
        time = timed[k]
        if time is None:
            continue
        before = timed[k - 1] if k else None
        after = timed[k + 1] if k + 1 < len(timed) else None
        if k == 0 or before is not None:
            row["gap_before"] = max(time.start - (before.end if before is not None else 0.0), 0.0)
        if k + 1 == len(timed) or after is not None:
            end = after.start if after is not None else max(duration, time.end)
            row["gap_after"] = max(end - time.end, 0.0)

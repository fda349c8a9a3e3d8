"""`evaluate`: score fused documents against their references, in one `EvaluationReport`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from uncertain.document import Document
from uncertain.errors import InputError
from uncertain.evaluate.boxes import score_by_boxes
from uncertain.evaluate.measures import (
    FlagReport,
    _arrays,
    _distance,
    _flag_report,
    auroc,
    brier_score,
    expected_calibration_error,
)
from uncertain.evaluate.normalize import (
    label_page_spans,
    label_spans,
    normalize_text,
    normalize_words,
)
from uncertain.evaluate.references import BoxReference


@dataclass
class EvaluationReport:
    """Transcript accuracy and confidence quality over a set of documents."""

    documents: int
    words: int
    wrong: int
    wer: float
    cer: float
    auroc: float
    ece: float
    brier: float
    flags: FlagReport
    mean_confidence: float
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        f = self.flags
        lines = [
            f"documents {self.documents}, words {self.words}, wrong {self.wrong} "
            f"({self.wrong / self.words if self.words else math.nan:.1%})",
            f"WER {self.wer:.3f}  CER {self.cer:.3f}",
            f"AUROC {self.auroc:.3f}  ECE {self.ece:.3f}  Brier {self.brier:.3f}  "
            f"mean confidence {self.mean_confidence:.3f}",
            f"flagged ({'marks' if math.isnan(f.threshold) else f'below {f.threshold:.2f}'}): "
            f"{f.flag_rate:.1%} of words, "
            f"{f.error_recall:.1%} of wrong words; {f.silent_errors_per_100:.2f} silent errors "
            "per 100 words",
            *self.notes,
        ]
        return "\n".join(lines)


def evaluate(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]],
    *,
    threshold: float | None = None,
    signal: str | None = None,
) -> EvaluationReport:
    """Score fused documents against their reference texts.

    Confidence is `span.confidence` (or the raw signal named by `signal`, to compare against
    an engine's own score). A word is flagged when it is inside a mark, or, when `threshold`
    is given, when its confidence is below it. WER and CER are pooled over all documents
    (total edits / total reference length). Punctuation-only spans are left out. A
    `BoxReference` (words with boxes) is scored by place: see `score_by_boxes`; pages
    scored by text join words hyphenated across line ends (`label_page_spans`).
    """
    conf: list[float] = []
    labels: list[bool] = []
    flagged: list[bool] = []
    word_edits = ref_words = char_edits = ref_chars = documents = 0
    for doc, reference in docs_with_refs:
        documents += 1
        if isinstance(reference, BoxReference):
            span_labels, counts = score_by_boxes(doc, reference)
            word_edits, ref_words = word_edits + counts[0], ref_words + counts[1]
            char_edits, ref_chars = char_edits + counts[2], ref_chars + counts[3]
        else:
            hyp_text = doc.text
            if doc.pages:
                span_labels, hyp_text = label_page_spans(doc, reference)
            else:
                span_labels = label_spans(doc, reference)
            printed = bool(doc.pages)
            ref_norm = normalize_text(reference, numbers=not printed, printed=printed)
            hyp_norm = normalize_text(hyp_text, numbers=not printed, printed=printed)
            word_edits += _distance(hyp_norm.split(), ref_norm.split())
            ref_words += len(ref_norm.split())
            char_edits += _distance(hyp_norm, ref_norm)
            ref_chars += len(ref_norm)
        for span, right in zip(doc.spans, span_labels, strict=True):
            if not normalize_words(span.text, printed=bool(doc.pages)):
                continue
            value = span.confidence if signal is None else span.signals.get(signal)
            if value is None:
                what = "fuse the document first" if signal is None else f"no signal {signal!r}"
                raise InputError(doc.source.path, f"span {span.id} has no confidence ({what})")
            conf.append(float(value))
            labels.append(right)
            in_mark = doc.mark_of(span.id) is not None
            flagged.append(in_mark if threshold is None else value < threshold)
    c, r = _arrays(conf, labels)
    flags = _flag_report(
        np.asarray(flagged, dtype=bool), r, math.nan if threshold is None else threshold
    )
    return EvaluationReport(
        documents=documents,
        words=int(c.size),
        wrong=int((r == 0).sum()),
        wer=word_edits / ref_words if ref_words else math.nan,
        cer=char_edits / ref_chars if ref_chars else math.nan,
        auroc=auroc(c, labels),
        ece=expected_calibration_error(c, labels),
        brier=brier_score(c, labels),
        flags=flags,
        mean_confidence=float(c.mean()) if c.size else math.nan,
    )

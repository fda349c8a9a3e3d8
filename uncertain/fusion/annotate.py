"""`fuse`: apply a calibrator to a document and rebuild its marks.

- `possible_hallucination` (ASR): words Whisper emitted where the evidence says nobody spoke;
  see `is_possible_hallucination` for the rules. The confidence of looping text is capped
  at `HALLUCINATION_CONFIDENCE`; the other marked words keep their calibrated confidence.
- `unreadable` (OCR): words with a box but no reliable text; see `is_unreadable`.
- `low_confidence`: every other span whose confidence is below the threshold (a probability,
  or a preset of the calibrator's: `review`, the default, `recall` or `prompt`; see
  `uncertain.fusion.presets`), or, with `flag_budget`, the least confident share of spans.

Adjacent spans with the same reason form one `Mark`; its confidence is the product of its
spans' confidences (the chance that all of them are right, taking them as independent).
Marks with other reasons already on the document (`no_speech`, `disagreement`) are kept.
Spans from a PDF text layer (signal `digital` = 1) get confidence 1.0 and are never marked.
`source.settings` records the threshold used (`mark_threshold`) and the calibrator's presets
(`mark_presets`), so `render(marks="prompt")` can re-mark the document later.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
from pydantic import JsonValue

from uncertain.document import Document, Mark, MarkReason
from uncertain.errors import CalibrationError, check_choice
from uncertain.fusion.bundled import default_calibrator
from uncertain.fusion.calibrators import DEFAULT_THRESHOLD, Calibrator, _probability
from uncertain.fusion.marks import mark_spans
from uncertain.fusion.presets import PRESETS, MarkPreset, _fused_parts
from uncertain.fusion.signals import span_signals

_FUSION_REASONS: frozenset[str] = frozenset(
    {"low_confidence", "possible_hallucination", "unreadable"}
)


def _positions(doc: Document) -> dict[int, int]:
    return {span.id: i for i, span in enumerate(doc.spans)}


def _resolve(doc: Document, calibration: Calibrator | str | Path | None) -> tuple[Calibrator, str]:
    if calibration is None:
        return default_calibrator(doc)
    if isinstance(calibration, Calibrator):
        label = calibration.metadata.get("name", repr(calibration))
        return calibration, f"{label} (given)"
    calibrator = Calibrator.load(calibration)
    return calibrator, f"{Path(calibration).name} (file {calibration})"


def fuse(
    doc: Document,
    *,
    calibration: Calibrator | str | Path | None = None,
    threshold: float | MarkPreset | None = None,
    flag_budget: float | None = None,
) -> Document:
    """A new document with calibrated `Span.confidence` and rebuilt marks.

    `calibration`: a `Calibrator`, a path to a calibrator JSON file, or None for the bundled
    one for the document's engine and model (`default_calibrator`). `threshold`: spans below
    it are marked `low_confidence`: a probability, or the name of one of the calibrator's
    presets, `review` (the default: marks at most twice the error rate of the calibrator's
    fit words), `recall` (catches 90% of the wrong words) or `prompt` (marks at most the error
    rate, for LLM prompts); `UsageError` for another name. `flag_budget`: instead of a
    threshold, mark the least confident share (0..1) of the spans.
    `source.calibration` records which calibrator was applied and any fallback.
    """
    if flag_budget is not None and not 0.0 <= flag_budget <= 1.0:
        raise ValueError(f"flag_budget must be a share between 0 and 1, not {flag_budget}")
    digital = np.fromiter(
        (s.signals.get("digital", 0.0) >= 0.5 for s in doc.spans), dtype=bool, count=len(doc.spans)
    )
    if doc.spans and digital.all():
        calibrator, note = None, "none: all text is digital (PDF text layer), confidence 1.0"
    else:
        calibrator, note = _resolve(doc, calibration)
    presets: dict[str, float] = {}
    if calibrator is not None:
        cut = calibrator.mark_threshold(threshold)
        presets = calibrator.preset_thresholds()
    elif isinstance(threshold, str):
        check_choice("marks preset", threshold, PRESETS)
        cut = DEFAULT_THRESHOLD  # all text is digital: nothing is marked anyway
    else:
        cut = DEFAULT_THRESHOLD if threshold is None else _probability(threshold)
    signals = span_signals(doc)
    positions = _positions(doc)
    confidence = np.ones(len(doc.spans))
    hallucinated = np.zeros(len(doc.spans), dtype=bool)
    unreadable = np.zeros(len(doc.spans), dtype=bool)
    if calibrator is not None and doc.spans:
        try:
            predicted = calibrator.predict(signals)
        except (TypeError, ValueError) as error:
            raise CalibrationError(
                f"{note}: cannot be applied to {doc.source.path}: {error}"
            ) from None
        boxes = [s.box is not None for s in doc.spans]
        confidence, hallucinated, unreadable, _ = _fused_parts(predicted, signals, boxes)
    kept = [m for m in doc.marks if m.reason not in _FUSION_REASONS]
    eligible = ~digital
    for mark in kept:
        for span_id in mark.span_ids:
            eligible[positions[span_id]] = False
    runs = mark_spans(
        confidence, eligible, hallucinated, unreadable, threshold=cut, flag_budget=flag_budget
    )
    spans = [
        span.model_copy(update={"confidence": float(c)})
        for span, c in zip(doc.spans, confidence.tolist(), strict=True)
    ]
    marks = kept + [
        Mark(
            span_ids=[spans[i].id for i in range(start, end)],
            reason=cast(MarkReason, reason),
            confidence=float(np.prod(confidence[start:end])),
        )
        for start, end, reason in runs
    ]
    marks.sort(key=lambda m: positions[m.span_ids[0]])
    settings = dict(doc.source.settings)
    settings.pop("mark_threshold", None)
    if flag_budget is None:
        settings["mark_threshold"] = cut
    settings.pop("mark_presets", None)
    if presets:
        settings["mark_presets"] = cast(dict[str, JsonValue], presets)
    source = doc.source.model_copy(update={"calibration": note, "settings": settings})
    return Document.model_construct(
        schema_version=doc.schema_version,
        text=doc.text,
        spans=spans,
        blocks=doc.blocks,
        marks=marks,
        pages=doc.pages,
        source=source,
    )

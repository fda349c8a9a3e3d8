"""Evaluation: how good a transcript and its confidences are, against reference texts.

Split the way jiwer splits transforms and measures:

- `normalize`: `normalize_text` (Whisper's English normaliser, numbers spelled out),
  `align_words`, and `label_spans` / `label_page_spans`, which judge each span right or wrong.
- `measures`: `wer(reference, hypothesis)` and `cer(reference, hypothesis)` (argument order
  as jiwer's), `auroc`, `expected_calibration_error`, `brier_score`, `flag_report`,
  `bootstrap_interval`, `reliability_diagram`.
- `references`: finding and reading references (`find_reference`, word-box references).
- `boxes`: `score_by_boxes`, labelling spans by the reference words at their place.
- `report`: `evaluate`, which scores documents into an `EvaluationReport`.

Spans whose text normalizes to nothing (punctuation only) are counted correct by
`label_spans` and left out of every figure by `evaluate`: they carry no word to get wrong.
Fitting a calibrator on documents and references (`fit_calibrator`, `labelled_signals`)
lives in `uncertain.fusion` and is re-exported here.
"""

from __future__ import annotations

from uncertain.evaluate.boxes import score_by_boxes
from uncertain.evaluate.measures import (
    FlagReport,
    auroc,
    bootstrap_interval,
    brier_score,
    cer,
    expected_calibration_error,
    flag_report,
    reliability_diagram,
    wer,
)
from uncertain.evaluate.normalize import (
    align_words,
    label_page_spans,
    label_spans,
    normalize_text,
    normalize_words,
)
from uncertain.evaluate.references import (
    BoxReference,
    BoxWord,
    find_box_reference,
    find_reference,
    load_box_reference,
    load_line_box_reference,
)
from uncertain.evaluate.report import EvaluationReport, evaluate
from uncertain.fusion.fitting import fit_calibrator, labelled_signals

__all__ = [
    "BoxReference",
    "BoxWord",
    "EvaluationReport",
    "FlagReport",
    "align_words",
    "auroc",
    "bootstrap_interval",
    "brier_score",
    "cer",
    "evaluate",
    "expected_calibration_error",
    "find_box_reference",
    "find_reference",
    "fit_calibrator",
    "flag_report",
    "label_page_spans",
    "label_spans",
    "labelled_signals",
    "load_box_reference",
    "load_line_box_reference",
    "normalize_text",
    "normalize_words",
    "reliability_diagram",
    "score_by_boxes",
    "wer",
]

"""The evidence behind one extracted field, and the calibrator that turns it into a probability
that the value is right.

Evidence (`field_evidence`), each a number:
- `grounded`, `exact`, `similarity`: whether the value was found in the document, verbatim
  (after normalising) or how closely;
- `words_min_logit`, `words_mean_logit`: the calibrated confidences of the words it was found
  in (lowest and mean, as logits; 0 when not found), `words_marked`: 1 when any of them is marked;
- `model_mean_logprob`, `model_min_logprob`, `has_logprobs`: the model's own log-probabilities
  for the tokens of the value, where the server returned them;
- `cross_disagreement`: the share of the value's words a second reader read differently;
- `repeated`: 1 when the value is written in more than one place; `log_candidates`: how many
  places could hold a value of its kind (amounts, dates); `line_share`: the share of the
  words of its lines (or speech segments) that the value covers (a name cut short covers
  part of its line);
- `empty`: 1 for an empty string; `kind_number`, `kind_date`, `kind_string`: the field's kind;
- per kind, the two main scores again (`words_min_logit_number`, `model_mean_logprob_string`,
  ...; 0 for the other kinds), so that one model can weigh them differently per kind: a
  model's probability says more about a name it copies than about a total it has to pick
  among several amounts.

A field calibrator is one of fusion's calibrators (`LogisticCalibrator`: numpy, its numbers
read from JSON) whose features are these evidence names instead of a word's signals. The
bundled one, `uncertain/calibration/fields.json`, was fitted on real receipts and forms;
`fit_field_calibrator` (and `uncertain calibrate-fields`) fits one on a user's own labelled
fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from uncertain.document import Document
from uncertain.errors import CalibrationError
from uncertain.extraction.grounding import Grounding
from uncertain.extraction.schema import FieldKind
from uncertain.fusion import Calibrator, Feature, LogisticCalibrator, load_calibrator
from uncertain.fusion.calibrators import FloatArray

__all__ = [
    "EVIDENCE",
    "default_field_calibrator",
    "field_evidence",
    "fit_field_calibrator",
    "load_field_calibrator",
    "review_threshold",
]

_PER_KIND = ("words_min_logit", "model_mean_logprob")

EVIDENCE: tuple[str, ...] = (
    "grounded",
    "exact",
    "similarity",
    "words_min_logit",
    "words_mean_logit",
    "words_marked",
    "model_mean_logprob",
    "model_min_logprob",
    "has_logprobs",
    "cross_disagreement",
    "repeated",
    "log_candidates",
    "line_share",
    "empty",
    "kind_number",
    "kind_date",
    "kind_string",
    *(f"{score}_{kind}" for score in _PER_KIND for kind in ("number", "date", "string")),
)
"""Every evidence name `field_evidence` gives, in a fixed order."""

_CLIP = 1e-4


def _logit(p: float) -> float:
    p = min(max(p, _CLIP), 1 - _CLIP)
    return math.log(p / (1 - p))


def field_evidence(
    doc: Document,
    kind: FieldKind,
    value: object,
    grounding: Grounding,
    logprobs: Sequence[float],
) -> dict[str, float]:
    """The evidence for one field's value, by name (see the module's docstring)."""
    spans = [doc.span(i) for i in grounding.span_ids]
    confidences = [s.confidence for s in spans if s.confidence is not None]
    checked = [s for s in spans if s.signals.get("cross_checked") == 1.0]
    disagree = [s for s in checked if s.signals.get("cross_agreement", 1.0) == 0.0]
    evidence = {
        "grounded": float(grounding.found),
        "exact": float(grounding.exact),
        "similarity": grounding.similarity,
        "words_min_logit": _logit(min(confidences)) if confidences else 0.0,
        "words_mean_logit": _logit(sum(confidences) / len(confidences)) if confidences else 0.0,
        "words_marked": float(any(doc.mark_of(s.id) is not None for s in spans)),
        "model_mean_logprob": sum(logprobs) / len(logprobs) if logprobs else 0.0,
        "model_min_logprob": min(logprobs) if logprobs else 0.0,
        "has_logprobs": float(bool(logprobs)),
        "cross_disagreement": len(disagree) / len(checked) if checked else 0.0,
        "repeated": float(grounding.occurrences > 1),
        "log_candidates": math.log1p(grounding.candidates),
        "line_share": _line_share(doc, grounding.span_ids),
        "empty": float(isinstance(value, str) and not value.strip()),
        "kind_number": float(kind in ("number", "integer")),
        "kind_date": float(kind == "date"),
        "kind_string": float(kind == "string"),
    }
    for score in _PER_KIND:
        for name in ("number", "date", "string"):
            evidence[f"{score}_{name}"] = evidence[score] * evidence[f"kind_{name}"]
    return evidence


def _line_share(doc: Document, span_ids: Sequence[int]) -> float:
    """The share of the words of the lines (or segments) holding `span_ids` that they are."""
    if not span_ids:
        return 0.0
    wanted = set(span_ids)
    around: set[int] = set()
    for block in doc.blocks:
        if block.kind in ("line", "segment") and wanted.intersection(block.span_ids):
            around.update(block.span_ids)
    words = {i for i in around | wanted if any(c.isalnum() for c in doc.span(i).text)}
    return len(words & wanted) / len(words) if words else 1.0


def _check_features(calibrator: Calibrator, where: str) -> Calibrator:
    unknown = sorted({f.signal for f in calibrator.features} - set(EVIDENCE))
    if unknown:
        raise CalibrationError(
            f"{where}: not a field calibrator (unknown evidence {', '.join(unknown)}); "
            f"field calibrators use: {', '.join(EVIDENCE)}"
        )
    return calibrator


def load_field_calibrator(path: str | Path) -> Calibrator:
    """A field calibrator saved as JSON (by `fit_field_calibrator(...).save` or
    `uncertain calibrate-fields`); `CalibrationError` when it is not one."""
    return _check_features(load_calibrator(path), str(path))


def default_field_calibrator() -> Calibrator:
    """The bundled field calibrator (fitted on real receipts and forms)."""
    file = resources.files("uncertain") / "calibration" / "fields.json"
    return _check_features(Calibrator.from_json(file.read_text(encoding="utf-8")), "fields.json")


def fit_field_calibrator(
    evidence: Sequence[dict[str, float]],
    right: Sequence[bool],
    *,
    features: Sequence[str] | None = None,
    threshold: float = 0.5,
    metadata: dict[str, str] | None = None,
) -> LogisticCalibrator:
    """Fit a field calibrator: a logistic model from the evidence of labelled fields (as
    `FieldResult.evidence` holds it) to whether each value was right. `features`: the
    evidence names to use (default: those of the bundled calibrator). `CalibrationError`
    without both right and wrong fields to learn from."""
    names = (
        list(features)
        if features is not None
        else [f.signal for f in default_field_calibrator().features]
    )
    unknown = sorted(set(names) - set(EVIDENCE))
    if unknown:
        raise CalibrationError(
            f"unknown evidence {', '.join(unknown)}; known: {', '.join(EVIDENCE)}"
        )
    wrong = list(right).count(False)
    if len(evidence) != len(right):
        raise CalibrationError("evidence and labels differ in length")
    if wrong == 0 or wrong == len(right):
        raise CalibrationError(
            f"the {len(right)} fields hold {wrong} wrong ones: fitting needs both right and "
            "wrong fields"
        )
    calibrator = LogisticCalibrator(
        [Feature(name) for name in names], threshold=threshold, metadata=metadata
    )
    calibrator.fit(evidence, list(right))
    return calibrator


def review_threshold(confidence: Sequence[float] | FloatArray, right: Sequence[bool]) -> float:
    """The threshold that sends to review as many fields as were wrong: the error rate's
    quantile of the fields' confidences."""
    import numpy as np

    wrong = list(right).count(False)
    return float(np.quantile(np.asarray(confidence, dtype=float), wrong / len(right)))

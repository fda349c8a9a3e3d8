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
  places could hold a value of its kind (amounts, dates);
- `empty`: 1 for an empty string; `kind_number`, `kind_date`, `kind_string`: the field's kind.

`FieldCalibrator` applies a logistic model fitted on labelled fields (numpy only; the numbers
come from JSON). The bundled one, `uncertain/calibration/fields.json`, was fitted on real
receipts and forms; `uncertain calibrate-fields` fits one on a user's own labelled records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from uncertain.document import Document
from uncertain.errors import UsageError
from uncertain.extraction.grounding import Grounding
from uncertain.extraction.schema import FieldKind

__all__ = ["EVIDENCE", "FieldCalibrator", "default_field_calibrator", "field_evidence"]

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
    "empty",
    "kind_number",
    "kind_date",
    "kind_string",
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
    return {
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
        "empty": float(isinstance(value, str) and not value.strip()),
        "kind_number": float(kind in ("number", "integer")),
        "kind_date": float(kind == "date"),
        "kind_string": float(kind == "string"),
    }


@dataclass(frozen=True)
class FieldCalibrator:
    """A logistic model from field evidence to the probability that the value is right.

    `features` name the evidence used, `mean` and `scale` standardise it, `coef` and
    `intercept` weigh it. `threshold`: fields below it need review. `about` says what it was
    fitted on, with its figures.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    about: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1:
            raise UsageError("field calibrator: features, mean, scale and coef differ in length")
        unknown = sorted(set(self.features) - set(EVIDENCE))
        if unknown:
            raise UsageError(
                f"field calibrator: unknown evidence {unknown}; known: {', '.join(EVIDENCE)}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError("field calibrator: threshold must be within 0..1")

    def matrix(self, evidence: Sequence[dict[str, float]]) -> np.ndarray:
        """The evidence as a matrix, one row per field, in `features` order."""
        return np.array(
            [[row.get(name, 0.0) for name in self.features] for row in evidence], dtype=float
        ).reshape(len(evidence), len(self.features))

    def confidence(self, evidence: Sequence[dict[str, float]]) -> np.ndarray:
        """The probability that each field's value is right."""
        x = (self.matrix(evidence) - np.array(self.mean)) / np.array(self.scale)
        z = x @ np.array(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def to_dict(self) -> dict[str, Any]:
        """The calibrator as JSON-ready numbers."""
        return {
            "kind": "field-logistic",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "about": self.about,
        }

    def save(self, path: str | Path) -> None:
        """Write the calibrator as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldCalibrator:
        """Read a calibrator from `to_dict`'s numbers."""
        if data.get("kind") != "field-logistic":
            raise UsageError("not a field calibrator (its kind is not 'field-logistic')")
        try:
            return cls(
                features=tuple(str(f) for f in data["features"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) or 1.0 for v in data["scale"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                threshold=float(data.get("threshold", 0.5)),
                about=dict(data.get("about", {})),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"field calibrator: {error}") from None

    @classmethod
    def load(cls, path: str | Path) -> FieldCalibrator:
        """Read a calibrator written by `save` (or `uncertain calibrate-fields`)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageError(f"{path}: cannot read a field calibrator ({error})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: not a field calibrator")
        return cls.from_dict(data)


def default_field_calibrator() -> FieldCalibrator:
    """The bundled field calibrator (fitted on real receipts and forms)."""
    file = resources.files("uncertain") / "calibration" / "fields.json"
    return FieldCalibrator.from_dict(json.loads(file.read_text(encoding="utf-8")))

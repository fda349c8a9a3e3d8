"""What `extract` returns: the values, and per field how far to trust it and where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Extraction", "FieldResult"]


@dataclass(frozen=True)
class FieldResult:
    """One extracted value and the decision about it.

    `value`: as the schema's kind (a date as `YYYY-MM-DD`), None when the model gave none or
    it broke the schema. `confidence`: the calibrated probability that the value is right
    (None when there is no value to judge). `needs_review`: send it to a person. `span_ids`:
    the document's words it was found in (their boxes or times locate it). `reasons`: why it
    needs review, in words. `evidence`: the numbers the confidence was computed from.
    """

    value: Any
    confidence: float | None
    needs_review: bool
    span_ids: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()
    evidence: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        """The field as JSON-ready data (`evidence` adds the evidence numbers)."""
        out: dict[str, Any] = {
            "value": self.value,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "needs_review": self.needs_review,
            "span_ids": list(self.span_ids),
            "reasons": list(self.reasons),
        }
        if evidence:
            out["evidence"] = {k: round(v, 4) for k, v in self.evidence.items()}
        return out


@dataclass(frozen=True)
class Extraction:
    """The fields extracted from one document.

    `value`: an instance of the pydantic model given as the schema, or a dict for a JSON
    Schema; None when the answer was unusable (see `error`) or did not validate.
    `fields`: each field's path (`total`, `items[0].price`) mapped to its `FieldResult`.
    `needs_review`: whether any field, or the document as a whole, needs a person.
    `error`: why the answer was unusable (malformed JSON, a refusal), else None.
    `notes`: what else happened (fields the schema lacks that were dropped, a document read in
    parts). `path`: the document's file, where it has one.
    """

    value: Any
    fields: dict[str, FieldResult]
    needs_review: bool
    error: str | None = None
    notes: tuple[str, ...] = ()
    model: str = ""
    endpoint: str = ""
    path: str | None = None

    @property
    def review(self) -> list[str]:
        """The paths of the fields that need review."""
        return [name for name, result in self.fields.items() if result.needs_review]

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        """The extraction as JSON-ready data: `path`, `fields`, `needs_review`, and `error`,
        `notes`, `model` (`evidence` adds each field's evidence numbers)."""
        return {
            "path": self.path,
            "fields": {k: v.to_dict(evidence=evidence) for k, v in self.fields.items()},
            "needs_review": self.needs_review,
            "error": self.error,
            "notes": list(self.notes),
            "model": self.model,
        }

    def to_json(self, *, indent: int | None = None, evidence: bool = False) -> str:
        """`to_dict` as JSON text (non-ASCII kept as is)."""
        return json.dumps(self.to_dict(evidence=evidence), ensure_ascii=False, indent=indent)

    def __str__(self) -> str:
        lines = [f"{self.path or 'document'}: {'needs review' if self.needs_review else 'ok'}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for name, result in self.fields.items():
            confidence = "-" if result.confidence is None else f"{result.confidence:.2f}"
            flag = "review" if result.needs_review else "ok"
            why = f" ({'; '.join(result.reasons)})" if result.reasons else ""
            lines.append(f"  {name} = {result.value!r}  {confidence} {flag}{why}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

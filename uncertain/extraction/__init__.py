"""Fields you can act on: a schema's values from a document, each with a calibrated confidence,
the words it came from, and whether a person should check it.

`extract_document(doc, schema, model=...)` asks any OpenAI-compatible chat endpoint for the
schema's fields (output constrained to the schema where the server can), finds each value
in the document's words, and turns the evidence (the words' calibrated confidences and
marks, whether the value is verbatim in the document, the model's own token probabilities,
a second reader's agreement, format checks, how many places could hold the value) into one
calibrated probability per field with a field calibrator (`fit_field_calibrator`).
`uncertain.extract` does the same for a file, reading or transcribing it first.

Modules: `schema` (what schemas are accepted), `request` (what is sent), `answer` (reading
the JSON answer with positions and token probabilities), `grounding` (finding values in the
document), `evidence` (the evidence and the calibrator), `results` (`Extraction`,
`FieldResult`), `extractor` (the steps together).
"""

from uncertain.extraction.evidence import (
    EVIDENCE,
    default_field_calibrator,
    field_evidence,
    fit_field_calibrator,
    load_field_calibrator,
    review_threshold,
)
from uncertain.extraction.extractor import MAX_CHARS, extract_document, split_document
from uncertain.extraction.grounding import Grounding, ground
from uncertain.extraction.request import Constraint
from uncertain.extraction.results import Extraction, FieldResult
from uncertain.extraction.schema import FieldKind, FieldSpec, SchemaSpec, read_schema

__all__ = [
    "EVIDENCE",
    "MAX_CHARS",
    "Constraint",
    "Extraction",
    "FieldKind",
    "FieldResult",
    "FieldSpec",
    "Grounding",
    "SchemaSpec",
    "default_field_calibrator",
    "extract_document",
    "field_evidence",
    "fit_field_calibrator",
    "ground",
    "load_field_calibrator",
    "read_schema",
    "review_threshold",
    "split_document",
]

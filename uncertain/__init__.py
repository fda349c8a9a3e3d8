"""uncertain: speech and scanned documents to text that knows how sure it is."""

from __future__ import annotations

from uncertain.document import (
    SCHEMA_VERSION,
    Alternative,
    Block,
    Box,
    Document,
    Mark,
    Page,
    Source,
    Span,
    TimeRange,
    Token,
)
from uncertain.errors import CalibrationError, EngineError, InputError, UncertainError

__version__ = "0.1.0"

__all__ = [
    "Alternative",
    "Block",
    "Box",
    "CalibrationError",
    "Document",
    "EngineError",
    "InputError",
    "Mark",
    "Page",
    "SCHEMA_VERSION",
    "Source",
    "Span",
    "TimeRange",
    "Token",
    "UncertainError",
    "__version__",
]

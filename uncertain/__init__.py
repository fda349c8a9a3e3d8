"""uncertain: speech and scanned documents to text that knows how sure it is.

`transcribe` turns speech into a `Document` (bundled Whisper tiny.en, offline); `read` takes
any audio, video, image or PDF, and `iter_read` gives it one page or segment at a time, in
memory flat with the file's length. Each word carries a calibrated `confidence`, the runs not to
trust are in `Document.marks`, `render` and `to_messages` carry that into LLM prompts, and
`trace` says which parts of an LLM's answer rest on weak words. `resolve` takes, per word, the
reading most likely right; `ask` puts a question about a document to any OpenAI-compatible
chat endpoint and traces the answer.
"""

from __future__ import annotations

from uncertain.api import iter_read, iter_transcribe, ocr, read, transcribe
from uncertain.document import (
    SCHEMA_VERSION,
    Alternative,
    Block,
    Box,
    Document,
    Documents,
    Mark,
    Page,
    Source,
    Span,
    TimeRange,
    Token,
)
from uncertain.errors import CalibrationError, EngineError, InputError, UncertainError
from uncertain.exporters import notebook as _notebook_views  # noqa: F401  (registers the views)
from uncertain.fusion import Calibrator, fuse, load_calibrator
from uncertain.llm import Answer, ask
from uncertain.render import ParsedPrompt, TraceHit, parse, preamble, render, to_messages, trace
from uncertain.resolve import resolve

__version__ = "0.1.0"

__all__ = [
    "Alternative",
    "Answer",
    "Block",
    "Box",
    "CalibrationError",
    "Calibrator",
    "Document",
    "Documents",
    "EngineError",
    "InputError",
    "Mark",
    "Page",
    "ParsedPrompt",
    "SCHEMA_VERSION",
    "Source",
    "Span",
    "TimeRange",
    "Token",
    "TraceHit",
    "UncertainError",
    "__version__",
    "ask",
    "fuse",
    "iter_read",
    "iter_transcribe",
    "load_calibrator",
    "ocr",
    "parse",
    "preamble",
    "read",
    "render",
    "resolve",
    "to_messages",
    "trace",
    "transcribe",
]

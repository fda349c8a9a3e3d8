"""uncertain: speech and scanned documents to text that knows how sure it is.

`transcribe` turns speech into a `Document` (bundled Whisper tiny.en, offline); `read` takes
any audio, video, image or PDF, and `iter_read` gives it one page or segment at a time, in
memory flat with the file's length. Each word carries a calibrated `confidence`, the runs not to
trust are in `Document.marks`, `render_prompt` and `to_messages` carry that into LLM prompts, and
`trace` says which parts of an LLM's answer rest on weak words. `resolve` takes, per word, the
reading most likely right; `ask` puts a question about a document to any OpenAI-compatible
chat endpoint and traces the answer.

Each name is imported from its module on first use, so `import uncertain` loads neither the
engines, nor numpy, nor the exporters. Modules keep their own names: `uncertain.render` is the
prompt package (its function is `render_prompt` here), `uncertain.resolution` holds `resolve`.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from uncertain._version import __version__

if TYPE_CHECKING:
    from typing import Any

    from uncertain.api import extract, iter_read, iter_transcribe, ocr, read, transcribe
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
    from uncertain.errors import (
        CalibrationError,
        EngineError,
        InputError,
        OutputError,
        UncertainError,
        UsageError,
    )
    from uncertain.extraction import Extraction, FieldResult
    from uncertain.fusion import Calibrator, fuse, load_calibrator
    from uncertain.llm import Answer, ask
    from uncertain.render import ParsedPrompt, TraceHit, parse, preamble, to_messages, trace
    from uncertain.render import render as render_prompt
    from uncertain.resolution import resolve

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
    "Extraction",
    "FieldResult",
    "InputError",
    "Mark",
    "OutputError",
    "Page",
    "ParsedPrompt",
    "SCHEMA_VERSION",
    "Source",
    "Span",
    "TimeRange",
    "Token",
    "TraceHit",
    "UncertainError",
    "UsageError",
    "__version__",
    "ask",
    "extract",
    "fuse",
    "iter_read",
    "iter_transcribe",
    "load_calibrator",
    "ocr",
    "parse",
    "preamble",
    "read",
    "render_prompt",
    "resolve",
    "to_messages",
    "trace",
    "transcribe",
]

# Where each public name lives, as (module, name there).
_PUBLIC: dict[str, tuple[str, str]] = {
    **{
        name: ("uncertain.api", name)
        for name in ("extract", "iter_read", "iter_transcribe", "ocr", "read", "transcribe")
    },
    **{
        name: ("uncertain.document", name)
        for name in (
            "SCHEMA_VERSION",
            "Alternative",
            "Block",
            "Box",
            "Document",
            "Documents",
            "Mark",
            "Page",
            "Source",
            "Span",
            "TimeRange",
            "Token",
        )
    },
    **{
        name: ("uncertain.errors", name)
        for name in (
            "CalibrationError",
            "EngineError",
            "InputError",
            "OutputError",
            "UncertainError",
            "UsageError",
        )
    },
    **{name: ("uncertain.fusion", name) for name in ("Calibrator", "fuse", "load_calibrator")},
    **{name: ("uncertain.extraction", name) for name in ("Extraction", "FieldResult")},
    **{name: ("uncertain.llm", name) for name in ("Answer", "ask")},
    **{
        name: ("uncertain.render", name)
        for name in ("ParsedPrompt", "TraceHit", "parse", "preamble", "to_messages", "trace")
    },
    "render_prompt": ("uncertain.render", "render"),
    "resolve": ("uncertain.resolution", "resolve"),
}


def _load(name: str) -> Any:
    """A public name, imported from its module on first use; or a submodule, as a plain import
    of it would give (`uncertain.render`, `uncertain.exporters`)."""
    if name in _PUBLIC:
        module, attribute = _PUBLIC[name]
        value = getattr(_import_module(module), attribute)
        globals()[name] = value  # later lookups find it without coming here
        return value
    if not name.startswith("__"):
        try:
            return _import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the submodule exists, but something it needs is missing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dir() -> list[str]:
    """The public names, the submodules imported so far, and the dunders; not the helpers."""
    return sorted({*__all__, *globals()} - {"TYPE_CHECKING", "annotations"})


if not TYPE_CHECKING:
    # Module-level `__getattr__` (PEP 562), hidden from type checkers: for them every name is
    # imported above, and a misspelt one stays an error rather than becoming `Any`.
    __getattr__ = _load
    __dir__ = _dir

"""Optional bridges from `Document` to other tools: pandas, LangChain, LlamaIndex, Ray Data.

Each module imports its framework lazily, only when used, and says which extra installs it:

- `uncertain.integrations.pandas`: `to_pandas(doc)`, one row per span (extra `notebook`).
- `uncertain.integrations.langchain`: `UncertainLoader`, `to_langchain` (extra `langchain`).
- `uncertain.integrations.llamaindex`: `UncertainReader`, `to_llamaindex` (extra `llamaindex`).
- `uncertain.integrations.ray`: `Transcriber`, `transcribe_dataset` for Ray Data (extra `ray`).

The LLM-framework documents share one convention, built here: the page content is the rendered
prompt text in a chosen style (or the plain text), the metadata is flat (strings and numbers
only, see `document_metadata`), and the whole document, spans and all, rides along as one JSON
string under `DOCUMENT_KEY`, so `Document.from_json(metadata[DOCUMENT_KEY])` gets it back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from uncertain.document import Document
from uncertain.errors import InputError, UsageError

if TYPE_CHECKING:
    from uncertain.render import Style

__all__ = [
    "DOCUMENT_KEY",
    "FLAT_KEYS",
    "OnError",
    "document_metadata",
    "expand_paths",
    "page_content",
    "check_style",
    "read_files",
    "read_options",
]

logger = logging.getLogger("uncertain.integrations")

DOCUMENT_KEY = "uncertain_document"
"""Metadata key holding the full document as one JSON string (the JSON contract)."""

FLAT_KEYS = (
    "source",
    "sha256",
    "media_type",
    "engine",
    "engine_version",
    "model",
    "duration",
    "page_count",
    "calibration",
    "mean_confidence",
    "marked_share",
    "word_count",
    "mark_count",
    "style",
)
"""The flat metadata keys `document_metadata` may write (a key is left out when unknown)."""

OnError = Literal["raise", "skip"]
"""What a loader does with a file it cannot read: raise `InputError`, or log it and go on."""


def page_content(doc: Document, style: Style | None = "inline") -> str:
    """The text an LLM framework should see: `render(doc, style)`, or `doc.text` for None."""
    if style is None:
        return doc.text
    from uncertain.render import render

    return render(doc, style=style)


def document_metadata(
    doc: Document, style: Style | None = "inline", *, include_document: bool = True
) -> dict[str, str | int | float]:
    """Flat metadata for `doc`: strings and numbers only, plus the full JSON under DOCUMENT_KEY.

    Keys (see `FLAT_KEYS`): `source` (the file path), `sha256`, `media_type`, `engine`,
    `engine_version`, `model`, `duration` (seconds) or `page_count`, `calibration`,
    `mean_confidence` (left out before fusion), `marked_share`, `word_count` (spans),
    `mark_count` and `style` (`plain` for the plain text). Unknown values are left out
    rather than written as None, since vector stores often refuse nulls.
    """
    source = doc.source
    mean = doc.mean_confidence()
    values: dict[str, str | int | float | None] = {
        "source": source.path,
        "sha256": source.sha256,
        "media_type": source.media_type,
        "engine": source.engine,
        "engine_version": source.engine_version,
        "model": source.model,
        "duration": source.duration,
        "page_count": source.page_count,
        "calibration": source.calibration,
        "mean_confidence": None if mean is None else round(mean, 6),
        "marked_share": round(doc.marked_share(), 6),
        "word_count": len(doc.spans),
        "mark_count": len(doc.marks),
        "style": style or "plain",
    }
    metadata = {key: value for key, value in values.items() if value is not None}
    if include_document:
        metadata[DOCUMENT_KEY] = doc.to_json()
    return metadata


def expand_paths(paths: str | Path | Iterable[str | Path]) -> Iterator[Path]:
    """One path or many, as `Path`s, in the order given (a lone string is one path)."""
    if isinstance(paths, (str, Path)):
        yield Path(paths)
        return
    for path in paths:
        yield Path(path)


def read_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check `options` against `uncertain.api.read`'s keywords now, not at the first file."""
    from uncertain.api import read

    known = {
        name
        for name, parameter in inspect.signature(read).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unknown read option(s) {', '.join(unknown)}; uncertain.read takes "
            f"{', '.join(sorted(known))}"
        )
    return dict(options)


def check_style(style: str | None) -> None:
    """Raise `UsageError` (a `ValueError`) for a style `page_content` cannot render."""
    from uncertain.render import STYLES

    if style is not None and style not in STYLES:
        raise UsageError(f"unknown style {style!r}", f"use one of {', '.join(STYLES)} or None")


def read_files(
    paths: Iterable[Path],
    options: Mapping[str, Any],
    on_error: OnError = "raise",
    skipped: list[tuple[Path, InputError]] | None = None,
) -> Iterator[tuple[Path, Document]]:
    """Read each file with `uncertain.api.read`, lazily, in order.

    A file that is missing, empty, unsupported or corrupt raises `InputError` with
    `on_error="raise"`; with `on_error="skip"` it is logged (logger `uncertain.integrations`,
    level WARNING), appended to `skipped` when given, and left out. Engine failures
    (`EngineError`) always raise: they are not a property of one file.
    """
    if on_error not in ("raise", "skip"):
        raise UsageError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    from uncertain.api import read

    for path in paths:
        try:
            doc = read(path, **options)
        except InputError as error:
            if on_error == "raise":
                raise
            logger.warning("skipped %s", error)
            if skipped is not None:
                skipped.append((path, error))
            continue
        yield path, doc

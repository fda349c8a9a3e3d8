"""The JSON contract, pretty (`json`) or as one line (`jsonl`)."""

from __future__ import annotations

from typing import Any

from uncertain.document import Document

__all__ = ["export_json", "export_jsonl"]


def export_json(doc: Document, **options: Any) -> str:
    """`Document.to_json(indent=2)` and a final newline (option `indent`, default 2)."""
    return doc.to_json(indent=options.get("indent", 2)) + "\n"


def export_jsonl(doc: Document, **options: Any) -> str:
    """The document as one JSON line (the format `load_jsonl` reads)."""
    return doc.to_json() + "\n"

"""A prompt for a language model, rendered by `uncertain.render` (option `style`)."""

from __future__ import annotations

from typing import Any

from uncertain.document import Document

__all__ = ["export_prompt"]


def export_prompt(doc: Document, **options: Any) -> str:
    """`uncertain.render.render(doc, style=...)` with a final newline.

    Options: `style` (default 'inline'); `threshold` marks every run below it instead of
    the document's own marks.
    """
    # Imported here so the exporters load without the renderer until a prompt is asked for.
    from uncertain.render import render

    style = options.get("style", "inline")
    threshold = options.get("threshold")
    if threshold is None:
        text = render(doc, style=style)
    else:
        text = render(doc, style=style, marks=float(threshold))
    return text if text.endswith("\n") else text + "\n"

"""Markdown: marked words in bold, their confidence and alternatives in footnotes.

Every character Markdown could read as markup is backslash-escaped (or, for indentation
at a line start, written as a character reference), so the rendered text is the
document text, word for word. Line breaks become hard breaks.
"""

from __future__ import annotations

import re
from typing import Any

from uncertain.document import Document
from uncertain.exporters._common import (
    LINE_BREAKS,
    fmt_conf,
    marked_runs,
    run_alternatives,
    run_index,
    run_text,
    summary,
    title_of,
)

__all__ = ["escape_markdown", "export_markdown"]

_ALWAYS = re.compile(r"([\\`*_\[\]<>&|~!#^{}()$])")
_LINE_START = re.compile(r"^([ \t]*)(\d+(?=[.)])|[-+=:])?", re.MULTILINE)
_BREAKS_AT_ENDS = re.compile(r"^(\\?\n)+|(\\?\n)+$")
_REASONS = {
    "low_confidence": "low confidence",
    "possible_hallucination": "possibly hallucinated",
    "no_speech": "probably not speech",
    "unreadable": "unreadable",
    "disagreement": "readings disagree",
}


def _chars(text: str) -> str:
    return _ALWAYS.sub(r"\\\1", text)


def escape_markdown(text: str) -> str:
    """Escape `text` so Markdown renders it literally (line breaks are kept as they are)."""
    return _escape_line_starts(_chars(text))


def _escape_line_starts(text: str) -> str:
    """Neutralise what only means something at a line start: indentation, list and
    heading-underline markers (the rest was escaped already)."""

    def start(match: re.Match[str]) -> str:
        indent = "".join(f"&#{ord(c)};" for c in match.group(1))
        lead = match.group(2) or ""
        if lead[:1].isdigit():
            return indent + lead + "\\"  # escapes the '.' or ')' of an ordered-list number
        return indent + ("\\" + lead if lead else "")

    return _LINE_START.sub(start, text)


def _inline(text: str) -> str:
    """Escape a piece of running text; line breaks become Markdown hard breaks."""
    pieces = LINE_BREAKS.split(text)
    if len(pieces) == 1:
        return _chars(text)
    last = len(pieces) - 1
    blank = [0 < n < last and not piece.strip() for n, piece in enumerate(pieces)]
    out: list[str] = []
    for n, piece in enumerate(pieces):
        if n:
            # A backslash at a line end is a hard break; next to a blank line (a paragraph
            # break) it would be printed, so a plain newline goes there.
            out.append("\n" if blank[n - 1] or blank[n] else "\\\n")
        out.append(_chars(piece))
    return "".join(out)


def export_markdown(doc: Document, **options: Any) -> str:
    """Markdown with a title, a summary line, the text and one footnote per marked run."""
    runs = marked_runs(doc, options.get("threshold"))
    in_run = run_index(runs)
    body: list[str] = []
    position = 0
    for span in doc.spans:
        body.append(_inline(doc.text[position : span.start]))
        number = in_run.get(span.id)
        if number is None:
            body.append(_inline(span.text))
        else:
            body.append("**" + _chars(LINE_BREAKS.sub(" ", span.text)) + "**")
            if span.id == runs[number].span_ids[-1]:
                body.append(f"[^{number + 1}]")
        position = span.end
    body.append(_inline(doc.text[position:]))
    notes: list[str] = []
    for number, run in enumerate(runs, start=1):
        words = escape_markdown(LINE_BREAKS.sub(" ", run_text(doc, run)))
        note = (
            f"[^{number}]: **{words}**: confidence {fmt_conf(run.confidence)} "
            f"({_REASONS.get(run.reason, run.reason)})"
        )
        alternatives = run_alternatives(doc, run)
        if alternatives:
            shown = ", ".join(
                f"{escape_markdown(LINE_BREAKS.sub(' ', text))} ({fmt_conf(p)})"
                for text, p in alternatives
            )
            note += f"; other readings: {shown}"
        notes.append(note)
    parts = [
        f"# {escape_markdown(title_of(doc))}",
        "",
        f"*{escape_markdown(summary(doc))}*",
        "",
        _escape_line_starts(_BREAKS_AT_ENDS.sub("", "".join(body))),
    ]
    if notes:
        parts += ["", *notes]
    return "\n".join(parts) + "\n"

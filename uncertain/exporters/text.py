"""Plain text with markers around untrusted words, and the coloured terminal view.

The plain view is `Document.text` with every marked run written as
`[?TEXT|ALTERNATIVE|... CONF]` (CONF: the probability that the run is right, two decimals).
So that the view can be read back exactly, a backslash escapes `\\` and `[` everywhere,
and `]` and `|` inside a marker; `parse_plain` undoes it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any, NamedTuple

from uncertain.document import Document
from uncertain.exporters._common import (
    BANDS,
    fmt_conf,
    marked_runs,
    run_alternatives,
    run_index,
    run_text,
    summary,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "ParsedMarker",
    "export_text",
    "parse_plain",
    "plain",
    "print_legend",
    "print_terminal",
]

PLAIN_LEGEND = (
    "legend: [?words|alternative 0.31] marks words not to trust, with other readings and "
    "the probability that the words are right"
)

# Bidi controls and other invisible formatting that could reorder or hide terminal text.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_outside(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[")


def _escape_inside(text: str) -> str:
    return _escape_outside(text).replace("]", "\\]").replace("|", "\\|")


def plain(doc: Document, *, threshold: float | None = None) -> str:
    """The document text with plain `[?...]` markers around marked runs (no trailing newline)."""
    out: list[str] = []
    position = 0
    for run in marked_runs(doc, threshold):
        first, last = doc.span(run.span_ids[0]), doc.span(run.span_ids[-1])
        out.append(_escape_outside(doc.text[position : first.start]))
        fields = [_escape_inside(run_text(doc, run))]
        fields += [_escape_inside(text) for text, _ in run_alternatives(doc, run)]
        out.append(f"[?{'|'.join(fields)} {run.confidence:.2f}]")
        position = last.end
    out.append(_escape_outside(doc.text[position:]))
    return "".join(out)


def export_text(doc: Document, **options: Any) -> str:
    """The `text` format: the plain-marker view and a final newline (option `threshold`)."""
    return plain(doc, threshold=options.get("threshold")) + "\n"


class ParsedMarker(NamedTuple):
    """A marker read back by `parse_plain`."""

    text: str
    alternatives: tuple[str, ...]
    confidence: float


def parse_plain(view: str) -> tuple[str, list[ParsedMarker]]:
    """Read a plain view back: the original text and its markers, in order.

    Raises `ValueError` on a malformed view (an unclosed marker, a missing confidence).
    """
    text: list[str] = []
    markers: list[ParsedMarker] = []
    n = 0
    while n < len(view):
        char = view[n]
        if char == "\\" and n + 1 < len(view):
            text.append(view[n + 1])
            n += 2
        elif view.startswith("[?", n):
            fields: list[str] = [""]
            n += 2
            while True:
                if n >= len(view):
                    raise ValueError("unclosed marker")
                char = view[n]
                if char == "\\" and n + 1 < len(view):
                    fields[-1] += view[n + 1]
                    n += 2
                elif char == "|":
                    fields.append("")
                    n += 1
                elif char == "]":
                    n += 1
                    break
                else:
                    fields[-1] += char
                    n += 1
            head, _, confidence = fields[-1].rpartition(" ")
            fields[-1] = head
            markers.append(ParsedMarker(fields[0], tuple(fields[1:]), float(confidence)))
            text.append(fields[0])
        else:
            text.append(char)
            n += 1
    return "".join(text), markers


def _visible(text: str) -> str:
    """Make terminal-unsafe characters visible (escape sequences, bidi overrides)."""

    def show(match: re.Match[str]) -> str:
        return f"<U+{ord(match.group()):04X}>"

    text = _BIDI.sub(show, text)
    return "".join(
        f"<U+{ord(c):04X}>" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c
        for c in text
    )


def _style(confidence: float | None) -> str:
    if confidence is None:
        return ""
    for lower, _, colour in BANDS:
        if confidence >= lower:
            return colour
    return "red"


def _colour_text(doc: Document, threshold: float | None) -> Text:
    from rich.text import Text

    runs = marked_runs(doc, threshold)
    in_run = run_index(runs)
    out = Text()
    position = 0
    for span in doc.spans:
        out.append(_visible(doc.text[position : span.start]))
        style = _style(span.confidence)
        run = in_run.get(span.id)
        if run is not None:
            style = f"{style} underline".strip()
        out.append(_visible(span.text), style=style or None)
        if run is not None and span.alternatives:
            shown = "|".join(f"{a.text}?" for a in span.alternatives[:2])
            out.append("{" + _visible(shown) + "}", style="dim")
        position = span.end
    out.append(_visible(doc.text[position:]))
    return out


def _legend() -> Text:
    from rich.text import Text

    legend = Text("confidence: ")
    labels = ("≥0.90", "0.70-0.90", "0.50-0.70", "<0.50")
    for (_, _, colour), label in zip(BANDS, labels, strict=True):
        legend.append(label, style=colour)
        legend.append(" ")
    legend.append("underlined", style="underline")
    legend.append(" = marked, ")
    legend.append("{alternative?}", style="dim")
    legend.append(" = another reading")
    return legend


def print_terminal(
    doc: Document, console: Console, *, threshold: float | None = None, legend: bool = True
) -> None:
    """Print the document coloured by confidence, marks underlined with alternatives.

    Without colour (output piped, `NO_COLOR` set) it prints the plain-marker view instead.
    Either way a one-line legend (unless `legend` is false: a batch prints it once, with
    `print_legend`) and a summary line follow.
    """
    # rich is the terminal's concern: imported here, so the other formats load without it.
    from rich.text import Text

    if console.no_color or console.color_system is None:
        console.print(
            Text(_visible(plain(doc, threshold=threshold))), soft_wrap=True, highlight=False
        )
    else:
        console.print(_colour_text(doc, threshold), soft_wrap=True, highlight=False)
    if legend:
        print_legend(console)
    line = summary(doc)
    if threshold is not None:
        line += f", threshold {fmt_conf(threshold)}"
    console.print(Text(line, style="bold"), soft_wrap=True, highlight=False)


def print_legend(console: Console) -> None:
    """Print the terminal view's one-line legend: the plain-marker one without colour."""
    from rich.text import Text

    if console.no_color or console.color_system is None:
        console.print(Text(PLAIN_LEGEND), soft_wrap=True, highlight=False)
    else:
        console.print(_legend(), soft_wrap=True, highlight=False)

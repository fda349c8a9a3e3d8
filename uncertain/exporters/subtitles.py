"""WebVTT and SubRip subtitles: one cue per speech segment, untrusted words marked.

WebVTT: marked words are wrapped in `<c.unsure>` (styled by a STYLE block), each cue is
preceded by a NOTE with its confidences, and `&`, `<`, `>` are written as character
references, so a transcript can never close a tag or write a cue-timing arrow (`-->`).

SubRip has no escape mechanism and players read `<...>` as tags, so (documented
substitution) `<` and `>` in the transcript become `‹` and `›`; marked words are wrapped
in `<u>`. In both formats every line break inside a cue becomes a space, so a cue never
holds a blank line.
"""

from __future__ import annotations

from typing import Any

from uncertain.document import Document, Span
from uncertain.exporters._common import (
    LINE_BREAKS,
    Cue,
    cues,
    fmt_conf,
    marked_runs,
    run_index,
)

__all__ = ["SRT_SUBSTITUTIONS", "export_srt", "export_vtt", "srt_text", "vtt_escape"]

SRT_SUBSTITUTIONS = {"<": "\u2039", ">": "\u203a"}
"""Characters SubRip cannot carry literally, and what is written instead."""

VTT_STYLE = """STYLE
::cue(.unsure) {
  color: #ffd24d;
  text-decoration: underline;
}"""


def vtt_escape(text: str) -> str:
    """Escape text for a WebVTT cue or note: references for `&<>`, line breaks as spaces."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return LINE_BREAKS.sub(" ", text)


def srt_text(text: str) -> str:
    """Neutralise text for a SubRip cue: `<`/`>` substituted, line breaks as spaces."""
    for old, new in SRT_SUBSTITUTIONS.items():
        text = text.replace(old, new)
    return LINE_BREAKS.sub(" ", text)


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_times(cue: Cue, separator: str) -> str:
    start = cue.time.start
    # Players drop cues that end where they start; keep at least one millisecond.
    end = max(cue.time.end, start + 0.001)
    return f"{_timestamp(start, separator)} --> {_timestamp(end, separator)}"


def _cue_body(
    doc: Document, spans: list[Span], unsure: set[int], escape: Any, tags: tuple[str, str]
) -> str:
    out: list[str] = []
    previous: Span | None = None
    for span in spans:
        if previous is not None:
            out.append(
                escape(doc.text[previous.end : span.start]) if span.start >= previous.end else " "
            )
        word = escape(span.text)
        out.append(f"{tags[0]}{word}{tags[1]}" if span.id in unsure else word)
        previous = span
    return "".join(out).strip()


def export_vtt(doc: Document, **options: Any) -> str:
    """WebVTT with a STYLE block, a NOTE of confidences before each cue, marks as `c.unsure`."""
    runs = marked_runs(doc, options.get("threshold"))
    unsure = set(run_index(runs))
    blocks = ["WEBVTT", VTT_STYLE]
    for number, cue in enumerate(cues(doc), start=1):
        body = _cue_body(doc, cue.spans, unsure, vtt_escape, ("<c.unsure>", "</c>"))
        if not body:
            continue
        blocks.append(f"NOTE {vtt_escape(_note(cue, unsure))}")
        blocks.append(f"cue-{number}\n{_cue_times(cue, '.')}\n{body}")
    return "\n\n".join(blocks) + "\n"


def _note(cue: Cue, unsure: set[int]) -> str:
    values = [s.confidence for s in cue.spans if s.confidence is not None]
    if not values:
        return "confidence: not fused"
    note = f"confidence: mean {sum(values) / len(values):.2f}, min {min(values):.2f}"
    weak = [s for s in cue.spans if s.id in unsure]
    if weak:
        note += "; unsure: " + ", ".join(
            f"{s.text} {fmt_conf(s.confidence)}"
            + (
                f" (or {s.alternatives[0].text} {fmt_conf(s.alternatives[0].confidence)})"
                if s.alternatives
                else ""
            )
            for s in weak
        )
    return note


def export_srt(doc: Document, **options: Any) -> str:
    """SubRip: numbered cues, marked words underlined with `<u>`."""
    runs = marked_runs(doc, options.get("threshold"))
    unsure = set(run_index(runs))
    blocks: list[str] = []
    for cue in cues(doc):
        body = _cue_body(doc, cue.spans, unsure, srt_text, ("<u>", "</u>"))
        if body:
            blocks.append(f"{len(blocks) + 1}\n{_cue_times(cue, ',')}\n{body}")
    return "\n\n".join(blocks) + "\n" if blocks else ""

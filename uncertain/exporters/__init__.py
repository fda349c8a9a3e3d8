"""Output formats: one module per format, a registry, and the terminal view.

    FORMATS            name -> Format(name, suffix, applies_to, export, description)
    export(doc, fmt)   the document in that format, as text
    write(doc, fmt, out_dir, stem)   export and write NAME.suffix atomically; returns the path
    expand_formats("all", doc)       the formats that apply to this document
    formats_for_kind("audio")        the same, judged from a media kind before reading
    print_terminal(doc, console)     coloured terminal view (plain markers without colour)
    notebook_html(doc), notebook_table_html(docs)   Jupyter fragments
    export_fields_html(doc, extraction.to_dict())   the HTML report with extracted fields

Subtitles (vtt, srt) apply to timed documents (audio, video); hOCR and ALTO to documents
with pages (images, PDFs); every other format applies to every document. Every exporter
copes with unfused documents (confidence None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from uncertain._files import atomic_write_text
from uncertain.document import Document
from uncertain.errors import InputError, UsageError
from uncertain.exporters._common import is_paged, is_timed
from uncertain.exporters.alto import export_alto
from uncertain.exporters.data import export_json, export_jsonl
from uncertain.exporters.hocr import export_hocr
from uncertain.exporters.markdown import export_markdown
from uncertain.exporters.notebook import notebook_html, notebook_table_html
from uncertain.exporters.prompt import export_prompt
from uncertain.exporters.report import export_fields_html, export_html
from uncertain.exporters.subtitles import export_srt, export_vtt
from uncertain.exporters.text import export_text, print_terminal

__all__ = [
    "FORMATS",
    "Format",
    "expand_formats",
    "export",
    "export_fields_html",
    "formats_for_kind",
    "notebook_html",
    "notebook_table_html",
    "print_terminal",
    "write",
]

AppliesTo = Literal["any", "timed", "paged"]


@dataclass(frozen=True)
class Format:
    """One output format: its name, file suffix, which documents it applies to, its exporter."""

    name: str
    suffix: str
    applies_to: AppliesTo
    export: Callable[..., str]
    description: str

    def applies(self, doc: Document) -> bool:
        """True when this format makes sense for `doc` ('timed': audio/video, 'paged': pages)."""
        if self.applies_to == "timed":
            return is_timed(doc)
        if self.applies_to == "paged":
            return is_paged(doc)
        return True


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", ".txt", "any", export_text, "plain text, [?marked|alternative 0.31]"),
        Format("json", ".json", "any", export_json, "the JSON contract, indented"),
        Format("jsonl", ".jsonl", "any", export_jsonl, "the JSON contract, one line"),
        Format("md", ".md", "any", export_markdown, "Markdown, marks in bold with footnotes"),
        Format("prompt", ".prompt.txt", "any", export_prompt, "a prompt for a language model"),
        Format("vtt", ".vtt", "timed", export_vtt, "WebVTT subtitles (audio, video)"),
        Format("srt", ".srt", "timed", export_srt, "SubRip subtitles (audio, video)"),
        Format("hocr", ".hocr", "paged", export_hocr, "hOCR 1.2 (images, PDFs)"),
        Format("alto", ".alto.xml", "paged", export_alto, "ALTO 4.4 XML (images, PDFs)"),
        Format("html", ".html", "any", export_html, "self-contained HTML report"),
    )
}
"""Every output format by name, in the order `all` lists them."""


def _lookup(fmt: str) -> Format:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown output format {fmt!r}", f"choose from {', '.join(FORMATS)} or all"
        ) from None


def expand_formats(fmt_or_list: str | Iterable[str], doc: Document) -> list[str]:
    """Format names for `doc`: `all` (alone, in a list, or comma-separated) becomes every
    format that applies to it; duplicates are dropped; `UsageError` for an unknown name,
    `InputError` (naming the file) for a format that does not apply (e.g. vtt for an image)."""
    names = [fmt_or_list] if isinstance(fmt_or_list, str) else list(fmt_or_list)
    wanted: list[str] = []
    for name in (n.strip() for item in names for n in item.split(",")):
        if not name:
            continue
        if name == "all":
            wanted += [f.name for f in FORMATS.values() if f.applies(doc)]
            continue
        fmt = _lookup(name)
        if not fmt.applies(doc):
            kind = "timed words (audio or video)" if fmt.applies_to == "timed" else "pages"
            raise InputError(
                doc.source.path,
                f"format {name} needs {kind}, and this document has none",
                "leave it out, or use -f all to get every format that applies",
            )
        wanted.append(name)
    return list(dict.fromkeys(wanted))


def formats_for_kind(kind: str) -> list[str]:
    """Formats `all` gives for a media kind ('audio', 'video', 'image', 'pdf'), before reading."""
    applies: set[str] = {"any"}
    if kind in ("audio", "video"):
        applies.add("timed")
    elif kind in ("image", "pdf"):
        applies.add("paged")
    return [f.name for f in FORMATS.values() if f.applies_to in applies]


def export(doc: Document, fmt: str, **options: Any) -> str:
    """The document in format `fmt`, as text (options are passed to the exporter);
    `UsageError` for an unknown format."""
    return _lookup(fmt).export(doc, **options)


def write(doc: Document, fmt: str, out_dir: Path, stem: str, **options: Any) -> Path:
    """Export `doc` and write it atomically to `out_dir/stem + suffix`; returns the path."""
    target = Path(out_dir) / f"{stem}{_lookup(fmt).suffix}"
    atomic_write_text(target, export(doc, fmt, **options))
    return target

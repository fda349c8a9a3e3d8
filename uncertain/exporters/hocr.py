"""hOCR 1.2: pages, content areas, paragraphs, lines and words with boxes and confidences.

Built with `xml.etree`, so every text and attribute is escaped; characters XML cannot
carry become U+FFFD. `x_wconf` and `x_confs` are the calibrated confidence in percent;
alternative readings use hOCR's `<span class='alternatives'>` with `nlp` (negative log
probability) on each reading, the chosen one first in `<ins>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import Any

from uncertain._version import __version__
from uncertain.document import Box, Document, Span
from uncertain.exporters._common import (
    char_confidences,
    layout,
    nlp,
    require_pages,
    xml_safe,
)

__all__ = ["export_hocr"]

XHTML = "http://www.w3.org/1999/xhtml"
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf ocrp_nlp"
_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)


def _bbox(box: Box | None) -> list[str]:
    if box is None:
        return []
    return [f"bbox {round(box.x0)} {round(box.y0)} {round(box.x1)} {round(box.y1)}"]


def _title(parts: list[str]) -> dict[str, str]:
    return {"title": "; ".join(parts)} if parts else {}


def _word(parent: ET.Element, span: Span, ident: str) -> None:
    props = _bbox(span.box)
    if span.confidence is not None:
        props.append(f"x_wconf {round(span.confidence * 100)}")
    chars = char_confidences(span)
    if chars is not None:
        props.append("x_confs " + " ".join(str(round(c * 100)) for c in chars))
    word = ET.SubElement(parent, "span", {"class": "ocrx_word", "id": ident, **_title(props)})
    text = xml_safe(span.text)
    if not span.alternatives:
        word.text = text
        return
    group = ET.SubElement(word, "span", {"class": "alternatives"})
    chosen = ET.SubElement(group, "ins", {"class": "alt"})
    if span.confidence is not None:
        chosen.set("title", f"nlp {nlp(span.confidence)}")
    chosen.text = text
    for alternative in span.alternatives:
        other = ET.SubElement(
            group, "del", {"class": "alt", "title": f"nlp {nlp(alternative.confidence)}"}
        )
        other.text = xml_safe(alternative.text)


def export_hocr(doc: Document, **options: Any) -> str:
    """hOCR (XHTML) for an image or PDF document; `InputError` for one without pages."""
    require_pages(doc, "hOCR")
    root = ET.Element("html", {"xmlns": XHTML, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = xml_safe(doc.source.path or "")
    ET.SubElement(
        head, "meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"}
    )
    engine = " ".join(x for x in (doc.source.engine, doc.source.engine_version) if x)
    system = f"uncertain {__version__} ({engine})"
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": xml_safe(system)})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(doc.pages))})
    body = ET.SubElement(root, "body")
    image = PurePath(doc.source.path).name if doc.source.path else ""
    # hOCR quotes the image name; quotes and semicolons would end the property early.
    image = xml_safe(image).replace('"', "%22").replace(";", "%3B")
    for number, (page, areas) in enumerate(zip(doc.pages, layout(doc), strict=True), start=1):
        props = ([f'image "{image}"'] if image else []) + [
            f"bbox 0 0 {page.width} {page.height}",
            f"ppageno {number - 1}",
        ]
        if page.dpi:
            props.append(f"scan_res {round(page.dpi)} {round(page.dpi)}")
        element = ET.SubElement(
            body, "div", {"class": "ocr_page", "id": f"page_{number}", **_title(props)}
        )
        counters = [0, 0, 0]
        for area in areas:
            counters[0] += 1
            carea = ET.SubElement(
                element,
                "div",
                {
                    "class": "ocr_carea",
                    "id": f"block_{number}_{counters[0]}",
                    **_title(_bbox(area.box)),
                },
            )
            for paragraph in area.paragraphs:
                counters[1] += 1
                par = ET.SubElement(
                    carea,
                    "p",
                    {
                        "class": "ocr_par",
                        "id": f"par_{number}_{counters[1]}",
                        **_title(_bbox(paragraph.box)),
                    },
                )
                for line in paragraph.lines:
                    counters[2] += 1
                    row = ET.SubElement(
                        par,
                        "span",
                        {
                            "class": "ocr_line",
                            "id": f"line_{number}_{counters[2]}",
                            **_title(_bbox(line.box)),
                        },
                    )
                    for n, span in enumerate(line.spans):
                        _word(row, span, f"word_{number}_{span.id}")
                        # Space between words, as tesseract writes it, keeps text extractable.
                        row[-1].tail = " " if n < len(line.spans) - 1 else None
    _indent(root)
    markup = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{_DOCTYPE}\n{markup}\n'


def _indent(element: ET.Element, level: int = 0) -> None:
    """Indent the structure down to lines; a line's words keep their single spaces."""
    if element.get("class") == "ocr_line" or not len(element):
        return
    element.text = "\n" + " " * (level + 1)
    for child in element:
        _indent(child, level + 1)
        child.tail = "\n" + " " * (level + 1)
    element[-1].tail = "\n" + " " * level

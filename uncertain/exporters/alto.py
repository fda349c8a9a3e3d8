"""ALTO 4.4 XML: pages, text blocks, lines and strings with positions and confidences.

`WC` is the calibrated confidence (0 unsure to 1 sure); `CC` has one digit per character,
0 sure to 9 unsure (from per-character probabilities where the span has them, else from
the word's confidence). Other readings are `ALTERNATIVE` children whose `PURPOSE` gives
their probability. Built with `xml.etree`, so everything is escaped; characters XML
cannot carry become U+FFFD.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import Any

from uncertain._version import __version__
from uncertain.document import Box, Document, Span
from uncertain.exporters._common import char_confidences, layout, require_pages, xml_safe

__all__ = ["ALTO_NS", "cc_digit", "export_alto"]

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
_SCHEMA = "http://www.loc.gov/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def cc_digit(probability: float) -> str:
    """ALTO character confidence digit: 0 for a sure character, 9 for an unsure one."""
    return str(min(9, max(0, round((1.0 - probability) * 9))))


def _number(value: float) -> str:
    return str(round(value)) if float(value).is_integer() else f"{value:.1f}"


def _position(box: Box | None) -> dict[str, str]:
    if box is None:
        return {}
    return {
        "HPOS": _number(box.x0),
        "VPOS": _number(box.y0),
        "WIDTH": _number(box.x1 - box.x0),
        "HEIGHT": _number(box.y1 - box.y0),
    }


def _string(parent: ET.Element, span: Span) -> None:
    attributes = {"ID": f"string_{span.id}", "CONTENT": xml_safe(span.text), **_position(span.box)}
    if span.confidence is not None:
        attributes["WC"] = f"{span.confidence:.4f}"
    chars = char_confidences(span)
    if chars is not None:
        attributes["CC"] = " ".join(cc_digit(c) for c in chars)
    elif span.confidence is not None:
        attributes["CC"] = " ".join(cc_digit(span.confidence) for _ in span.text)
    element = ET.SubElement(parent, "String", attributes)
    for alternative in span.alternatives:
        other = ET.SubElement(
            element, "ALTERNATIVE", {"PURPOSE": f"confidence {alternative.confidence:.4f}"}
        )
        other.text = xml_safe(alternative.text)


def export_alto(doc: Document, **options: Any) -> str:
    """ALTO 4.4 for an image or PDF document; `InputError` for one without pages."""
    require_pages(doc, "ALTO")
    root = ET.Element(
        "alto",
        {
            "xmlns": ALTO_NS,
            "xmlns:xsi": _XSI,
            "xsi:schemaLocation": f"{ALTO_NS} {_SCHEMA}",
            "SCHEMAVERSION": "4.4",
        },
    )
    description = ET.SubElement(root, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    if doc.source.path:
        info = ET.SubElement(description, "sourceImageInformation")
        ET.SubElement(info, "fileName").text = xml_safe(PurePath(doc.source.path).name)
    processing = ET.SubElement(description, "Processing", {"ID": "processing_1"})
    ET.SubElement(processing, "processingCategory").text = "contentGeneration"
    settings = f"engine {doc.source.engine}"
    if doc.source.model:
        settings += f", model {doc.source.model}"
    if doc.source.calibration:
        settings += f", calibration {doc.source.calibration}"
    ET.SubElement(processing, "processingStepSettings").text = xml_safe(settings)
    software = ET.SubElement(processing, "processingSoftware")
    ET.SubElement(software, "softwareName").text = "uncertain"
    ET.SubElement(software, "softwareVersion").text = __version__
    layout_element = ET.SubElement(root, "Layout")
    counters = [0, 0]
    for number, (page, areas) in enumerate(zip(doc.pages, layout(doc), strict=True), start=1):
        page_element = ET.SubElement(
            layout_element,
            "Page",
            {
                "ID": f"page_{number}",
                "PHYSICAL_IMG_NR": str(number),
                "WIDTH": str(page.width),
                "HEIGHT": str(page.height),
            },
        )
        space = ET.SubElement(
            page_element,
            "PrintSpace",
            {"HPOS": "0", "VPOS": "0", "WIDTH": str(page.width), "HEIGHT": str(page.height)},
        )
        for area in areas:
            # ALTO has no paragraph level: a text block per paragraph keeps the structure.
            for paragraph in area.paragraphs:
                counters[0] += 1
                block = ET.SubElement(
                    space, "TextBlock", {"ID": f"block_{counters[0]}", **_position(paragraph.box)}
                )
                for line in paragraph.lines:
                    counters[1] += 1
                    row = ET.SubElement(
                        block, "TextLine", {"ID": f"line_{counters[1]}", **_position(line.box)}
                    )
                    for n, span in enumerate(line.spans):
                        if n:
                            gap = _gap(line.spans[n - 1].box, span.box)
                            ET.SubElement(row, "SP", gap)
                        _string(row, span)
    ET.indent(root, space=" ")
    markup = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{markup}\n'


def _gap(left: Box | None, right: Box | None) -> dict[str, str]:
    if left is None or right is None or right.x0 < left.x1:
        return {}
    return {
        "HPOS": _number(left.x1),
        "VPOS": _number(min(left.y0, right.y0)),
        "WIDTH": _number(right.x0 - left.x1),
    }

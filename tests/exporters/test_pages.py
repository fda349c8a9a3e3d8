"""hOCR and ALTO: parsed back (an HTML parser, xml.etree) and checked field by field."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tests.exporters.docs import image_doc
from uncertain.document import Block, Box, Document, Page, Span
from uncertain.exporters import export
from uncertain.exporters.alto import ALTO_NS

A = f"{{{ALTO_NS}}}"


class HocrWords(HTMLParser):
    """Collects ocr_* elements with their title properties, and each word's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, str, dict[str, str]]] = []
        self.words: list[dict[str, object]] = []
        self._stack: list[str] = []
        self._word: dict[str, object] | None = None
        self._in_del = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        cls = a.get("class", "")
        self._stack.append(cls)
        if cls.startswith("ocr"):
            self.elements.append((cls, a.get("id", ""), props(a.get("title", ""))))
        if cls == "ocrx_word":
            self._word = {"id": a["id"], "props": props(a.get("title", "")), "text": "", "alts": []}
            self.words.append(self._word)
        if tag in ("ins", "del") and self._word is not None:
            self._word["alts"].append((tag, props(a["title"]) if "title" in a else {}))  # type: ignore[union-attr]
            self._in_del += tag == "del"

    def handle_endtag(self, tag: str) -> None:
        cls = self._stack.pop()
        if tag == "del":
            self._in_del -= 1
        if cls == "ocrx_word":
            self._word = None

    def handle_data(self, data: str) -> None:
        if self._word is not None and not self._in_del:
            self._word["text"] += data  # type: ignore[operator]


def props(title: str) -> dict[str, str]:
    out = {}
    for part in title.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value
    return out


def parse_hocr(doc: Document) -> HocrWords:
    out = export(doc, "hocr")
    ET.fromstring(out.split("\n", 2)[2])  # well-formed XML (XHTML) as well
    parser = HocrWords()
    parser.feed(out)
    parser.close()
    return parser


@pytest.mark.parametrize("fused", [True, False])
def test_hocr_words_boxes_and_confidences(fused: bool) -> None:
    doc = image_doc(fused=fused)
    parsed = parse_hocr(doc)
    assert [w["text"] for w in parsed.words] == [s.text for s in doc.spans]
    for word, span in zip(parsed.words, doc.spans, strict=True):
        p = word["props"]
        assert isinstance(p, dict) and span.box is not None
        assert p["bbox"] == f"{span.box.x0:g} {span.box.y0:g} {span.box.x1:g} {span.box.y1:g}"
        if span.confidence is None:
            assert "x_wconf" not in p
        else:
            assert int(p["x_wconf"]) == round(span.confidence * 100)
        assert p["x_confs"].split() == ["80"] * len(span.text)
    classes = [c for c, _, _ in parsed.elements]
    assert classes.count("ocr_page") == 1 and classes.count("ocr_line") == 3
    assert classes.count("ocr_par") == 1 and classes.count("ocr_carea") == 1
    page = parsed.elements[0][2]
    assert page["bbox"] == "0 0 1000 800" and page["image"] == '"scan.png"'


def test_hocr_alternatives_use_nlp() -> None:
    doc = image_doc()
    parsed = parse_hocr(doc)
    word = parsed.words[1]
    span = doc.spans[1]
    assert word["alts"] == [
        ("ins", {"nlp": str(round(-math.log(span.confidence or 0), 3))}),
        ("del", {"nlp": str(round(-math.log(0.3), 3))}),
    ]
    assert word["text"] == "number"  # the chosen reading; the alternative sits in <del>


def test_lines_come_from_text_when_there_are_no_blocks() -> None:
    doc = image_doc(blocks=False, fused=False)
    parsed = parse_hocr(doc)
    assert [c for c, _, _ in parsed.elements].count("ocr_line") == 3
    root = ET.fromstring(export(doc, "alto"))
    assert len(root.findall(f".//{A}TextLine")) == 3


def alto_strings(doc: Document) -> list[ET.Element]:
    root = ET.fromstring(export(doc, "alto"))
    assert root.tag == f"{A}alto" and root.get("SCHEMAVERSION") == "4.4"
    return root.findall(f".//{A}String")


@pytest.mark.parametrize("fused", [True, False])
def test_alto_strings(fused: bool) -> None:
    doc = image_doc(fused=fused, char_tokens=False)
    strings = alto_strings(doc)
    assert [s.get("CONTENT") for s in strings] == [s.text for s in doc.spans]
    for element, span in zip(strings, doc.spans, strict=True):
        assert span.box is not None
        assert float(element.get("HPOS", "")) == span.box.x0
        assert float(element.get("VPOS", "")) == span.box.y0
        assert float(element.get("WIDTH", "")) == span.box.x1 - span.box.x0
        assert float(element.get("HEIGHT", "")) == span.box.y1 - span.box.y0
        if span.confidence is None:
            assert element.get("WC") is None and element.get("CC") is None
            continue
        assert float(element.get("WC", "")) == pytest.approx(span.confidence, abs=1e-4)
        digits = element.get("CC", "").split()
        assert len(digits) == len(span.text)
        # 0 is sure, 9 unsure: the digit falls as confidence rises.
        assert int(digits[0]) == round((1 - span.confidence) * 9)
        alternatives = element.findall(f"{A}ALTERNATIVE")
        assert [a.text for a in alternatives] == [a.text for a in span.alternatives]


def test_alto_page_and_structure() -> None:
    doc = image_doc()
    root = ET.fromstring(export(doc, "alto"))
    page = root.find(f".//{A}Page")
    assert page is not None and (page.get("WIDTH"), page.get("HEIGHT")) == ("1000", "800")
    assert root.findtext(f".//{A}MeasurementUnit") == "pixel"
    assert root.findtext(f".//{A}fileName") == "scan.png"
    blocks = root.findall(f".//{A}TextBlock")
    assert len(blocks) == 1 and len(blocks[0].findall(f"{A}TextLine")) == 3
    line = blocks[0].find(f"{A}TextLine")
    assert line is not None and [c.tag for c in line] == [f"{A}String", f"{A}SP"] * 2 + [
        f"{A}String"
    ]


def test_alto_per_character_confidence_from_tokens() -> None:
    doc = image_doc(char_tokens=True)
    first = alto_strings(doc)[0]
    assert first.get("CC") == " ".join(["2"] * len("Invoice"))  # 0.8 -> round(0.2 * 9) = 2


def test_two_pages_and_a_span_without_box() -> None:
    spans = [
        Span(
            id=0,
            start=0,
            end=3,
            text="one",
            confidence=0.9,
            box=Box(page=0, x0=1, y0=1, x1=9, y1=9),
        ),
        Span(id=1, start=4, end=7, text="two", confidence=0.9),
        Span(id=2, start=8, end=13, text="three", box=Box(page=1, x0=1, y0=1, x1=9, y1=9)),
    ]
    doc = Document(
        text="one two\fthree",
        spans=spans,
        pages=[Page(width=10, height=10), Page(width=10, height=10)],
        blocks=[Block(kind="page", span_ids=[0, 1]), Block(kind="page", span_ids=[2])],
    )
    parsed = parse_hocr(doc)
    assert [w["id"] for w in parsed.words] == ["word_1_0", "word_1_1", "word_2_2"]
    assert "bbox" not in parsed.words[1]["props"]  # type: ignore[operator]
    root = ET.fromstring(export(doc, "alto"))
    pages = root.findall(f".//{A}Page")
    assert [[s.get("CONTENT") for s in p.iter(f"{A}String")] for p in pages] == [
        ["one", "two"],
        ["three"],
    ]

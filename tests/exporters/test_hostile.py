"""Hostile transcripts (issue 9): every format stays well-formed and gives the words back."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tests.exporters.docs import audio_doc, hostile_audio, image_doc
from tests.exporters.test_markdown import FOOTNOTE_REF, body_and_notes, rendered
from tests.exporters.test_pages import A, parse_hocr
from tests.exporters.test_report import parse as parse_report
from tests.fuzzing import examples
from uncertain.document import Document
from uncertain.exporters import expand_formats, export
from uncertain.exporters._common import xml_safe
from uncertain.exporters.text import parse_plain

webvtt = pytest.importorskip("webvtt", reason="webvtt-py (dev dependency) is not installed")
srt = pytest.importorskip("srt", reason="srt (dev dependency) is not installed")

TAG = re.compile(r"<[^>]*>")


def words_back(doc: Document, fmt: str) -> list[str]:
    """Parse `fmt`'s output with a real parser and return the document's words from it."""
    out = export(doc, fmt)
    if fmt == "text":
        return parse_plain(out[:-1])[0].split()
    if fmt in ("json", "jsonl"):
        return Document.from_json(out).text.split()
    if fmt == "md":
        body, _ = body_and_notes(out)
        parser = rendered(body)
        return FOOTNOTE_REF.sub("", "".join(parser.parts)).split()
    if fmt == "prompt":
        render = pytest.importorskip("uncertain.render")
        return render.parse(out.rstrip("\n"), "inline").text.split()
    if fmt == "vtt":
        captions = webvtt.from_string(out, strict=True).captions
        return [w for c in captions for w in html.unescape(TAG.sub("", c.raw_text)).split()]
    if fmt == "srt":
        return [w for s in srt.parse(out) for w in TAG.sub("", s.content).split()]
    if fmt == "hocr":
        return [w for word in parse_hocr(doc).words for w in str(word["text"]).split()]
    if fmt == "alto":
        root = ET.fromstring(out)
        return [w for s in root.iter(f"{A}String") for w in s.get("CONTENT", "").split()]
    if fmt == "html":
        report = parse_report(out)
        # Exactly our two scripts (the data block and the code), no element from the text.
        assert [a.get("type") for t, a in report.tags if t == "script"] == [
            "application/json",
            None,
        ]
        assert not report.find("img") and not report.find("iframe")
        data = json.loads("".join(report.raw["json"]))
        assert [s["text"] for s in data["spans"].values()] == [s.text for s in doc.spans]
        return [w for _, t in report.words for w in t.split()]
    raise AssertionError(fmt)


def expected_words(doc: Document, fmt: str) -> list[str]:
    """The words each format promises to give back, after its documented substitutions."""
    if fmt == "srt":
        from uncertain.exporters.subtitles import srt_text

        return srt_text(doc.text).split()
    if fmt in ("hocr", "alto", "html"):
        return [w for s in doc.spans for w in xml_safe(s.text).split()]
    return doc.text.split()


def test_hostile_documents_in_every_format(hostile_doc: Document) -> None:
    for fmt in expand_formats("all", hostile_doc):
        assert words_back(hostile_doc, fmt) == expected_words(hostile_doc, fmt), fmt


def test_raw_hostile_markup_never_appears_unescaped() -> None:
    doc = hostile_audio()
    for fmt in ("vtt", "html"):  # Markdown escapes with backslashes: see the render test
        out = export(doc, fmt)
        assert "<script>alert(1)</script>" not in out, fmt
        assert "<img src=x" not in out, fmt
    assert "\n\n\n" not in export(doc, "vtt")


def test_xml_forbidden_characters_are_replaced() -> None:
    doc = image_doc([["null\x00byte", "bell\x07", "ok"]])
    for fmt in ("hocr", "alto"):
        out = export(doc, fmt)
        ET.fromstring(out.split("\n", 2)[2] if fmt == "hocr" else out)
        assert "null\ufffdbyte" in out and "\x00" not in out


# Words without whitespace (so splitting is exact), from all of Unicode but surrogates.
WORD = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
    min_size=1,
    max_size=12,
)
GAP = st.sampled_from([" ", "  ", "\n", "\n\n", " \t ", "\r\n"])


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORD, min_size=1, max_size=12), st.lists(GAP, min_size=1, max_size=4))
def test_any_words_survive_every_format(words: list[str], gaps: list[str]) -> None:
    for doc in (audio_doc(words, gaps=gaps), image_doc([words])):
        for fmt in expand_formats("all", doc):
            if fmt == "prompt":
                continue  # the renderer has its own property tests
            assert words_back(doc, fmt) == expected_words(doc, fmt), fmt


def test_markdown_renders_no_markup_from_text() -> None:
    body, _ = body_and_notes(export(hostile_audio(), "md"))
    tags = {m.group(1) for m in re.finditer(r"<(\w+)", MarkdownIt("commonmark").render(body))}
    assert tags <= {"p", "br", "strong"}

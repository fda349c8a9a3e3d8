"""The HTML report and the notebook fragments."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import wave
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from tests.exporters.docs import audio_doc, image_doc
from uncertain.document import Document
from uncertain.exporters import export, notebook_html, notebook_table_html


class Report(HTMLParser):
    """Tags, word spans, boxes, the CSP and the inline style/script texts of a report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.words: list[tuple[dict[str, str], str]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": [], "json": []}
        self._word: dict[str, str] | None = None
        self._raw: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "span" and "w" in a.get("class", "").split():
            self._word = a
            self.words.append((a, ""))
        if tag == "style":
            self._raw = "style"
        if tag == "script":
            self._raw = "json" if a.get("type") == "application/json" else "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._word = None
        if tag in ("style", "script"):
            self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self.raw[self._raw].append(data)
        elif self._word is not None:
            attrs, text = self.words[-1]
            self.words[-1] = (attrs, text + data)

    def find(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


def parse(out: str) -> Report:
    report = Report()
    report.feed(out)
    report.close()
    return report


def sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_report_words_heat_map_and_marks(any_doc: Document) -> None:
    report = parse(export(any_doc, "html"))
    assert [text for _, text in report.words] == [s.text for s in any_doc.spans]
    for (attrs, _), span in zip(report.words, any_doc.spans, strict=True):
        classes = attrs["class"].split()
        assert attrs["data-i"] == str(span.id)
        expected = "cn" if span.confidence is None else f"c{min(9, int(span.confidence * 10))}"
        assert expected in classes
        assert ("mk" in classes) == (any_doc.mark_of(span.id) is not None)


def test_strict_csp_allows_exactly_the_inline_style_and_script() -> None:
    report = parse(export(audio_doc(), "html"))
    policy = [
        a["content"]
        for a in report.find("meta")
        if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(policy) == 1
    rules = dict(r.strip().split(" ", 1) for r in policy[0].split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["style-src"] == sha("".join(report.raw["style"]))
    assert rules["script-src"] == sha("".join(report.raw["script"]))
    assert "http" not in policy[0] and "unsafe" not in policy[0]
    # No external resources anywhere: every src/href is a data: URI.
    for _, attrs in report.tags:
        for key in ("src", "href"):
            assert attrs.get(key, "data:").startswith("data:")


def test_data_block_describes_every_span() -> None:
    doc = audio_doc()
    report = parse(export(doc, "html"))
    data = json.loads("".join(report.raw["json"]))
    span = data["spans"]["4"]
    assert span["text"] == "metaformin" and span["c"] == 0.35
    assert span["a"] == [["METAFORMIN?", 0.65]] and span["t"] == [2.0, 2.4]
    assert span["m"].startswith("low confidence")
    assert data["spans"]["0"]["m"] is None


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return path


def test_audio_is_embedded_or_linked(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "talk.wav")
    doc = audio_doc(path=str(wav))
    player = parse(export(doc, "html")).find("audio")
    assert len(player) == 1 and player[0]["src"].startswith("data:audio/wav;base64,")
    assert base64.b64decode(player[0]["src"].split(",", 1)[1]) == wav.read_bytes()
    linked = parse(export(doc, "html", media_href="../media/talk.wav")).find("audio")
    assert linked[0]["src"] == "../media/talk.wav"
    too_big = export(doc, "html", embed_limit=100)
    assert not parse(too_big).find("audio") and "not embedded" in too_big


def test_page_image_and_boxes(tmp_path: Path) -> None:
    png = tmp_path / "scan.png"
    Image.new("RGB", (1000, 800), "white").save(png)
    doc = image_doc(path=str(png))
    report = parse(export(doc, "html"))
    images = report.find("image")
    assert len(images) == 1 and images[0]["href"].startswith("data:image/jpeg;base64,")
    picture = Image.open(
        __import__("io").BytesIO(base64.b64decode(images[0]["href"].split(",")[1]))
    )
    assert max(picture.size) <= 1600
    rects = report.find("rect")
    assert [r["data-i"] for r in rects] == [str(s.id) for s in doc.spans]
    first = doc.spans[0].box
    assert (
        first is not None
        and float(rects[0]["x"]) == first.x0
        and float(rects[0]["width"]) == first.x1 - first.x0
    )
    assert ["mk" in r["class"].split() for r in rects] == [
        doc.mark_of(s.id) is not None for s in doc.spans
    ]


def test_pdf_pages_are_rendered(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    Image.new("RGB", (1000, 800), "white").save(pdf, resolution=100.0)
    doc = image_doc(path=str(pdf)).model_copy(
        update={
            "source": image_doc().source.model_copy(
                update={"path": str(pdf), "media_type": "application/pdf"}
            )
        }
    )
    images = parse(export(doc, "html")).find("image")
    assert len(images) == 1 and images[0]["href"].startswith("data:image/jpeg;base64,")


def test_missing_image_still_gives_boxes() -> None:
    out = export(image_doc(path="/nonexistent/scan.png"), "html")
    assert len(parse(out).find("rect")) == 8 and "not available" in out


def test_notebook_fragment_is_compact_and_has_no_script() -> None:
    doc = audio_doc()
    out = notebook_html(doc)
    assert "<script" not in out
    assert "10 words, 40% marked, mean confidence 0.63" in out
    report = parse(out)
    assert [t for _, t in report.words] == [s.text for s in doc.spans]
    assert "confidence 0.35; marked; or METAFORMIN? (0.65); 2.00-2.40 s" in [
        a["title"] for a, _ in report.words
    ]


def test_three_hour_transcript_stays_under_two_megabytes() -> None:
    words = [f"word{n % 97}" for n in range(30_000)]
    doc = audio_doc(words, per_segment=20)
    out = notebook_html(doc)
    assert len(out.encode()) < 2_000_000
    shown = parse(out).words
    # The start in full, then marked passages only (with context), up to the cap.
    assert [t for _, t in shown[:2000]] == words[:2000]
    assert any("mk" in a["class"] for a, _ in shown[2000:])
    assert re.search(r"\d+ more words", out)


def test_notebook_table() -> None:
    out = notebook_table_html([audio_doc(), image_doc(fused=False)])
    report = parse(out)
    cells = [a for t, a in report.tags if t == "td"]
    assert len(cells) == 14
    assert "talk.wav" in out and "scan.png" in out and "not fused" in out and "5.0 s" in out

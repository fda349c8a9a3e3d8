"""Every output format for every sample, through the CLI, each checked with a real parser."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import uncertain
from uncertain.cli import app
from uncertain.document import Document
from uncertain.exporters.text import parse_plain

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MEDIA = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".wav", ".png", ".jpg", ".pdf"))
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("all")
    result = CliRunner().invoke(
        app, ["transcribe", str(SAMPLES), "-f", "all", "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.stderr
    return out


def words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("sample", MEDIA, ids=lambda p: p.name)
def test_every_format_parses_back(outputs: Path, sample: Path) -> None:
    stem = sample.stem
    doc = Document.load(outputs / f"{stem}.json")
    assert doc.source.path == str(sample)
    assert all(s.confidence is not None for s in doc.spans)
    (line,) = (outputs / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
    assert Document.from_json(line) == doc
    view = (outputs / f"{stem}.txt").read_text(encoding="utf-8")
    text, markers = parse_plain(view.removesuffix("\n"))
    assert text == doc.text
    assert len(markers) == len(doc.marks)
    prompt = (outputs / f"{stem}.prompt.txt").read_text(encoding="utf-8")
    assert uncertain.parse(prompt.removesuffix("\n"), "inline").text == doc.text
    assert (outputs / f"{stem}.md").read_text(encoding="utf-8").strip() or not doc.text

    html = (outputs / f"{stem}.html").read_text(encoding="utf-8")
    parser = HTMLParser()
    parser.feed(html)
    parser.close()
    assert html.rstrip().endswith("</html>")

    if sample.suffix == ".wav":
        webvtt = pytest.importorskip("webvtt")
        srt = pytest.importorskip("srt")
        cues = webvtt.read(str(outputs / f"{stem}.vtt"))
        subtitles = list(srt.parse((outputs / f"{stem}.srt").read_text(encoding="utf-8")))
        assert len(cues) == len(subtitles) == len(doc.blocks)
        spoken = " ".join(c.text.replace("\n", " ") for c in cues)
        assert words(spoken) == words(doc.text)
        assert not (outputs / f"{stem}.hocr").exists()
    else:
        tree = ET.parse(outputs / f"{stem}.alto.xml")
        strings = list(tree.iter(f"{ALTO}String"))
        assert [s.get("CONTENT") for s in strings] == [s.text for s in doc.spans]
        for element, span in zip(strings, doc.spans, strict=True):
            assert float(element.get("WC", "nan")) == pytest.approx(span.confidence, abs=0.01)
            assert len(element.get("CC", "").split()) == len(span.text)
        hocr_words = HocrWords()
        hocr_words.feed((outputs / f"{stem}.hocr").read_text(encoding="utf-8"))
        assert hocr_words.words == [s.text for s in doc.spans]
        assert not (outputs / f"{stem}.vtt").exists()


class HocrWords(HTMLParser):
    """The text of each ocrx_word, in order: the chosen reading, not the <del> alternatives."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._depth = 0  # >0 inside an ocrx_word
        self._rejected = 0  # >0 inside a <del> (another reading)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self._depth += 1
            if tag == "del" or self._rejected:
                self._rejected += 1
        elif "ocrx_word" in classes:
            self._depth = 1
            self.words.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1
            if self._rejected:
                self._rejected -= 1

    def handle_data(self, data: str) -> None:
        if self._depth and not self._rejected:
            self.words[-1] += data


def test_trace_and_messages_on_a_sample() -> None:
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav")
    messages = uncertain.to_messages(doc, "Which drugs does the patient take?")
    assert messages[0]["role"] == "system" and "<u>" in messages[1]["content"]
    shaky = doc.span(doc.marks[-1].span_ids[-1]).text
    hits = uncertain.trace(doc, {"medication": shaky, "dose": "twice daily"})
    assert [h.field for h in hits] == ["medication"]
    assert hits[0].confidence < 0.5
    assert json.dumps(messages)  # plain JSON, as the SDKs send it

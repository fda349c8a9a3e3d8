"""RapidOCR as a second reader of scans: real engine on the samples, real faults, matching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import uncertain
from uncertain.adapters import rapidocr as second
from uncertain.adapters.rapidocr import OtherWord, RapidOcrReader, match_words
from uncertain.crosscheck import normalize_word
from uncertain.document import Document

pytest.importorskip("rapidocr")

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def degraded() -> Document:
    return uncertain.read(SAMPLES / "degraded_page.jpg", fuse=False)


@pytest.fixture(scope="module")
def degraded_checked() -> Document:
    return uncertain.read(SAMPLES / "degraded_page.jpg", cross_check="rapidocr", fuse=False)


def test_second_reader_keeps_tesseracts_text_and_adds_evidence(
    degraded: Document, degraded_checked: Document
) -> None:
    assert degraded_checked.text == degraded.text
    assert [s.text for s in degraded_checked.spans] == [s.text for s in degraded.spans]
    settings = degraded_checked.source.settings
    assert settings["cross_check"] == "rapidocr" and settings["cross_check_mode"] == "selective"
    assert "cross_check_notes" not in settings
    read, total = settings["cross_check_lines"]  # type: ignore[misc]
    assert 0 < read <= total
    threshold = second.DEFAULT_LINE_THRESHOLD
    for line in (b for b in degraded_checked.blocks if b.kind == "line"):
        spans = [degraded_checked.span(i) for i in line.span_ids]
        weak = any(s.signals["word_confidence"] < threshold for s in spans)
        # Selective mode reads exactly the lines that hold a weak word.
        assert all(s.signals["cross_checked"] == float(weak) for s in spans)
        for span in spans:
            if weak:
                assert 0.0 <= span.signals["cross_word_confidence"] <= 1.0
                assert 0.0 <= span.signals["cross_char_similarity"] <= 1.0
            else:
                assert "cross_agreement" not in span.signals


def test_second_reading_corrects_a_real_tesseract_error(degraded_checked: Document) -> None:
    """Where Tesseract misread a word and RapidOCR read the reference's word, that word is
    offered as the first alternative and the two readings are marked as disagreeing."""
    reference = {normalize_word(w) for w in (SAMPLES / "degraded_page.ref.txt").read_text().split()}
    corrected = [
        s
        for s in degraded_checked.spans
        if normalize_word(s.text) not in reference
        and s.alternatives
        and normalize_word(s.alternatives[0].text) in reference
        and s.signals.get("cross_agreement") == 0.0
    ]
    assert corrected, "RapidOCR offered no reference word where Tesseract was wrong"
    agreed = [s for s in degraded_checked.spans if s.signals.get("cross_agreement") == 1.0]
    assert agreed and all(normalize_word(s.text) in reference for s in agreed[:5])


def test_fused_cross_checked_page_uses_the_second_reader(degraded_checked: Document) -> None:
    fused = uncertain.fuse(degraded_checked)
    assert fused.source.calibration is not None
    assert "rapidocr" in fused.source.calibration
    disagreeing = [s for s in fused.spans if s.signals.get("cross_agreement") == 0.0]
    agreeing = [s for s in fused.spans if s.signals.get("cross_agreement") == 1.0]
    assert disagreeing and agreeing
    mean = lambda spans: sum(s.confidence or 0.0 for s in spans) / len(spans)  # noqa: E731
    assert mean(disagreeing) < mean(agreeing)


def test_cross_checked_pages_carry_character_evidence_for_every_word(
    degraded_checked: Document,
) -> None:
    """The second reader's calibrator weighs every word's character confidences, so the
    cheaper pass that gives them only to weak words is not used with it."""
    assert degraded_checked.source.settings["char_choices"] == "all"
    assert all("min_char_confidence" in s.signals for s in degraded_checked.spans)


def test_full_page_mode_reads_every_line() -> None:
    doc = uncertain.read(
        SAMPLES / "clean_page.png", cross_check="rapidocr", cross_check_mode="full", fuse=False
    )
    assert doc.source.settings["cross_check_mode"] == "full"
    assert all(s.signals["cross_checked"] == 1.0 for s in doc.spans)
    agreement = sum(s.signals["cross_agreement"] for s in doc.spans) / len(doc.spans)
    assert agreement > 0.8  # a clean page: both engines read nearly every word alike


def test_a_model_that_will_not_load_leaves_the_tesseract_reading(tmp_path: Path) -> None:
    broken = tmp_path / "rec.onnx"
    broken.write_bytes(b"this is not an onnx model")
    reader = RapidOcrReader(**{"Rec.model_path": str(broken), "Det.model_path": str(broken)})
    plain = uncertain.read(SAMPLES / "degraded_page.jpg", fuse=False)
    doc = second.cross_check_source(plain, SAMPLES / "degraded_page.jpg", reader)
    assert doc.text == plain.text
    notes = doc.source.settings["cross_check_notes"]
    assert isinstance(notes, list) and len(notes) == 1
    assert "Tesseract-only reading" in str(notes[0])
    assert all("cross_agreement" not in s.signals for s in doc.spans)
    assert uncertain.fuse(doc).spans  # still a usable document


def test_a_page_too_large_for_rapidocr_gets_a_page_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(second, "MAX_PAGE_PIXELS", 1000)
    doc = uncertain.read(
        SAMPLES / "clean_page.png", cross_check="rapidocr", cross_check_mode="full", fuse=False
    )
    notes = doc.source.settings["cross_check_notes"]
    assert isinstance(notes, list)
    assert str(notes[0]).startswith("page 1: the page is too large for the second reader")
    assert all(s.signals["cross_checked"] == 0.0 for s in doc.spans)


def test_a_page_rapidocr_fails_on_is_noted_and_the_others_kept(tmp_path: Path) -> None:
    """A fake reader, only to fail on the second of two pages (the real engine cannot be made
    to fail on demand)."""

    class FailsOnSecondPage(RapidOcrReader):
        calls = 0

        def read_lines(self, image: Any, boxes: Any) -> list[list[OtherWord]]:
            FailsOnSecondPage.calls += 1
            if FailsOnSecondPage.calls == 2:
                raise RuntimeError("onnxruntime: bad allocation")
            return super().read_lines(image, boxes)

    from PIL import Image

    two_pages = tmp_path / "two.tiff"
    with Image.open(SAMPLES / "degraded_page.jpg") as image:
        image.convert("L").save(two_pages, save_all=True, append_images=[image.convert("L")])
    plain = uncertain.read(two_pages, fuse=False)
    doc = second.cross_check_source(plain, two_pages, FailsOnSecondPage())
    notes = doc.source.settings["cross_check_notes"]
    assert notes == [
        "page 2: RapidOCR failed (RuntimeError: onnxruntime: bad allocation); "
        "Tesseract-only reading"
    ]
    checked = {s.box.page for s in doc.spans if s.box and s.signals["cross_checked"] == 1.0}
    assert checked == {0}
    assert doc.text == plain.text


def test_missing_rapidocr_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    plain = uncertain.read(SAMPLES / "degraded_page.jpg", fuse=False)
    doc = second.cross_check_source(plain, SAMPLES / "degraded_page.jpg", RapidOcrReader())
    notes = doc.source.settings["cross_check_notes"]
    assert isinstance(notes, list) and "uncertain-ingest[rapidocr]" in str(notes[0])


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="selective"):
        uncertain.read(SAMPLES / "clean_page.png", cross_check="rapidocr", cross_check_mode="x")
    doc = Document(text="")
    for check in (second.cross_check_pages, second.cross_check_source):
        with pytest.raises(ValueError, match="unknown cross-check mode 'x'"):
            check(doc, [], RapidOcrReader(), mode="x")  # type: ignore[arg-type]


def _word(text: str, x0: float, x1: float, confidence: float = 0.9) -> OtherWord:
    return OtherWord(text, confidence, confidence, (x0, 10.0, x1, 30.0))


def test_matching_by_boxes_handles_split_merged_and_extra_words() -> None:
    ours = [(0.0, 10.0, 50.0, 30.0), (60.0, 10.0, 100.0, 30.0), (110.0, 10.0, 150.0, 30.0)]
    others = [
        _word("hel", 0, 24),
        _word("lo", 26, 50),  # our first word split in two
        _word("worldwide", 60, 150),  # our second and third words merged
        _word("extra", 200, 240),  # text only the other engine saw
    ]
    matches = match_words(ours, others)
    assert [w.text for w in matches[0].others] == ["hel", "lo"]
    assert [w.text for w in matches[1].others] == ["worldwide"]
    assert [w.text for w in matches[2].others] == ["worldwide"]
    assert matches[2].extra_chars == len("extra")
    assert match_words(ours, [_word("below", 0, 50)])[0].others  # same line
    far = OtherWord("x", 0.9, 0.9, (0.0, 100.0, 50.0, 120.0))
    assert not match_words(ours, [far])[0].others  # another line


def test_cli_cross_check_rapidocr(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "uncertain", "transcribe", str(SAMPLES / "degraded_page.jpg")),
            *("--cross-check", "rapidocr", "-f", "json", "-o", str(tmp_path), "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "degraded_page.json").read_text())
    assert data["source"]["settings"]["cross_check"] == "rapidocr"
    assert any("cross_checked" in s["signals"] for s in data["spans"])
    bad = subprocess.run(
        [
            *(sys.executable, "-m", "uncertain", "transcribe", str(SAMPLES / "clean_page.png")),
            *("--cross-check", "rapidocr", "--cross-check-mode", "sometimes"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "--cross-check-mode" in bad.stderr


def test_a_line_budget_reads_only_the_weakest_lines(degraded: Document) -> None:
    lines = [b for b in degraded.blocks if b.kind == "line"]
    weakest = {
        id(line): min(degraded.span(i).signals["word_confidence"] for i in line.span_ids)
        for line in lines
    }
    everything = second.selected_lines(degraded, lines, 1.01)
    assert everything == lines
    half = second.selected_lines(degraded, lines, 1.01, budget=0.5)
    assert len(half) == -(-len(lines) // 2)
    assert max(weakest[id(line)] for line in half) <= min(
        weakest[id(line)] for line in lines if line not in half
    )
    assert [lines.index(line) for line in half] == sorted(lines.index(line) for line in half)

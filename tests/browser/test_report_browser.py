"""The HTML report in a real headless Chromium: DOM, styles, screenshot, seeking, no injection."""

from __future__ import annotations

import io
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.exporters.docs import hostile_audio, image_doc
from uncertain.exporters import write

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        "/usr/bin/chromium is missing (apt-get install chromium; `make system-test` does it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (dev dependency) is not installed"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        # A fresh profile, the system Chromium; playwright never downloads a browser here.
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield context
        context.close()


def write_wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        # A quiet square wave, so the file is real audio, not just silence.
        frame = b"\x00\x04" * 20 + b"\x00\xfc" * 20
        out.writeframes(frame * int(8000 * seconds / 40))
    return path


def open_report(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, dialogs


def test_audio_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    doc = hostile_audio()
    wav = write_wav(tmp_path / "talk.wav", 14.0)
    report = write(doc, "html", tmp_path, "talk", source_path=wav)
    page, errors, dialogs = open_report(browser, report)

    # Words present, in order; marks styled; the heat map colours differ by confidence.
    texts = page.eval_on_selector_all(".w", "els => els.map(e => e.textContent)")
    assert texts == [s.text for s in doc.spans]
    marked = page.eval_on_selector_all(".w.mk", "els => els.map(e => Number(e.dataset.i))")
    assert marked == [i for m in doc.marks for i in m.span_ids]
    style = page.eval_on_selector(
        ".w.mk",
        "e => getComputedStyle(e).textDecorationLine + '|' + getComputedStyle(e).fontWeight",
    )
    assert style == "underline|600"
    backgrounds = {
        page.eval_on_selector(f".w.{c}", "e => getComputedStyle(e).backgroundColor")
        for c in ("c2", "c9")
    }
    assert len(backgrounds) == 2

    # The transcript's <script> and onerror did not run, and nothing was blocked by the CSP
    # (so our own inline style and script passed their hashes).
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # The hover card (our script ran) shows the word's details.
    page.hover('.w[data-i="4"]')
    card = page.inner_text("#card")
    assert "confidence: 0.35" in card and "time: 0:02.00" in card

    # Clicking a word seeks the player to the word's start.
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    target = doc.spans[6]
    assert target.time is not None
    page.click(f'.w[data-i="{target.id}"]')
    page.wait_for_function(
        f"Math.abs(document.getElementById('player').currentTime - {target.time.start}) < 0.3"
    )

    # A screenshot that is not blank.
    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
    low, high = shot.getextrema()
    assert high - low > 100
    page.close()


def test_relative_media_href_loads_under_the_csp(browser: Any, tmp_path: Path) -> None:
    doc = hostile_audio()
    (tmp_path / "media").mkdir()
    write_wav(tmp_path / "media" / "talk.wav", 14.0)
    report = write(doc, "html", tmp_path / "out", "talk", media_href="../media/talk.wav")
    page, errors, _ = open_report(browser, report)
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(
        14.0, abs=0.1
    )
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()


def test_image_report_draws_boxes(browser: Any, tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "scan.png"
    Image.new("RGB", (1000, 800), (240, 240, 230)).save(png)
    doc = image_doc(path=str(png))
    report = write(doc, "html", tmp_path, "scan")
    page, errors, _ = open_report(browser, report)
    boxes = page.eval_on_selector_all(
        "svg rect",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })",
    )
    assert len(boxes) == len(doc.spans) and all(w > 0 and h > 0 for w, h in boxes)
    loaded = page.eval_on_selector("svg image", "e => e.getBBox().width")
    assert loaded > 0
    page.hover('rect[data-i="1"]')
    assert "page 1, box 88, 20, 148, 50" in page.inner_text("#card")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()


def test_sample_reports_from_the_cli_in_chromium(browser: Any, tmp_path: Path) -> None:
    """The reports `uncertain transcribe samples/ -f html` writes, as a user opens them."""
    from typer.testing import CliRunner

    from uncertain.cli import app
    from uncertain.document import Document

    samples = Path(__file__).resolve().parents[2] / "samples"
    chosen = [samples / "synthetic_drug.wav", samples / "two_pages.pdf"]
    result = CliRunner().invoke(
        app,
        ["transcribe", *map(str, chosen), "-f", "html", "-f", "json", "-o", str(tmp_path), "-q"],
    )
    assert result.exit_code == 0, result.stderr
    for sample in chosen:
        doc = Document.load(tmp_path / f"{sample.stem}.json")
        page, errors, dialogs = open_report(browser, tmp_path / f"{sample.stem}.html")
        texts = page.eval_on_selector_all(".w", "els => els.map(e => e.textContent)")
        assert texts == [s.text for s in doc.spans]
        marked = page.eval_on_selector_all(".w.mk", "els => els.map(e => Number(e.dataset.i))")
        assert marked == [i for m in doc.marks for i in m.span_ids]
        assert not errors and not dialogs
        if sample.suffix == ".wav":
            # The player finds the recording by its relative path, and a click seeks to a word.
            page.wait_for_function("document.getElementById('player').readyState >= 1")
            word = doc.spans[5]
            assert word.time is not None
            page.click(f'.w[data-i="{word.id}"]')
            page.wait_for_function(
                f"Math.abs(document.getElementById('player').currentTime - {word.time.start}) < 0.3"
            )
        else:
            assert page.eval_on_selector_all("svg rect", "els => els.length") == len(doc.spans)
        page.close()

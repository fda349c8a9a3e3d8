"""The top-level API: dispatch by content, shared engines, progress reporting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

import uncertain
from uncertain.api import whisper_engine
from uncertain.cli import BatchProgress, Run
from uncertain.errors import InputError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_read_dispatches_by_content_not_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "page.wav"
    disguised.write_bytes((SAMPLES / "clean_page.png").read_bytes())
    doc = uncertain.read(disguised)
    assert doc.source.engine == "tesseract" and "Discharge summary" in doc.text


def test_transcribe_refuses_a_document() -> None:
    with pytest.raises(InputError, match=r"clean_page\.png: is an image, not audio; use"):
        uncertain.transcribe(SAMPLES / "clean_page.png")


def test_engines_are_loaded_once() -> None:
    assert whisper_engine("tiny.en") is whisper_engine("tiny.en")


def test_progress_of_audio_by_seconds() -> None:
    seen: list[tuple[float, float | None]] = []
    doc = uncertain.transcribe(SAMPLES / "jfk.wav", progress=lambda d, t: seen.append((d, t)))
    assert seen, "progress was reported"
    done = [d for d, _ in seen]
    assert done == sorted(done)
    assert seen[-1][1] == pytest.approx(11.0, abs=0.01)  # the file's own duration
    assert done[-1] == pytest.approx(doc.source.duration or 0, abs=0.01)


def test_progress_of_a_pdf_by_pages() -> None:
    seen: list[tuple[float, float | None]] = []
    uncertain.read(SAMPLES / "two_pages.pdf", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1.0, 2.0), (2.0, 2.0)]


def test_cli_progress_bars_on_a_terminal() -> None:
    run = Run(quiet=False, debug=False)
    stream = io.StringIO()
    run.err = Console(file=stream, force_terminal=True, width=100)
    with BatchProgress(run, 2) as progress:
        report = progress.start_file(SAMPLES / "two_pages.pdf")
        assert report is not None
        report(1.0, 2.0)
        progress.end_file()
    assert "two_pages.pdf" in stream.getvalue() and "pages" in stream.getvalue()


def test_cli_progress_hidden_when_quiet_or_piped() -> None:
    assert BatchProgress(Run(quiet=True, debug=False), 3).start_file(SAMPLES / "jfk.wav") is None
    piped = Run(quiet=False, debug=False)
    piped.err = Console(file=io.StringIO(), force_terminal=False)
    assert BatchProgress(piped, 3).start_file(SAMPLES / "jfk.wav") is None

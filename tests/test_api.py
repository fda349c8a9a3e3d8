"""The top-level API: dispatch by content, shared engines, progress reporting."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

import uncertain
from uncertain import api
from uncertain.api import whisper_engine
from uncertain.cli import BatchProgress, Run
from uncertain.errors import InputError, UsageError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_read_dispatches_by_content_not_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "page.wav"
    disguised.write_bytes((SAMPLES / "clean_page.png").read_bytes())
    doc = uncertain.read(disguised)
    assert doc.source.engine == "tesseract" and "Discharge summary" in doc.text


def test_transcribe_refuses_a_document() -> None:
    with pytest.raises(InputError, match=r"clean_page\.png: is an image, not audio; use"):
        uncertain.transcribe(SAMPLES / "clean_page.png")


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: uncertain.ocr(SAMPLES / "clean_page.png", cross_check="tesseract"), "'rapidocr'"),
        (lambda: uncertain.ocr(SAMPLES / "clean_page.png", cross_check_mode="some"), "'full'"),
        (lambda: uncertain.ocr(SAMPLES / "clean_page.png", char_choices="many"), "'weak'"),
        (lambda: uncertain.read(SAMPLES / "clean_page.png", cross_check_mode="all"), "'full'"),
        (lambda: uncertain.transcribe(SAMPLES / "jfk.wav", device="gpu"), "'cuda'"),
        (lambda: list(uncertain.iter_read(SAMPLES / "jfk.wav", device="tpu")), "'cpu'"),
    ],
)
def test_a_wrong_option_value_is_a_usage_error_naming_the_accepted_ones(
    call: Callable[[], object], named: str
) -> None:
    """Refused before any engine runs: a wrong string no longer quietly means something."""
    with pytest.raises(UsageError, match=f"; use one of .*{named}") as caught:
        call()
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, InputError)


def test_ocr_cross_check_keeps_its_meanings(monkeypatch: pytest.MonkeyPatch) -> None:
    """True: a second Tesseract pass; "rapidocr" (any case): the second reader."""
    seen: list[dict[str, object]] = []

    class Engine:
        def read(self, image: object, **options: object) -> uncertain.Document:
            seen.append(options)
            return uncertain.Document(text="")

    monkeypatch.setattr(api, "tesseract_engine", lambda language, dpi: Engine())
    monkeypatch.setattr(api, "_rapidocr_reader", lambda: None)
    monkeypatch.setattr("uncertain.adapters.rapidocr.cross_check_source", lambda doc, *_, **__: doc)
    uncertain.ocr(b"", cross_check=True, fuse=False)
    uncertain.ocr(b"", cross_check="RapidOCR", fuse=False)  # type: ignore[arg-type]
    uncertain.ocr(b"", cross_check="rapidocr", char_choices="weak", fuse=False)
    uncertain.ocr(b"", fuse=False)
    assert seen == [
        {"cross_check": True},
        {"char_choices": "all"},
        {"char_choices": "weak"},
        {},
    ]


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


def _scanned_pdf(path: Path, pages: int) -> None:
    from PIL import Image

    with Image.open(SAMPLES / "clean_page.png") as page:
        first = page.convert("L")
        first.save(path, "PDF", resolution=150, save_all=True, append_images=[first] * (pages - 1))


def test_iter_read_gives_the_pages_of_read_one_at_a_time(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    _scanned_pdf(pdf, 3)
    whole = uncertain.read(pdf, dpi=150)
    pages = list(uncertain.iter_read(pdf, dpi=150))
    assert [p.source.settings["page"] for p in pages] == [0, 1, 2]
    assert "\n\n".join(p.text for p in pages) == whole.text
    assert all(p.source.page_count == 3 and len(p.pages) == 1 for p in pages)
    spans = [s for p in pages for s in p.spans]
    assert [s.id for s in spans] == [s.id for s in whole.spans]
    assert [s.text for s in spans] == [s.text for s in whole.spans]
    assert [s.signals for s in spans] == [s.signals for s in whole.spans]
    assert [s.confidence for s in spans] == [s.confidence for s in whole.spans]
    # Boxes sit on each document's own page 0, at the same place as on the whole file's page.
    for page_number, page in enumerate(pages):
        mine = [s for s in whole.spans if s.box is not None and s.box.page == page_number]
        assert [s.box.model_copy(update={"page": 0}) for s in mine if s.box] == [
            s.box for s in page.spans
        ]
    assert sum(len(p.marks) for p in pages) == len(whole.marks)


def test_iter_read_is_lazy_and_stops_cleanly(tmp_path: Path) -> None:
    import threading

    pdf = tmp_path / "scan.pdf"
    _scanned_pdf(pdf, 4)
    seen: list[float] = []
    pages = uncertain.iter_read(pdf, dpi=100, progress=lambda done, total: seen.append(done))
    first = next(pages)
    assert first.source.settings["page"] == 0
    assert max(seen) < 4, "the first page came before the last was read"
    pages.close()  # stop early: the pages in flight are dropped, the PDF closed
    assert not [t for t in threading.enumerate() if t.name.startswith("uncertain-ocr")]


def test_iter_read_of_speech_gives_its_segments() -> None:
    pieces = list(uncertain.iter_read(SAMPLES / "jfk.wav"))
    whole = uncertain.transcribe(SAMPLES / "jfk.wav")
    assert len(pieces) > 1
    assert [s.text for p in pieces for s in p.spans] == [s.text for s in whole.spans]
    assert all(s.confidence is not None for p in pieces for s in p.spans)

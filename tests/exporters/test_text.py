"""The plain-marker text format and the terminal view."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from tests.exporters.docs import SAMPLE, audio_doc, image_doc
from uncertain.document import Document, Mark
from uncertain.exporters import export, print_terminal
from uncertain.exporters._common import summary
from uncertain.exporters.text import parse_plain, plain

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_marked_words_get_plain_markers_with_alternatives() -> None:
    out = export(audio_doc(), "text")
    assert out.startswith("the [?patient|PATIENT? 0.20] was given [?metaformin|METAFORMIN? 0.35]")
    assert out.endswith("his [?diabetes|DIABETES? 0.20]\n")


def test_plain_view_reads_back_to_the_text_and_marks(any_doc: Document) -> None:
    view = export(any_doc, "text")
    text, markers = parse_plain(view[:-1])
    assert text == any_doc.text
    assert [m.text for m in markers] == [
        any_doc.text[any_doc.span(m.span_ids[0]).start : any_doc.span(m.span_ids[-1]).end]
        for m in any_doc.marks
    ]
    assert [m.confidence for m in markers] == [round(m.confidence, 2) for m in any_doc.marks]


def test_multi_word_mark_shows_one_combined_alternative() -> None:
    doc = audio_doc(fused=True)
    doc = doc.model_copy(
        update={"marks": [Mark(span_ids=[3, 4], reason="disagreement", confidence=0.4)]}
    )
    view = plain(doc)
    assert "[?given metaformin|given METAFORMIN? 0.40]" in view


def test_threshold_adds_runs_below_it() -> None:
    doc = audio_doc().model_copy(update={"marks": []})
    assert "[?" not in plain(doc)
    view = plain(doc, threshold=0.6)
    _, markers = parse_plain(view)
    # 0.55 ("given"/"metaformin" at 0.55 and 0.35 are adjacent) joins one run.
    assert [m.text for m in markers] == ["patient", "given metaformin", "for", "diabetes"]


def test_brackets_and_bars_in_text_survive() -> None:
    doc = Document(text="a [b] | c\\ [?x 0.5]")
    assert parse_plain(plain(doc))[0] == doc.text


def test_terminal_colour_underlines_marks_and_shows_alternatives() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=300)
    print_terminal(audio_doc(), console)
    raw = buffer.getvalue()
    assert "\x1b[" in raw
    assert "\x1b[4" in raw or ";4m" in raw or ";4;" in raw  # underline somewhere
    lines = ANSI.sub("", raw).splitlines()
    assert "metaformin{METAFORMIN??}" in lines[0]
    assert "[?" not in lines[0]
    assert lines[1].startswith("confidence:") and "underlined = marked" in lines[1]
    assert lines[2] == "10 words, 40% marked, mean confidence 0.63, 3.7 errors expected"


def test_terminal_without_colour_uses_plain_markers() -> None:
    buffer = io.StringIO()  # not a terminal: rich turns colour off, as when piped
    print_terminal(audio_doc(), Console(file=buffer, width=300))
    lines = buffer.getvalue().splitlines()
    assert "\x1b" not in buffer.getvalue()
    assert lines[0] == export(audio_doc(), "text").rstrip("\n")
    assert lines[1].startswith("legend: [?words|alternative 0.31]")
    assert lines[2] == "10 words, 40% marked, mean confidence 0.63, 3.7 errors expected"


def test_no_color_environment_gives_plain_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    print_terminal(audio_doc(), Console(file=buffer, force_terminal=True, width=300))
    assert "[?metaformin|METAFORMIN? 0.35]" in ANSI.sub("", buffer.getvalue())


def test_terminal_copes_with_unfused_documents() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="256", width=300)
    print_terminal(image_doc(fused=False), console)
    lines = ANSI.sub("", buffer.getvalue()).splitlines()
    assert lines[:3] == ["Invoice number 4711", "Total: 12,50 EUR", "Thank you"]
    assert lines[-1] == "8 words, 0% marked, not fused"


def test_summary_gives_expected_errors_and_their_rate() -> None:
    # 0.05 + 0.8 + 0.25 + 0.45 + 0.65 + 0.01 + 0.09 + 0.55 + 0.05 + 0.8 = 3.7 expected errors.
    doc = audio_doc()
    assert doc.expected_errors() == pytest.approx(3.7)
    assert summary(doc).endswith(", 3.7 errors expected")  # 5 s: the count alone
    # A minute or more: the rate per minute too (140 words 0.5 s apart, 50 errors in 70 s).
    long = audio_doc(SAMPLE.split(" ") * 14)
    assert long.source.duration == 70.0
    assert summary(long).endswith(", 50.0 errors expected (42.9 per minute)")
    # Several pages: the rate per page.
    scan = image_doc()
    two = scan.model_copy(update={"pages": [*scan.pages, scan.pages[0]]})
    assert summary(two).endswith(f", {scan.expected_errors():.1f} errors expected (1.4 per page)")
    assert summary(scan).endswith(" errors expected")  # one page: the count alone
    assert "expected" not in summary(audio_doc(fused=False))


def test_terminal_neutralises_escape_sequences_and_bidi() -> None:
    doc = Document(text="ok \x1b[2J gone \u202eevil")
    for console in (
        Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=300),
        Console(file=io.StringIO(), width=300),
    ):
        print_terminal(doc, console)
        raw = console.file.getvalue()  # type: ignore[attr-defined]
        assert "\x1b[2J" not in raw and "\u202e" not in raw
        shown = ANSI.sub("", raw)
        assert "ok <U+001B>" in shown and "<U+202E>evil" in shown


def test_terminal_threshold_is_reported() -> None:
    buffer = io.StringIO()
    print_terminal(audio_doc(), Console(file=buffer, width=300), threshold=0.6)
    assert buffer.getvalue().splitlines()[-1].endswith("threshold 0.60")

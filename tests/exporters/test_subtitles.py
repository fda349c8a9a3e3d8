"""WebVTT and SubRip, read back with real parsers (webvtt-py, srt)."""

from __future__ import annotations

import html
import re

import pytest

from tests.exporters.docs import HOSTILE_WORDS, audio_doc, hostile_audio
from uncertain.document import Block, Document, Span, TimeRange
from uncertain.exporters import export
from uncertain.exporters.subtitles import srt_text

webvtt = pytest.importorskip("webvtt", reason="webvtt-py (dev dependency) is not installed")
srt = pytest.importorskip("srt", reason="srt (dev dependency) is not installed")

TAG = re.compile(r"<[^>]*>")


def cue_words(raw: str) -> list[str]:
    return html.unescape(TAG.sub("", raw)).split()


def check_blocks(out: str) -> None:
    """Strict structure: blocks split by one blank line, no arrow outside a timing line."""
    assert "\n\n\n" not in out and "\r" not in out
    for block in out.strip("\n").split("\n\n"):
        lines = block.split("\n")
        assert all(line.strip() for line in lines), block
        arrows = [n for n, line in enumerate(lines) if "-->" in line]
        assert len(arrows) <= 1 and (not arrows or arrows[0] <= 1), block


def test_vtt_one_cue_per_segment_with_style_notes_and_marks() -> None:
    out = export(audio_doc(), "vtt")
    check_blocks(out)
    vtt = webvtt.from_string(out, strict=True)
    assert [(c.start, c.end) for c in vtt.captions] == [
        ("00:00:00.000", "00:00:02.000"),
        ("00:00:02.000", "00:00:04.000"),
        ("00:00:04.000", "00:00:05.000"),
    ]
    assert vtt.captions[1].raw_text == "<c.unsure>metaformin</c> twice daily <c.unsure>for</c>"
    assert "::cue(.unsure)" in vtt.styles[0].text
    note = vtt.captions[1].comments[0]
    assert note.startswith("confidence: mean 0.68, min 0.35; unsure: metaformin 0.35")


@pytest.mark.parametrize("fused", [True, False])
def test_vtt_and_srt_words_read_back(fused: bool) -> None:
    any_doc = audio_doc(fused=fused)
    words = [
        w
        for c in webvtt.from_string(export(any_doc, "vtt"), strict=True)
        for w in cue_words(c.raw_text)
    ]
    assert words == any_doc.text.split()
    subs = list(srt.parse(export(any_doc, "srt")))
    assert [w for s in subs for w in TAG.sub("", s.content).split()] == any_doc.text.split()
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))


def test_srt_times_and_underlines() -> None:
    subs = list(srt.parse(export(audio_doc(), "srt")))
    assert [s.start.total_seconds() for s in subs] == [0.0, 2.0, 4.0]
    assert subs[0].content == "the <u>patient</u> was given"


def test_unfused_vtt_notes_say_so() -> None:
    vtt = webvtt.from_string(export(audio_doc(fused=False), "vtt"), strict=True)
    assert all(c.comments == ["confidence: not fused"] for c in vtt.captions)
    assert all("<c." not in c.raw_text for c in vtt.captions)


def test_spans_without_segments_are_grouped() -> None:
    doc = audio_doc([f"w{n}" for n in range(30)])
    doc = doc.model_copy(update={"blocks": []})
    vtt = webvtt.from_string(export(doc, "vtt"), strict=True)
    assert [len(c.text.split()) for c in vtt.captions] == [12, 12, 6]


def test_zero_length_cue_gets_a_millisecond() -> None:
    span = Span(id=0, start=0, end=2, text="hi", time=TimeRange(start=1.0, end=1.0))
    doc = Document(text="hi", spans=[span], blocks=[Block(kind="segment", span_ids=[0])])
    caption = webvtt.from_string(export(doc, "vtt"), strict=True).captions[0]
    assert (caption.start, caption.end) == ("00:00:01.000", "00:00:01.001")


def test_hostile_transcript_cannot_break_subtitles() -> None:
    doc = hostile_audio()
    out = export(doc, "vtt")
    check_blocks(out)
    vtt = webvtt.from_string(out, strict=True)
    words = [w for c in vtt.captions for w in cue_words(c.raw_text)]
    assert words == doc.text.split()
    # Only our own tags: <c.unsure> and its closing </c>.
    assert {t for c in vtt.captions for t in TAG.findall(c.raw_text)} <= {"<c.unsure>", "</c>"}
    out = export(doc, "srt")
    check_blocks(out)
    subs = list(srt.parse(out))
    words = [w for s in subs for w in TAG.sub("", s.content).split()]
    assert words == srt_text(doc.text).split()
    assert "-->" not in "".join(s.content for s in subs)
    assert HOSTILE_WORDS[0] not in out

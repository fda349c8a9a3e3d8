"""The timing and recording-level signals `span_signals` derives from a speech Document."""

from __future__ import annotations

import math

import pytest

from tests.documents import word_spans
from uncertain.document import Block, Document, Source, TimeRange
from uncertain.fusion import span_signals

TEXT = "ask not what your country"
WORDS = TEXT.split()
PROBABILITIES = [0.9, 0.5, 0.8, 0.7, 0.6]
TIMES = [(1.0, 1.2), (1.2, 1.5), (2.5, 2.7), (2.7, 3.0), (3.0, 3.6)]


def _document(duration: float | None) -> Document:
    spans = word_spans(
        TEXT,
        WORDS,
        lambda i, _: {
            "signals": {"word_probability": PROBABILITIES[i], "word_duration": 0.2},
            "time": TimeRange(start=TIMES[i][0], end=TIMES[i][1]),
        },
    )
    blocks = [Block(kind="segment", span_ids=[0, 1]), Block(kind="segment", span_ids=[2, 3, 4])]
    source = Source(media_type="audio/wav", duration=duration)
    return Document(text=TEXT, spans=spans, blocks=blocks, source=source)


def test_gaps_reach_across_segments_and_to_the_ends() -> None:
    rows = span_signals(_document(duration=5.0))
    assert [r["gap_before"] for r in rows] == pytest.approx([1.0, 0.0, 1.0, 0.0, 0.0])
    assert [r["gap_after"] for r in rows] == pytest.approx([0.0, 1.0, 0.0, 0.0, 1.4])


def test_without_a_duration_the_last_word_ends_the_document() -> None:
    rows = span_signals(_document(duration=None))
    assert rows[-1]["gap_after"] == pytest.approx(0.0)


def test_neighbour_drop_and_recording_mean() -> None:
    rows = span_signals(_document(duration=5.0))
    # "not" (0.5) sits between 0.9 and 0.8: 0.35 below its neighbours; the edges have one.
    assert rows[1]["neighbour_drop"] == pytest.approx(0.35)
    assert rows[0]["neighbour_drop"] == pytest.approx(0.5 - 0.9)
    assert rows[-1]["neighbour_drop"] == pytest.approx(0.7 - 0.6)
    mean = sum(math.log(p) for p in PROBABILITIES) / len(PROBABILITIES)
    assert [r["recording_mean_logprob"] for r in rows] == pytest.approx([mean] * len(rows))

"""to_pandas: one row per span, with positions, marks, alternatives and every signal."""

from __future__ import annotations

import math
import sys

import pandas as pd
import pytest

from uncertain.document import Alternative, Box, Document, Mark, Page, Span
from uncertain.integrations.pandas import to_pandas


def test_speech_rows_follow_the_spans(drug_doc: Document) -> None:
    frame = to_pandas(drug_doc)
    assert len(frame) == len(drug_doc.spans)
    assert list(frame.columns[:7]) == [
        "id",
        "text",
        "confidence",
        "start",
        "end",
        "time_start",
        "time_end",
    ]
    assert "page" not in frame.columns
    for row, span in zip(frame.itertuples(index=False), drug_doc.spans, strict=True):
        assert row.id == span.id
        assert row.text == span.text == drug_doc.text[row.start : row.end]
        assert row.confidence == span.confidence
        assert span.time is not None
        assert (row.time_start, row.time_end) == (span.time.start, span.time.end)
        mark = drug_doc.mark_of(span.id)
        if mark is None:
            assert pd.isna(row.mark_reason)
            assert math.isnan(row.mark_confidence)
        else:
            assert row.mark_reason == mark.reason
            assert row.mark_confidence == mark.confidence
    # Every Whisper signal is its own column, with the span's value.
    for name, value in drug_doc.spans[3].signals.items():
        assert frame.loc[3, name] == value
    assert frame["mark_reason"].notna().sum() == sum(len(m.span_ids) for m in drug_doc.marks)


def test_boxes_alternatives_missing_values_and_name_clashes() -> None:
    text = "dose 40 mg"
    doc = Document(
        text=text,
        pages=[Page(width=100, height=50)],
        spans=[
            Span(
                id=0,
                start=0,
                end=4,
                text="dose",
                confidence=0.9,
                signals={"word_confidence": 0.95, "text": 7.0},
                box=Box(page=0, x0=1, y0=2, x1=20, y1=10),
            ),
            Span(
                id=1,
                start=5,
                end=7,
                text="40",
                confidence=0.2,
                alternatives=[
                    Alternative(text="48", confidence=0.3),
                    Alternative(text="4O", confidence=0.1),
                ],
                box=Box(page=0, x0=22, y0=2, x1=30, y1=10),
            ),
            Span(id=2, start=8, end=10, text="mg"),
        ],
        marks=[Mark(span_ids=[1], reason="unreadable", confidence=0.2)],
    )
    frame = to_pandas(doc)
    assert "time_start" not in frame.columns
    assert frame["page"].tolist() == [0, 0, -1]
    assert frame.loc[0, ["x0", "y0", "x1", "y1"]].tolist() == [1, 2, 20, 10]
    assert math.isnan(frame.loc[2, "x0"])
    assert frame.loc[1, "alternatives"] == "48 (0.30); 4O (0.10)"
    assert frame.loc[0, "alternatives"] == ""
    assert math.isnan(frame.loc[2, "confidence"])  # not fused
    assert frame.loc[1, "mark_reason"] == "unreadable"
    # A signal named like a column keeps the column and gets a prefix.
    assert frame.loc[0, "text"] == "dose"
    assert frame.loc[0, "signal_text"] == 7.0
    assert frame["word_confidence"].tolist()[0] == 0.95
    assert math.isnan(frame.loc[1, "word_confidence"])


def test_empty_document_has_typed_columns() -> None:
    frame = to_pandas(Document(text=""))
    assert len(frame) == 0
    assert frame["confidence"].dtype == "float64"
    assert frame["id"].dtype == "int64"


def test_document_method_gives_the_same_frame(jfk_doc: Document) -> None:
    pd.testing.assert_frame_equal(jfk_doc.to_pandas(), to_pandas(jfk_doc))


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"uncertain-ingest\[notebook\]"):
        to_pandas(Document(text=""))

"""A document's spans as plain columns, one list per column: what a data-frame library needs.

Columns, in order: `id`, `text`, `confidence` (NaN before fusion), `start`, `end` (character
offsets into `Document.text`), then `time_start`, `time_end` (seconds) when any span has a time,
and `page`, `x0`, `y0`, `x1`, `y1` (pixels) when any span has a box, then `mark_reason` and
`mark_confidence` (None/NaN outside marks), `alternatives` (`"text (0.12); other (0.05)"`),
and one column per signal name found on any span (NaN where a span lacks it). A signal whose
name clashes with a column above gets the prefix `signal_`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from uncertain.document import Alternative, Document

__all__ = ["PANDAS_HINT", "SpanColumns", "span_columns"]

PANDAS_HINT = 'pip install "uncertain-ingest[notebook]"'
"""How to install pandas for `Document.to_pandas`."""

_NAN = math.nan


class SpanColumns(NamedTuple):
    """One row per span: `columns` maps each column name (in order) to its values, `dtypes`
    names the numeric type of the columns that have one even when the document is empty."""

    columns: dict[str, list[Any]]
    dtypes: dict[str, str]


def _alternatives_text(alternatives: list[Alternative]) -> str:
    return "; ".join(f"{a.text} ({a.confidence:.2f})" for a in alternatives)


def span_columns(doc: Document) -> SpanColumns:
    """The spans of `doc` with their position, confidence, mark and every signal, by column."""
    has_time = any(span.time is not None for span in doc.spans)
    has_box = any(span.box is not None for span in doc.spans)
    columns = ["id", "text", "confidence", "start", "end"]
    if has_time:
        columns += ["time_start", "time_end"]
    if has_box:
        columns += ["page", "x0", "y0", "x1", "y1"]
    columns += ["mark_reason", "mark_confidence", "alternatives"]
    taken = set(columns)
    signal_names: dict[str, str] = {}
    for span in doc.spans:
        for name in span.signals:
            if name not in signal_names:
                signal_names[name] = f"signal_{name}" if name in taken else name
    data: dict[str, list[Any]] = {column: [] for column in columns}
    data.update({column: [] for column in signal_names.values()})
    for span in doc.spans:
        mark = doc.mark_of(span.id)
        data["id"].append(span.id)
        data["text"].append(span.text)
        data["confidence"].append(_NAN if span.confidence is None else span.confidence)
        data["start"].append(span.start)
        data["end"].append(span.end)
        if has_time:
            data["time_start"].append(_NAN if span.time is None else span.time.start)
            data["time_end"].append(_NAN if span.time is None else span.time.end)
        if has_box:
            box = span.box
            # page stays an integer column: -1 stands for "no box" on a span without one.
            data["page"].append(-1 if box is None else box.page)
            for corner in ("x0", "y0", "x1", "y1"):
                data[corner].append(_NAN if box is None else getattr(box, corner))
        data["mark_reason"].append(None if mark is None else mark.reason)
        data["mark_confidence"].append(_NAN if mark is None else mark.confidence)
        data["alternatives"].append(_alternatives_text(span.alternatives))
        for name, column in signal_names.items():
            data[column].append(span.signals.get(name, _NAN))
    # Typed columns even for an empty document, so code written against one frame works on all.
    dtypes = {"id": "int64", "start": "int64", "end": "int64", "confidence": "float64"}
    dtypes["mark_confidence"] = "float64"
    if has_box:
        dtypes["page"] = "int64"
    dtypes.update({column: "float64" for column in signal_names.values()})
    return SpanColumns(data, dtypes)

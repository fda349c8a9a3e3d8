"""A document as a pandas DataFrame: one row per span, for looking at evidence in a notebook.

`to_pandas(doc)` is `doc.to_pandas()`. Columns, in order: `id`, `text`, `confidence` (NaN
before fusion), `start`, `end` (character offsets into `Document.text`), then `time_start`,
`time_end` (seconds) when any span has a time, and `page`, `x0`, `y0`, `x1`, `y1` (pixels) when
any span has a box, then `mark_reason` and `mark_confidence` (None/NaN outside marks),
`alternatives` (`"text (0.12); other (0.05)"`), and one column per signal name found on any
span (NaN where a span lacks it). A signal whose name clashes with a column above gets the
prefix `signal_`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from uncertain._table import PANDAS_HINT as INSTALL_HINT
from uncertain.document import Document

if TYPE_CHECKING:
    import pandas

__all__ = ["INSTALL_HINT", "to_pandas"]


def to_pandas(doc: Document) -> pandas.DataFrame:
    """One row per span of `doc`, with its position, confidence, mark and every signal."""
    frame: pandas.DataFrame = doc.to_pandas()
    return frame

"""The data model: a document's text and the evidence about each part of it.

Adapters produce a `Document`, fusion annotates it, renderers and exporters consume it.
`Document.text` is exactly what a plain transcriber returns; spans, blocks, marks and pages
are annotation on top of it, pointing into the text by character offsets.

`Span.confidence` is always a calibrated probability that the span is right (or `None`
before fusion has run); raw engine scores live in `Span.signals` and are never thrown away.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from uncertain._table import PANDAS_HINT, span_columns
from uncertain.errors import InputError

__all__ = [
    "SCHEMA_VERSION",
    "Alternative",
    "Block",
    "BlockKind",
    "Box",
    "Document",
    "Documents",
    "Mark",
    "MarkReason",
    "Page",
    "Source",
    "Span",
    "TimeRange",
    "Token",
    "dump_jsonl",
    "load_jsonl",
]

SCHEMA_VERSION = "1.0"
"""Version of the JSON contract. The major number changes only with a migration."""

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
SignalValue = Annotated[float, Field(allow_inf_nan=False)]

BlockKind = Literal["segment", "page", "region", "paragraph", "line"]
MarkReason = Literal[
    "low_confidence", "possible_hallucination", "no_speech", "unreadable", "disagreement"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TimeRange(_Model):
    """Where in the audio something was heard, in seconds from the start."""

    start: Annotated[NonNegative, Field(description="Start time in seconds.")]
    end: Annotated[NonNegative, Field(description="End time in seconds, at or after start.")]

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start > self.end:
            raise ValueError(f"time range starts after it ends ({self.start} > {self.end})")
        return self

    def overlaps(self, other: TimeRange) -> bool:
        """True when the two ranges share any instant (touching ends count)."""
        return self.start <= other.end and other.start <= self.end


class Box(_Model):
    """Where on a page something was read: pixel box on page `page` (index into pages)."""

    page: Annotated[int, Field(ge=0, description="Index of the page in Document.pages.")]
    x0: Annotated[NonNegative, Field(description="Left edge in pixels.")]
    y0: Annotated[NonNegative, Field(description="Top edge in pixels.")]
    x1: Annotated[NonNegative, Field(description="Right edge in pixels, at or after x0.")]
    y1: Annotated[NonNegative, Field(description="Bottom edge in pixels, at or after y0.")]

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x0 > self.x1 or self.y0 > self.y1:
            raise ValueError(
                f"box corners are out of order ({self.x0},{self.y0})-({self.x1},{self.y1})"
            )
        return self

    def overlaps(self, other: Box) -> bool:
        """True when both boxes are on the same page and intersect (touching edges count)."""
        return (
            self.page == other.page
            and self.x0 <= other.x1
            and other.x0 <= self.x1
            and self.y0 <= other.y1
            and other.y0 <= self.y1
        )


class Token(_Model):
    """One decoder token of an ASR word, with the probability the model gave it."""

    text: str
    probability: Probability


class Alternative(_Model):
    """Another reading of a span, with the probability that it is the right one."""

    text: Annotated[str, Field(min_length=1)]
    confidence: Probability


class Span(_Model):
    """One recognized unit, usually a word, as a slice of `Document.text`."""

    id: Annotated[int, Field(ge=0, description="Stable id within the document.")]
    start: Annotated[int, Field(ge=0, description="Character offset of the first character.")]
    end: Annotated[int, Field(ge=0, description="Character offset after the last character.")]
    text: Annotated[str, Field(min_length=1, description="Equal to Document.text[start:end].")]
    confidence: Annotated[
        Probability | None,
        Field(description="Calibrated probability that the span is right; None before fusion."),
    ] = None
    signals: Annotated[
        dict[str, SignalValue],
        Field(description="Raw engine evidence by stable signal name."),
    ] = Field(default_factory=dict)
    alternatives: Annotated[
        list[Alternative], Field(description="Other readings, most likely first.")
    ] = Field(default_factory=list)
    tokens: Annotated[list[Token], Field(description="Decoder tokens (ASR only).")] = Field(
        default_factory=list
    )
    time: Annotated[TimeRange | None, Field(description="Seconds in the audio.")] = None
    box: Annotated[Box | None, Field(description="Pixel box on a page.")] = None

    @model_validator(mode="after")
    def _consistent(self) -> Span:
        if self.end - self.start != len(self.text):
            raise ValueError(
                f"span {self.id}: offsets {self.start}..{self.end} do not match "
                f"its text of length {len(self.text)}"
            )
        return self


class Block(_Model):
    """A segment of speech, or a page region, paragraph or line, as a list of span ids."""

    kind: Annotated[BlockKind, Field(description="What kind of unit the block is.")]
    span_ids: Annotated[list[int], Field(description="Ids of the spans in the block, in order.")]
    signals: dict[str, SignalValue] = Field(default_factory=dict)
    time: TimeRange | None = None
    box: Box | None = None


class Mark(_Model):
    """A run of adjacent spans that fusion decided not to trust."""

    span_ids: Annotated[list[int], Field(min_length=1, description="Adjacent spans, in order.")]
    reason: MarkReason
    confidence: Annotated[
        Probability, Field(description="Probability that the whole run is right.")
    ]


class Page(_Model):
    """One page of an image or PDF input."""

    width: Annotated[int, Field(ge=0, description="Width in pixels.")]
    height: Annotated[int, Field(ge=0, description="Height in pixels.")]
    dpi: Annotated[float | None, Field(gt=0, description="Resolution, where known.")] = None
    digital: Annotated[
        bool, Field(description="True when the text came from a PDF text layer, not OCR.")
    ] = False
    error: Annotated[
        str | None, Field(description="Why this page gave no text, when it failed.")
    ] = None


class Source(_Model):
    """What the document was made from and how, so every output says how it was made."""

    path: str | None = None
    sha256: str | None = None
    media_type: str = "application/octet-stream"
    duration: Annotated[NonNegative | None, Field(description="Seconds of audio.")] = None
    page_count: Annotated[int | None, Field(ge=0)] = None
    engine: str = "unknown"
    engine_version: str | None = None
    model: str | None = None
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    calibration: Annotated[
        str | None, Field(description="Which calibrator set the confidences, and why.")
    ] = None


class Document(_Model):
    """Text with the evidence about each span of it."""

    schema_version: str = SCHEMA_VERSION
    text: str
    spans: list[Span] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    marks: list[Mark] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    source: Source = Field(default_factory=Source)

    _index: tuple[tuple[int, int], dict[int, int]] | None = PrivateAttr(default=None)
    _mark_of: tuple[tuple[int, int], dict[int, int]] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _known_version(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_schema_version(data.get("schema_version", SCHEMA_VERSION))
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Document:
        text = self.text
        previous_end = 0
        positions: dict[int, int] = {}
        for position, span in enumerate(self.spans):
            if span.end > len(text):
                raise ValueError(
                    f"span {span.id} ends at {span.end}, past the text's end {len(text)}"
                )
            if text[span.start : span.end] != span.text:
                raise ValueError(
                    f"span {span.id} says {span.text!r} but the text there is "
                    f"{text[span.start : span.end]!r}"
                )
            if span.start < previous_end:
                raise ValueError(
                    f"span {span.id} starts at {span.start}, before the previous span ends "
                    f"({previous_end}): spans must be sorted and must not overlap"
                )
            previous_end = span.end
            if span.id in positions:
                raise ValueError(f"span id {span.id} is used twice")
            positions[span.id] = position
            if span.box is not None:
                _check_box(span.box, self.pages, f"span {span.id}")
        for number, block in enumerate(self.blocks):
            for span_id in block.span_ids:
                if span_id not in positions:
                    raise ValueError(f"block {number} refers to span {span_id}, which is missing")
            if block.box is not None:
                _check_box(block.box, self.pages, f"block {number}")
        marked: set[int] = set()
        for number, mark in enumerate(self.marks):
            for span_id in mark.span_ids:
                if span_id not in positions:
                    raise ValueError(f"mark {number} refers to span {span_id}, which is missing")
                if span_id in marked:
                    raise ValueError(f"span {span_id} is in two marks")
                marked.add(span_id)
            first = positions[mark.span_ids[0]]
            expected = [s.id for s in self.spans[first : first + len(mark.span_ids)]]
            if mark.span_ids != expected:
                raise ValueError(
                    f"mark {number} spans {mark.span_ids} are not adjacent spans in text order"
                )
        self._index = ((id(self.spans), len(self.spans)), positions)
        self._mark_of = None
        return self

    def __eq__(self, other: object) -> bool:
        # Fields only: the private lookup tables are caches, not content.
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    # -- lookups -------------------------------------------------------------------------

    def _table(
        self, slot: str, items: list[Any], build: Callable[[], dict[int, int]]
    ) -> dict[int, int]:
        """A lookup table over `items`, cached in private attribute `slot`.

        Keyed by the list's identity and length, so a copy with other items
        (model_copy(update=...)) or an appended item never sees a stale table. The private
        dict is read directly: pydantic's private-attribute lookup costs more than the
        lookup itself.
        """
        private = self.__pydantic_private__
        assert private is not None
        key = (id(items), len(items))
        cached: tuple[tuple[int, int], dict[int, int]] | None = private[slot]
        if cached is None or cached[0] != key:
            cached = private[slot] = (key, build())
        return cached[1]

    def span(self, span_id: int) -> Span:
        """The span with this id; `KeyError` when there is none."""
        index = self._table("_index", self.spans, lambda: _positions(self.spans))
        try:
            return self.spans[index[span_id]]
        except KeyError:
            raise KeyError(f"no span with id {span_id}") from None

    def mark_of(self, span_id: int) -> Mark | None:
        """The mark that covers this span, if any."""
        marked = self._table(
            "_mark_of",
            self.marks,
            lambda: {i: n for n, m in enumerate(self.marks) for i in m.span_ids},
        )
        number = marked.get(span_id)
        return None if number is None else self.marks[number]

    def low_confidence(self, threshold: float) -> list[Span]:
        """Spans whose calibrated confidence is below `threshold` (unfused spans are skipped)."""
        return [s for s in self.spans if s.confidence is not None and s.confidence < threshold]

    def spans_in(self, where: TimeRange | Box) -> list[Span]:
        """Spans whose time range or box overlaps `where`."""
        if isinstance(where, TimeRange):
            return [s for s in self.spans if s.time is not None and s.time.overlaps(where)]
        return [s for s in self.spans if s.box is not None and s.box.overlaps(where)]

    def iter_blocks(self, kind: BlockKind | None = None) -> Iterator[tuple[Block, list[Span]]]:
        """Each block (of `kind`, when given) with its spans, in document order."""
        for block in self.blocks:
            if kind is None or block.kind == kind:
                yield block, [self.span(i) for i in block.span_ids]

    def mean_confidence(self) -> float | None:
        """Mean calibrated confidence over spans, or None when nothing is fused."""
        values = [s.confidence for s in self.spans if s.confidence is not None]
        return sum(values) / len(values) if values else None

    def marked_share(self) -> float:
        """Share of spans that are inside a mark (0 when there are no spans)."""
        if not self.spans:
            return 0.0
        return sum(len(m.span_ids) for m in self.marks) / len(self.spans)

    def expected_errors(self) -> float | None:
        """How many spans are expected to be wrong: the sum of (1 - confidence) over spans.

        Spans without a confidence (unfused) are left out; None when no span has one. Since
        each confidence is a calibrated probability, the sum is the expected count of wrong
        words: a number to route the whole document by (trust it, or send it to a person).
        Computed, not stored: it is not part of the JSON.
        """
        values = [1.0 - s.confidence for s in self.spans if s.confidence is not None]
        return sum(values) if values else None

    def expected_errors_per_page(self) -> float | None:
        """`expected_errors` divided by the number of pages; None without pages (speech) or
        without confidences."""
        errors = self.expected_errors()
        return None if errors is None or not self.pages else errors / len(self.pages)

    def expected_errors_per_minute(self) -> float | None:
        """`expected_errors` per minute of the source (`source.duration`); None without a
        duration above zero (scans) or without confidences."""
        errors = self.expected_errors()
        duration = self.source.duration
        return None if errors is None or not duration else errors / (duration / 60.0)

    # -- notebooks -----------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """Jupyter view: a confidence heat map with hover cards and a one-line summary."""
        # HTML is the exporters' business; imported when a notebook first shows a document, so
        # the data model loads without them.
        from uncertain.exporters.notebook import notebook_html

        return notebook_html(self)

    def to_pandas(self) -> Any:
        """One row per span with its confidence, position, mark and signals, as a pandas
        DataFrame (extra `notebook`; columns as in `uncertain.integrations.pandas`)."""
        try:
            import pandas
        except ImportError as error:
            # A plain ImportError (not EngineError): pandas is a convenience, not an engine.
            raise ImportError(f"to_pandas needs pandas: {PANDAS_HINT}") from error
        table = span_columns(self)
        frame = pandas.DataFrame(table.columns, columns=list(table.columns))
        return frame.astype(table.dtypes)

    # -- serialization -------------------------------------------------------------------

    def to_json(self, *, indent: int | None = None) -> str:
        """The JSON contract for this document (stable key order, no wall-clock data)."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes, *, path: str | Path | None = None) -> Document:
        """Parse and validate a document; `InputError` (naming `path`) when it is not one."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(
                path, f"not JSON ({error})", "pass a document written by uncertain"
            ) from None
        return cls.from_dict(raw, path=path)

    @classmethod
    def from_dict(cls, raw: Any, *, path: str | Path | None = None) -> Document:
        """Validate a parsed JSON value as a document; `InputError` when it is not one."""
        if not isinstance(raw, dict):
            raise InputError(path, "not a document: expected a JSON object")
        check_schema_version(raw.get("schema_version", SCHEMA_VERSION), path)
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise InputError(
                path,
                f"not a valid document: {where}: {first['msg']}"
                + (
                    f" (and {error.error_count() - 1} more problems)"
                    if error.error_count() > 1
                    else ""
                ),
                "pass a document written by uncertain, or fix the field named",
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> Document:
        """Read a document from a JSON file."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise InputError(file, f"cannot read ({error.strerror})") from None
        return cls.from_json(data, path=file)


class Documents(list[Document]):
    """A list of documents that shows as a summary table in a notebook."""

    def _repr_html_(self) -> str:
        """Jupyter view: one table row per document."""
        from uncertain.exporters.notebook import notebook_table_html

        return notebook_table_html(list(self))


def _positions(spans: list[Span]) -> dict[int, int]:
    return {span.id: position for position, span in enumerate(spans)}


def check_schema_version(version: Any, path: str | Path | None = None) -> None:
    """Raise `InputError` for a document written by a newer, incompatible uncertain."""
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        raise InputError(path, f"schema_version {version!r} is not a version string")
    if int(version.split(".")[0]) > int(SCHEMA_VERSION.split(".")[0]):
        raise InputError(
            path,
            f"document schema_version {version} is newer than this uncertain understands "
            f"({SCHEMA_VERSION})",
            "upgrade uncertain-ingest (pip install -U uncertain-ingest)",
        )


def _check_box(box: Box, pages: list[Page], owner: str) -> None:
    if box.page >= len(pages):
        raise ValueError(f"{owner} is on page {box.page}, but the document has {len(pages)} pages")
    page = pages[box.page]
    if box.x1 > page.width or box.y1 > page.height:
        raise ValueError(
            f"{owner} box ({box.x0},{box.y0})-({box.x1},{box.y1}) lies outside its page "
            f"({page.width}x{page.height})"
        )


def dump_jsonl(documents: Iterable[Document], stream: IO[str]) -> int:
    """Write one document per line; returns how many were written."""
    count = 0
    for document in documents:
        stream.write(document.to_json())
        stream.write("\n")
        count += 1
    return count


def load_jsonl(path: str | Path) -> Iterator[Document]:
    """Read documents written one per line; an invalid line raises `InputError` with its number."""
    file = Path(path)
    try:
        stream = file.open(encoding="utf-8")
    except OSError as error:
        raise InputError(file, f"cannot read ({error.strerror})") from None
    with stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield Document.from_json(line, path=f"{file}:{number}")

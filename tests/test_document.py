"""The data model: every invalid document is rejected with a clear message; JSON round-trips."""

from __future__ import annotations

import contextlib
import io
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.fuzzing import examples
from uncertain.document import (
    SCHEMA_VERSION,
    Alternative,
    Block,
    Box,
    Document,
    Mark,
    Page,
    Source,
    Span,
    TimeRange,
    Token,
    dump_jsonl,
    load_jsonl,
)
from uncertain.errors import InputError


def words_document(words: list[str], **extra: Any) -> dict[str, Any]:
    """A raw document dict with one span per word, separated by single spaces."""
    spans, offset = [], 0
    for number, word in enumerate(words):
        spans.append({"id": number, "start": offset, "end": offset + len(word), "text": word})
        offset += len(word) + 1
    return {"text": " ".join(words), "spans": spans, **extra}


def test_valid_document_helpers() -> None:
    doc = Document.model_validate(
        words_document(
            ["the", "patient", "takes", "metaformin"],
            blocks=[{"kind": "segment", "span_ids": [0, 1, 2, 3], "time": {"start": 0, "end": 2}}],
            marks=[{"span_ids": [3], "reason": "low_confidence", "confidence": 0.31}],
        )
    )
    doc.spans[3].confidence = 0.31
    doc.spans[0].confidence = 0.97
    doc.spans[3].time = TimeRange(start=1.5, end=2.0)
    assert doc.span(3).text == "metaformin"
    assert [s.text for s in doc.low_confidence(0.5)] == ["metaformin"]
    assert [s.id for s in doc.spans_in(TimeRange(start=1.9, end=5))] == [3]
    assert doc.mark_of(3) is not None and doc.mark_of(2) is None
    (block, spans), *_ = list(doc.iter_blocks("segment"))
    assert block.kind == "segment" and [s.id for s in spans] == [0, 1, 2, 3]
    assert doc.marked_share() == 0.25
    assert doc.mean_confidence() == pytest.approx((0.97 + 0.31) / 2)
    with pytest.raises(KeyError, match="no span with id 9"):
        doc.span(9)


def test_spans_in_box() -> None:
    raw = words_document(["a", "b"], pages=[{"width": 100, "height": 100}])
    raw["spans"][0]["box"] = {"page": 0, "x0": 0, "y0": 0, "x1": 10, "y1": 10}
    raw["spans"][1]["box"] = {"page": 0, "x0": 50, "y0": 50, "x1": 60, "y1": 60}
    doc = Document.model_validate(raw)
    assert [s.id for s in doc.spans_in(Box(page=0, x0=40, y0=40, x1=100, y1=100))] == [1]


def test_expected_errors_sum_what_confidence_says_is_missing() -> None:
    confidences = [0.9, None, 0.5, 0.75]  # one span unfused: left out, not counted as 0 or 1
    words = ["the", "patient", "takes", "metaformin"]

    def speech(duration: float | None) -> Document:
        doc = Document.model_validate(words_document(words, source={"duration": duration}))
        for span, confidence in zip(doc.spans, confidences, strict=True):
            span.confidence = confidence
        return doc

    doc = speech(30.0)
    assert doc.expected_errors() == pytest.approx(0.1 + 0.5 + 0.25)
    assert doc.expected_errors_per_minute() == pytest.approx(0.85 * 2)
    assert doc.expected_errors_per_page() is None  # speech has no pages
    assert speech(None).expected_errors_per_minute() is None
    assert speech(0.0).expected_errors_per_minute() is None
    # Not a field: the JSON stays as it was.
    assert "expected" not in doc.to_json()

    scan = Document.model_validate(words_document(words, pages=[{"width": 10, "height": 10}] * 4))
    for span, confidence in zip(scan.spans, [1.0, 0.0, 0.5, 0.5], strict=True):
        span.confidence = confidence
    assert scan.expected_errors() == pytest.approx(2.0)
    assert scan.expected_errors_per_page() == pytest.approx(0.5)
    assert scan.expected_errors_per_minute() is None

    unfused = Document.model_validate(words_document(words, source={"duration": 30.0}))
    assert unfused.expected_errors() is None
    assert unfused.expected_errors_per_minute() is None
    assert Document(text="").expected_errors() is None


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "offset past text": (
        {"text": "abc", "spans": [{"id": 0, "start": 2, "end": 5, "text": "cde"}]},
        "past the text's end",
    ),
    "span text differs from slice": (
        {"text": "abc", "spans": [{"id": 0, "start": 0, "end": 3, "text": "abd"}]},
        "the text there is",
    ),
    "offsets do not match span text length": (
        {"text": "abc", "spans": [{"id": 0, "start": 0, "end": 2, "text": "abc"}]},
        "do not match",
    ),
    "spans unsorted": (
        {
            "text": "ab cd",
            "spans": [
                {"id": 0, "start": 3, "end": 5, "text": "cd"},
                {"id": 1, "start": 0, "end": 2, "text": "ab"},
            ],
        },
        "sorted",
    ),
    "spans overlap": (
        {
            "text": "abcd",
            "spans": [
                {"id": 0, "start": 0, "end": 3, "text": "abc"},
                {"id": 1, "start": 2, "end": 4, "text": "cd"},
            ],
        },
        "overlap",
    ),
    "duplicate ids": (
        {
            "text": "ab cd",
            "spans": [
                {"id": 0, "start": 0, "end": 2, "text": "ab"},
                {"id": 0, "start": 3, "end": 5, "text": "cd"},
            ],
        },
        "used twice",
    ),
    "confidence above 1": (
        words_document(["a"])
        | {"spans": [{"id": 0, "start": 0, "end": 1, "text": "a", "confidence": 1.5}]},
        "less than or equal to 1",
    ),
    "negative token probability": (
        words_document(["a"])
        | {
            "spans": [
                {
                    "id": 0,
                    "start": 0,
                    "end": 1,
                    "text": "a",
                    "tokens": [{"text": "a", "probability": -0.1}],
                }
            ]
        },
        "greater than or equal to 0",
    ),
    "alternative probability NaN": (
        words_document(["a"])
        | {
            "spans": [
                {
                    "id": 0,
                    "start": 0,
                    "end": 1,
                    "text": "a",
                    "alternatives": [{"text": "b", "confidence": "nan"}],
                }
            ]
        },
        "finite number",
    ),
    "time runs backwards": (
        words_document(["a"])
        | {
            "spans": [
                {"id": 0, "start": 0, "end": 1, "text": "a", "time": {"start": 2.0, "end": 1.0}}
            ]
        },
        "starts after it ends",
    ),
    "box outside its page": (
        words_document(["a"], pages=[{"width": 10, "height": 10}])
        | {
            "spans": [
                {
                    "id": 0,
                    "start": 0,
                    "end": 1,
                    "text": "a",
                    "box": {"page": 0, "x0": 0, "y0": 0, "x1": 11, "y1": 5},
                }
            ]
        },
        "outside its page",
    ),
    "box on a missing page": (
        words_document(["a"])
        | {
            "spans": [
                {
                    "id": 0,
                    "start": 0,
                    "end": 1,
                    "text": "a",
                    "box": {"page": 0, "x0": 0, "y0": 0, "x1": 1, "y1": 1},
                }
            ]
        },
        "has 0 pages",
    ),
    "box corners reversed": (
        words_document(["a"], pages=[{"width": 10, "height": 10}])
        | {
            "spans": [
                {
                    "id": 0,
                    "start": 0,
                    "end": 1,
                    "text": "a",
                    "box": {"page": 0, "x0": 5, "y0": 0, "x1": 1, "y1": 5},
                }
            ]
        },
        "out of order",
    ),
    "mark refers to missing span": (
        words_document(
            ["a"], marks=[{"span_ids": [7], "reason": "low_confidence", "confidence": 0.2}]
        ),
        "span 7, which is missing",
    ),
    "mark spans not adjacent": (
        words_document(
            ["a", "b", "c"],
            marks=[{"span_ids": [0, 2], "reason": "low_confidence", "confidence": 0.2}],
        ),
        "not adjacent",
    ),
    "span in two marks": (
        words_document(
            ["a", "b"],
            marks=[
                {"span_ids": [0], "reason": "low_confidence", "confidence": 0.2},
                {"span_ids": [0, 1], "reason": "low_confidence", "confidence": 0.2},
            ],
        ),
        "in two marks",
    ),
    "empty mark": (
        words_document(
            ["a"], marks=[{"span_ids": [], "reason": "low_confidence", "confidence": 0.2}]
        ),
        "at least 1 item",
    ),
    "unknown mark reason": (
        words_document(["a"], marks=[{"span_ids": [0], "reason": "vibes", "confidence": 0.2}]),
        "low_confidence",
    ),
    "block refers to missing span": (
        words_document(["a"], blocks=[{"kind": "segment", "span_ids": [0, 1]}]),
        "span 1, which is missing",
    ),
    "unknown field": (words_document(["a"], colour="red"), "Extra inputs are not permitted"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_documents_are_rejected(case: str) -> None:
    raw, message = INVALID[case]
    with pytest.raises(ValidationError, match=message):
        Document.model_validate(raw)
    # Loading the same JSON names the file and what is wrong.
    with pytest.raises(InputError, match=r"^bad\.json: not a valid document: "):
        Document.from_json(json.dumps(raw), path="bad.json")


def test_newer_schema_version_is_refused_clearly() -> None:
    raw = words_document(["a"], schema_version="2.0")
    with pytest.raises(InputError, match=r"doc\.json: .*newer than this uncertain.*upgrade"):
        Document.from_json(json.dumps(raw), path="doc.json")


def test_not_json_and_not_object(tmp_path: Any) -> None:
    with pytest.raises(InputError, match="not JSON"):
        Document.from_json(b"\xff\xfe{", path="x.json")
    with pytest.raises(InputError, match="expected a JSON object"):
        Document.from_json("[1, 2]", path="x.json")
    with pytest.raises(InputError, match="cannot read"):
        Document.load(tmp_path / "missing.json")


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
def test_any_json_gives_document_or_input_error(value: Any) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    with contextlib.suppress(InputError):
        Document.from_json(text, path="fuzz.json")


# -- round trip over generated documents -------------------------------------------------------

probability = st.floats(min_value=0, max_value=1, allow_nan=False)
word = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" "),
    min_size=1,
    max_size=12,
)
signal_name = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=20)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    words = draw(st.lists(word, max_size=12))
    audio = draw(st.booleans())
    pages = [] if audio else [Page(width=1000, height=800, dpi=300.0)]
    spans, offset, clock = [], 0, 0.0
    for number, text in enumerate(words):
        duration = draw(st.floats(min_value=0, max_value=2, allow_nan=False))
        x0 = draw(st.floats(min_value=0, max_value=900, allow_nan=False))
        spans.append(
            Span(
                id=number * 3,
                start=offset,
                end=offset + len(text),
                text=text,
                confidence=draw(st.none() | probability),
                signals=draw(
                    st.dictionaries(signal_name, st.floats(allow_nan=False, allow_infinity=False))
                ),
                alternatives=[
                    Alternative(text=a, confidence=p)
                    for a, p in draw(st.lists(st.tuples(word, probability), max_size=2))
                ],
                tokens=[
                    Token(text=t, probability=p)
                    for t, p in draw(
                        st.lists(st.tuples(st.text(max_size=4), probability), max_size=3)
                    )
                ]
                if audio
                else [],
                time=TimeRange(start=clock, end=clock + duration) if audio else None,
                box=None if audio else Box(page=0, x0=x0, y0=10, x1=x0 + 50, y1=40),
            )
        )
        offset += len(text) + 1
        clock += duration
    ids = [s.id for s in spans]
    marks = []
    if len(ids) >= 2 and draw(st.booleans()):
        marks.append(Mark(span_ids=ids[:2], reason="low_confidence", confidence=draw(probability)))
    blocks = (
        [Block(kind="segment" if audio else "line", span_ids=ids, signals={"avg_logprob": -0.3})]
        if ids
        else []
    )
    return Document(
        text=" ".join(words),
        spans=spans,
        blocks=blocks,
        marks=marks,
        pages=pages,
        source=Source(
            path="x.wav",
            engine="faster-whisper",
            model="tiny.en",
            settings={"beam_size": 5, "language": None, "nested": {"a": [1, 2.5]}},
        ),
    )


@given(documents())
@settings(max_examples=examples(150), suppress_health_check=[HealthCheck.too_slow])
def test_json_round_trip_is_identity(doc: Document) -> None:
    again = Document.from_json(doc.to_json())
    assert again == doc
    assert again.to_json() == doc.to_json()


@given(st.lists(documents(), max_size=4))
@settings(max_examples=examples(30), suppress_health_check=[HealthCheck.too_slow])
def test_jsonl_round_trip(docs: list[Document]) -> None:
    stream = io.StringIO()
    assert dump_jsonl(docs, stream) == len(docs)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "docs.jsonl"
        path.write_text(stream.getvalue(), encoding="utf-8")
        assert list(load_jsonl(path)) == docs


def test_jsonl_bad_line_names_line(tmp_path: Any) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(Document(text="").to_json() + "\n{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"docs\.jsonl:2: not JSON"):
        list(load_jsonl(path))


def test_schema_version_in_every_document() -> None:
    assert json.loads(Document(text="hi").to_json())["schema_version"] == SCHEMA_VERSION

"""Which schemas `extract` reads, which it refuses (naming the field, before any model is asked),
and how answers are checked against a field's kind."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel, Field

import uncertain
from uncertain.document import Document, Source
from uncertain.errors import UsageError
from uncertain.extraction import read_schema
from uncertain.extraction.schema import FieldSpec, check_value, parse_amount, parse_date


class Item(BaseModel):
    name: str
    quantity: int
    price: float


class Receipt(BaseModel):
    """A shop receipt."""

    shop: str = Field(description="the shop's name")
    date: dt.date
    total: float
    paid_by_card: bool
    number: int | None = None
    items: list[Item]


class Address(BaseModel):
    street: str


class WithAddress(BaseModel):
    name: str
    address: Address


class WithUnion(BaseModel):
    total: int | str


class WithMatrix(BaseModel):
    rows: list[list[int]]


class WithStrings(BaseModel):
    tags: list[str]


class WithNestedItem(BaseModel):
    items: list[WithAddress]


def test_pydantic_model_is_read_into_fields_and_line_items() -> None:
    spec = read_schema(Receipt)
    assert spec.model_class is Receipt and spec.title == "Receipt"
    kinds = {f.name: (f.kind, f.nullable) for f in spec.fields}
    assert kinds == {
        "shop": ("string", False),
        "date": ("date", False),
        "total": ("number", False),
        "paid_by_card": ("boolean", False),
        "number": ("integer", True),
    }
    assert spec.names == ("shop", "date", "total", "paid_by_card", "number", "items")
    (items,) = spec.items
    assert items.name == "items"
    assert [(f.name, f.kind) for f in items.fields] == [
        ("name", "string"),
        ("quantity", "integer"),
        ("price", "number"),
    ]
    assert spec.fields[0].description == "the shop's name"
    # What the model is sent: strict, every property required, null allowed where optional,
    # dates as strings, no $ref left.
    sent = spec.json_schema
    assert sent["additionalProperties"] is False and sent["required"] == list(spec.names)
    assert sent["properties"]["number"]["type"] == ["integer", "null"]
    assert sent["properties"]["date"]["type"] == "string"
    assert "YYYY-MM-DD" in sent["properties"]["date"]["description"]
    assert sent["properties"]["items"]["items"]["additionalProperties"] is False
    assert "$ref" not in str(sent) and "$defs" not in sent


def test_json_schema_dict_is_read() -> None:
    schema = {
        "type": "object",
        "title": "invoice",
        "properties": {
            "invoice number": {"type": "string"},
            "due": {"type": ["string", "null"], "format": "date"},
            "amount": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "lines": {
                "type": "array",
                "items": {"$ref": "#/$defs/line"},
            },
        },
        "required": ["invoice number", "lines"],
        "$defs": {
            "line": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
    }
    spec = read_schema(schema)
    assert spec.model_class is None and spec.title == "invoice"
    assert [(f.name, f.kind, f.nullable, f.required) for f in spec.fields] == [
        ("invoice number", "string", False, True),
        ("due", "date", True, False),
        ("amount", "number", True, False),
    ]
    assert [f.name for f in spec.items[0].fields] == ["text"]


def refused(schema: Any) -> str:
    with pytest.raises(UsageError) as caught:
        read_schema(schema)
    return str(caught.value)


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        (WithAddress, "'address'"),
        (WithUnion, "'total'"),
        (WithMatrix, "'rows'"),
        (WithStrings, "'tags'"),
        (WithNestedItem, "items.address"),
        ({"type": "object", "properties": {"a.b": {"type": "string"}}}, "'a.b'"),
        ({"type": "object", "properties": {"": {"type": "string"}}}, "''"),
        (
            {"type": "object", "properties": {"x": {"type": "string", "$ref": "#/nowhere"}}},
            "x: cannot resolve",
        ),
        ({"type": "object", "properties": {"when": {"type": ["string", "number"]}}}, "'when'"),
    ],
)
def test_unsupported_schemas_name_the_field(schema: Any, named: str) -> None:
    message = refused(schema)
    assert named in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string"},
        {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        {"type": "object", "properties": {}},
        int,
        "a schema",
    ],
)
def test_what_is_not_an_object_schema_is_refused(schema: Any) -> None:
    refused(schema)


def empty_doc() -> Document:
    return Document(text="", spans=[], source=Source(engine="test"))


@pytest.mark.parametrize("schema", [WithAddress, {"type": "string"}])
def test_refused_before_any_model_is_asked(schema: Any) -> None:
    # No client, and an endpoint where nothing listens: a request would raise EngineError.
    with pytest.raises(UsageError):
        uncertain.extract(empty_doc(), schema, model="m", base_url="http://127.0.0.1:9/v1")


def test_refused_before_the_file_is_read() -> None:
    # A bad schema is the caller's mistake, told at once, not after a long transcription.
    with pytest.raises(UsageError, match="'address'"):
        uncertain.extract("no-such-file.wav", WithAddress, model="m", base_url="http://x/v1")


@pytest.mark.parametrize(
    ("options", "named"),
    [({"threshold": 1.5}, "threshold"), ({"constrain": "xml"}, "constrain"),
     ({"max_chars": 10}, "max_chars")],
)  # fmt: skip
def test_bad_options_are_usage_errors(options: dict[str, Any], named: str) -> None:
    with pytest.raises(UsageError, match=named):
        uncertain.extract(empty_doc(), Receipt, model="m", base_url="http://127.0.0.1:9/v1",
                          **options)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "amount"),
    [("RM9.00", 9.0), ("9", 9.0), ("1,234.50", 1234.5), ("1.234,50", 1234.5), ("4,50", 4.5),
     ("-3", -3.0), ("\u221212.5", -12.5), ("1,000", 1000.0), ("9.00.", 9.0), ("Total", None)],
)  # fmt: skip
def test_parse_amount(text: str, amount: float | None) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize(
    ("text", "day"),
    [("2018-12-25", "2018-12-25"), ("25/12/2018", "2018-12-25"), ("25.12.18", "2018-12-25"),
     ("25 Dec 2018", "2018-12-25"), ("December 25, 2018", "2018-12-25"),
     ("12/03/2024", "2024-03-12"), ("2018-12-25T10:00:00", "2018-12-25"), ("soon", None)],
)  # fmt: skip
def test_parse_date_reads_day_first(text: str, day: str | None) -> None:
    parsed = parse_date(text)
    assert (parsed.isoformat() if parsed else None) == day


@pytest.mark.parametrize(
    ("kind", "nullable", "given", "value", "problem"),
    [
        ("number", False, "RM 9.00", 9.0, None),
        ("number", False, 9, 9.0, None),
        ("number", False, "nine", None, "expected a number"),
        ("number", False, True, None, "expected a number"),
        ("integer", False, 4711.0, 4711, None),
        ("integer", False, 3.5, None, "expected an integer"),
        ("boolean", False, "yes", True, None),
        ("boolean", False, 1, None, "expected true or false"),
        ("date", False, "25/12/2018", "2018-12-25", None),
        ("date", False, "someday", None, "expected a date"),
        ("string", False, 4711, "4711", None),
        ("string", False, ["a"], None, "expected a string"),
        ("string", False, None, None, "missing"),
        ("string", True, None, None, None),
    ],
)
def test_check_value(
    kind: Any, nullable: bool, given: Any, value: Any, problem: str | None
) -> None:
    got, why = check_value(FieldSpec("f", kind, nullable=nullable), given)
    assert got == value
    assert (why is None) == (problem is None)
    if problem is not None:
        assert why is not None and problem in why

"""What the model or the endpoint gets wrong, and what `extract` makes of it: faults in the
answer are part of the result, a failing endpoint is a one-line `EngineError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import uncertain
from uncertain.document import Document
from uncertain.errors import EngineError
from uncertain.extraction import Extraction, default_field_calibrator

from .fakes import ScriptedClient, completion, serve
from .pages import draw_page, read_page, span_of

SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "receipt",
    "properties": {
        "invoice_number": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
        "shop": {"type": ["string", "null"]},
    },
}
GOOD = '{"invoice_number": "4711", "date": "2018-12-25", "total": 9.0, "shop": "SUNRISE MART"}'


@pytest.fixture(scope="module")
def receipt(tmp_path_factory: pytest.TempPathFactory) -> Document:
    return read_page(draw_page(tmp_path_factory.mktemp("receipt") / "receipt.png"))


def scripted(doc: Document, *replies: dict[str, Any], **options: Any) -> Extraction:
    client = ScriptedClient(*replies)
    return uncertain.extract(doc, SCHEMA, model="m", client=client, **options)


def test_a_good_answer_is_grounded_and_calibrated(receipt: Document) -> None:
    tokens = [(c, -0.01) for c in GOOD]  # one token per character: any split must work
    result = scripted(receipt, completion(GOOD, tokens=tokens))
    assert result.error is None and result.notes == ()
    assert result.value == {
        "invoice_number": "4711", "date": "2018-12-25", "total": 9.0, "shop": "SUNRISE MART",
    }  # fmt: skip
    assert result.fields["total"].span_ids == (span_of(receipt, "RM9.00"),)
    assert result.fields["date"].span_ids == (span_of(receipt, "25/12/2018"),)
    for name, field in result.fields.items():
        assert field.confidence is not None and 0.0 < field.confidence < 1.0, name
        assert field.evidence["grounded"] == 1.0 and field.evidence["has_logprobs"] == 1.0
        assert field.needs_review == (field.confidence < default_field_calibrator().threshold)
    assert result.needs_review == any(f.needs_review for f in result.fields.values())
    assert result.endpoint.startswith("http://scripted-") and result.model == "scripted"


def test_a_value_not_in_the_document_is_trusted_less(receipt: Document) -> None:
    answer = '{"invoice_number": "8812", "date": "2018-12-25", "total": 9.0, "shop": null}'
    result = scripted(receipt, completion(answer))
    invented, found = result.fields["invoice_number"], result.fields["total"]
    assert invented.span_ids == () and "not found in the document" in invented.reasons
    assert invented.evidence["grounded"] == 0.0 and invented.evidence["has_logprobs"] == 0.0
    assert invented.confidence is not None and found.confidence is not None
    assert invented.confidence < found.confidence
    # A null where null is allowed is no value to judge, and nothing to review.
    shop = result.fields["shop"]
    assert shop.value is None and shop.confidence is None and not shop.needs_review


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_the_threshold_decides_review(receipt: Document, threshold: float) -> None:
    result = scripted(receipt, completion(GOOD), threshold=threshold)
    judged = [f for f in result.fields.values() if f.confidence is not None]
    assert all(f.needs_review == (threshold == 1.0) for f in judged)
    assert result.needs_review == (threshold == 1.0)


def test_malformed_json_is_an_error_in_the_result(receipt: Document) -> None:
    result = scripted(receipt, completion('{"invoice_number": "4711", "total": 9,'))
    assert result.error is not None and "malformed JSON" in result.error
    assert result.value is None and result.needs_review
    assert set(result.fields) == set(SCHEMA["properties"])
    for field in result.fields.values():
        assert field.needs_review and field.value is None and field.confidence is None
        assert field.reasons == ("no usable answer",)
    assert "error: malformed JSON" in str(result)


def test_an_answer_cut_at_max_tokens_says_so(receipt: Document) -> None:
    result = scripted(receipt, completion('{"invoice_number": "47', finish_reason="length"))
    assert result.error is not None and "max_tokens" in result.error


def test_a_refusal_is_an_error_in_the_result(receipt: Document) -> None:
    result = scripted(receipt, completion(None, refusal="I cannot help with that."))
    assert result.error is not None and "refused" in result.error
    assert "I cannot help with that." in result.error
    assert result.needs_review and all(f.needs_review for f in result.fields.values())


def test_an_empty_answer_is_an_error_in_the_result(receipt: Document) -> None:
    result = scripted(receipt, completion("  "))
    assert result.error is not None and "empty answer" in result.error


def test_a_schema_violation_empties_that_field_only(receipt: Document) -> None:
    answer = '{"invoice_number": "4711", "date": "2018-12-25", "total": "nine", "shop": null}'
    result = scripted(receipt, completion(answer))
    assert result.error is None
    total = result.fields["total"]
    assert total.value is None and total.confidence is None and total.needs_review
    assert any("expected a number" in reason for reason in total.reasons)
    assert result.value["total"] is None and result.needs_review
    assert result.fields["invoice_number"].value == "4711"
    assert result.fields["invoice_number"].span_ids == (span_of(receipt, "4711"),)


def test_a_property_the_schema_lacks_is_dropped_and_noted(receipt: Document) -> None:
    answer = GOOD[:-1] + ', "tip": 1.5}'
    result = scripted(receipt, completion(answer), threshold=0.0)
    assert "tip" not in result.value and "tip" not in result.fields
    assert any("dropped 'tip'" in note for note in result.notes)
    # Every field passes the threshold, yet the answer as a whole goes to a person.
    assert not any(f.needs_review for f in result.fields.values())
    assert result.needs_review


def test_a_missing_property_is_a_field_to_review(receipt: Document) -> None:
    result = scripted(receipt, completion('{"invoice_number": "4711", "total": 9.0, "shop": null}'))
    date = result.fields["date"]
    assert date.value is None and date.needs_review
    assert "the model gave no value" in date.reasons


def test_line_items_are_fields_of_their_own(receipt: Document) -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
                },
            }
        },
    }
    answer = '{"items": [{"name": "Coffee", "price": 4.5}, {"name": "Tea", "price": "x"}]}'
    client = ScriptedClient(completion(answer))
    result = uncertain.extract(receipt, schema, model="m", client=client)
    assert result.fields["items[0].name"].span_ids == (span_of(receipt, "Coffee"),)
    assert result.fields["items[0].price"].span_ids == (span_of(receipt, "RM4.50"),)
    assert "not found in the document" in result.fields["items[1].name"].reasons
    assert result.fields["items[1].price"].value is None
    assert result.value == {
        "items": [{"name": "Coffee", "price": 4.5}, {"name": "Tea", "price": None}]
    }


# -- the endpoint: real local HTTP servers ---------------------------------------------------


def test_a_server_refusing_json_schema_gets_json_object(receipt: Document) -> None:
    def respond(request: dict[str, Any]) -> tuple[int, Any]:
        if request.get("response_format", {}).get("type") == "json_schema":
            return 400, {"error": {"message": "response_format json_schema is not supported"}}
        return 200, completion(GOOD)

    requests: list[dict[str, Any]] = []
    with serve(respond, requests) as base_url:
        result = uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url)
        first, second = requests
        assert first["response_format"]["type"] == "json_schema"
        assert first["response_format"]["json_schema"]["strict"] is True
        assert second["response_format"] == {
            "type": "json_object",
            "schema": first["response_format"]["json_schema"]["schema"],
        }
        assert result.error is None and result.value["invoice_number"] == "4711"
        # Remembered per endpoint: the next document goes straight to json_object.
        uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url)
        assert [r["response_format"]["type"] for r in requests[2:]] == ["json_object"]


def test_a_server_refusing_every_constraint_gets_the_prompt_alone(receipt: Document) -> None:
    def respond(request: dict[str, Any]) -> tuple[int, Any]:
        if "response_format" in request:
            return 400, {"error": {"message": "unknown field: response_format"}}
        return 200, completion(GOOD)

    requests: list[dict[str, Any]] = []
    with serve(respond, requests) as base_url:
        result = uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url)
    assert [r.get("response_format", {}).get("type") for r in requests] == [
        "json_schema", "json_object", None,
    ]  # fmt: skip
    assert result.error is None
    assert "JSON Schema of the answer" in requests[-1]["messages"][-1]["content"]


def test_a_server_refusing_logprobs_is_asked_again_without(receipt: Document) -> None:
    def respond(request: dict[str, Any]) -> tuple[int, Any]:
        if request.get("logprobs"):
            return 400, {"error": {"message": "logprobs are not supported by this model"}}
        return 200, completion(GOOD)

    requests: list[dict[str, Any]] = []
    with serve(respond, requests) as base_url:
        result = uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url)
    first, second = requests
    assert first["logprobs"] is True and first["top_logprobs"] == 0
    assert "logprobs" not in second and "top_logprobs" not in second
    assert second["response_format"] == first["response_format"]
    assert result.error is None
    assert all(f.evidence["has_logprobs"] == 0.0 for f in result.fields.values() if f.evidence)


def test_another_http_error_is_raised_not_retried(receipt: Document) -> None:
    requests: list[dict[str, Any]] = []
    boom = serve(lambda _: (500, {"error": {"message": "boom"}}), requests)
    with boom as base_url, pytest.raises(EngineError) as caught:
        uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url)
    message = str(caught.value)
    assert message.startswith(f"{base_url}: HTTP 500") and "\n" not in message
    assert len(requests) == 1


def test_a_timeout_is_one_line_naming_the_endpoint(receipt: Document) -> None:
    requests: list[dict[str, Any]] = []
    slow = serve(lambda _: (200, completion(GOOD)), requests, delay=3.0)
    with slow as base_url, pytest.raises(EngineError) as caught:
        uncertain.extract(receipt, SCHEMA, model="m", base_url=base_url, timeout=1.0)
    message = str(caught.value)
    assert message.startswith(base_url) and "no answer within 1 s" in message
    assert "\n" not in message


def test_an_unreachable_endpoint_is_one_line_without_credentials(receipt: Document) -> None:
    url = "http://user:pw@127.0.0.1:9/v1?api_key=sk-abc"
    with pytest.raises(EngineError) as caught:
        uncertain.extract(receipt, SCHEMA, model="m", base_url=url)
    message = str(caught.value)
    assert message.startswith("http://127.0.0.1:9/v1: cannot connect"), message
    assert "\n" not in message
    for secret in ("user:pw", "sk-abc", "api_key", "@127"):
        assert secret not in message


def test_a_pydantic_schema_that_does_not_validate_is_noted(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Receipt(BaseModel):
        invoice_number: str
        total: float

    doc = read_page(draw_page(tmp_path / "r.png"))
    client = ScriptedClient(completion('{"invoice_number": "4711", "total": null}'))
    result = uncertain.extract(doc, Receipt, model="m", client=client)
    assert result.value is None and result.needs_review
    assert any("do not validate against Receipt" in note for note in result.notes)
    assert result.fields["invoice_number"].value == "4711"

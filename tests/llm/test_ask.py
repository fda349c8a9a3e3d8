"""`ask` against the real local model, and its one-line errors against real failing endpoints."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import uncertain
from tests.documents import word_spans
from tests.endpoints import Handle, completion, reply, send_json, serve
from uncertain.cli import app
from uncertain.document import Document, Mark, Source
from uncertain.errors import EngineError
from uncertain.llm import Answer, display_endpoint
from uncertain.models import TEST_LLM_SIZE
from uncertain.render import render, to_messages

from .conftest import SLOW
from .serve import MODEL, free_port


def drug_note() -> Document:
    """A note whose drug name is marked, with the right reading as the alternative."""
    text = "The patient takes metaformin 500 mg twice daily."
    words = text.rstrip(".").split(" ")

    def fields(_: int, word: str) -> dict[str, Any]:
        if word == "metaformin":
            return {"confidence": 0.3, "alternatives": [{"text": "metformin", "confidence": 0.6}]}
        return {"confidence": 0.97}

    spans = word_spans(text, words, fields)
    marks = [Mark(span_ids=[3], reason="low_confidence", confidence=0.3)]
    return Document(text=text, spans=spans, marks=marks, source=Source(engine="test"))


@contextlib.contextmanager
def recording_client(base_url: str, requests: list[dict[str, Any]]) -> Iterator[Any]:
    """An OpenAI client for `base_url` that keeps the JSON body of every request it sends."""
    import httpx
    import openai

    def keep(request: httpx.Request) -> None:
        requests.append(json.loads(request.content))

    http_client = httpx.Client(event_hooks={"request": [keep]})
    with openai.OpenAI(
        api_key="not-needed",
        base_url=base_url,
        timeout=SLOW,
        max_retries=0,
        http_client=http_client,
    ) as client:
        yield client


def assert_sent(request: dict[str, Any], doc: Document, question: str, style: str) -> None:
    """The request asked `question` about `doc` as `to_messages` renders it, greedily."""
    assert request["messages"] == to_messages(doc, question, style)
    user = request["messages"][-1]["content"]
    assert user.startswith(question) and render(doc, style) in user
    assert request["temperature"] == 0.0 and request["seed"] == 0


def assert_traced(doc: Document, answer: Answer) -> None:
    """Each hit points at one of the document's marks: its spans, their text, its probability."""
    for hit in answer.hits:
        assert hit.mark in doc.marks
        assert hit.span_ids == tuple(hit.mark.span_ids)
        first, last = doc.span(hit.span_ids[0]), doc.span(hit.span_ids[-1])
        assert hit.text == doc.text[first.start : last.end]
        assert hit.confidence == hit.mark.confidence


def test_the_test_model_is_assembled_and_checked(test_llm_path: Path) -> None:
    assert test_llm_path.stat().st_size == TEST_LLM_SIZE


def test_ask_answers_and_traces_the_weak_spot(llm_server: str) -> None:
    doc = drug_note()
    question = "Which drug does the patient take? Answer with the drug name only."
    answer = uncertain.ask(
        doc, question, model=MODEL, base_url=llm_server, max_tokens=16, timeout=SLOW
    )
    assert answer.endpoint == llm_server
    assert answer.model == MODEL
    # The answer names the drug, in one reading or the other, and the trace says it is weak:
    # the marked word, its probability, and the reading the answer did not use.
    assert "metformin" in answer.text.lower() or "metaformin" in answer.text.lower()
    assert [hit.span_ids for hit in answer.hits] == [(3,)]
    assert_traced(doc, answer)
    (hit,) = answer.hits
    assert hit.text == "metaformin" and hit.confidence == 0.3
    assert hit.how in ("text", "alternative", "fuzzy")
    assert str(answer) == f"{answer.text}\n\nrests on uncertain words:\n  - {hit}"
    # Greedy decoding: the same question gives the same answer; and what went out was the
    # rendered note with the question.
    requests: list[dict[str, Any]] = []
    with recording_client(llm_server, requests) as client:
        again = uncertain.ask(doc, question, model=MODEL, client=client, max_tokens=16)
    assert again.text == answer.text
    (request,) = requests
    assert_sent(request, doc, question, "inline")
    assert request["model"] == MODEL and request["max_tokens"] == 16
    assert "<u>metaformin</u>" in request["messages"][-1]["content"]  # the weak word, marked


def test_ask_in_the_compact_style(llm_server: str) -> None:
    doc = drug_note()
    question = "How often is the drug taken? Answer in three words at most."
    requests: list[dict[str, Any]] = []
    with recording_client(llm_server, requests) as client:
        answer = uncertain.ask(
            doc, question, model=MODEL, client=client, style="brackets", max_tokens=16
        )
    (request,) = requests
    assert_sent(request, doc, question, "brackets")
    assert "[metaformin?]" in request["messages"][-1]["content"]  # the weak word, marked
    # The schedule is read clearly: the answer speaks of it and rests on no weak word.
    assert "daily" in answer.text.lower(), answer.text
    assert answer.hits == [] and str(answer) == answer.text


def test_ask_request_and_trace_without_a_model() -> None:
    """The same promises against a scripted endpoint: what goes out, and how the answer's
    alternative reading is traced back to the marked word."""
    doc = drug_note()
    question = "Which drug does the patient take?"
    requests: list[dict[str, Any]] = []
    with serve(reply(200, completion("Metformin, 500 mg.")), requests) as base_url:
        answer = uncertain.ask(doc, question, model="m", base_url=base_url, max_tokens=8)
        assert answer.endpoint == base_url and answer.text == "Metformin, 500 mg."
    (request,) = requests
    assert_sent(request, doc, question, "inline")
    assert request["model"] == "m" and request["max_tokens"] == 8
    assert_traced(doc, answer)
    (hit,) = answer.hits
    # The answer took the alternative: the trace names the document's own reading instead.
    assert hit.span_ids == (3,) and hit.how == "alternative"
    assert hit.value == "Metformin" and hit.alternatives == ("metaformin",)
    assert "metaformin" in str(answer) and "p=0.30" in str(answer)


def test_cli_ask_prints_answer_then_weak_spots(llm_server: str, tmp_path: Path) -> None:
    path = tmp_path / "note.json"
    path.write_text(drug_note().to_json())
    result = CliRunner().invoke(
        app,
        [
            "ask",
            str(path),
            "Which drug? Answer with the name only.",
            "--model",
            MODEL,
            "--base-url",
            llm_server,
            "--timeout",
            str(SLOW),
        ],
    )
    assert result.exit_code == 0, result.output
    answer, _, weak = result.output.partition("\nrests on")
    assert "metformin" in answer.lower() or "metaformin" in answer.lower(), answer
    assert "metaformin" in weak and "p=0.30" in weak


# -- failures: real sockets and tiny real HTTP servers on 127.0.0.1 ---------------------------


def one_line_error(base_url: str, **options: object) -> str:
    with pytest.raises(EngineError) as caught:
        uncertain.ask(drug_note(), "q", model="m", base_url=base_url, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert base_url in message
    return message


def test_closed_port_names_the_endpoint() -> None:
    message = one_line_error(f"http://127.0.0.1:{free_port()}/v1")
    assert "cannot connect" in message and "server running" in message


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        (reply(500, {"error": {"message": "boom"}}), "HTTP 500"),
        (reply(404, {"error": {"message": "no such model"}}), "check the model name"),
        (reply(200, completion("")), "empty answer"),
        (reply(200, completion(None, refusal="I cannot help with that")), "refused"),
        (reply(200, {"id": "x", "object": "chat.completion", "choices": []}), "no choices"),
    ],
)
def test_http_failures_are_one_line(respond: Handle, expected: str) -> None:
    with serve(respond) as base_url:
        assert expected in one_line_error(base_url)


def test_timeout_names_the_endpoint() -> None:
    with serve(reply(200, completion("late")), delay=3.0) as base_url:
        assert "no answer within 1 s" in one_line_error(base_url, timeout=1.0)


def test_api_key_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    def echo(handler: BaseHTTPRequestHandler, _: object) -> None:
        # A server that echoes the Authorization header into its error, as some proxies do.
        message = f"bad key {handler.headers['Authorization']}"
        send_json(handler, 401, {"error": {"message": message}})

    with serve(echo) as base_url:
        message = one_line_error(base_url)
        assert secret not in message and "HTTP 401" in message and "OPENAI_API_KEY" in message


def test_no_endpoint_and_no_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EngineError, match=r"OPENAI_API_KEY.*base_url"):
        uncertain.ask(drug_note(), "q", model="m")


def test_cli_ask_failure_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "note.json"
    path.write_text(drug_note().to_json())
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(app, ["ask", str(path), "q", "--model", "m", "--base-url", url])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and url in lines[0] and str(path) in lines[0]


# Credentials in an endpoint URL: a user name and password, an API key in the query, a fragment.
SECRET_URLS = [
    "http://user:pw@127.0.0.1:9/v1?api_key=sk-abc",
    "http://someone:hunter2-pw@127.0.0.1:9/v1/?api_key=sk-abc&x=1#sk-abc-fragment",
]
SECRETS = ("user:pw", "someone", "hunter2", "sk-abc", "api_key", "@127")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@127.0.0.1:9/v1?api_key=sk-abc", "http://127.0.0.1:9/v1"),
        ("https://a:p@ss@[::1]:8080/v1/#frag", "https://[::1]:8080/v1/"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("user:pw@localhost:8080/v1?key=1", "localhost:8080/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ],
)
def test_display_endpoint_keeps_scheme_host_port_and_path(url: str, shown: str) -> None:
    assert display_endpoint(url) == shown


@pytest.mark.parametrize("url", SECRET_URLS)
def test_endpoint_credentials_never_reach_the_message(url: str) -> None:
    with pytest.raises(EngineError) as caught:
        uncertain.ask(drug_note(), "q", model="m", base_url=url, timeout=SLOW)
    message = str(caught.value)
    assert message.startswith("http://127.0.0.1:9/v1: cannot connect"), message
    for secret in SECRETS:
        assert secret not in message


@pytest.mark.parametrize("url", SECRET_URLS)
def test_cli_ask_prints_no_endpoint_credentials(url: str, tmp_path: Path) -> None:
    path = tmp_path / "note.json"
    path.write_text(drug_note().to_json())
    result = CliRunner().invoke(app, ["ask", str(path), "q", "--model", "m", "--base-url", url])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9/v1: cannot connect" in result.stderr
    for secret in SECRETS:
        assert secret not in result.stderr and secret not in result.stdout


def with_credentials(base_url: str) -> str:
    return base_url.replace("http://", "http://user:pw@") + "?api_key=sk-abc"


def test_answer_endpoint_has_no_credentials() -> None:
    with serve(reply(200, completion("fine"))) as base_url:
        answer = uncertain.ask(drug_note(), "q", model="m", base_url=with_credentials(base_url))
        assert answer.text == "fine"
        assert answer.endpoint == base_url


def test_a_server_echoing_the_request_leaks_no_credentials() -> None:
    def echo(handler: BaseHTTPRequestHandler, _: object) -> None:
        # Some proxies put the request line in their errors: the query with its key.
        send_json(handler, 500, {"error": {"message": f"no route for {handler.path}"}})

    with serve(echo) as base_url:
        with pytest.raises(EngineError) as caught:
            uncertain.ask(drug_note(), "q", model="m", base_url=with_credentials(base_url))
        message = str(caught.value)
        assert message.startswith(f"{base_url}: HTTP 500 (") and "no route for" in message
        for secret in SECRETS:
            assert secret not in message

"""`uncertain extract` and `uncertain calibrate-fields` on a real scan and the real local model.

Real model calls are slow on a loaded machine, so two extraction runs are shared by the
assertions: one printing JSON lines (with a bad file in the batch), one writing files with a
calibrator fitted by `calibrate-fields`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import uncertain
from uncertain.cli import app
from uncertain.document import Document
from uncertain.extraction import EVIDENCE, load_field_calibrator

from .serve import MODEL

ROOT = Path(__file__).resolve().parents[2]
SCAN = ROOT / "samples" / "clean_page.png"
BAD = ROOT / "tests" / "data" / "bad" / "random.png"
SCHEMA = {
    "type": "object",
    "properties": {
        "doctor": {"type": "string", "description": "the doctor's name for the follow-up"},
        "potassium": {"type": "number", "description": "potassium level in mmol/L"},
    },
    "required": ["doctor", "potassium"],
}
SECRETS = ("user:pw", "sk-abc", "api_key")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def words(text: str) -> str:
    """Letters and digits only, lower case: how a value and the words it came from compare."""
    return re.sub(r"\W", "", text.lower())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extract")


@pytest.fixture(scope="module")
def schema_file(folder: Path) -> Path:
    path = folder / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


@pytest.fixture(scope="module")
def scan_doc() -> Document:
    return uncertain.read(SCAN)


@pytest.fixture(scope="module")
def printed(llm_server: str, schema_file: Path) -> Result:
    """JSON lines on stdout for the scan, with a corrupt image after it in the batch."""
    return invoke(
        "extract",
        str(SCAN),
        str(BAD),
        "--schema",
        str(schema_file),
        "--model",
        MODEL,
        "--base-url",
        llm_server,
        "--evidence",
    )


def labelled_rows() -> list[dict[str, Any]]:
    """Hand-made labelled fields: grounded values with sure words are mostly right."""
    rows = []
    for n in range(24):
        grounded = n % 3 != 0
        sure = (n % 4) * 1.5
        right = grounded and (sure > 0 or n % 2 == 0)
        evidence = {
            "grounded": float(grounded),
            "words_min_logit": sure,
            "model_mean_logprob": -0.1 * (n % 5),
        }
        rows.append({"evidence": evidence, "right": right})
    return rows


@pytest.fixture(scope="module")
def calibrator_file(folder: Path) -> tuple[Path, Result]:
    labels = folder / "labels.jsonl"
    rows = labelled_rows()
    # Both forms: evidence lines, and an `extract --evidence` line with "right" added.
    line = {
        "path": "a.png",
        "fields": {
            "total": {
                "value": 3,
                "evidence": {"grounded": 1.0, "words_min_logit": 3.0},
                "right": True,
            },
            "date": {
                "value": "x",
                "evidence": {"grounded": 0.0, "words_min_logit": 0.0},
                "right": False,
            },
            "unchecked": {"value": "y", "evidence": {"grounded": 1.0}},
            "empty": {"value": None, "evidence": {}, "right": False},
        },
    }
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n" + json.dumps(line) + "\n")
    output = folder / "fields.json"
    return output, invoke("calibrate-fields", str(labels), "-o", str(output))


@pytest.fixture(scope="module")
def written(
    llm_server: str, schema_file: Path, folder: Path, calibrator_file: tuple[Path, Result]
) -> tuple[Path, Result]:
    """NAME.fields.json and NAME.fields.html for the scan, with the fitted calibrator."""
    out = folder / "out"
    result = invoke(
        "extract",
        str(SCAN),
        "--schema",
        str(schema_file),
        "--model",
        MODEL,
        "--base-url",
        llm_server,
        "-o",
        str(out),
        "-f",
        "json",
        "-f",
        "html",
        "--evidence",
        "--calibration",
        str(calibrator_file[0]),
    )
    return out, result


def test_json_lines_on_stdout_with_grounded_fields(printed: Result, scan_doc: Document) -> None:
    lines = printed.stdout.splitlines()
    assert len(lines) == 1, printed.stdout
    data = json.loads(lines[0])
    assert data["path"] == str(SCAN) and data["model"]
    assert set(data["fields"]) == {"doctor", "potassium"}
    grounded = 0
    for name, field in data["fields"].items():
        assert set(field) == {
            "value",
            "confidence",
            "needs_review",
            "span_ids",
            "reasons",
            "evidence",
        }, name
        assert set(field["evidence"]) <= set(EVIDENCE)
        if field["span_ids"]:
            grounded += 1
            found = " ".join(scan_doc.span(i).text for i in field["span_ids"])
            value = field["value"]
            assert words(found) == words(str(value)), (name, found, value)
            assert 0.0 <= field["confidence"] <= 1.0
    assert grounded >= 1, data


def test_a_bad_file_fails_as_in_transcribe_and_the_batch_goes_on(printed: Result) -> None:
    assert printed.exit_code == 1
    assert "Traceback" not in printed.stderr
    transcribed = invoke("transcribe", str(BAD), "-q")
    assert transcribed.exit_code == printed.exit_code
    assert error_lines(printed) == error_lines(transcribed)
    assert error_lines(printed)[0].startswith(f"error: {BAD}: ")
    assert json.loads(printed.stdout)["path"] == str(SCAN)  # extracted all the same


def test_output_folder_gets_fields_json_and_html(
    written: tuple[Path, Result], calibrator_file: tuple[Path, Result]
) -> None:
    out, result = written
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == [
        "clean_page.fields.html",
        "clean_page.fields.json",
    ]
    data = json.loads((out / "clean_page.fields.json").read_text())
    assert set(data["fields"]) == {"doctor", "potassium"}
    # --calibration was applied: the confidences are the fitted calibrator's.
    calibrator = load_field_calibrator(calibrator_file[0])
    for field in data["fields"].values():
        if field["confidence"] is None:
            continue
        expected = float(calibrator.predict([field["evidence"]])[0])
        assert field["confidence"] == pytest.approx(expected, abs=2e-3)
        assert field["needs_review"] == (field["confidence"] < calibrator.threshold)
    report = (out / "clean_page.fields.html").read_text()
    block = re.search(
        r'<script type="application/json" id="uncertain-data">(.*?)</script>', report, re.S
    )
    assert block is not None
    shown = json.loads(block.group(1))["fields"]
    assert [f["name"] for f in shown] == list(data["fields"])
    assert [f["s"] for f in shown] == [f["span_ids"] for f in data["fields"].values()]
    for index, field in enumerate(data["fields"].values()):
        assert f'data-f="{index}"' in report
        for i in field["span_ids"]:  # the words and their boxes on the page picture
            assert re.search(rf'<span class="w [^"]*" data-i="{i}"', report)
            assert re.search(rf'<rect class="[^"]*" data-i="{i}"', report)
    assert '<image href="data:image/' in report


def test_calibrate_fields_writes_a_field_calibrator(calibrator_file: tuple[Path, Result]) -> None:
    output, result = calibrator_file
    assert result.exit_code == 0, result.stderr
    calibrator = load_field_calibrator(output)
    # 24 rows plus two labelled fields of the extraction line; unlabelled and empty left out.
    rows = labelled_rows()
    right = [r["right"] for r in rows] + [True, False]
    assert f"fitted on {len(right)} fields, {right.count(False)} wrong" in result.stdout
    evidence = [r["evidence"] for r in rows] + [
        {"grounded": 1.0, "words_min_logit": 3.0},
        {"grounded": 0.0, "words_min_logit": 0.0},
    ]
    confidences = calibrator.predict(evidence)
    expected = np.quantile(confidences, right.count(False) / len(right))
    assert calibrator.threshold == pytest.approx(expected)
    assert f"threshold {expected:.3f}" in result.stdout


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"evidence": {"grounded": 1}, "right": true}'] * 3, "fitting needs both right"),
        (['{"evidence": {"grounded": 1}, "right": true}', "{not json"], "labels.jsonl:2: not JSON"),
        (['{"evidence": {"grounded": 1}, "right": "yes"}'], ':1: "right" must be true or false'),
        (['{"evidence": {"grounded": "high"}, "right": true}'], ":1: evidence 'grounded' is not"),
        (['{"fields": {"a": {"value": 1, "right": true}}}'], ":1: field 'a': no \"evidence\""),
        (["", '{"fields": {"a": {"value": 1}}}'], "no labelled fields"),
    ],
)
def test_calibrate_fields_refuses_bad_labels_in_one_line(
    lines: list[str], message: str, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(lines) + "\n")
    result = invoke("calibrate-fields", str(labels), "-o", str(tmp_path / "out.json"))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {labels}") and message in result.stderr
    assert not (tmp_path / "out.json").exists()


def test_calibrate_fields_refuses_unknown_features(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r) for r in labelled_rows()))
    result = invoke(
        "calibrate-fields",
        str(labels),
        "-o",
        str(tmp_path / "c.json"),
        "--features",
        "grounded,shoe_size",
    )
    assert result.exit_code == 2 and "unknown evidence shoe_size" in result.stderr


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}},
        },
        {"type": "array"},
        [1, 2],
        "{not json",
    ],
)
def test_unsupported_schema_is_refused_before_reading(schema: Any, tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema))
    missing = tmp_path / "missing.png"
    result = invoke(
        "extract",
        str(missing),
        "--schema",
        str(path),
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}: ")
    assert "missing.png" not in result.stderr  # no file was read


def test_bad_calibration_and_format_are_usage_errors(schema_file: Path, tmp_path: Path) -> None:
    words_calibrator = ROOT / "uncertain" / "calibration"
    word_file = next(p for p in sorted(words_calibrator.glob("*.json")) if p.name != "fields.json")
    result = invoke(
        "extract",
        str(SCAN),
        "--schema",
        str(schema_file),
        "--model",
        "m",
        "--calibration",
        str(word_file),
    )
    assert result.exit_code == 2 and "not a field calibrator" in result.stderr
    assert str(word_file) in result.stderr
    result = invoke(
        "extract", str(SCAN), "--schema", str(schema_file), "--model", "m", "-f", "html"
    )
    assert result.exit_code == 2 and "-o" in result.stderr


def test_unreachable_endpoint_is_one_line_per_file_without_credentials(
    schema_file: Path, scan_doc: Document, tmp_path: Path
) -> None:
    saved = tmp_path / "scan.json"
    saved.write_text(scan_doc.to_json())
    url = "http://user:pw@127.0.0.1:9/v1?api_key=sk-abc"
    result = invoke(
        "extract",
        str(SCAN),
        str(saved),
        "--schema",
        str(schema_file),
        "--model",
        "m",
        "--base-url",
        url,
        "-q",
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == error_lines(result) and len(lines) == 2, result.stderr
    for line, path in zip(lines, (SCAN, saved), strict=True):
        assert line.startswith(f"error: {path}: http://127.0.0.1:9/v1: cannot connect"), line
    for secret in SECRETS:
        assert secret not in result.stderr and secret not in result.stdout
    assert result.stdout == ""

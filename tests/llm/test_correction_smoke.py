"""Smoke test of the downstream benchmark's LLM post-correction, on real transcripts.

The full measurement is `bench/downstream.py report --llm N`; here the real local model
corrects two real transcripts (Whisper tiny.en on samples/) in the plain and the marked prompt,
and the results must be transcripts of the same recording, not chatter around one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import uncertain
from uncertain.evaluate import wer

from .conftest import MODEL

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
TASK = (
    "Return this transcript with misrecognised words corrected. Output only the corrected "
    "transcript as plain text, without any markup, notes or explanation."
)


@pytest.mark.parametrize("name", ["synthetic_drug.wav", "jfk.wav"])
def test_correction_returns_the_transcript(llm_server: str, name: str) -> None:
    doc = uncertain.transcribe(SAMPLES / name, alternatives=3)
    reference = (SAMPLES / name.replace(".wav", ".ref.txt")).read_text()
    original = wer(doc.text, reference)
    for style in ("plain", "inline"):
        answer = uncertain.ask(doc, TASK, model=MODEL, base_url=llm_server, style=style)
        corrected = answer.text.strip().strip('"')
        # A transcript of the same words: far closer to the reference than an unrelated text,
        # and never markup echoed back.
        assert wer(corrected, reference) <= max(0.6, original + 0.35), corrected
        assert "<unsure" not in corrected

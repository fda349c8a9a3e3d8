"""Smoke test of the downstream benchmark's LLM post-correction, on real transcripts.

The full measurement is `bench/downstream.py report --llm N`; here the real local model
corrects a real transcript (Whisper tiny.en on samples/) in the plain and a marked prompt,
and the results must be transcripts of the same recording, not chatter around one.
"""

from __future__ import annotations

from pathlib import Path

import uncertain
from uncertain.evaluate import wer

from .conftest import SLOW
from .serve import MODEL

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
TASK = (
    "Return this transcript with misrecognised words corrected. Output only the corrected "
    "transcript as plain text, without any markup, notes or explanation."
)


def test_correction_returns_the_transcript(llm_server: str) -> None:
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav", alternatives=3)
    reference = (SAMPLES / "synthetic_drug.ref.txt").read_text()
    original = wer(reference, doc.text)
    for style in ("plain", "brackets"):
        answer = uncertain.ask(
            doc, TASK, model=MODEL, base_url=llm_server, style=style, max_tokens=48, timeout=SLOW
        )
        corrected = answer.text.strip().strip('"')
        # A transcript of the same recording, not chatter around one: most of its words are
        # the transcript's (how much a model improves it is bench/downstream.py's business;
        # the 0.5B model sometimes leaves a mark's probability behind), and no mark echoed.
        assert wer(doc.text, corrected) <= 0.5, corrected
        assert wer(reference, corrected) <= original + 0.5, corrected
        assert "<u>" not in corrected and "<unsure" not in corrected
        assert "?]" not in corrected and "[?" not in corrected

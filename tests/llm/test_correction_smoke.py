"""Smoke test of the downstream benchmark's LLM post-correction, on real transcripts.

The full measurement is `bench/downstream.py report --llm N`; here the real local model
corrects a real transcript (Whisper tiny.en on samples/) in the plain and a marked prompt,
and the results must be transcripts of the same recording, not chatter around one; `guard`,
which keeps a correction to the marked words, must leave every other word as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

import uncertain
from uncertain.document import Document
from uncertain.evaluate import wer
from uncertain.render import guard

from .conftest import SLOW
from .serve import MODEL

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
TASK = (
    "Return this transcript with misrecognised words corrected. Output only the corrected "
    "transcript as plain text, without any markup, notes or explanation."
)
# The 0.5B model gives the 14-word transcript back all but unchanged (word error rate 0 against
# it, in both prompts); a few words of margin leave room for another machine's decode.
SAME_RECORDING = 0.2


def unmarked_words(doc: Document, threshold: float | None = None) -> list[str]:
    """The transcript's words (as `guard` splits them) outside its marks, in order; or, with
    `threshold`, those of words whose confidence is not below it."""
    if threshold is None:
        marked = {i for mark in doc.marks for i in mark.span_ids}
    else:
        marked = {s.id for s in doc.spans if s.confidence is not None and s.confidence < threshold}
    ranges = [(s.start, s.end) for s in doc.spans if s.id in marked]
    return [
        word.group()
        for word in re.finditer(r"\S+", doc.text)
        if not any(a <= word.start() and word.end() <= b for a, b in ranges)
    ]


def keeps_in_order(text: str, words: list[str]) -> bool:
    """Whether `words` are words of `text`, in this order."""
    rest = iter(text.split())
    return all(word in rest for word in words)


def test_correction_returns_the_transcript(llm_server: str) -> None:
    # The recall preset marks the whole misheard sentence as one run, the prompt this test was
    # written for; under the default review preset the 0.5B model echoes the shorter run's
    # brackets back into its answer (`[takes ... being?]`).
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav", alternatives=3, threshold="recall")
    reference = (SAMPLES / "synthetic_drug.ref.txt").read_text()
    original = wer(reference, doc.text)
    for style in ("plain", "brackets"):
        answer = uncertain.ask(
            doc, TASK, model=MODEL, base_url=llm_server, style=style, max_tokens=48, timeout=SLOW
        )
        corrected = answer.text.strip().strip('"')
        # A transcript of the same recording, not chatter around one: nearly all of its words
        # are the transcript's (how much a model improves it is bench/downstream.py's
        # business), and no mark is echoed back.
        assert wer(doc.text, corrected) <= SAME_RECORDING, corrected
        assert wer(reference, corrected) <= original + SAME_RECORDING, corrected
        for echo in ("<u>", "</u>", "<unsure", "?]", "[?"):
            assert echo not in corrected, corrected
        # Guarded, the correction changes marked words only: the rest stand, in order.
        guarded = guard(doc, corrected)
        assert keeps_in_order(guarded, unmarked_words(doc)), guarded
        assert wer(reference, guarded) <= original + SAME_RECORDING, guarded
    # A correction that leaves the transcript as it is changes nothing through the guard; the
    # reference handed in as one, with the words below 0.5 as the marks, is taken there only,
    # and can only bring the transcript closer to it.
    assert guard(doc, doc.text) == doc.text
    fixed = guard(doc, reference, marks=0.5)
    assert keeps_in_order(fixed, unmarked_words(doc, 0.5)), fixed
    assert wer(reference, fixed) <= original, fixed

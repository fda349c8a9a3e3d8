"""Lexicon evidence on OCR words: real word lists, the real Tesseract reading of a sample scan,
and the bundled calibrator through `fuse`."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import uncertain
from uncertain.adapters.lexicon import add_lexicon_signals, is_known, lexicon_for
from uncertain.document import Document
from uncertain.fusion import fuse

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
LEXICON_SIGNALS = (
    "lexicon_known",
    "lexicon_log_frequency",
    "lexicon_nearest_distance",
    "lexicon_nearest_log_frequency",
    "ocr_confusion_explains",
    "lexicon_split",
)


@pytest.fixture(scope="module")
def degraded() -> Document:
    return uncertain.read(SAMPLES / "degraded_page.jpg", fuse=False)


def _span(doc: Document, text: str) -> int:
    return next(i for i, s in enumerate(doc.spans) if s.text == text)


def test_every_word_of_a_real_scan_carries_lexicon_signals(degraded: Document) -> None:
    for span in degraded.spans:
        core = span.text.strip(".,;:!?()[]\"'-/")
        judged = bool(re.search(r"[^\W\d_]", core)) and not re.search(r"\d", core)
        assert all((name in span.signals) == judged for name in LEXICON_SIGNALS), span.text
        assert "document_repeats" in span.signals and "repeated_higher_elsewhere" in span.signals
    weoks = degraded.spans[_span(degraded, "weoks.")].signals
    assert weoks["lexicon_known"] == 0.0 and weoks["lexicon_log_frequency"] == 0.0
    assert weoks["lexicon_nearest_distance"] == 1.0  # "weeks" is one letter away
    assert weoks["ocr_confusion_explains"] == 1.0  # and the letter is an o read for an e
    the = [s.signals for s in degraded.spans if s.text == "the"]
    assert the[0]["lexicon_known"] == 1.0 and the[0]["lexicon_log_frequency"] > 7.0
    assert the[0]["document_repeats"] == len(the) - 1


def test_a_non_word_is_less_sure_than_the_same_reading_of_a_word(degraded: Document) -> None:
    """The same span, with every Tesseract signal unchanged, spelt as a non-word ("weoks",
    the scan's real reading) and as a word ("weeks"): the bundled calibrator trusts the word
    more."""
    index = _span(degraded, "weoks.")
    span = degraded.spans[index]
    text = degraded.text[: span.start] + "weeks." + degraded.text[span.end :]
    spans = list(degraded.spans)
    spans[index] = span.model_copy(update={"text": "weeks."})
    word = add_lexicon_signals(degraded.model_copy(update={"text": text, "spans": spans}))
    assert word.spans[index].signals["lexicon_known"] == 1.0
    assert word.spans[index].signals["word_confidence"] == span.signals["word_confidence"]
    non_word, known = fuse(degraded).spans[index], fuse(word).spans[index]
    assert non_word.confidence is not None and known.confidence is not None
    assert non_word.confidence < known.confidence - 0.05


def test_a_language_without_a_word_list_still_fuses(degraded: Document) -> None:
    settings = dict(degraded.source.settings)
    settings["language"] = "osd"  # Tesseract's script detection data: no word list
    source = degraded.source.model_copy(update={"settings": settings, "model": "osd"})
    stripped = [
        s.model_copy(
            update={"signals": {k: v for k, v in s.signals.items() if k not in LEXICON_SIGNALS}}
        )
        for s in degraded.spans
    ]
    doc = add_lexicon_signals(degraded.model_copy(update={"spans": stripped, "source": source}))
    assert not any("lexicon_known" in s.signals for s in doc.spans)
    fused = fuse(doc)
    confidences = [s.confidence for s in fused.spans]
    assert all(c is not None and 0.0 <= c <= 1.0 for c in confidences)
    # Unjudged words fall between the known and the unknown reading of the same evidence.
    index = _span(degraded, "weoks.")
    assert fuse(degraded).spans[index].confidence < fused.spans[index].confidence  # type: ignore[operator]


def test_lookups_english_and_german() -> None:
    english = lexicon_for("eng")
    german = lexicon_for("deu")
    assert english is not None and german is not None
    assert english.zipf("the") is not None and english.zipf("weoks") is None
    assert english.confusion_explains("cornpany")  # rn read for m
    assert english.split("hisown") and not english.split("weeks")
    assert english.nearest("weoks") is not None and english.nearest("qxzvbjk") is None
    assert is_known(german, "Bürgermeister") and not is_known(english, "Bürgermeister")
    both = lexicon_for("eng+deu")
    assert (
        both is not None
        and is_known(both, "Straße")
        and is_known(both, "Bürgermeister")
        and both.zipf("the") is not None
    )
    assert is_known(english, "well-known,") and is_known(english, "Weoks") is False
    assert is_known(english, "5.00") is None  # amounts and codes are beyond a word list
    assert lexicon_for("osd") is None and lexicon_for("lat") is None


def test_a_word_broken_at_a_line_end_is_judged_whole(degraded: Document) -> None:
    """ "inter-" at a line end and "national" on the next line: the joined word is known."""
    english = lexicon_for("eng")
    assert english is not None and english.zipf("circumstan") is None
    from uncertain.adapters.lexicon import lexicon_signals
    from uncertain.document import Span

    span = Span(id=0, start=0, end=11, text="circumstan-")
    alone, joined = (lexicon_signals([span], english, [rest])[0] for rest in (None, "ces"))
    assert alone["lexicon_known"] == 0.0 and joined["lexicon_known"] == 1.0


def test_the_word_list_loads_once_and_quickly() -> None:
    from uncertain.adapters import lexicon

    lexicon._load.cache_clear()
    lexicon._merged.cache_clear()
    started = time.perf_counter()
    first = lexicon_for("eng")
    elapsed = time.perf_counter() - started
    assert lexicon_for("eng") is first
    assert elapsed < 1.0  # about 0.1-0.2 s; generous for a shared machine


def test_the_makefile_installs_the_word_lists() -> None:
    """The extra that brings `wordfreq` is in the Makefile's demo install line, so the demo,
    the tests and the benchmarks read scans with lexicon evidence."""
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    extras = [
        name
        for name, body in re.findall(r"^([\w-]+)\s*=\s*\[(.*?)\]", pyproject, flags=re.M | re.S)
        if "wordfreq" in body
    ]
    assert extras, "no extra in pyproject.toml installs wordfreq"
    makefile = (ROOT / "Makefile").read_text("utf-8")
    demo = re.search(r'pip install -q -e "\.\[([^\]]*)\]"', makefile)
    assert demo is not None
    assert set(extras) & set(demo.group(1).split(",")), (extras, demo.group(1))

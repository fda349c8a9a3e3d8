"""The bundled Tesseract calibrators: which one a page gets, and that the second reader counts."""

from __future__ import annotations

from pathlib import Path

import pytest

import uncertain
from uncertain.document import Document
from uncertain.fusion import default_calibrator, fuse

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def page() -> Document:
    return uncertain.read(SAMPLES / "degraded_page.jpg", fuse=False)


def _cross_checked(doc: Document, agree: float) -> Document:
    """`doc` as the RapidOCR second reader leaves it, every line read, all agreeing or not."""
    spans = []
    for span in doc.spans:
        signals = dict(span.signals)
        signals.update(
            cross_checked=1.0,
            cross_agreement=agree,
            cross_word_confidence=0.99 if agree else 0.6,
            cross_min_char_confidence=0.95 if agree else 0.3,
            cross_char_similarity=1.0 if agree else 0.5,
            cross_unmatched=0.0,
            cross_extra_chars=0.0,
        )
        spans.append(span.model_copy(update={"signals": signals}))
    settings = dict(doc.source.settings, cross_check="rapidocr")
    return doc.model_copy(
        update={"spans": spans, "source": doc.source.model_copy(update={"settings": settings})}
    )


def test_a_page_cross_checked_by_rapidocr_gets_its_own_calibrator(page: Document) -> None:
    assert default_calibrator(page)[1] == "tesseract-eng (bundled)"
    calibrator, note = default_calibrator(_cross_checked(page, 1.0))
    assert note == "tesseract-eng+rapidocr (bundled, cross-checked by RapidOCR)"
    assert "cross_agreement" in calibrator.feature_names or any(
        name.startswith("cross_") for name in calibrator.feature_names
    )
    # A second Tesseract pass (cross_check=True) has no `cross_checked`: the plain calibrator.
    other = page.model_copy(
        update={
            "source": page.source.model_copy(
                update={"settings": dict(page.source.settings, cross_check=True)}
            )
        }
    )
    assert default_calibrator(other)[1] == "tesseract-eng (bundled)"


def test_disagreement_lowers_confidence(page: Document) -> None:
    agreed = fuse(_cross_checked(page, 1.0))
    disputed = fuse(_cross_checked(page, 0.0))
    pairs = list(zip(agreed.spans, disputed.spans, strict=True))
    assert all((b.confidence or 0) <= (a.confidence or 0) for a, b in pairs)
    assert sum((a.confidence or 0) - (b.confidence or 0) for a, b in pairs) / len(pairs) > 0.05
    # Marked words, not marks: adjacent marked words merge into one run.
    marked = [sum(len(m.span_ids) for m in d.marks) for d in (agreed, disputed)]
    assert marked[1] >= marked[0]


def test_bundled_ocr_calibrators_say_what_they_were_fitted_on() -> None:
    from uncertain.fusion import _bundled

    for name in ("tesseract-eng", "tesseract-eng+rapidocr"):
        metadata = _bundled(name).metadata
        assert "ocr/fit" in metadata["corpus"] and "eval" not in metadata["corpus"]
        assert metadata["choice"]

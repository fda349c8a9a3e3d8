"""The top-level functions: read any supported file, or transcribe speech, into a fused Document.

Engines are loaded once per configuration and reused (loading Whisper costs about a second),
so calling `transcribe` in a loop or from several threads does not reload the model.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from uncertain.adapters import ProgressCallback, sniff
from uncertain.adapters.rapidocr import CrossCheckMode
from uncertain.adapters.tesseract.binary import CharChoices
from uncertain.adapters.whisper.adapter import Device
from uncertain.document import Document
from uncertain.errors import InputError, UsageError, check_choice

if TYPE_CHECKING:
    import numpy as np

    from uncertain.adapters.tesseract import TesseractAdapter
    from uncertain.adapters.whisper import ComputeType, WhisperAdapter
    from uncertain.extraction import Constraint, Extraction
    from uncertain.fusion import Calibrator
    from uncertain.fusion.presets import MarkPreset

__all__ = [
    "CharChoices",
    "CrossCheckMode",
    "Device",
    "extract",
    "iter_read",
    "iter_transcribe",
    "ocr",
    "read",
    "transcribe",
]

_engines: dict[tuple[Any, ...], Any] = {}
_engines_lock = threading.Lock()


def whisper_engine(
    model: str = "tiny.en", device: Device = "auto", compute_type: ComputeType | None = None
) -> WhisperAdapter:
    """The shared Whisper adapter for this model, device and compute type (loaded once); the
    adapter checks `device` and `compute_type` when it is made."""
    from uncertain.adapters.whisper import WhisperAdapter

    key = ("whisper", model, device, compute_type)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = WhisperAdapter(
                model=model, device=device, compute_type=compute_type
            )
    return engine


def tesseract_engine(language: str = "eng", dpi: int = 300) -> TesseractAdapter:
    """The shared Tesseract adapter for this language and rendering resolution."""
    from uncertain.adapters.tesseract import TesseractAdapter

    key = ("tesseract", language, dpi)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = TesseractAdapter(language=language, dpi=dpi)
    return engine


def _fuse(
    doc: Document,
    fuse: bool,
    calibration: str | Path | Calibrator | None,
    threshold: float | MarkPreset | None,
) -> Document:
    if not fuse:
        return doc
    from uncertain.fusion import fuse as fuse_document

    return fuse_document(doc, calibration=calibration, threshold=threshold)


def transcribe(
    audio: str | Path | bytes | np.ndarray,
    *,
    model: str = "tiny.en",
    language: str | None = None,
    device: Device = "auto",
    compute_type: ComputeType | None = None,
    alternatives: int = 0,
    cross_check: str | None = None,
    calibration: str | Path | Calibrator | None = None,
    threshold: float | MarkPreset | None = None,
    fuse: bool = True,
    progress: ProgressCallback | None = None,
    seed: int | None = 0,
    **options: Any,
) -> Document:
    """Transcribe speech (a file, bytes, or 16 kHz mono float32 samples) into a fused Document.

    With default settings the text is exactly what faster-whisper's
    `transcribe(word_timestamps=True)` returns; each word carries its evidence in `signals`,
    its calibrated `confidence`, and the runs not to trust are in `marks`.

    Args:
        model: `tiny.en` (bundled, offline), `base` (the `base` extra), any faster-whisper
            model name (downloads when online) or a local CTranslate2 model folder.
        alternatives: how many N-best hypotheses to decode for word alternatives (0: off).
        cross_check: a second Whisper model (e.g. `base`) whose reading is aligned to this one;
            disagreement becomes evidence and the other reading an alternative.
        calibration: a calibrator file or object; default: the bundled one for the model.
        threshold: probability under which spans are marked, or a preset of the calibrator:
            `review` (the default: marks at most twice the error rate of its fit words),
            `recall` (catches 90% of the wrong words) or `prompt` (marks at most the error
            rate, for LLM prompts); see `uncertain.fusion.presets`.
        fuse: False returns the raw document (signals only, confidence unset).
        progress: called with (seconds decoded, total seconds or None) as decoding advances.
        seed: seeds the sampling of a window that falls back to it (reversed speech, noise), so
            the same audio gives the same Document in every process; None: unseeded.
        options: passed to faster-whisper (beam_size, vad_filter, initial_prompt, ...).
    """
    if isinstance(audio, (str, Path)):
        kind = sniff(Path(audio)).kind
        if kind not in ("audio", "video"):
            what = "an image" if kind == "image" else "a PDF"
            raise InputError(audio, f"is {what}, not audio", "use uncertain.read for documents")
    engine = whisper_engine(model, device, compute_type)
    doc = engine.read(
        audio,
        language=language,
        alternatives=alternatives,
        progress=progress,
        seed=seed,
        **options,
    )
    if cross_check:
        from uncertain.crosscheck import cross_check_speech

        # An English-only first model still tells a multilingual second one the language.
        detected = doc.source.settings.get("language")
        other = whisper_engine(cross_check, device, compute_type).read(
            audio,
            language=language or (detected if isinstance(detected, str) else None),
            seed=seed,
            **options,
        )
        doc = cross_check_speech(doc, other)
    return _fuse(doc, fuse, calibration, threshold)


def iter_transcribe(
    audio: str | Path | bytes | np.ndarray,
    *,
    model: str = "tiny.en",
    language: str | None = None,
    device: Device = "auto",
    compute_type: ComputeType | None = None,
    calibration: str | Path | Calibrator | None = None,
    threshold: float | MarkPreset | None = None,
    fuse: bool = True,
    **options: Any,
) -> Iterator[Document]:
    """Transcribe long audio lazily: one small fused Document per segment, as it is decoded.

    Memory stays flat with the audio's length; times in each piece are absolute.
    """
    engine = whisper_engine(model, device, compute_type)
    for piece in engine.iter_transcribe(audio, language=language, **options):
        yield _fuse(piece, fuse, calibration, threshold)


def ocr(
    image: Any,
    *,
    language: str = "eng",
    dpi: int = 300,
    cross_check: bool | Literal["rapidocr"] = False,
    cross_check_mode: CrossCheckMode = "selective",
    char_choices: CharChoices | None = None,
    calibration: str | Path | Calibrator | None = None,
    threshold: float | MarkPreset | None = None,
    fuse: bool = True,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Document:
    """Read an image (file, PIL image, numpy array) or a PDF with Tesseract into a fused Document.

    PDF pages with a text layer give digital text (confidence 1.0); scanned pages are rendered
    at `dpi` and OCRed, in parallel across cores.

    `cross_check="rapidocr"` (extra `rapidocr`) reads the pages a second time with RapidOCR:
    by default (`cross_check_mode="selective"`) only the lines holding a weak Tesseract word,
    with `"full"` the whole page; agreement becomes evidence and RapidOCR's reading an
    alternative, while `doc.text` stays Tesseract's. `cross_check=True` runs a second
    Tesseract pass with another page segmentation instead. `char_choices` says which words get
    per-character choices (default: `auto`, and `all` with RapidOCR). Other values of these
    options raise `UsageError`; `options` go to `TesseractAdapter.read`.
    """
    second_reader = isinstance(cross_check, str)
    if second_reader and str(cross_check).lower() != "rapidocr":
        raise UsageError(
            f"unknown cross_check {cross_check!r}",
            "use one of True (a second Tesseract pass), False, 'rapidocr' (a second reader)",
        )
    check_choice("cross_check_mode", cross_check_mode, get_args(CrossCheckMode))
    if char_choices is not None:
        check_choice("char_choices", char_choices, get_args(CharChoices))
        options["char_choices"] = char_choices
    engine = tesseract_engine(language, dpi)
    if cross_check and not second_reader:
        options["cross_check"] = True
    if second_reader:
        # The second reader's calibrator weighs every word's character confidences, which the
        # cheaper weak-words-only pass leaves out for confident words.
        options.setdefault("char_choices", "all")
    if progress is not None:
        options["progress"] = progress
    doc = engine.read(image, **options)
    if second_reader:
        from uncertain.adapters.rapidocr import cross_check_source

        doc = cross_check_source(doc, image, _rapidocr_reader(), mode=cross_check_mode)
    return _fuse(doc, fuse, calibration, threshold)


def _rapidocr_reader() -> Any:
    """The shared RapidOCR second reader (its models load once, on first use)."""
    from uncertain.adapters.rapidocr import RapidOcrReader

    with _engines_lock:
        reader = _engines.get(("rapidocr",))
        if reader is None:
            reader = _engines[("rapidocr",)] = RapidOcrReader()
    return reader


def read(
    source: str | Path | bytes,
    *,
    model: str = "tiny.en",
    language: str | None = None,
    device: Device = "auto",
    alternatives: int = 0,
    cross_check: str | None = None,
    cross_check_mode: CrossCheckMode = "selective",
    calibration: str | Path | Calibrator | None = None,
    threshold: float | MarkPreset | None = None,
    dpi: int = 300,
    fuse: bool = True,
    progress: ProgressCallback | None = None,
    seed: int | None = 0,
) -> Document:
    """Read any supported file (audio, video, image, PDF), recognized by its content.

    Speech goes to Whisper (`model`, `language`, `alternatives`, `cross_check` and `seed`
    apply), images and PDFs to Tesseract (`language` defaults to `eng`; `cross_check="rapidocr"`
    reads them a second time with RapidOCR, `cross_check_mode` `selective` or `full`, see `ocr`;
    any other value runs a second Tesseract pass, so one `cross_check` serves a batch of both
    kinds).
    """
    check_choice("cross_check_mode", cross_check_mode, get_args(CrossCheckMode))
    kind = sniff(source if isinstance(source, bytes) else Path(source)).kind
    if kind in ("audio", "video"):
        return transcribe(
            source,
            model=model,
            language=language,
            device=device,
            alternatives=alternatives,
            cross_check=cross_check,
            calibration=calibration,
            threshold=threshold,
            fuse=fuse,
            progress=progress,
            seed=seed,
        )
    return ocr(
        source,
        language=language or "eng",
        dpi=dpi,
        cross_check="rapidocr" if cross_check == "rapidocr" else bool(cross_check),
        cross_check_mode=cross_check_mode,
        calibration=calibration,
        threshold=threshold,
        fuse=fuse,
        progress=progress,
    )


def iter_read(
    source: str | Path | bytes,
    *,
    model: str = "tiny.en",
    language: str | None = None,
    device: Device = "auto",
    alternatives: int = 0,
    calibration: str | Path | Calibrator | None = None,
    threshold: float | MarkPreset | None = None,
    dpi: int = 300,
    fuse: bool = True,
    progress: ProgressCallback | None = None,
) -> Iterator[Document]:
    """Read any supported file lazily, one small fused Document at a time, in memory flat
    with the file's length.

    Images and PDFs give one document per page (`source.settings["page"]` says which; its
    boxes are on its own page 0; see `TesseractAdapter.iter_read`); speech gives one per
    segment, with absolute times (see `iter_transcribe`). Span ids run on across the pieces
    as `read` numbers them. Arguments as for `read`.
    """
    kind = sniff(source if isinstance(source, bytes) else Path(source)).kind
    if kind in ("audio", "video"):
        engine = whisper_engine(model, device)
        pieces = engine.iter_transcribe(
            source, language=language, alternatives=alternatives, progress=progress
        )
    else:
        options: dict[str, Any] = {} if progress is None else {"progress": progress}
        pieces = tesseract_engine(language or "eng", dpi).iter_read(source, **options)
    for piece in pieces:
        yield _fuse(piece, fuse, calibration, threshold)


def extract(
    source: Document | str | Path,
    schema: Any,
    *,
    model: str,
    base_url: str | None = None,
    client: Any = None,
    calibrator: Calibrator | str | Path | None = None,
    threshold: float | None = None,
    constrain: Constraint = "auto",
    timeout: float = 300.0,
    max_tokens: int = 1024,
    seed: int | None = 0,
    max_chars: int | None = None,
    read_options: Mapping[str, Any] | None = None,
) -> Extraction:
    """Extract `schema`'s fields from a document, each with a calibrated confidence, the words
    it came from, and whether a person should check it.

    `source`: a `Document`, or a file to `read` first (`read_options` are passed to `read`:
    `language`, `cross_check`, `alternatives`, `model` for the Whisper model, ...).
    `schema`: a pydantic model class or a JSON Schema dict: a flat object of strings,
    numbers, integers, booleans and dates, and lists of such objects for line items (anything
    else is refused with a `UsageError` before the model is asked).
    `model`, `base_url`, `client`, `timeout`: the OpenAI-compatible chat endpoint to ask, as
    for `ask`. `constrain`: how the output is held to the schema (`auto` tries OpenAI's
    `json_schema`, then llama.cpp's `json_object` with a schema, then the prompt alone).
    `calibrator`: a field calibrator or its JSON file (default: the bundled one);
    `threshold`: fields below it need review (default: the calibrator's). `max_chars`:
    document text per request; longer documents are asked about in parts (default
    `MAX_CHARS`, sized for a 4,096-token context).

    What the model gets wrong is in the result (`Extraction.error`, a field's `reasons`);
    `EngineError` only when the endpoint fails (unreachable, timed out, an HTTP error), and
    `InputError` when the file cannot be read.
    """
    from uncertain.extraction import MAX_CHARS, extract_document, read_schema

    read_schema(schema)  # a schema it cannot take is refused before a long read, not after
    doc = source if isinstance(source, Document) else read(source, **dict(read_options or {}))
    return extract_document(
        doc,
        schema,
        model=model,
        base_url=base_url,
        client=client,
        calibrator=calibrator,
        threshold=threshold,
        constrain=constrain,
        timeout=timeout,
        max_tokens=max_tokens,
        seed=seed,
        max_chars=MAX_CHARS if max_chars is None else max_chars,
    )

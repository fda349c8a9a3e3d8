"""RapidOCR as a second reader of scanned pages, cross-checking Tesseract word by word.

Tesseract's mistakes repeat when Tesseract reads a page twice; RapidOCR (PP-OCR detection and
recognition models run by onnxruntime, shipped inside the `rapidocr` wheel, so it works with
no network) is a different engine whose mistakes are mostly elsewhere. `cross_check_pages`
reads the pages a second time and records on each Tesseract word:

- `cross_checked`: 1 when the second reader looked at the word's line, else 0 (selective mode
  leaves confident lines alone; the other signals are then absent).
- `cross_agreement`: 1 when the second reading of the same place is the same word (compared
  case- and punctuation-insensitively), else 0.
- `cross_word_confidence`: RapidOCR's score for the word(s) it read there (its mean character
  probability; the lowest over several words), 0 when it read nothing there.
- `cross_min_char_confidence`: the lowest character probability RapidOCR gave there.
- `cross_char_similarity`: how many characters the two readings share (normalised Indel
  similarity, 0..1): character-level evidence that a disagreement is one letter or the word.
- `cross_unmatched`: 1 when RapidOCR read nothing at the word's place (only Tesseract saw it:
  Tesseract invented it, or RapidOCR missed it).
- `cross_extra_chars`: characters RapidOCR read on the line next to this word that match no
  Tesseract word (text Tesseract may have missed), given to the nearest word.
- `cross_lexicon_known` (where the readings differ, in a language with a word list; see
  `uncertain.adapters.lexicon`): 1 when RapidOCR's reading is made of known words, else 0.
  A non-word from Tesseract against a word from RapidOCR points at Tesseract's error.

Where the readings differ, RapidOCR's reading becomes an alternative. `Document.text` stays
Tesseract's reading: the second reader never rewrites the document.

Modes: `selective` (default) crops only the Tesseract lines that hold a word whose Tesseract
score (`word_confidence`) is below `line_threshold` (with `line_budget`, at most that share of
a page's lines, the weakest first) and runs them through RapidOCR's recogniser in batches;
`full` runs RapidOCR's detector and recogniser over the whole page and matches word boxes. A
page the second reader cannot read (a model that will not load, an image too large, an engine
error) keeps its Tesseract-only reading and gets a note in
`source.settings["cross_check_notes"]`; the document never fails because of the second reader.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import JsonValue
from rapidfuzz.distance import Indel

from uncertain.adapters.lexicon import Lexicon, is_known, lexicon_for
from uncertain.crosscheck import normalize_word as _normalize_word
from uncertain.crosscheck import strip_diacritics
from uncertain.document import Alternative, Block, Document, Span
from uncertain.errors import EngineError, UsageError

__all__ = [
    "CrossCheckMode",
    "DEFAULT_LINE_THRESHOLD",
    "MAX_PAGE_PIXELS",
    "OtherWord",
    "RapidOcrReader",
    "cross_check_pages",
    "match_words",
]

DEFAULT_LINE_THRESHOLD = 0.93
"""Selective mode re-reads a line when one of its words has `word_confidence` below this."""
MAX_PAGE_PIXELS = 60_000_000
"""Pages above this many pixels are not given to RapidOCR (its detector's memory grows with
the page); they keep the Tesseract-only reading, with a note."""
_INSTALL_HINT = "install it with `pip install 'uncertain-ingest[rapidocr]'`"
_MARGIN = 0.15  # of the line height, added around a line crop: glyphs overhang Tesseract's box

PixelBox = tuple[float, float, float, float]

CrossCheckMode = Literal["selective", "full"]
"""`selective` re-reads the weak lines, `full` the whole page: see the module docstring."""
_MODES: tuple[CrossCheckMode, ...] = get_args(CrossCheckMode)


def _check_mode(mode: object) -> None:
    # Checked at run time too: callers without a type checker pass any string.
    if mode not in _MODES:
        raise UsageError(f"unknown cross-check mode {mode!r}", "use 'selective' or 'full'")


@dataclass(frozen=True)
class OtherWord:
    """One word of the second reading: text, RapidOCR's scores and its box in page pixels."""

    text: str
    confidence: float
    min_char_confidence: float
    box: PixelBox


@functools.lru_cache(maxsize=1)
def rapidocr_version() -> str:
    """The installed rapidocr version (`EngineError` naming the extra when it is missing)."""
    try:
        from importlib.metadata import version

        return version("rapidocr")
    except Exception:
        raise EngineError(f"the RapidOCR second reader needs rapidocr; {_INSTALL_HINT}") from None


class RapidOcrReader:
    """Loads RapidOCR once and reads line crops or whole pages with it (thread-safe)."""

    def __init__(self, **params: Any) -> None:
        # One onnxruntime thread: on a receipt's 40 lines it spent 30% less CPU than the
        # default pool (whose idle threads spin), at the same wall time on 2 shared cores.
        self.params = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            **params,
        }
        self._engine: Any = None
        self._lock = threading.Lock()

    def engine(self) -> Any:
        """The RapidOCR engine, loaded on first use; `EngineError` when it cannot be."""
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError:
                    raise EngineError(
                        f"the RapidOCR second reader needs rapidocr and onnxruntime; "
                        f"{_INSTALL_HINT}"
                    ) from None
                try:
                    self._engine = RapidOCR(params=self.params)
                except Exception as error:
                    raise EngineError(
                        f"RapidOCR could not load its models ({type(error).__name__}: {error}); "
                        f"reinstall it: {_INSTALL_HINT}"
                    ) from None
            return self._engine

    def _recognise(self, crops: list[Any]) -> list[tuple[str, float, Any]]:
        """(line text, score, word info) for each crop, recognised in batches."""
        engine = self.engine()
        recogniser = engine._load_rec_model()  # batches of crops; __call__ takes one image
        from rapidocr.ch_ppocr_rec import TextRecInput

        output = recogniser(TextRecInput(img=crops, return_word_box=True))
        return [
            (str(text), float(score), info)
            for text, score, info in zip(
                output.txts, output.scores, output.word_results, strict=True
            )
        ]

    def read_lines(self, image: Any, boxes: Sequence[PixelBox]) -> list[list[OtherWord]]:
        """RapidOCR's words on each line box of `image` (a PIL image), boxes in page pixels."""
        import numpy as np

        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        crops: list[Any] = []
        frames: list[PixelBox] = []
        for x0, y0, x1, y1 in boxes:
            margin = max(2.0, _MARGIN * (y1 - y0))
            left, top = max(int(x0 - margin), 0), max(int(y0 - margin), 0)
            right, bottom = min(int(x1 + margin) + 1, width), min(int(y1 + margin) + 1, height)
            if right - left < 2 or bottom - top < 2:
                right, bottom = min(left + 2, width), min(top + 2, height)
            crops.append(np.ascontiguousarray(rgb[top:bottom, left:right]))
            frames.append((float(left), float(top), float(right), float(bottom)))
        if not crops:
            return []
        results = self._recognise(crops)
        return [
            _line_words(text, score, info, frame)
            for (text, score, info), frame in zip(results, frames, strict=True)
        ]

    def read_page(self, image: Any) -> list[OtherWord]:
        """RapidOCR's words over the whole page (detection, then recognition)."""
        import numpy as np

        if image.width * image.height > MAX_PAGE_PIXELS:
            raise EngineError(
                f"the page is too large for the second reader ({image.width}x{image.height} "
                f"pixels, at most {MAX_PAGE_PIXELS:,})"
            )
        engine = self.engine()
        result = engine(np.asarray(image.convert("RGB")), return_word_box=True)
        words: list[OtherWord] = []
        if result.txts is None:
            return words
        for line in result.word_results or ():
            for text, score, points in line:
                if not str(text).strip() or points is None:
                    continue
                xs = [float(p[0]) for p in points]
                ys = [float(p[1]) for p in points]
                box = (min(xs), min(ys), max(xs), max(ys))
                words.append(OtherWord(str(text), float(score), float(score), box))
        return words


def _line_words(text: str, score: float, info: Any, frame: PixelBox) -> list[OtherWord]:
    """Split one recognised line into words, placing each by its CTC columns in the crop."""
    left, top, right, bottom = frame
    words: list[OtherWord] = []
    chars = getattr(info, "words", None) or []
    columns = getattr(info, "word_cols", None) or []
    confs = list(getattr(info, "confs", None) or [])
    steps = float(getattr(info, "line_txt_len", 0.0) or 0.0)
    if not chars or steps <= 0 or len(columns) != len(chars):
        # No character layout (an empty or odd result): one word per whitespace token,
        # spread evenly over the crop.
        tokens = text.split()
        for i, token in enumerate(tokens):
            share = (right - left) / max(len(tokens), 1)
            box = (left + i * share, top, left + (i + 1) * share, bottom)
            words.append(OtherWord(token, score, score, box))
        return words
    scale = (right - left) / steps
    position = 0
    for letters, cols in zip(chars, columns, strict=True):
        word_confs = confs[position : position + len(letters)] or [score]
        position += len(letters)
        token = "".join(letters)
        if not token.strip() or not cols:
            continue
        x0 = left + min(cols) * scale
        x1 = left + (max(cols) + 1) * scale
        words.append(
            OtherWord(
                token,
                float(sum(word_confs) / len(word_confs)),
                float(min(word_confs)),
                (x0, top, x1, bottom),
            )
        )
    return words


# -- matching ----------------------------------------------------------------------------


def normalize_word(text: str) -> str:
    """`uncertain.crosscheck.normalize_word` without accents: RapidOCR's recogniser (trained
    mostly on Chinese and English) often adds or drops diacritics that Tesseract and the page
    do not have ("màn" for "man"), which is no sign that the word is wrong."""
    return strip_diacritics(_normalize_word(text))


def _horizontal_cover(a: PixelBox, b: PixelBox) -> float:
    """Share of the narrower box's width that the two boxes share, 0 when apart vertically."""
    if min(a[3], b[3]) - max(a[1], b[1]) <= 0.3 * min(a[3] - a[1], b[3] - b[1]):
        return 0.0
    shared = min(a[2], b[2]) - max(a[0], b[0])
    narrow = min(a[2] - a[0], b[2] - b[0])
    return shared / narrow if shared > 0 and narrow > 0 else 0.0


@dataclass
class _Match:
    others: list[OtherWord] = field(default_factory=list)
    extra_chars: int = 0


def match_words(ours: Sequence[PixelBox], others: Sequence[OtherWord]) -> list[_Match]:
    """For each of our word boxes, the other reading's words at its place.

    Each other word goes to the one of our words it overlaps most (boxes sharing at least
    half of the narrower width, on the same line); so a word the other engine split is
    matched to all its pieces, and words it merged are matched by each of ours. Other words
    that overlap none of ours count as extra characters of the nearest word on their line.
    """
    matches = [_Match() for _ in ours]
    for other in others:
        best, best_cover = -1, 0.5
        for index, box in enumerate(ours):
            cover = _horizontal_cover(box, other.box)
            if cover > best_cover or (cover == best_cover and best < 0 and cover > 0.5):
                best, best_cover = index, cover
        if best >= 0:
            matches[best].others.append(other)
            # An other word spanning several of ours (merged words) also covers the others.
            for index, box in enumerate(ours):
                if (
                    index != best
                    and _horizontal_cover(box, other.box) > 0.5
                    and other not in matches[index].others
                ):
                    matches[index].others.append(other)
            continue
        nearest = _nearest(ours, other.box)
        if nearest is not None:
            matches[nearest].extra_chars += len(normalize_word(other.text))
    for match in matches:
        match.others.sort(key=lambda w: w.box[0])
    return matches


def _word_signals(
    spans: Sequence[Span], others: Sequence[OtherWord], lexicon: Lexicon | None = None
) -> list[tuple[dict[str, float], Alternative | None]]:
    """Signals for our words of one line (or page) against the other reading's words."""
    matches = match_words([_box(s) for s in spans], others)
    results = []
    for index, (span, match) in enumerate(zip(spans, matches, strict=True)):
        group = None
        shared = [
            j
            for j, other in enumerate(matches)
            if j != index and any(w in other.others for w in match.others)
        ]
        if shared:
            members = sorted([index, *shared], key=lambda j: _box(spans[j])[0])
            group = "".join(normalize_word(spans[j].text) for j in members)
            if group != normalize_word(" ".join(w.text for w in match.others)):
                group = None
        results.append(_signals(span, match, group, lexicon))
    return results


def _nearest(ours: Sequence[PixelBox], box: PixelBox) -> int | None:
    centre_y = (box[1] + box[3]) / 2
    best: int | None = None
    best_distance = float("inf")
    for index, own in enumerate(ours):
        if not own[1] - (own[3] - own[1]) <= centre_y <= own[3] + (own[3] - own[1]):
            continue  # not on the same line
        distance = max(own[0] - box[2], box[0] - own[2], 0.0)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def _signals(
    span: Span, match: _Match, group: str | None = None, lexicon: Lexicon | None = None
) -> tuple[dict[str, float], Alternative | None]:
    """Signals for one word; `group` is our words' joined text where the other reading
    merged several of ours into one (they agree when the joined texts are equal); `lexicon`
    the document language's word list, if it has one."""
    signals = dict(span.signals)
    signals["cross_checked"] = 1.0
    ours = normalize_word(span.text) if group is None else group
    if not match.others:
        signals.update(
            cross_agreement=0.0,
            cross_word_confidence=0.0,
            cross_min_char_confidence=0.0,
            cross_char_similarity=0.0,
            cross_unmatched=1.0,
        )
    else:
        reading = " ".join(w.text for w in match.others)
        theirs = normalize_word(reading)
        signals.update(
            cross_agreement=1.0 if theirs == ours else 0.0,
            cross_word_confidence=min(w.confidence for w in match.others),
            cross_min_char_confidence=min(w.min_char_confidence for w in match.others),
            cross_char_similarity=float(Indel.normalized_similarity(ours, theirs)),
            cross_unmatched=0.0,
        )
    signals["cross_extra_chars"] = float(match.extra_chars)
    alternative = None
    if match.others and signals["cross_agreement"] == 0.0:
        reading = " ".join(w.text for w in match.others)
        alternative = Alternative(
            text=reading, confidence=min(max(signals["cross_word_confidence"], 0.0), 1.0)
        )
        known = is_known(lexicon, reading) if lexicon is not None else None
        if known is not None:
            signals["cross_lexicon_known"] = 1.0 if known else 0.0
    return signals, alternative


# -- documents ---------------------------------------------------------------------------


def _lines_of_page(doc: Document, page: int) -> list[Block]:
    return [b for b in doc.blocks if b.kind == "line" and b.box is not None and b.box.page == page]


def selected_lines(
    doc: Document, lines: Sequence[Block], threshold: float, budget: float | None = None
) -> list[Block]:
    """The lines selective mode re-reads: those holding a word scored below `threshold`; with
    `budget` (a share of the page's lines, 0..1), at most that many, the weakest first."""
    weakest: list[tuple[float, int]] = []
    for index, line in enumerate(lines):
        scores = [doc.span(i).signals.get("word_confidence", 1.0) for i in line.span_ids]
        if scores and min(scores) < threshold:
            weakest.append((min(scores), index))
    if budget is not None:
        weakest = sorted(weakest)[: math.ceil(budget * len(lines))]
    return [lines[index] for _, index in sorted(weakest, key=lambda item: item[1])]


def cross_check_pages(
    doc: Document,
    pages: Iterable[tuple[int, Any]],
    reader: RapidOcrReader,
    *,
    mode: CrossCheckMode = "selective",
    line_threshold: float = DEFAULT_LINE_THRESHOLD,
    line_budget: float | None = None,
) -> Document:
    """`doc` (Tesseract's unfused reading) with RapidOCR's evidence from the page images.

    `pages` yields (page index, PIL image) for the OCRed pages; digital pages are skipped.
    See the module docstring for the signals and modes.
    """
    _check_mode(mode)
    language = doc.source.settings.get("language")
    lexicon = lexicon_for(language if isinstance(language, str) else (doc.source.model or ""))
    by_id: dict[int, tuple[dict[str, float], Alternative | None]] = {}
    notes: list[str] = []
    lines_read = lines_total = 0
    for index, image in pages:
        if index >= len(doc.pages) or doc.pages[index].digital or doc.pages[index].error:
            continue
        lines = _lines_of_page(doc, index)
        lines_total += len(lines)
        try:
            if mode == "full":
                others = reader.read_page(image)
                spans = [doc.span(i) for line in lines for i in line.span_ids]
                for span, found in zip(spans, _word_signals(spans, others, lexicon), strict=True):
                    by_id[span.id] = found
                lines_read += len(lines)
                continue
            chosen = selected_lines(doc, lines, line_threshold, line_budget)
            if not chosen:
                continue
            line_boxes = [_line_box(line) for line in chosen]
            readings = reader.read_lines(image, line_boxes)
        except EngineError as error:
            notes.append(f"page {index + 1}: {error}; Tesseract-only reading")
            continue
        except Exception as error:  # the second reader must never fail the document
            notes.append(
                f"page {index + 1}: RapidOCR failed ({type(error).__name__}: {error}); "
                "Tesseract-only reading"
            )
            continue
        lines_read += len(chosen)
        for line, others in zip(chosen, readings, strict=True):
            spans = [doc.span(i) for i in line.span_ids]
            for span, found in zip(spans, _word_signals(spans, others, lexicon), strict=True):
                by_id[span.id] = found
    spans_out = []
    for span in doc.spans:
        if "digital" in span.signals:
            spans_out.append(span)
            continue
        checked = by_id.get(span.id)
        if checked is None:
            signals = dict(span.signals)
            signals["cross_checked"] = 0.0
            spans_out.append(span.model_copy(update={"signals": signals}))
            continue
        signals, alternative = checked
        alternatives = list(span.alternatives)
        if alternative is not None and normalize_word(alternative.text) not in {
            normalize_word(a.text) for a in alternatives
        }:
            alternatives.insert(0, alternative)
        spans_out.append(span.model_copy(update={"signals": signals, "alternatives": alternatives}))
    settings: dict[str, JsonValue] = dict(doc.source.settings)
    settings["cross_check"] = "rapidocr"
    settings["cross_check_mode"] = mode
    if mode == "selective":
        settings["cross_check_line_threshold"] = line_threshold
        if line_budget is not None:
            settings["cross_check_line_budget"] = line_budget
    settings["cross_check_lines"] = [lines_read, lines_total]
    try:
        settings["cross_check_engine_version"] = rapidocr_version()
    except EngineError:
        settings["cross_check_engine_version"] = None
    if notes:
        settings["cross_check_notes"] = list(notes)
    source = doc.source.model_copy(update={"settings": settings})
    return doc.model_copy(update={"spans": spans_out, "source": source})


def _box(span: Span) -> PixelBox:
    box = span.box
    if box is None:
        return (0.0, 0.0, 0.0, 0.0)
    return (box.x0, box.y0, box.x1, box.y1)


def _line_box(line: Block) -> PixelBox:
    assert line.box is not None
    return (line.box.x0, line.box.y0, line.box.x1, line.box.y1)


def _page_images(source: Any, doc: Document) -> Iterable[tuple[int, Any]]:
    """(page index, PIL image) of each OCRed page of `source`, decoded again one at a time."""
    import io

    from PIL import Image

    from uncertain.adapters.inputs import open_pages

    dpi = doc.source.settings.get("dpi")
    opened = open_pages(source, float(dpi) if isinstance(dpi, (int, float)) else 300.0, None, True)
    try:
        for job in opened.jobs:
            if job.image_bytes is None:
                continue  # a digital (text layer) or failed page: nothing to read again
            with Image.open(io.BytesIO(job.image_bytes)) as image:
                image.load()
                yield job.index, image
    finally:
        if opened.closer is not None:
            opened.closer()


def cross_check_source(
    doc: Document,
    source: Any,
    reader: RapidOcrReader,
    *,
    mode: CrossCheckMode = "selective",
    line_threshold: float = DEFAULT_LINE_THRESHOLD,
    line_budget: float | None = None,
) -> Document:
    """`cross_check_pages` over the pages of `source` (what `doc` was read from).

    Whatever goes wrong in the second reading (the extra missing, models that will not load,
    a page that cannot be decoded again) leaves Tesseract's reading with a note in
    `source.settings["cross_check_notes"]`.
    """
    _check_mode(mode)
    try:
        reader.engine()
        return cross_check_pages(
            doc,
            _page_images(source, doc),
            reader,
            mode=mode,
            line_threshold=line_threshold,
            line_budget=line_budget,
        )
    except Exception as error:  # the second reader must never fail the document
        detail = (
            str(error) if isinstance(error, EngineError) else f"{type(error).__name__}: {error}"
        )
        settings: dict[str, JsonValue] = dict(doc.source.settings)
        settings["cross_check"] = "rapidocr"
        settings["cross_check_mode"] = mode
        settings["cross_check_notes"] = [f"all pages: {detail}; Tesseract-only reading"]
        source_info = doc.source.model_copy(update={"settings": settings})
        return doc.model_copy(update={"source": source_info})

"""The real OCR corpus (forms, receipts, books, lines), its references, and cached engine output.

Shared by `bench/fit_ocr_calibration.py` and `bench/ocr_confidence.py`. Pages come from
`shared/corpus/ocr/{fit,eval}/{forms,receipts,book,lines}/` and `shared/realdata/ocr/`
(`fit/` pooled into fitting; `eval/` reported as `realdata`, scans that are not in the corpus).
Engines run once per page: Tesseract's unfused document and RapidOCR's reading of every
Tesseract line (and, for `--full` pages, of the whole page) are cached as JSON under `--cache`,
so refitting and re-scoring never decode a page twice. Selective mode at any threshold is
replayed from the every-line cache (`CachedReader`).

FUNSD forms are scored by word boxes (`NAME.json`: its `NAME.txt` is not in reading order),
SROIE receipts by line boxes (`NAME.csv`; columns make their text order differ from
Tesseract's), case-insensitively (SROIE's ground truth is upper case); books and lines by text
alignment with words hyphenated across line ends joined.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common
from _common import SHARED

from uncertain.adapters.rapidocr import (
    DEFAULT_LINE_THRESHOLD,
    OtherWord,
    PixelBox,
    RapidOcrReader,
    cross_check_pages,
)
from uncertain.document import Document
from uncertain.evaluate import BoxReference, find_box_reference

CORPUS = _common.CORPUS / "ocr"
REALDATA = _common.REALDATA / "ocr"
DEFAULT_CACHE = _common.CACHE / "ocr"
KINDS = ("forms", "receipts", "book", "lines", "realdata")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
GERMAN = ("dta_", "gt4histocr", "kant")


@dataclass(frozen=True)
class Item:
    """One page or line image with its reference."""

    path: Path
    split: str
    kind: str

    @property
    def key(self) -> str:
        return str(self.path.relative_to(SHARED)).replace("/", "__")

    @property
    def language(self) -> str:
        return "deu" if any(g in self.path.name for g in GERMAN) else "eng"

    def reference(self) -> str | BoxReference:
        found = find_box_reference(self.path)
        if found is not None:
            return found
        return self.path.with_suffix(".txt").read_text(encoding="utf-8")


def items(split: str, kinds: Sequence[str] = KINDS) -> list[Item]:
    """The pages of one split (`fit` or `eval`), in a fixed order."""
    found: list[Item] = []
    for kind in ("forms", "receipts", "book", "lines"):
        if kind not in kinds:
            continue
        for path in sorted((CORPUS / split / kind).glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.with_suffix(".txt").is_file():
                found.append(Item(path, split, kind))
    if "realdata" in kinds:
        for path in sorted((REALDATA / split).glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.with_suffix(".txt").is_file():
                # Fit: lines with the lines; whole pages (UNLV pages whose zone files set the
                # reference's order, the Kant pages) as a kind of their own.
                kind = "realdata" if split == "eval" or "line_" not in path.name else "lines"
                found.append(Item(path, split, kind))
    return found


def tesseract_doc(item: Item, cache: Path) -> Document:
    """Tesseract's unfused document for `item` (cached), with the lexicon signals the adapter
    adds to a fresh read (documents cached before the adapter added them lack them)."""
    from uncertain.adapters.lexicon import add_lexicon_signals
    from uncertain.adapters.tesseract import TesseractAdapter

    target = cache / "tess" / f"{item.key}.json"
    if target.is_file():
        doc = Document.model_validate_json(target.read_text())
    else:
        doc = TesseractAdapter(workers=1).read(item.path, language=item.language)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(doc.model_dump_json())
    return add_lexicon_signals(doc, item.language)


def _box_key(box: Sequence[float]) -> str:
    return ",".join(f"{v:.1f}" for v in box)


def _words(raw: list[Any]) -> list[OtherWord]:
    return [OtherWord(t, c, m, (b[0], b[1], b[2], b[3])) for t, c, m, b in raw]


class CachedReader(RapidOcrReader):
    """Replays RapidOCR readings recorded for one page (every line, and the full page)."""

    def __init__(self, lines: dict[str, list[Any]], page: list[Any] | None) -> None:
        super().__init__()
        self.lines = lines
        self.page = page

    def engine(self) -> Any:
        return None

    def read_lines(self, image: Any, boxes: Sequence[PixelBox]) -> list[list[OtherWord]]:
        return [_words(self.lines.get(_box_key(b), [])) for b in boxes]

    def read_page(self, image: Any) -> list[OtherWord]:
        if self.page is None:
            raise RuntimeError("no full-page reading cached")
        return _words(self.page)


class RecordingReader(RapidOcrReader):
    """The real reader, keeping what it read so it can be cached."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, list[Any]] = {}
        self.page: list[Any] | None = None

    def read_lines(self, image: Any, boxes: Sequence[PixelBox]) -> list[list[OtherWord]]:
        found = super().read_lines(image, boxes)
        for box, words in zip(boxes, found, strict=True):
            self.lines[_box_key(box)] = [
                [w.text, w.confidence, w.min_char_confidence, list(w.box)] for w in words
            ]
        return found

    def read_page(self, image: Any) -> list[OtherWord]:
        found = super().read_page(image)
        self.page = [[w.text, w.confidence, w.min_char_confidence, list(w.box)] for w in found]
        return found


def _images(item: Item) -> Iterator[tuple[int, Any]]:
    from uncertain.adapters.images import iter_image_pages

    for index, page in enumerate(iter_image_pages(item.path)):
        yield index, page.image


def rapid_readings(item: Item, cache: Path, mode: str = "lines") -> dict[str, Any] | None:
    """RapidOCR's cached readings of `item` (`lines`: every Tesseract line; `full`: the page);
    read and cached now when `cache/rapid_<mode>/` lacks them and `run` is allowed."""
    target = cache / f"rapid_{mode}" / f"{item.key}.json"
    if target.is_file():
        try:
            data: dict[str, Any] = json.loads(target.read_text())
        except ValueError:
            return None  # being written by a reader running beside this one
        return data
    return None


def record_readings(item: Item, cache: Path, mode: str = "lines") -> dict[str, Any]:
    """Run RapidOCR over `item` (every line, or the full page) and cache what it read."""
    doc = tesseract_doc(item, cache)
    reader = RecordingReader()
    started = time.process_time()
    out = cross_check_pages(
        doc,
        _images(item),
        reader,
        mode="full" if mode == "full" else "selective",
        line_threshold=1.01,
    )
    data = {
        "lines": reader.lines,
        "page": reader.page,
        "cpu": time.process_time() - started,
        "notes": out.source.settings.get("cross_check_notes"),
    }
    target = cache / f"rapid_{mode}" / f"{item.key}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return data


def cross_checked(
    doc: Document,
    readings: dict[str, Any],
    *,
    mode: str = "selective",
    line_threshold: float = DEFAULT_LINE_THRESHOLD,
    line_budget: float | None = None,
) -> Document:
    """`doc` with the second reader's evidence, replayed from cached readings."""
    reader = CachedReader(readings.get("lines") or {}, readings.get("page"))
    pages = [(index, None) for index in range(len(doc.pages))]
    return cross_check_pages(
        doc, pages, reader, mode=mode, line_threshold=line_threshold, line_budget=line_budget
    )

"""PDF pages through pypdfium2: text-layer pages as words with pixel boxes, scans as images.

A page whose text layer holds any visible character is digital: its words come from the text
layer, their boxes from the layer's character boxes converted to pixels at the page's render
resolution, so they line up with what an OCRed page of the same document would give. A page
without a text layer is rendered (grayscale, 300 DPI by default) and handed to OCR. Pages are
opened, rendered and released one at a time, so memory does not grow with the page count.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uncertain.adapters.hocr import HocrLine, HocrPage, HocrParagraph, HocrWord, PixelBox
from uncertain.errors import EngineError, InputError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PdfPage", "iter_pdf_pages", "open_pdf", "pdf_page_count", "text_layer"]

_POINTS_PER_INCH = 72.0
_REOPEN_EVERY = 16


@dataclass
class PdfPage:
    """One page of a PDF: its pixel size at `dpi`, and either its text layer or its image."""

    index: int
    width: int
    height: int
    dpi: float
    text: HocrPage | None = None
    """The text layer as words with pixel boxes (digital page), or None (scanned page)."""
    image: Image.Image | None = None
    """The page rendered in grayscale at `dpi` (scanned page), or None (digital page)."""
    error: str | None = None


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError as error:
        raise EngineError(
            "pypdfium2 is missing; install it with `pip install pypdfium2`"
        ) from error
    return pypdfium2


def open_pdf(source: Path | bytes, password: str | None = None) -> Any:
    """Open a PDF (`pypdfium2.PdfDocument`); `InputError` when corrupt, encrypted or empty."""
    pdfium = _pdfium()
    name = source if isinstance(source, Path) else None
    if isinstance(source, Path) and not source.is_file():
        raise InputError(source, "no such file", "check the path")
    raw = pdfium.raw
    secret = None if password is None else (password + "\x00").encode("utf-8")
    # Loaded through the raw API: pypdfium2 reports a document without pages through
    # FPDF_GetLastError, which then still holds the previous failure's code.
    if isinstance(source, Path):
        handle = raw.FPDF_LoadDocument((str(source) + "\x00").encode("utf-8"), secret)
        keep: tuple[Any, ...] = ()
    else:
        buffer = ctypes.create_string_buffer(bytes(source), len(source))
        handle = raw.FPDF_LoadMemDocument64(buffer, len(source), secret)
        keep = (buffer,)
    if not handle:
        code = raw.FPDF_GetLastError()
        if code == raw.FPDF_ERR_PASSWORD:
            raise InputError(
                name,
                "the PDF is encrypted and needs a password"
                if password is None
                else "the PDF password is wrong",
                "pass password=... or decrypt the file (e.g. `qpdf --decrypt`)",
            )
        if code == raw.FPDF_ERR_SECURITY:
            raise InputError(name, "the PDF uses an unsupported security handler")
        reason = {raw.FPDF_ERR_FILE: "cannot be read", raw.FPDF_ERR_FORMAT: "corrupt or truncated"}
        raise InputError(
            name,
            f"not a readable PDF ({reason.get(code, f'pdfium error {code}')})",
            "repair or re-export the file",
        )
    if raw.FPDF_GetPageCount(handle) < 1:
        raw.FPDF_CloseDocument(handle)
        raise InputError(name, "the PDF has no pages", "pass a PDF with at least one page")
    document = pdfium.PdfDocument(handle)
    document._data_holder += list(keep)  # the bytes must outlive the document
    return document


def pdf_page_count(pdf: Any) -> int:
    """Number of pages in an open PDF."""
    return len(pdf)


def _device_box(
    page: Any, left: float, bottom: float, right: float, top: float, size: tuple[int, int]
) -> PixelBox:
    """A box in PDF canvas units as pixels on the page rendered at `size` (rotation aware)."""
    raw = _pdfium().raw
    xs: list[int] = []
    ys: list[int] = []
    for x, y in ((left, bottom), (right, top), (left, top), (right, bottom)):
        device_x, device_y = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, device_x, device_y)
        xs.append(device_x.value)
        ys.append(device_y.value)
    width, height = size
    x0, x1 = (min(max(float(v), 0.0), float(width)) for v in (min(xs), max(xs)))
    y0, y1 = (min(max(float(v), 0.0), float(height)) for v in (min(ys), max(ys)))
    return (x0, y0, x1, y1)


def _union(boxes: list[PixelBox]) -> PixelBox | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def text_layer(page: Any, index: int, dpi: float, size: tuple[int, int]) -> HocrPage | None:
    """The page's text layer as paragraphs, lines and words with pixel boxes, or None if empty.

    Lines follow the line breaks of the text layer; an empty line starts a new paragraph.
    """
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return None
        text = textpage.get_text_range(0, count)
        if len(text) != count:
            # Excluded or inserted characters shift the indices; read them one by one.
            text = "".join((textpage.get_text_range(i, 1) or " ")[:1] for i in range(count))
        if not text.strip():
            return None
        result = HocrPage(index, size[0], size[1], dpi)
        paragraph = HocrParagraph()
        line = HocrLine()
        word_chars: list[str] = []
        word_boxes: list[PixelBox] = []
        blank_lines = 0

        def end_word() -> None:
            if word_chars:
                line.words.append(HocrWord("".join(word_chars), _union(word_boxes)))
                word_chars.clear()
                word_boxes.clear()

        def end_line() -> None:
            nonlocal line, paragraph, blank_lines
            end_word()
            if line.words:
                if blank_lines and paragraph.lines:
                    result.paragraphs.append(paragraph)
                    paragraph = HocrParagraph()
                line.box = _union([w.box for w in line.words if w.box is not None])
                paragraph.lines.append(line)
                line = HocrLine()
                blank_lines = 0
            else:
                blank_lines += 1

        for position, char in enumerate(text):
            if char in "\r\n":
                if char == "\n" or not text.startswith("\n", position + 1):
                    end_line()
                continue
            if char.isspace() or char == "\x00" or char == "\ufffe":
                end_word()
                continue
            word_chars.append(char)
            try:
                left, bottom, right, top = textpage.get_charbox(position)
            except _pdfium().PdfiumError:
                continue
            if right > left or top > bottom:
                word_boxes.append(_device_box(page, left, bottom, right, top, size))
        end_line()
        if paragraph.lines:
            result.paragraphs.append(paragraph)
        for each in result.paragraphs:
            each.box = _union([ln.box for ln in each.lines if ln.box is not None])
        return result if result.paragraphs else None
    finally:
        textpage.close()


def iter_pdf_pages(
    pdf: Any,
    path: str | Path | None,
    dpi: float = 300.0,
    *,
    use_text_layer: bool = True,
    reopen: Callable[[], Any] | None = None,
    on_reopen: Callable[[Any], None] | None = None,
) -> Iterator[PdfPage]:
    """Each page of an open PDF in order: digital pages as text, scanned pages rendered.

    Only one page is open at a time. A page that cannot be read or rendered gives a
    `PdfPage` with `error` set; the others go on. pdfium keeps per-document caches that
    grow with every page read; with `reopen` (a function that opens the same PDF again) the
    document is closed and reopened every `_REOPEN_EVERY` pages so memory stays flat, and
    `on_reopen` is told about each new document (so its owner can close the last one).
    """
    from PIL import Image as PILImage

    pdfium = _pdfium()
    limit = PILImage.MAX_IMAGE_PIXELS
    for index in range(len(pdf)):
        if reopen is not None and index and index % _REOPEN_EVERY == 0:
            pdf.close()
            pdf = reopen()
            if on_reopen is not None:
                on_reopen(pdf)
        try:
            page = pdf[index]
        except pdfium.PdfiumError as error:
            yield PdfPage(index, 0, 0, dpi, error=f"cannot open page {index + 1} ({error})")
            continue
        try:
            width_pt, height_pt = page.get_size()
            page_dpi = float(dpi)
            if limit is not None and width_pt * height_pt * (page_dpi / 72.0) ** 2 > limit:
                # A poster-sized page: render it at the resolution that fits the pixel limit.
                page_dpi = math.floor(72.0 * math.sqrt(limit / (width_pt * height_pt)))
            # A hair under the exact scale, so that 792 pt at 300 DPI is 3300 pixels, not the
            # 3301 that floating-point error and pypdfium2's ceil() would make it.
            scale = page_dpi / _POINTS_PER_INCH - 1e-9
            size = (max(math.ceil(width_pt * scale), 1), max(math.ceil(height_pt * scale), 1))
            layer = text_layer(page, index, page_dpi, size) if use_text_layer else None
            if layer is not None:
                yield PdfPage(index, size[0], size[1], page_dpi, text=layer)
                continue
            if pdfium.raw.FPDFPage_CountObjects(page.raw) == 0:
                # Nothing to render, let alone read: say so instead of OCRing a white page.
                yield PdfPage(
                    index,
                    size[0],
                    size[1],
                    page_dpi,
                    error=f"page {index + 1} has no text, image or drawing on it "
                    "(blank, or its content is missing from the file)",
                )
                continue
            # limit_image_cache: without it pdfium keeps every decoded scan until the document
            # closes, and memory grows with the page count.
            bitmap = page.render(scale=scale, grayscale=True, limit_image_cache=True)
            try:
                image = bitmap.to_pil().copy()  # own the pixels, so the bitmap can go
            finally:
                bitmap.close()
            yield PdfPage(index, image.width, image.height, page_dpi, image=image)
        except (pdfium.PdfiumError, ValueError, OSError, MemoryError) as error:
            yield PdfPage(
                index, 0, 0, dpi, error=f"cannot read page {index + 1} of {path} ({error})"
            )
        finally:
            page.close()

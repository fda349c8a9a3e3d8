"""Opening an OCR input as pages to read: an image file or its bytes (every page of a TIFF),
a PIL image, a numpy array, or a PDF (text-layer pages as words, scanned pages rendered).

Each page becomes a `PageJob`: its pixel size and resolution, and either its image encoded for
the OCR engine, its text layer, or the reason it cannot be read. Pages are produced lazily, one
at a time, so memory does not grow with the page count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uncertain._files import sha256_bytes, sha256_file
from uncertain.adapters.hocr import HocrPage
from uncertain.errors import InputError

__all__ = ["OpenedInput", "PageJob", "encode_page", "open_pages"]


@dataclass
class PageJob:
    """One page to read: `image_bytes` (the page encoded by `encode_page`), `text` (a PDF
    page's text layer) or `error` (why the page cannot be read); at most one is set."""

    index: int
    width: int
    height: int
    dpi: float | None
    image_bytes: bytes | None = None
    text: HocrPage | None = None
    error: str | None = None


@dataclass
class OpenedInput:
    """An opened input: its pages as jobs drawn one at a time, what its `Source` records, and
    `closer`, to call when done (it closes an open PDF)."""

    path: Path | None
    jobs: Iterator[PageJob]
    media_type: str
    page_count: int
    sha256: str | None
    closer: Callable[[], None] | None = None


def encode_page(image: Any) -> bytes:
    """The image as PNM (PGM/PBM): the cheapest format to write that leptonica reads."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    return buffer.getvalue()


def _image_job(index: int, image: Any, dpi: float | None) -> PageJob:
    return PageJob(index, image.width, image.height, dpi, image_bytes=encode_page(image))


def open_pages(
    source: Any, dpi: float, password: str | None = None, use_text_layer: bool = True
) -> OpenedInput:
    """Open an image or PDF (path, bytes, PIL image or numpy array) as pages to read.

    Scanned PDF pages are rendered at `dpi`; `password` opens an encrypted PDF; with
    `use_text_layer` False, digital PDF pages are rendered too. `InputError` when the input
    cannot be read (missing, empty, corrupt, not an image or PDF), `TypeError` when `source`
    is none of those types.
    """
    from uncertain.adapters import sniff
    from uncertain.adapters.images import (
        array_to_image,
        image_info,
        iter_image_pages,
        prepare_image,
    )

    if isinstance(source, (str, Path)):
        path = Path(source)
        kind = sniff(path)
        if kind.kind == "pdf":
            return _open_pdf(path, path, dpi, password, use_text_layer)
        if kind.kind != "image":
            raise InputError(
                path, f"is {kind.kind} ({kind.media_type}), not an image or PDF", "use whisper"
            )
        media_type, count = image_info(path)
        pages = iter_image_pages(path)
        jobs = (_image_job(i, page.image, page.dpi) for i, page in enumerate(pages))
        return OpenedInput(path, jobs, kind.media_type or media_type, count, sha256_file(path))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        kind = sniff(data)
        if kind.kind == "pdf":
            return _open_pdf(data, None, dpi, password, use_text_layer)
        if kind.kind != "image":
            raise InputError(None, f"the bytes are {kind.kind}, not an image or PDF")
        media_type, count = image_info(data)
        pages = iter_image_pages(data)
        jobs = (_image_job(i, page.image, page.dpi) for i, page in enumerate(pages))
        return OpenedInput(None, jobs, kind.media_type or media_type, count, sha256_bytes(data))
    from PIL import Image

    if isinstance(source, Image.Image):
        prepared = prepare_image(source)
        from uncertain.adapters.images import media_type_of

        return _single_image(prepared, media_type_of(source.format), None, source)
    if type(source).__module__ == "numpy" and hasattr(source, "shape"):
        image = array_to_image(source)
        return _single_image(image, "image/x-raw-array", None)
    # A caller's argument of the wrong type, not a bad input file: so not an InputError.
    raise TypeError(
        f"cannot read a {type(source).__name__}; pass a path, bytes, a PIL image or a numpy array"
    )


def _single_image(
    image: Any, media_type: str, digest: str | None, original: Any = None
) -> OpenedInput:
    from uncertain.adapters.images import dpi_of, prepare_image

    dpi = dpi_of(original if original is not None else image)
    with contextlib.suppress(AttributeError, ValueError):
        image.seek(0)
    prepared = prepare_image(image) if image.mode not in ("L", "1") else image
    if digest is None:
        digest = sha256_bytes(prepared.tobytes())
    jobs = iter([_image_job(0, prepared, dpi)])
    return OpenedInput(None, jobs, media_type, 1, digest)


def _open_pdf(
    data: Path | bytes, path: Path | None, dpi: float, password: str | None, use_text_layer: bool
) -> OpenedInput:
    from uncertain.adapters.pdf import iter_pdf_pages, open_pdf

    current = [open_pdf(data, password)]
    count = len(current[0])

    def replace(document: Any) -> None:
        current[0] = document

    def jobs() -> Iterator[PageJob]:
        pages = iter_pdf_pages(
            current[0],
            path,
            dpi,
            use_text_layer=use_text_layer,
            reopen=lambda: open_pdf(data, password),
            on_reopen=replace,
        )
        for page in pages:
            if page.error is not None:
                yield PageJob(page.index, page.width, page.height, page.dpi, error=page.error)
            elif page.text is not None:
                yield PageJob(page.index, page.width, page.height, page.dpi, text=page.text)
            else:
                assert page.image is not None
                job = _image_job(page.index, page.image, page.dpi)
                page.image = None  # release the pixels; the encoded copy is all that is kept
                yield job

    def close() -> None:
        current[0].close()

    digest = sha256_file(path) if path is not None else sha256_bytes(data)  # type: ignore[arg-type]
    return OpenedInput(path, jobs(), "application/pdf", count, digest, closer=close)

"""Opening OCR inputs as pages: image files and bytes, PIL images, arrays and PDFs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uncertain.adapters.inputs import encode_page, open_pages
from uncertain.errors import InputError


def test_image_file_gives_one_encoded_page(samples_dir: Path) -> None:
    path = samples_dir / "clean_page.png"
    opened = open_pages(path, 300)
    jobs = list(opened.jobs)
    assert opened.path == path and opened.media_type == "image/png" and opened.page_count == 1
    assert opened.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert opened.closer is None
    [job] = jobs
    assert job.index == 0 and job.text is None and job.error is None
    with Image.open(path) as image:
        assert (job.width, job.height) == image.size
    assert job.image_bytes is not None and job.image_bytes.startswith(b"P5")  # grayscale PNM


def test_pdf_gives_text_layer_pages_as_text_and_scans_as_images(samples_dir: Path) -> None:
    opened = open_pages(samples_dir / "two_pages.pdf", 300)
    try:
        digital, scanned = list(opened.jobs)
    finally:
        assert opened.closer is not None
        opened.closer()
    assert opened.media_type == "application/pdf" and opened.page_count == 2
    assert digital.text is not None and digital.image_bytes is None
    assert scanned.text is None and scanned.image_bytes is not None
    assert (digital.width, digital.height, digital.dpi) == (2550, 3300, 300.0)


def test_pdf_text_layer_can_be_ignored(samples_dir: Path) -> None:
    opened = open_pages(samples_dir / "two_pages.pdf", 150, use_text_layer=False)
    try:
        jobs = list(opened.jobs)
    finally:
        assert opened.closer is not None
        opened.closer()
    assert [(j.text, j.width, j.dpi) for j in jobs] == [(None, 1275, 150.0)] * 2
    assert all(j.image_bytes is not None for j in jobs)


def test_pil_image_and_array_give_one_page_each() -> None:
    image = Image.new("RGB", (40, 30), "white")
    from_image = open_pages(image, 300)
    from_array = open_pages(np.zeros((30, 40), dtype=np.uint8), 300)
    assert from_image.page_count == from_array.page_count == 1
    assert from_array.media_type == "image/x-raw-array" and from_array.path is None
    [job] = list(from_image.jobs)
    assert (job.width, job.height) == (40, 30)
    assert job.image_bytes == encode_page(image.convert("L"))


def test_bytes_that_are_not_an_image_or_pdf_are_refused(samples_dir: Path) -> None:
    with pytest.raises(InputError, match="not an image or PDF"):
        open_pages((samples_dir / "jfk.wav").read_bytes(), 300)


def test_an_object_of_another_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot read a dict; pass a path"):
        open_pages({}, 300)


def test_the_old_import_path_still_opens_inputs() -> None:
    from uncertain.adapters import tesseract

    assert tesseract._open_input is open_pages
    assert tesseract._encode is encode_page

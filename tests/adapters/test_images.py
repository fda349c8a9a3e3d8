"""Image loading and validation: formats, modes, arrays and every way an image can be bad."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uncertain.adapters.images import (
    array_to_image,
    image_info,
    iter_image_pages,
    prepare_image,
)
from uncertain.errors import InputError


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A few hundred bytes of PNG whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _gradient(width: int = 64, height: int = 32) -> Image.Image:
    values = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    return Image.fromarray(values, mode="L")


def test_decompression_bomb_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png())
    with pytest.raises(InputError, match="decompression-bomb") as caught:
        list(iter_image_pages(path))
    assert str(path) in str(caught.value)


def test_bomb_warning_range_is_an_error_not_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between 1x and 2x the limit Pillow only warns; uncertain refuses it all the same.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = tmp_path / "big.png"
    _gradient(40, 40).save(path)  # 1600 pixels: over the limit, under twice the limit
    with pytest.raises(InputError, match="pixel"):
        list(iter_image_pages(path))


def test_truncated_png_is_an_input_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _gradient(200, 200).save(buffer, format="PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        list(iter_image_pages(path))


def test_corrupt_image_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    with pytest.raises(InputError, match="corrupt"):
        list(iter_image_pages(path))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(iter_image_pages(tmp_path / "nothing.png"))


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF"])
def test_every_format_loads_as_grayscale(tmp_path: Path, image_format: str) -> None:
    path = tmp_path / f"page.{image_format.lower()}"
    _gradient().convert("RGB").save(path, format=image_format)
    pages = list(iter_image_pages(path))
    assert len(pages) == 1
    assert pages[0].image.mode == "L"
    assert pages[0].image.size == (64, 32)
    assert image_info(path)[0].startswith("image/")


def test_multipage_tiff_gives_every_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    first, second, third = _gradient(), _gradient(30, 20), _gradient(50, 10)
    first.save(path, save_all=True, append_images=[second, third])
    pages = list(iter_image_pages(path))
    assert [p.image.size for p in pages] == [(64, 32), (30, 20), (50, 10)]
    assert image_info(path) == ("image/tiff", 3)


def test_animated_gif_is_one_page_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    black = Image.new("L", (20, 20), 0)
    white = Image.new("L", (20, 20), 255)
    black.save(path, save_all=True, append_images=[white], duration=100, loop=0)
    pages = list(iter_image_pages(path))
    assert len(pages) == 1
    assert pages[0].image.getextrema() == (0, 0)


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent black
    image.putpixel((5, 5), (0, 0, 0, 255))
    gray = prepare_image(image)
    assert gray.mode == "L"
    assert gray.getpixel((0, 0)) == 255
    assert gray.getpixel((5, 5)) == 0


def test_sixteen_bit_image_is_scaled_to_eight_bits() -> None:
    values = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    gray = prepare_image(Image.fromarray(values))
    assert gray.mode == "L"
    assert gray.getextrema() == (0, 255)


def test_dpi_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    _gradient().save(path, dpi=(300, 300))
    assert next(iter(iter_image_pages(path))).dpi == pytest.approx(300, abs=0.1)
    plain = tmp_path / "plain.png"
    _gradient().save(plain)
    assert next(iter(iter_image_pages(plain))).dpi is None


@pytest.mark.parametrize(
    ("array", "extrema"),
    [
        (np.array([[0.0, 0.5], [1.0, 0.25]]), (0, 255)),
        (np.array([[True, False]]), (0, 255)),
        (np.zeros((4, 4, 3), dtype=np.uint8), (0, 0)),
        (np.full((4, 4, 4), 255, dtype=np.uint8), (255, 255)),
        (np.array([[0, 65535]], dtype=np.uint16), (0, 255)),
    ],
)
def test_arrays_become_grayscale_images(array: np.ndarray, extrema: tuple[int, int]) -> None:
    image = array_to_image(array)
    assert image.mode == "L"
    assert image.getextrema() == extrema


def test_array_of_the_wrong_shape_is_an_input_error() -> None:
    with pytest.raises(InputError, match="shape"):
        array_to_image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(InputError, match="no pixels"):
        array_to_image(np.zeros((0, 5)))


def test_bytes_input_is_read_like_a_file() -> None:
    buffer = io.BytesIO()
    _gradient().save(buffer, format="PNG")
    pages = list(iter_image_pages(buffer.getvalue()))
    assert pages[0].image.size == (64, 32)
    with pytest.raises(InputError, match="decompression-bomb"):
        list(iter_image_pages(bomb_png()))

"""Image loading and validation for OCR: files, PIL images and numpy arrays, one page at a time.

Every page comes out as an 8-bit grayscale (`L`) or bilevel (`1`) PIL image, upright (EXIF
orientation applied), with transparent areas on white. A multi-page TIFF gives every page; an
animated GIF or WebP gives its first frame only (one page: the frames of an animation are
not pages of a document). Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`)
is enforced as an `InputError`, never as a warning, and so is every other way an image can be
unreadable: missing, empty, truncated, corrupt.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uncertain.errors import EngineError, InputError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ImagePage",
    "array_to_image",
    "count_frames",
    "image_info",
    "iter_image_pages",
    "media_type_of",
    "prepare_image",
]

_MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "PPM": "image/x-portable-anymap",
}
_MIN_KNOWN_DPI = 70.0  # below this a stored resolution is a placeholder; Tesseract estimates


@dataclass
class ImagePage:
    """One page ready for OCR: the image and its resolution when the file states one."""

    image: Image.Image
    dpi: float | None


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow is a core dependency
        raise EngineError("Pillow is missing; install it with `pip install Pillow`") from error
    return Image


def media_type_of(image_format: str | None) -> str:
    """Media type for a Pillow format name (`PNG` -> `image/png`)."""
    return _MEDIA_TYPES.get(image_format or "", "application/octet-stream")


def _check_pixels(width: int, height: int, source: str | Path | None) -> None:
    image_module = _pil()
    limit = image_module.MAX_IMAGE_PIXELS
    if width <= 0 or height <= 0:
        raise InputError(source, f"the image has no pixels ({width}x{height})")
    if limit is not None and width * height > limit:
        raise InputError(
            source,
            f"the image is {width}x{height} pixels, over the {limit} pixel limit that guards "
            "against decompression bombs",
            "downscale the image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file",
        )


def dpi_of(image: Image.Image) -> float | None:
    """The resolution an image states, or None when it states none (or a placeholder)."""
    value: Any = image.info.get("dpi")
    try:
        dpi = float(value[0]) if isinstance(value, tuple) else float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return round(dpi, 2) if _MIN_KNOWN_DPI <= dpi < 10_000 else None


def prepare_image(image: Image.Image, source: str | Path | None = None) -> Image.Image:
    """An 8-bit grayscale (or bilevel) copy of `image`, transparency flattened onto white."""
    image_module = _pil()
    _check_pixels(image.width, image.height, source)
    mode = image.mode
    if mode in ("L", "1"):
        return image.copy()
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background: Image.Image = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Scale the actual range to 0..255: a 16-bit scan rarely uses the whole range.
        import numpy as np

        values = np.asarray(image.convert("F") if mode != "F" else image, dtype=np.float64)
        return array_to_image(values, source)
    return image.convert("L")


def array_to_image(array: Any, source: str | Path | None = None) -> Image.Image:
    """A grayscale PIL image from a numpy array: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).

    Integer and boolean arrays are taken as they are (8-bit, or scaled from 16-bit); float
    arrays in 0..1 are scaled to 0..255, other float ranges are stretched to it.
    """
    import numpy as np

    image_module = _pil()
    values = np.asarray(array)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (3, 4)):
        raise InputError(
            source,
            f"an image array must have shape (H, W), (H, W, 3) or (H, W, 4), not {values.shape}",
        )
    _check_pixels(int(values.shape[1]), int(values.shape[0]), source)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8) * 255
    elif np.issubdtype(values.dtype, np.floating):
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise InputError(source, "the image array holds no finite values")
        low, high = float(finite.min()), float(finite.max())
        if low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
        scale = 255.0 / (high - low) if high > low else 0.0
        values = np.nan_to_num(values, nan=high, posinf=high, neginf=low)
        values = np.clip((values - low) * scale, 0, 255).astype(np.uint8)
    elif np.issubdtype(values.dtype, np.integer):
        if values.dtype.itemsize > 1 or values.dtype.kind == "i":
            high_value = int(values.max()) if values.size else 0
            low_value = int(values.min()) if values.size else 0
            if low_value >= 0 and high_value <= 255:
                values = values.astype(np.uint8)
            else:
                span = max(high_value - low_value, 1)
                values = ((values.astype(np.float64) - low_value) * (255.0 / span)).astype(np.uint8)
    else:
        raise InputError(source, f"cannot read an image array of dtype {values.dtype}")
    values = np.ascontiguousarray(values)
    if values.ndim == 2:
        gray: Image.Image = image_module.fromarray(values, mode="L")
        return gray
    image = image_module.fromarray(values, mode="RGB" if values.shape[2] == 3 else "RGBA")
    return prepare_image(image, source)


def _open(source: Path | bytes) -> Any:
    """Open an image file (or its bytes) lazily, turning every Pillow failure into `InputError`."""
    import io

    image_module = _pil()
    path = source if isinstance(source, Path) else None
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x the pixel limit; a bomb is a bomb either way.
        warnings.simplefilter("error", image_module.DecompressionBombWarning)
        try:
            stream = io.BytesIO(source) if isinstance(source, bytes) else source
            return image_module.open(stream)
        except FileNotFoundError:
            raise InputError(path, "no such file", "check the path") from None
        except (image_module.DecompressionBombError, image_module.DecompressionBombWarning):
            raise InputError(
                path,
                "the image claims more pixels than the decompression-bomb limit allows",
                "downscale the image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file",
            ) from None
        except image_module.UnidentifiedImageError:
            raise InputError(
                path, "not a readable image (corrupt or unsupported)", "re-export it as PNG"
            ) from None
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise InputError(path, f"cannot open the image ({error})", "re-export it") from None


def count_frames(source: Path | bytes) -> int:
    """Pages in an image file: every page of a TIFF, one for anything else."""
    with _open(source) as image:
        return _page_count(image)


def _page_count(image: Any) -> int:
    if (image.format or "") == "TIFF":
        return max(int(getattr(image, "n_frames", 1)), 1)
    return 1


def _load_frame(image: Any, index: int, path: Path | None) -> ImagePage:
    image_module = _pil()
    from PIL import ImageOps

    try:
        image.seek(index)
        _check_pixels(image.width, image.height, path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", image_module.DecompressionBombWarning)
            image.load()
        dpi = dpi_of(image)
        frame = ImageOps.exif_transpose(image) if index == 0 else image
        return ImagePage(prepare_image(frame, path), dpi)
    except InputError:
        raise
    except (image_module.DecompressionBombError, image_module.DecompressionBombWarning):
        raise InputError(
            path,
            "the image claims more pixels than the decompression-bomb limit allows",
            "downscale the image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file",
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, MemoryError) as error:
        where = f"page {index + 1}: " if index else ""
        raise InputError(
            path,
            f"{where}the image data is truncated or corrupt ({error})",
            "re-export or re-scan the file",
        ) from None


def iter_image_pages(source: Path | bytes) -> Iterator[ImagePage]:
    """Each page of an image file (or its bytes), decoded one at a time (memory stays flat)."""
    path = source if isinstance(source, Path) else None
    with _open(source) as image:
        for index in range(_page_count(image)):
            yield _load_frame(image, index, path)


def image_info(source: Path | bytes) -> tuple[str, int]:
    """The media type and page count of an image file (reads only its header)."""
    with _open(source) as image:
        return media_type_of(image.format), _page_count(image)

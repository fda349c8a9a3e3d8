"""Real scans for the extraction tests: a receipt drawn with a real font and read by the real
Tesseract, and the bundled clean page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

import uncertain
from uncertain.document import Document

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # fonts-dejavu-core
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CLEAN_PAGE = SAMPLES / "clean_page.png"

RECEIPT = (
    "SUNRISE MART",
    "Invoice number: 4711",
    "Date: 25/12/2018",
    "Coffee 2 x RM4.50",
    "Total: RM9.00",
    "Thank you",
)


def draw_page(path: Path, lines: Sequence[str] = RECEIPT) -> Path:
    """`lines` drawn black on white at 40 px, saved as a PNG at `path`."""
    font = ImageFont.truetype(str(FONT), 40) if FONT.exists() else ImageFont.load_default(40)
    image = Image.new("L", (1400, 80 * len(lines) + 100), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((60, 50 + 80 * number), line, font=font, fill=0)
    image.save(path)
    return path


def read_page(path: Path) -> Document:
    """The page as `uncertain.read` reads it (Tesseract, calibrated, marked)."""
    return uncertain.read(path)


def span_of(doc: Document, text: str) -> int:
    """The id of the one span whose text is `text`."""
    (found,) = [s.id for s in doc.spans if s.text == text]
    return found

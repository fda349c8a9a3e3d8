"""Pages per second on a scanned PDF with 1 and 2 workers, and peak memory against page count.

The PDF is generated: Letter pages of typed text rendered at 300 DPI and stored as images
only (no text layer), so every page is rasterized and OCRed. Targets: >= 1.7x pages per
second from the second worker; peak memory (the Python process's maximum RSS, measured in a
fresh process per run; tesseract children are separate processes of bounded size) flat with
page count, within 10% between a small and a large document.

    .venv/bin/python bench/ocr_scale.py                       # 20 pages; memory 20 vs 60
    .venv/bin/python bench/ocr_scale.py --large 200           # the full 20 vs 200 check
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
TEXT = (
    "the patient was admitted with shortness of breath and given furosemide twice daily "
    "potassium levels were checked on the second day follow up in six weeks with the "
    "clinic team blood pressure remained stable during the stay medication was reviewed"
)
WORDS = TEXT.split()


def make_pdf(path: Path, count: int, seed: int = 7) -> None:
    """A scanned-looking PDF of `count` pages, written one page at a time."""
    rng = random.Random(seed)
    font = ImageFont.truetype(str(FONT), 38) if FONT.exists() else ImageFont.load_default(38)

    def page() -> Image.Image:
        image = Image.new("L", (2550, 3300), 255)
        draw = ImageDraw.Draw(image)
        for line in range(30):
            text = " ".join(rng.choice(WORDS) for _ in range(11))
            draw.text((250, 250 + line * 90), text, font=font, fill=0)
        return image

    first = page()
    first.save(
        path, "PDF", resolution=300, save_all=True, append_images=(page() for _ in range(count - 1))
    )


CHILD = """
import json, os, sys, time
from uncertain.adapters.tesseract import TesseractAdapter
path, workers = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
document = TesseractAdapter(workers=workers).read(path)
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count the parent's memory
# (60 freshly drawn pages) that this process mirrored between fork and exec.
with open("/proc/self/status") as stream:
    peak = next(int(l.split()[1]) for l in stream if l.startswith("VmHWM:")) / 1024
with open("/proc/self/statm") as stream:
    now = int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
print(json.dumps({
    "pages": len(document.pages), "seconds": seconds, "peak_mib": peak,
    "transient_mib": peak - now, "words": len(document.spans),
    "errors": sum(p.error is not None for p in document.pages),
}))
"""


def run(path: Path, workers: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(workers)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages for the speed runs")
    parser.add_argument("--large", type=int, default=60, help="pages for the large memory run")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / f"scan_{arguments.pages}.pdf"
        make_pdf(small, arguments.pages)
        one = run(small, 1)
        two = run(small, 2)
        rate_one = one["pages"] / one["seconds"]
        rate_two = two["pages"] / two["seconds"]
        speedup = rate_two / rate_one
        print(
            f"{arguments.pages}-page scanned PDF: 1 worker {rate_one:.2f} pages/s "
            f"({one['words']:.0f} words), 2 workers {rate_two:.2f} pages/s -> {speedup:.2f}x "
            f"(target >= 1.7x: {'meets' if speedup >= 1.7 else 'misses'})"
        )
        large = Path(folder) / f"scan_{arguments.large}.pdf"
        make_pdf(large, arguments.large)
        big = run(large, 2)
        growth = big["peak_mib"] / two["peak_mib"] - 1
        print(
            f"peak memory (2 workers): {arguments.pages} pages {two['peak_mib']:.0f} MiB, "
            f"{arguments.large} pages {big['peak_mib']:.0f} MiB -> {growth:+.1%} "
            f"(target within 10%: {'meets' if abs(growth) <= 0.10 else 'misses'}); "
            f"{arguments.large} pages at {big['pages'] / big['seconds']:.2f} pages/s, "
            f"{big['errors']:.0f} page errors"
        )
        # The document itself (spans, signals) grows with the text; what must not grow is the
        # working memory on top of it (rendered pages in flight): peak minus the RSS at the end.
        transient = big["transient_mib"] - two["transient_mib"]
        print(
            f"working memory above the finished document: {arguments.pages} pages "
            f"{two['transient_mib']:.0f} MiB, {arguments.large} pages "
            f"{big['transient_mib']:.0f} MiB ({transient:+.0f} MiB); document: "
            f"{two['words']:.0f} vs {big['words']:.0f} words"
        )


if __name__ == "__main__":
    main()

"""Time per page: TesseractAdapter.read against plain pytesseract.image_to_data.

Both run on the same pages in one process, alternated, single page at a time (workers=1),
with OMP_THREAD_LIMIT=1 for both (the adapter always sets it; pytesseract inherits it here,
so the comparison is engine-for-engine). Target: adapter <= 1.15x, with lstm_choice_mode=2
(character alternatives) on.

    .venv/bin/python bench/ocr_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import pytesseract
from PIL import Image

from uncertain.adapters.tesseract import TesseractAdapter

ROOT = Path(__file__).resolve().parent.parent
FIT = ROOT.parent / "shared" / "realdata" / "ocr" / "fit"
TARGET = 1.15


def pages() -> list[Path]:
    candidates = [
        ROOT / "samples" / "clean_page.png",
        ROOT / "samples" / "degraded_page.jpg",
        FIT / "page_tesseract_phototest.tif",
        FIT / "page_tesseract_8071_093.3B.tif",
        FIT / "page_tesseract_8087_054.3B.tif",
        FIT / "line_uw3_010002.png",
    ]
    return [p for p in candidates if p.exists()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    adapter = TesseractAdapter(workers=1)
    files = pages()
    ours: dict[Path, list[float]] = {p: [] for p in files}
    plain: dict[Path, list[float]] = {p: [] for p in files}
    adapter.read(files[0])  # warm the file cache and the version/language checks
    for round_number in range(arguments.rounds):
        for path in files:
            order = (True, False) if round_number % 2 == 0 else (False, True)
            for use_adapter in order:
                start = time.perf_counter()
                if use_adapter:
                    adapter.read(path)
                    ours[path].append(time.perf_counter() - start)
                else:
                    with Image.open(path) as image:
                        pytesseract.image_to_data(image, lang="eng")
                    plain[path].append(time.perf_counter() - start)
    print(f"{'page':42s} {'adapter s':>10s} {'pytesseract s':>14s} {'ratio':>6s}")
    for path in files:
        a, b = statistics.median(ours[path]), statistics.median(plain[path])
        print(f"{path.name:42s} {a:10.3f} {b:14.3f} {a / b:6.2f}")
    total_ours = sum(statistics.median(v) for v in ours.values())
    total_plain = sum(statistics.median(v) for v in plain.values())
    ratio = total_ours / total_plain
    verdict = "meets" if ratio <= TARGET else "misses"
    print(
        f"time per page, median, summed over {len(files)} pages: adapter {total_ours:.3f} s vs "
        f"pytesseract.image_to_data {total_plain:.3f} s -> {ratio:.2f}x "
        f"(target <= {TARGET}x: {verdict})"
    )


if __name__ == "__main__":
    main()

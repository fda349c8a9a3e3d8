"""Time per page: TesseractAdapter.read against plain pytesseract.image_to_data.

Four readers run on the same pages in one process, alternated (the order turns each round),
single page at a time (workers=1), with OMP_THREAD_LIMIT=1 for all (the adapter always sets
it; pytesseract inherits it here, so the comparison is engine-for-engine): the adapter as
shipped (`char_choices="auto"`: character choices for the words in doubt only on large pages;
its tesseract processes kept from the earlier pages, as in any run of more than one page),
the same with those processes ended before each page (`cold`: what a program that reads one
page and exits pays, tesseract's ~0.09 s start included), the adapter with
`char_choices="all"` (character choices for every word in the one run), and plain pytesseract
(a new tesseract process per page). Target: adapter <= 1.10x plain, medians summed.
Besides wall time, CPU time (this process and its tesseract children, user + system; the
kept processes' share read from /proc) is timed too: on a machine shared with other work it
moves far less than wall time does.
The adapter's time includes the lexicon and repetition signals (`uncertain.adapters.lexicon`);
their own CPU time per page is timed apart on the adapter's documents, and the word list's
one-time load in a fresh process. Target: lexicon signals <= 1.03x, i.e. at most 3% of the
adapter's CPU time.

    .venv/bin/python bench/ocr_overhead.py [--rounds 5] [EXTRA_PAGE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import pytesseract
from _common import REALDATA, SAMPLES
from PIL import Image

from uncertain.adapters.lexicon import add_lexicon_signals
from uncertain.adapters.tesseract import PROCESS_POOL, TesseractAdapter

FIT = REALDATA / "ocr" / "fit"
TARGET = 1.10
LEXICON_TARGET = 1.03


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU time of this process and all its children: ended ones, and the running ones
    (the adapter's kept tesseract processes, which `os.times` does not see until reaped)."""
    total = sum(os.times()[:4])  # user, system, ended children's user, system
    for task in os.listdir("/proc/self/task"):
        try:
            children = Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:
            continue
        for pid in children:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended meanwhile: os.times counts it once reaped
            total += (int(fields[11]) + int(fields[12])) / _TICK  # its utime, stime
    return total


def pages() -> list[Path]:
    candidates = [
        SAMPLES / "clean_page.png",
        SAMPLES / "degraded_page.jpg",
        FIT / "page_tesseract_phototest.tif",
        FIT / "page_tesseract_8071_093.3B.tif",
        FIT / "page_tesseract_8087_054.3B.tif",
        FIT / "line_uw3_010002.png",
    ]
    return [p for p in candidates if p.exists()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("extra", nargs="*", type=Path, help="more pages to time")
    arguments = parser.parse_args()
    adapter = TesseractAdapter(workers=1)
    files = pages() + list(arguments.extra)
    readers = ("auto", "cold", "all", "plain")
    times: dict[str, dict[Path, list[float]]] = {r: {p: [] for p in files} for r in readers}
    cpu: dict[str, dict[Path, list[float]]] = {r: {p: [] for p in files} for r in readers}
    adapter.read(files[0])  # warm the file cache and the version/language checks
    for round_number in range(arguments.rounds):
        for path in files:
            shift = round_number % len(readers)
            for reader in readers[shift:] + readers[:shift]:
                kept = PROCESS_POOL.idle
                PROCESS_POOL.idle = [] if reader == "cold" else kept
                start = time.perf_counter()
                before = cpu_seconds()
                if reader == "plain":
                    with Image.open(path) as image:
                        pytesseract.image_to_data(image, lang="eng")
                else:
                    adapter.read(path, char_choices="auto" if reader == "cold" else reader)
                times[reader][path].append(time.perf_counter() - start)
                cpu[reader][path].append(cpu_seconds() - before)
                if reader == "cold":
                    PROCESS_POOL.close()  # and the other readers find their processes as they were
                    PROCESS_POOL.idle = kept
    print(f"{'page':42s} {'adapter s':>10s} {'cold s':>8s} {'all-choices s':>14s} ", end="")
    print(f"{'pytesseract s':>14s} ratio  (wall time)")
    for path in files:
        a, d, c, b = (statistics.median(times[r][path]) for r in readers)
        print(f"{path.name:42s} {a:10.3f} {d:8.3f} {c:14.3f} {b:14.3f} {a / b:5.2f}")
    _summary(f"time per page, median of {arguments.rounds}, summed over {len(files)} pages", times)
    _summary("CPU time per page (process + tesseract children), median, summed", cpu)
    _lexicon_cost(adapter, files, cpu, arguments.rounds)


def _lexicon_cost(
    adapter: TesseractAdapter,
    files: list[Path],
    cpu: dict[str, dict[Path, list[float]]],
    rounds: int,
) -> None:
    """CPU time of the lexicon signals on each page's document against the adapter's."""
    import subprocess
    import sys

    spent = 0.0
    for path in files:
        doc = adapter.read(path)
        times = []
        for _ in range(rounds):
            started = time.process_time()
            add_lexicon_signals(doc)
            times.append(time.process_time() - started)
        spent += statistics.median(times)
    total = sum(statistics.median(v) for v in cpu["auto"].values())
    ratio = total / (total - spent)
    verdict = "meets" if ratio <= LEXICON_TARGET else "misses"
    load = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; from uncertain.adapters.lexicon import lexicon_for; "
            "t = time.process_time(); lexicon_for('eng'); print(time.process_time() - t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(
        f"lexicon signals: {spent:.4f} s CPU over {len(files)} pages (median of {rounds}) of the "
        f"adapter's {total:.3f} s -> {ratio:.3f}x (target <= {LEXICON_TARGET}x: {verdict}); "
        f"the English word list loads once per process in {float(load.stdout):.3f} s CPU"
    )


def _summary(what: str, measured: dict[str, dict[Path, list[float]]]) -> None:
    """The adapter's (kept and cold) and `char_choices='all'`'s total against plain's."""
    total = {
        r: sum(statistics.median(v) for v in per_page.values()) for r, per_page in measured.items()
    }
    ratio = total["auto"] / total["plain"]
    verdict = "meets" if ratio <= TARGET else "misses"
    print(
        f"{what}: adapter {total['auto']:.3f} s vs pytesseract.image_to_data "
        f"{total['plain']:.3f} s -> {ratio:.2f}x (target <= {TARGET}x: {verdict}); "
        f"cold {total['cold']:.3f} s -> {total['cold'] / total['plain']:.2f}x; "
        f"char_choices='all' {total['all']:.3f} s -> {total['all'] / total['plain']:.2f}x"
    )
    rounds = len(next(iter(measured["plain"].values())))
    per_round = {
        r: [sum(v[n] for v in per_page.values()) for n in range(rounds)]
        for r, per_page in measured.items()
    }
    spread = {
        r: sorted(a / b for a, b in zip(per_round[r], per_round["plain"], strict=True))
        for r in ("auto", "cold", "all")
    }
    print(
        "  spread: each round's sum over the pages against plain's in the same round (min-max): "
        + ", ".join(f"{r} {v[0]:.2f}-{v[-1]:.2f}x" for r, v in spread.items())
    )


if __name__ == "__main__":
    main()

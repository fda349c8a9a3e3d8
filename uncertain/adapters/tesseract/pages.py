"""One page's OCR job (the page pass, the weak-word reread, the cross-check pass) and running
the jobs on worker threads in page order with few pages in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from uncertain.adapters.hocr import HocrPage, HocrWord
from uncertain.adapters.inputs import PageJob
from uncertain.adapters.tesseract.binary import _Settings
from uncertain.adapters.tesseract.pool import _PageFailed, _run_tesseract
from uncertain.adapters.tesseract.reread import _reread_weak_words
from uncertain.document import Page

__all__ = ["MIN_IMAGE_SIDE"]

# Below this many pixels one tesseract run with choices costs less than a plain run plus a
# second process for the weak words (process start-up alone is ~0.1 s).
_ONE_PASS_PIXELS = 2_000_000

# Below this many pixels a side no glyph can be drawn legibly; tesseract only wastes a run.
MIN_IMAGE_SIDE = 8


@dataclass
class _PageResult:
    page: Page
    words: HocrPage | None
    digital: bool = False
    second: HocrPage | None = None
    rereads: dict[int, HocrWord] = field(default_factory=dict)


def _one_pass(settings: _Settings, job: PageJob) -> bool:
    """Whether this page reads in one run with character choices for every word."""
    if settings.char_choices == "all":
        return True
    return settings.char_choices == "auto" and job.width * job.height < _ONE_PASS_PIXELS


def _ocr_job(settings: _Settings, cross_check: bool, job: PageJob) -> _PageResult:
    page = Page(width=job.width, height=job.height, dpi=job.dpi)
    if job.error is not None:
        return _PageResult(page.model_copy(update={"error": job.error}), None)
    if job.text is not None:
        return _PageResult(page.model_copy(update={"digital": True}), job.text, digital=True)
    assert job.image_bytes is not None
    if min(job.width, job.height) < MIN_IMAGE_SIDE:
        error = f"the image is too small to hold text ({job.width}x{job.height} pixels)"
        return _PageResult(page.model_copy(update={"error": error}), None)
    one_pass = _one_pass(settings, job)
    try:
        first = _run_tesseract(
            settings, job.image_bytes, job.dpi, settings.psm, job.index, choices=one_pass
        )
    except _PageFailed as error:
        return _PageResult(page.model_copy(update={"error": str(error)}), None)
    rereads: dict[int, HocrWord] = {}
    if not one_pass:
        rereads = _reread_weak_words(settings, job, first)
    second = None
    if cross_check:
        other_psm = 6 if settings.psm in (None, 3, 1, 4) else 3
        try:
            second = _run_tesseract(settings, job.image_bytes, job.dpi, other_psm, job.index)
        except _PageFailed:
            second = None  # the cross-check is extra evidence; its failure is not the page's
    return _PageResult(page, first, second=second, rereads=rereads)


def _ordered_results(
    jobs: Iterator[PageJob], work: Callable[[PageJob], _PageResult], workers: int
) -> Generator[_PageResult, None, None]:
    """Run `work` over `jobs` on `workers` threads, in page order, with few jobs in flight.

    A job (a rendered page) is only drawn from `jobs` when fewer than `2 * workers` are
    waiting, so at most that many page images exist at any time.
    """
    if workers <= 1:
        for job in jobs:
            yield work(job)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uncertain-ocr") as pool:
        pending: deque[Future[_PageResult]] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(work, job))
                while len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

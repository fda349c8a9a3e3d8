"""`TesseractAdapter`: reads images and PDFs into unfused documents, page after page."""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import JsonValue

from uncertain._memory import release_free_memory
from uncertain.adapters.inputs import OpenedInput, open_pages
from uncertain.adapters.tesseract.binary import CharChoices, _Settings, _version, check_languages
from uncertain.adapters.tesseract.builder import _Builder
from uncertain.adapters.tesseract.pages import _ocr_job, _ordered_results, _PageResult
from uncertain.adapters.tesseract.pool import _cpu_count
from uncertain.adapters.tesseract.reread import WEAK_WORD_CONFIDENCE
from uncertain.adapters.tesseract.signals import document_signals
from uncertain.document import Document, Source
from uncertain.errors import UsageError

__all__ = ["TesseractAdapter"]

_KNOWN_OPTIONS = frozenset(
    {
        "language",
        "dpi",
        "workers",
        "page_timeout",
        "psm",
        "oem",
        "extra_config",
        "cross_check",
        "password",
        "use_text_layer",
        "progress",
        "char_choices",
    }
)
_CHAR_CHOICES: tuple[CharChoices, ...] = get_args(CharChoices)


class TesseractAdapter:
    """Reads images and PDFs with Tesseract into unfused documents.

    `language` is a Tesseract language string (`"eng"`, `"eng+deu"`); `dpi` the resolution
    scanned PDF pages are rendered at; `workers` how many pages run at once (default: the
    CPU count); `page_timeout` the seconds one page may take before it is given up (the page
    gets `Page.error`, the others are kept); `psm`/`oem` Tesseract's page segmentation and
    engine modes; `extra_config` extra tesseract arguments (e.g. `"-c tessedit_do_invert=0"`);
    `cross_check` a second pass with another page segmentation whose agreement becomes a
    signal (twice the time). `char_choices` says which words get character choices (the
    decoder's alternative characters, from which `min_char_confidence`,
    `mean_char_confidence`, `reading_probability` and `Span.alternatives` come): `"weak"`
    only the words in doubt (`word_confidence` below `WEAK_WORD_CONFIDENCE`), reread from
    crops in one extra tesseract run per page that has any; `"all"` every word, in the one
    run (Tesseract spends ~13% more); `"auto"` (default) `"all"` for pages under two
    megapixels, where a second run costs more than it saves, else `"weak"`. Words, boxes and
    every other signal are the same either way. `tesseract_cmd` names the binary.
    """

    name = "tesseract"
    kinds = frozenset({"image", "pdf"})

    def __init__(
        self,
        language: str = "eng",
        dpi: int = 300,
        workers: int | None = None,
        page_timeout: float = 120.0,
        psm: int | None = None,
        oem: int | None = None,
        extra_config: str = "",
        *,
        cross_check: bool = False,
        char_choices: CharChoices = "auto",
        tesseract_cmd: str = "tesseract",
    ) -> None:
        self.language = language
        self.dpi = dpi
        self.workers = workers
        self.page_timeout = page_timeout
        self.psm = psm
        self.oem = oem
        self.extra_config = extra_config
        self.cross_check = cross_check
        self.char_choices = _check_char_choices(char_choices)
        self.tesseract_cmd = tesseract_cmd

    def version(self) -> str:
        """The tesseract version (`EngineError` naming the install command when it is missing)."""
        return _version(self.tesseract_cmd)

    def read(self, source: Any, **options: Any) -> Document:
        """OCR an image or PDF (path, bytes, PIL image or numpy array) into a `Document`.

        Options override the constructor's settings for this call: `language`, `dpi`,
        `workers`, `page_timeout`, `psm`, `oem`, `extra_config`, `cross_check`,
        `char_choices`, plus `password` (encrypted PDFs), `use_text_layer` (False OCRs
        digital PDF pages too) and `progress` (called with pages done and the page count as
        pages come back).
        """
        run = self._start(source, options)
        builder = _Builder()
        try:
            for result in run.results():
                builder.add(result)
                release_free_memory()
                if run.progress is not None:
                    run.progress(float(len(builder.pages)), float(run.opened.page_count))
        finally:
            run.close()
        return document_signals(
            builder.document(run.source(len(builder.pages))), run.settings.language
        )

    def iter_read(self, source: Any, **options: Any) -> Iterator[Document]:
        """OCR an image or PDF lazily: one Document per page, as pages come back, in order.

        Each page's document holds that page alone (`pages` has one entry, boxes are on page
        0, the text has no leading separator), its span ids numbered across the whole file as
        `read` numbers them, and `source.settings["page"]` saying which page (from 0) it is.
        Only the pages in flight are held, so memory stays flat with the page count. Options
        as for `read`.
        """
        run = self._start(source, options)
        results = run.results()
        next_id = 0
        done = 0
        try:
            for result in results:
                builder = _Builder(next_id)
                builder.add(result)
                next_id += len(builder.spans)
                done += 1
                release_free_memory()
                if run.progress is not None:
                    run.progress(float(done), float(run.opened.page_count))
                document = document_signals(
                    builder.document(run.source(run.opened.page_count, page=done - 1)),
                    run.settings.language,
                )
                del builder, result
                yield document
        finally:
            results.close()  # a consumer that stops early: cancel the pages in flight first
            run.close()

    def _start(self, source: Any, options: dict[str, Any]) -> _Run:
        unknown = sorted(set(options) - _KNOWN_OPTIONS)
        if unknown:
            raise TypeError(
                f"unknown option(s) for the tesseract adapter: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(_KNOWN_OPTIONS))})"
            )
        language = str(options.get("language") or self.language)
        dpi = float(options.get("dpi", self.dpi))
        if not 10 <= dpi <= 2400:
            # A caller's argument, not a bad input file: so not an InputError.
            raise UsageError(f"dpi {dpi:g} is out of range", "use 72..1200, usually 300")
        workers = options.get("workers", self.workers) or _cpu_count()
        timeout = float(options.get("page_timeout", self.page_timeout))
        psm = options.get("psm", self.psm)
        oem = options.get("oem", self.oem)
        extra = str(options.get("extra_config", self.extra_config) or "")
        cross_check = bool(options.get("cross_check", self.cross_check))
        char_choices = _check_char_choices(options.get("char_choices", self.char_choices))
        version = _version(self.tesseract_cmd)
        check_languages(self.tesseract_cmd, language)
        settings = _Settings(
            self.tesseract_cmd,
            language,
            None if psm is None else int(psm),
            None if oem is None else int(oem),
            tuple(shlex.split(extra)),
            timeout,
            char_choices,
        )
        opened = open_pages(
            source, dpi, options.get("password"), bool(options.get("use_text_layer", True))
        )
        recorded: dict[str, JsonValue] = {
            "language": language,
            "dpi": dpi,
            "psm": settings.psm,
            "oem": settings.oem,
            "lstm_choice_mode": 2,
            "page_timeout": timeout,
            "extra_config": extra,
            "cross_check": cross_check,
            "char_choices": char_choices,
            "weak_word_confidence": WEAK_WORD_CONFIDENCE,
        }
        return _Run(
            settings,
            cross_check,
            max(int(workers), 1),
            opened,
            version,
            recorded,
            options.get("progress"),
        )


@dataclass
class _Run:
    """One read in progress: its settings, its opened input and what its Source records."""

    settings: _Settings
    cross_check: bool
    workers: int
    opened: OpenedInput
    version: str
    recorded: dict[str, JsonValue]
    progress: Callable[[float, float], None] | None

    def results(self) -> Generator[_PageResult, None, None]:
        work = functools.partial(_ocr_job, self.settings, self.cross_check)
        return _ordered_results(self.opened.jobs, work, self.workers)

    def close(self) -> None:
        if self.opened.closer is not None:
            self.opened.closer()

    def source(self, page_count: int, page: int | None = None) -> Source:
        settings = self.recorded if page is None else {**self.recorded, "page": page}
        return Source(
            path=None if self.opened.path is None else str(self.opened.path),
            sha256=self.opened.sha256,
            media_type=self.opened.media_type,
            page_count=page_count,
            engine="tesseract",
            engine_version=self.version,
            model=self.settings.language,
            settings=settings,
        )


def _check_char_choices(value: object) -> CharChoices:
    # Checked at run time too: callers without a type checker pass any string.
    for choice in _CHAR_CHOICES:
        if value == choice:
            return choice
    raise UsageError(f"char_choices must be one of {', '.join(_CHAR_CHOICES)}, not {value!r}")

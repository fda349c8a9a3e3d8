"""Tesseract adapter: images and PDFs into a `Document` with word and character evidence.

Each page goes through the `tesseract` binary with `hocr_char_boxes=1`, writing hOCR to a
pipe (the processes are kept and fed page after page, so tesseract's start, as costly as
reading a small page, is paid once: idle ones end after 30 s and at exit); that output gives
the words, their boxes, Tesseract's word score and, with
`lstm_choice_mode=2`, per character the decoder's alternative characters with scores. The
choices cost Tesseract ~13% more and matter only for the words in doubt, so a large page is
read without them and its weak words (`WEAK_WORD_CONFIDENCE`) are cut out with their
neighbours and reread with them in one extra run (`char_choices`; small pages keep one run
with choices, where a second process would cost more than it saves).
Pages run in parallel: a thread per worker drives one single-threaded tesseract process
(`OMP_THREAD_LIMIT=1`: Tesseract's own OpenMP threads fight each other when several pages
run at once, and a single page gains little from them), and at most two pages per worker are
rendered and waiting at any time, so memory stays flat however long the document is.

Signals on each OCR word (all in `Span.signals`; none of them is a calibrated probability):

- `word_confidence`: Tesseract's `x_wconf` / 100, a rescaled log score.
- `min_char_confidence`, `mean_char_confidence` (words with character choices only): over
  the word's characters, the share of the decoder's probability mass that the chosen
  character holds among its alternatives
  (`exp(x_confs / 5)` normalized: `x_confs` is `100 - 5 * rating`, a negative log probability).
- `reading_probability`: the product of those, the chance the word reads as it does if the
  characters were independent.
- `min_char_xconf`, `mean_char_xconf`: Tesseract's own per-character `x_conf` / 100.
- `char_count`, `box_height_ratio` (word height / line height), `is_numeric` (1 or 0),
  `mixed_alnum` (letters and digits in one word, 1 or 0).
- With `cross_check=True`: `cross_agreement` (1 when a second pass with another page
  segmentation reads the same text at the same place, else 0) and `cross_word_confidence`.

`Span.alternatives` holds up to three other readings built from the character alternatives,
with their probability under the same independence assumption, best first (a weak word
whose reread crop read otherwise has that reading first, and no character-choice signals).
Text from a PDF text layer carries `{"digital": 1.0}` and confidence 1.0.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from uncertain._files import sha256_bytes, sha256_file
from uncertain._memory import release_free_memory
from uncertain.adapters.hocr import (
    HocrChar,
    HocrLine,
    HocrPage,
    HocrWord,
    PixelBox,
    parse_hocr,
)
from uncertain.document import Alternative, Block, Box, Document, Page, Source, Span
from uncertain.errors import EngineError, InputError

__all__ = ["TesseractAdapter", "alternatives_for", "char_posteriors", "word_signals"]

_INSTALL_HINT = "install it with `apt-get install tesseract-ocr` (or `brew install tesseract`)"
_LANGUAGE_PATTERN = re.compile(r"^[A-Za-z0-9_/-]+(\+[A-Za-z0-9_/-]+)*$")
_CHOICE_TEMPERATURE = 5.0  # x_confs = 100 - 5 * rating; exp(-rating) is the path probability
_MAX_ALTERNATIVES = 3
_MIN_ALTERNATIVE_PROBABILITY = 0.01
_BEAM = 8
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
_CHAR_CHOICES = ("auto", "weak", "all")

WEAK_WORD_CONFIDENCE = 0.90
"""Words whose `word_confidence` is below this are in doubt and get character choices.

The bundled Tesseract calibrator marks words below about 0.89 at its threshold (a test keeps
this cut above that point), so every word that fusion may mark carries its choices.
"""

# Below this many pixels one tesseract run with choices costs less than a plain run plus a
# second process for the weak words (process start-up alone is ~0.1 s).
_ONE_PASS_PIXELS = 2_000_000


# -- the tesseract binary -------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _version(command: str) -> str:
    try:
        done = subprocess.run(
            [command, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise EngineError(
            f"the tesseract program ({command}) is not installed; {_INSTALL_HINT}"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineError(f"cannot run tesseract ({command}): {error}; {_INSTALL_HINT}") from None
    output = (done.stdout or "") + (done.stderr or "")
    first = output.strip().splitlines()[0] if output.strip() else ""
    if done.returncode != 0 or not first.lower().startswith("tesseract"):
        raise EngineError(f"{command} does not look like tesseract (`--version` said {first!r})")
    return first.split()[1] if len(first.split()) > 1 else first


@functools.lru_cache(maxsize=8)
def _languages(command: str, tessdata: str | None) -> frozenset[str]:
    try:
        done = subprocess.run(
            [command, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise EngineError(
            f"the tesseract program ({command}) is not installed; {_INSTALL_HINT}"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineError(f"cannot run tesseract ({command}): {error}") from None
    lines = ((done.stdout or "") + (done.stderr or "")).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line)


def _debian_package(language: str) -> str:
    name = language.lower().replace("_", "-")
    if name.startswith("script/"):
        name = "script-" + name.split("/", 1)[1]
    return f"tesseract-ocr-{name}"


def check_languages(command: str, language: str) -> None:
    """`EngineError` naming the package to install when a language's traineddata is missing."""
    if not _LANGUAGE_PATTERN.match(language):
        raise EngineError(
            f"{language!r} is not a Tesseract language string; use codes such as 'eng' or 'eng+deu'"
        )
    available = _languages(command, os.environ.get("TESSDATA_PREFIX"))
    missing = [name for name in language.split("+") if name not in available]
    if missing:
        packages = " ".join(_debian_package(name) for name in missing)
        raise EngineError(
            f"Tesseract has no traineddata for {', '.join(missing)} (installed: "
            f"{', '.join(sorted(available)) or 'none'}); install it with "
            f"`apt-get install {packages}`, or put {missing[0]}.traineddata in Tesseract's "
            "tessdata folder (TESSDATA_PREFIX)"
        )


@dataclass(frozen=True)
class _Settings:
    command: str
    language: str
    psm: int | None
    oem: int | None
    extra: tuple[str, ...]
    timeout: float
    char_choices: str = "auto"

    def arguments(self, dpi: float | None, psm: int | None, choices: bool = True) -> list[str]:
        arguments = [self.command, "stdin", "stdout", "-l", self.language]
        if dpi is not None:
            arguments += ["--dpi", str(round(dpi))]
        if psm is not None:
            arguments += ["--psm", str(psm)]
        if self.oem is not None:
            arguments += ["--oem", str(self.oem)]
        if choices:
            arguments += ["-c", "lstm_choice_mode=2"]
        arguments += ["-c", "hocr_char_boxes=1", *self.extra]
        return [*arguments, "hocr"]


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["OMP_THREAD_LIMIT"] = "1"
    return environment


class _PageFailed(Exception):
    """A page-level failure: recorded in `Page.error`, the other pages go on."""


def _run_tesseract(
    settings: _Settings,
    image_bytes: bytes,
    dpi: float | None,
    psm: int | None,
    index: int,
    choices: bool = True,
) -> HocrPage:
    arguments = tuple(settings.arguments(dpi, psm, choices))
    with _POOL.process(arguments) as process:
        hocr = process.read(image_bytes, settings.timeout)
    try:
        return parse_hocr(hocr, index)
    except ValueError as error:
        raise _PageFailed(f"tesseract gave unreadable hOCR ({error})") from None


# -- long-lived tesseract processes ---------------------------------------------------------
# Starting tesseract (loading its model) costs ~0.09 s of CPU: a third of reading a small
# page, and most of rereading a page's weak words. So each process reads page after page,
# named one per line on its stdin (`stream_filelist`), and is kept for the next page and the
# next read. Each page's hOCR is the same as a fresh process gives (the LSTM reader keeps no
# state between pages; a test compares them).

_PAGE_START = b"<div class='ocr_page'"
_PAGE_END = b"\n  </div>\n"  # Tesseract indents only the ocr_page element's end by two
_IDLE_PER_CPU = 3  # idle processes kept: the page pass, the weak-word reread and a cross-check
_IDLE_SECONDS = 30.0  # an idle process (40-80 MB) ends after this long unused
_FOLDER_PREFIX = "uncertain-tesseract-"  # then the owner's pid: see _sweep_stale_folders


def _sweep_stale_folders() -> None:
    """Remove the page folders of Python processes that ended without closing their
    tesseracts (killed, say); the folder names carry the owner's process id."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(tempfile.gettempdir()):
            owner = entry.name[len(_FOLDER_PREFIX) :].split("-", 1)[0]
            if not entry.name.startswith(_FOLDER_PREFIX) or not owner.isdigit():
                continue
            try:
                os.kill(int(owner), 0)
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass  # alive, under another user


class _Tesseract:
    """One tesseract process reading the image files named on its stdin, one page each."""

    def __init__(self, arguments: tuple[str, ...]) -> None:
        self.arguments = arguments
        self.tessdata = os.environ.get("TESSDATA_PREFIX")  # it reads its models from there
        self.folder = tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-")
        self.image = os.path.join(self.folder, "page.pnm")
        # stderr goes to a file, read only when a page fails: a pipe nobody reads fills up.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.buffer = bytearray()
        self.timed_out = False
        self.used = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [*arguments[:-1], "-c", "stream_filelist=1", arguments[-1]],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.errors,
                env=_environment(),
            )
        except FileNotFoundError:
            self.close()
            raise EngineError(
                f"the tesseract program ({arguments[0]}) is not installed; {_INSTALL_HINT}"
            ) from None
        except OSError as error:
            self.close()
            raise EngineError(f"cannot run tesseract ({arguments[0]}): {error}") from None

    def alive(self) -> bool:
        return self.process.poll() is None and not self.timed_out

    def read(self, image_bytes: bytes, timeout: float) -> bytes:
        """The hOCR of one page (its `ocr_page` element); `_PageFailed` if it gives none."""
        try:
            os.makedirs(self.folder, exist_ok=True)  # a cleaner may have removed it meanwhile
            with open(self.image, "wb") as file:
                file.write(image_bytes)
        except OSError as error:
            raise _PageFailed(
                f"cannot write the page for tesseract ({error}); free space in "
                f"{tempfile.gettempdir()} or set TMPDIR"
            ) from None
        assert self.process.stdin is not None and self.process.stdout is not None
        watchdog = threading.Timer(timeout, self._time_out)
        watchdog.start()
        try:
            self.process.stdin.write(self.image.encode() + b"\n")
            self.process.stdin.flush()
            while True:
                start = self.buffer.find(_PAGE_START)
                end = self.buffer.find(_PAGE_END, max(start, 0)) if start >= 0 else -1
                if end >= 0:
                    end += len(_PAGE_END)
                    page = bytes(self.buffer[start:end])
                    del self.buffer[:end]
                    return page
                chunk = os.read(self.process.stdout.fileno(), 1 << 16)
                if not chunk:
                    break  # the process ended: killed by the watchdog, or failed on the page
                self.buffer += chunk
        except (BrokenPipeError, ValueError):
            pass  # it ended before it read the page's name
        finally:
            watchdog.cancel()
            with contextlib.suppress(OSError):
                os.remove(self.image)
        if self.timed_out:
            raise _PageFailed(
                f"tesseract ran past the {timeout:g} s page timeout; raise page_timeout "
                "or split the page"
            )
        self.process.wait()
        raise _PageFailed(f"tesseract failed on this page ({self._last_error()})")

    def _time_out(self) -> None:
        self.timed_out = True
        with contextlib.suppress(OSError):
            self.process.kill()

    def _last_error(self) -> str:
        self.errors.seek(0)
        lines = [
            line
            for line in self.errors.read().decode("utf-8", errors="replace").splitlines()
            if line.strip() and not line.startswith("Page ")
        ]
        return lines[-1].strip() if lines else f"exit status {self.process.returncode}"

    def close(self) -> None:
        process = getattr(self, "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self.errors.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class _Pool:
    """Idle tesseract processes by their arguments, most recently used last; a daemon thread
    ends those unused for `_IDLE_SECONDS` (and itself when none is left)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Tesseract] = []
        self.owner = os.getpid()
        self.reaper: threading.Thread | None = None
        self.started: weakref.WeakSet[_Tesseract] = weakref.WeakSet()
        self.swept = False

    @contextlib.contextmanager
    def process(self, arguments: tuple[str, ...]) -> Iterator[_Tesseract]:
        found: _Tesseract | None = None
        tessdata = os.environ.get("TESSDATA_PREFIX")
        with self.lock:
            self._forget_if_forked()
            for number in range(len(self.idle) - 1, -1, -1):
                kept = self.idle[number]
                if kept.arguments == arguments and kept.tessdata == tessdata:
                    found = self.idle.pop(number)
                    break
        if found is not None and found.alive():
            process = found
        else:
            if not self.swept:
                self.swept = True
                _sweep_stale_folders()
            process = _Tesseract(arguments)
            self.started.add(process)
        if found is not None and found is not process:
            found.close()
        try:
            yield process
        finally:
            self._release(process)

    def _release(self, process: _Tesseract) -> None:
        if not process.alive():
            process.close()
            return
        process.used = time.monotonic()
        with self.lock:
            self.idle.append(process)
            surplus = self.idle[: max(len(self.idle) - _IDLE_PER_CPU * _cpu_count(), 0)]
            del self.idle[: len(surplus)]
            if self.reaper is None or not self.reaper.is_alive():
                self.reaper = threading.Thread(
                    target=self._reap, name="uncertain-tesseract-reaper", daemon=True
                )
                self.reaper.start()
        for old in surplus:
            old.close()

    def _reap(self) -> None:
        while True:
            time.sleep(_IDLE_SECONDS / 3)
            now = time.monotonic()
            with self.lock:
                stale = [p for p in self.idle if now - p.used >= _IDLE_SECONDS]
                self.idle = [p for p in self.idle if now - p.used < _IDLE_SECONDS]
                done = not self.idle
                if done:
                    self.reaper = None
            for process in stale:
                process.close()
            if done:
                return

    def close(self) -> None:
        """End every idle process (at exit; the next read starts new ones)."""
        with self.lock:
            self._forget_if_forked()
            idle, self.idle = self.idle, []
        for process in idle:
            process.close()

    def _forget_if_forked(self) -> None:
        if self.owner != os.getpid():  # a forked child: its parent owns those processes
            self.idle, self.started, self.owner = [], weakref.WeakSet(), os.getpid()

    def close_all(self) -> None:
        """End every process, idle or reading (at exit, so no page folder is left)."""
        self.close()
        for process in list(self.started):
            process.close()


_POOL = _Pool()
atexit.register(_POOL.close_all)


# -- signals and alternatives ---------------------------------------------------------------


def char_posteriors(char: HocrChar) -> dict[str, float]:
    """Probability of each reading of one character, from its `lstm_choices` scores.

    The chosen character is always present: when the decoder's choice list lacks it, it is
    taken as tied with the best listed choice. Without choices the chosen character gets 1.
    """
    scores: dict[str, float] = {}
    for text, score in char.choices:
        scores[text] = max(scores.get(text, -math.inf), score)
    if not scores:
        return {char.text: 1.0}
    if char.text not in scores:
        scores[char.text] = max(scores.values())
    top = max(scores.values())
    weights = {t: math.exp((s - top) / _CHOICE_TEMPERATURE) for t, s in scores.items()}
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


def alternatives_for(word: HocrWord, posteriors: list[dict[str, float]]) -> list[Alternative]:
    """The most likely other readings of `word`, built from its character posteriors."""
    if not posteriors or all(len(p) == 1 for p in posteriors):
        return []
    beam: list[tuple[str, float]] = [("", 1.0)]
    for distribution in posteriors:
        options = sorted(distribution.items(), key=lambda item: -item[1])[:4]
        beam = sorted(
            ((text + option, p * q) for text, p in beam for option, q in options),
            key=lambda item: -item[1],
        )[:_BEAM]
    found: list[Alternative] = []
    for text, probability in beam:
        if text == word.text or probability < _MIN_ALTERNATIVE_PROBABILITY or not text.strip():
            continue
        found.append(Alternative(text=text, confidence=min(max(probability, 0.0), 1.0)))
        if len(found) == _MAX_ALTERNATIVES:
            break
    return found


def word_signals(
    word: HocrWord, line_height: float | None, posteriors: list[dict[str, float]]
) -> dict[str, float]:
    """The raw evidence about one OCR word, by stable signal name (see the module docstring)."""
    signals: dict[str, float] = {}
    if word.wconf is not None:
        signals["word_confidence"] = word.wconf / 100.0
    # No posteriors: the word was read without character choices (not in doubt).
    chosen = (
        [p.get(c.text, 0.0) for c, p in zip(word.chars, posteriors, strict=True)]
        if posteriors
        else []
    )
    if chosen:
        signals["min_char_confidence"] = min(chosen)
        signals["mean_char_confidence"] = sum(chosen) / len(chosen)
        signals["reading_probability"] = math.prod(chosen)
    xconfs = [c.conf / 100.0 for c in word.chars if c.conf is not None]
    if xconfs:
        signals["min_char_xconf"] = min(xconfs)
        signals["mean_char_xconf"] = sum(xconfs) / len(xconfs)
    signals["char_count"] = float(len(word.text))
    if word.box is not None and line_height:
        signals["box_height_ratio"] = (word.box[3] - word.box[1]) / line_height
    core = word.text.strip(".,;:!?()[]{}\"'«»„“”‘’-–—/%$€£")
    signals["is_numeric"] = 1.0 if core and re.fullmatch(r"[\d.,:/+-]+", core) else 0.0
    has_digit = any(ch.isdigit() for ch in core)
    has_alpha = any(ch.isalpha() for ch in core)
    signals["mixed_alnum"] = 1.0 if has_digit and has_alpha else 0.0
    return signals


# -- cross-check ----------------------------------------------------------------------------


def _overlap(a: PixelBox, b: PixelBox) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def _cross_match(first: HocrPage, second: HocrPage) -> dict[int, HocrWord | None]:
    """For each word of `first` (by id()), the word of `second` it overlaps most, if any."""
    others = [w for w in second.words() if w.box is not None]
    matches: dict[int, HocrWord | None] = {}
    for word in first.words():
        best: HocrWord | None = None
        best_overlap = 0.3  # below this the boxes do not describe the same word
        if word.box is not None:
            for other in others:
                assert other.box is not None
                overlap = _overlap(word.box, other.box)
                if overlap > best_overlap:
                    best, best_overlap = other, overlap
        matches[id(word)] = best
    return matches


# -- pages ----------------------------------------------------------------------------------


@dataclass
class _PageResult:
    page: Page
    words: HocrPage | None
    digital: bool = False
    second: HocrPage | None = None
    rereads: dict[int, HocrWord] = field(default_factory=dict)


@dataclass
class _Job:
    index: int
    width: int
    height: int
    dpi: float | None
    image_bytes: bytes | None = None
    text: HocrPage | None = None
    error: str | None = None


# Below this many pixels a side no glyph can be drawn legibly; tesseract only wastes a run.
MIN_IMAGE_SIDE = 8


def _encode(image: Any) -> bytes:
    """The image as PNM (PGM/PBM): the cheapest format to write that leptonica reads."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    return buffer.getvalue()


def _one_pass(settings: _Settings, job: _Job) -> bool:
    """Whether this page reads in one run with character choices for every word."""
    if settings.char_choices == "all":
        return True
    return settings.char_choices == "auto" and job.width * job.height < _ONE_PASS_PIXELS


def _ocr_job(settings: _Settings, cross_check: bool, job: _Job) -> _PageResult:
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


# -- character choices for the words in doubt ---------------------------------------------


def _is_weak(word: HocrWord) -> bool:
    return word.wconf is None or word.wconf < WEAK_WORD_CONFIDENCE * 100.0


_CONTEXT_WORDS = 1  # page words kept on each side of a weak word: the decoder reads in context


def _crop_box(line: HocrLine, first: int, last: int) -> tuple[int, int, int, int] | None:
    """The pixels to reread for words `first..last` of `line`: their columns, the line's rows.

    The line's full height keeps Tesseract's height normalization as it was on the page; the
    columns stop halfway to the neighbouring words so no stray ink joins the crop.
    """
    left_word, right_word = line.words[first].box, line.words[last].box
    if left_word is None or right_word is None or line.box is None:
        return None
    height = line.box[3] - line.box[1]
    pad = max(2.0, 0.3 * height)
    left = left_word[0] - pad
    right = right_word[2] + pad
    if first and (previous := line.words[first - 1].box) is not None:
        left = max(left, (previous[2] + left_word[0]) / 2)
    if last + 1 < len(line.words) and (following := line.words[last + 1].box) is not None:
        right = min(right, (right_word[2] + following[0]) / 2)
    box = (
        math.floor(max(left, 0.0)),
        math.floor(line.box[1]),
        math.ceil(right),
        math.ceil(line.box[3]),
    )
    return box if box[2] > box[0] and box[3] > box[1] else None


def _weak_runs(line: HocrLine) -> list[tuple[int, int]]:
    """Ranges of word numbers to reread: each weak word with its context, overlaps merged."""
    runs: list[tuple[int, int]] = []
    for number, word in enumerate(line.words):
        if not _is_weak(word):
            continue
        first = max(number - _CONTEXT_WORDS, 0)
        last = min(number + _CONTEXT_WORDS, len(line.words) - 1)
        if runs and first <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return runs


def _reread_weak_words(settings: _Settings, job: _Job, first: HocrPage) -> dict[int, HocrWord]:
    """Give the page's words in doubt their character choices, from one extra tesseract run.

    Each weak word is cut out with its neighbours (see `_crop_box`), the crops stacked one per
    row on a blank page and read with `lstm_choice_mode=2`. Where the reading at a weak word's
    place is the page's, character for character, its choices are copied onto the page's
    characters (the page's text, boxes and scores stay); otherwise that reading is returned,
    by `id()` of the page word, to serve as alternatives.
    """
    import io

    from PIL import Image

    rows: list[tuple[list[HocrWord], tuple[int, int, int, int]]] = []
    for paragraph in first.paragraphs:
        for line in paragraph.lines:
            for run_first, run_last in _weak_runs(line):
                box = _crop_box(line, run_first, run_last)
                if box is not None:
                    rows.append((line.words[run_first : run_last + 1], box))
    if not rows:
        return {}
    assert job.image_bytes is not None
    with Image.open(io.BytesIO(job.image_bytes)) as image:
        image.load()
        margin = max(max(b[3] - b[1] for _, b in rows), 16)
        width = max(b[2] - b[0] for _, b in rows) + 2 * margin
        height = sum(b[3] - b[1] for _, b in rows) + margin * (len(rows) + 1)
        bands = len(image.getbands())
        white: int | tuple[int, ...] = (
            1 if image.mode == "1" else 255 if bands == 1 else (255,) * bands
        )
        sheet = Image.new(image.mode, (width, height), white)
        # Where each row sits on the sheet: page x = sheet x + shift; rows by vertical band.
        places: list[tuple[float, float, float]] = []
        y = margin
        for _, box in rows:
            sheet.paste(image.crop(box), (margin, y))
            places.append((y - margin / 2, y + (box[3] - box[1]) + margin / 2, box[0] - margin))
            y += box[3] - box[1] + margin
    try:
        read = _run_tesseract(settings, _encode(sheet), job.dpi, 6, job.index, choices=True)
    except _PageFailed:
        return {}  # the choices are extra evidence; the page keeps its plain reading
    found: list[list[tuple[float, HocrWord]]] = [[] for _ in rows]
    for word in read.words():
        if word.box is None:
            continue
        middle = (word.box[1] + word.box[3]) / 2
        for row, (top, bottom, shift) in enumerate(places):
            if top <= middle < bottom:
                found[row].append(((word.box[0] + word.box[2]) / 2 + shift, word))
                break
    rereads: dict[int, HocrWord] = {}
    for (words, _), pieces in zip(rows, found, strict=True):
        for word in words:
            if not _is_weak(word) or word.box is None:
                continue
            x0, x1 = word.box[0], word.box[2]
            mine = sorted((p for p in pieces if x0 <= p[0] <= x1), key=lambda p: p[0])
            if not mine:
                continue
            chars = [c for _, piece in mine for c in piece.chars]
            text = "".join(piece.text for _, piece in mine)
            if text == word.text and [c.text for c in chars] == [c.text for c in word.chars]:
                for own, theirs in zip(word.chars, chars, strict=True):
                    own.choices = list(theirs.choices)
            else:
                rereads[id(word)] = HocrWord(text, chars=chars)
    return rereads


def _ordered_results(
    jobs: Iterator[_Job], work: Callable[[_Job], _PageResult], workers: int
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


# -- document building ----------------------------------------------------------------------


def _clip_box(box: PixelBox | None, page_index: int, page: Page) -> Box | None:
    if box is None or page.width <= 0 or page.height <= 0:
        return None
    x0 = min(max(box[0], 0.0), float(page.width))
    x1 = min(max(box[2], x0), float(page.width))
    y0 = min(max(box[1], 0.0), float(page.height))
    y1 = min(max(box[3], y0), float(page.height))
    return Box(page=page_index, x0=x0, y0=y0, x1=x1, y1=y1)


def _reread_alternatives(word: HocrWord, reread: HocrWord) -> list[Alternative]:
    """Other readings of a word in doubt whose crop read differently: that reading first."""
    posteriors = [char_posteriors(c) for c in reread.chars]
    chosen = [p.get(c.text, 0.0) for c, p in zip(reread.chars, posteriors, strict=True)]
    found = [Alternative(text=reread.text, confidence=math.prod(chosen))] if chosen else []
    found += alternatives_for(reread, posteriors)
    unique: dict[str, Alternative] = {}
    for alternative in found:
        if alternative.text != word.text and alternative.text.strip():
            unique.setdefault(alternative.text, alternative)
    return sorted(unique.values(), key=lambda a: -a.confidence)[:_MAX_ALTERNATIVES]


class _Builder:
    """Accumulates text, spans and blocks page by page."""

    def __init__(self, first_id: int = 0) -> None:
        self.first_id = first_id
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[Span] = []
        self.blocks: list[Block] = []
        self.pages: list[Page] = []

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def add(self, result: _PageResult) -> None:
        page_index = len(self.pages)
        page = result.page
        self.pages.append(page)
        if result.words is None:
            return
        matches = _cross_match(result.words, result.second) if result.second else None
        for paragraph in result.words.paragraphs:
            # Paragraphs (and pages) are apart by a blank line, lines by a newline, words by a
            # space; parse_hocr and the PDF text layer never give empty lines or paragraphs.
            paragraph_separator = "\n\n" if self.length else ""
            paragraph_ids: list[int] = []
            line_blocks: list[Block] = []
            for line_number, line in enumerate(paragraph.lines):
                line_height = (line.box[3] - line.box[1]) if line.box else None
                line_ids: list[int] = []
                for word_number, word in enumerate(line.words):
                    if word_number:
                        self._append(" ")
                    elif line_number:
                        self._append("\n")
                    else:
                        self._append(paragraph_separator)
                    span = self._span(word, page_index, page, result, line_height, matches)
                    self._append(word.text)
                    self.spans.append(span)
                    line_ids.append(span.id)
                if line_ids:
                    line_blocks.append(
                        Block(
                            kind="line",
                            span_ids=line_ids,
                            box=_clip_box(line.box, page_index, page),
                        )
                    )
                paragraph_ids += line_ids
            if paragraph_ids:
                self.blocks.append(
                    Block(
                        kind="paragraph",
                        span_ids=paragraph_ids,
                        box=_clip_box(paragraph.box, page_index, page),
                    )
                )
                self.blocks += line_blocks

    def _span(
        self,
        word: HocrWord,
        page_index: int,
        page: Page,
        result: _PageResult,
        line_height: float | None,
        matches: dict[int, HocrWord | None] | None,
    ) -> Span:
        box = _clip_box(word.box, page_index, page)
        common: dict[str, Any] = {
            "id": self.first_id + len(self.spans),
            "start": self.length,
            "end": self.length + len(word.text),
            "text": word.text,
            "box": box,
        }
        if result.digital:
            return Span(**common, confidence=1.0, signals={"digital": 1.0})
        with_choices = any(c.choices for c in word.chars)
        posteriors = [char_posteriors(c) for c in word.chars] if with_choices else []
        signals = word_signals(word, line_height, posteriors)
        alternatives = alternatives_for(word, posteriors)
        reread = result.rereads.get(id(word))
        if reread is not None:
            alternatives = _reread_alternatives(word, reread)
        if matches is not None:
            other = matches.get(id(word))
            agree = other is not None and other.text == word.text
            signals["cross_agreement"] = 1.0 if agree else 0.0
            signals["cross_word_confidence"] = (
                other.wconf / 100.0 if other is not None and other.wconf is not None else 0.0
            )
            if other is not None and not agree:
                other_posteriors = [char_posteriors(c) for c in other.chars]
                chosen = [
                    p.get(c.text, 0.0) for c, p in zip(other.chars, other_posteriors, strict=True)
                ]
                probability = math.prod(chosen) if chosen else 0.0
                known = {a.text for a in alternatives}
                if other.text not in known:
                    alternatives.append(Alternative(text=other.text, confidence=probability))
                alternatives.sort(key=lambda a: -a.confidence)
                alternatives = alternatives[: _MAX_ALTERNATIVES + 1]
        return Span(**common, signals=signals, alternatives=alternatives)

    def document(self, source: Source) -> Document:
        return Document(
            text="".join(self.parts),
            spans=self.spans,
            blocks=self.blocks,
            pages=self.pages,
            source=source,
        )


# -- the adapter ----------------------------------------------------------------------------


@dataclass
class _Input:
    path: Path | None
    jobs: Iterator[_Job]
    media_type: str
    page_count: int
    sha256: str | None
    closer: Callable[[], None] | None = None


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
        char_choices: str = "auto",
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
        return builder.document(run.source(len(builder.pages)))

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
                document = builder.document(run.source(run.opened.page_count, page=done - 1))
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
            raise InputError(None, f"dpi {dpi:g} is out of range", "use 72..1200, usually 300")
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
        opened = _open_input(
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
    opened: _Input
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


def _check_char_choices(value: object) -> str:
    if value not in _CHAR_CHOICES:
        raise ValueError(f"char_choices must be one of {', '.join(_CHAR_CHOICES)}, not {value!r}")
    return str(value)


def _cpu_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not on Linux
        return max(os.cpu_count() or 1, 1)


# -- inputs ---------------------------------------------------------------------------------


def _image_job(index: int, image: Any, dpi: float | None) -> _Job:
    return _Job(index, image.width, image.height, dpi, image_bytes=_encode(image))


def _open_input(source: Any, dpi: float, password: str | None, use_text_layer: bool) -> _Input:
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
        return _Input(path, jobs, kind.media_type or media_type, count, sha256_file(path))
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
        return _Input(None, jobs, kind.media_type or media_type, count, sha256_bytes(data))
    from PIL import Image

    if isinstance(source, Image.Image):
        prepared = prepare_image(source)
        from uncertain.adapters.images import media_type_of

        return _single_image(prepared, media_type_of(source.format), None, source)
    if type(source).__module__ == "numpy" and hasattr(source, "shape"):
        image = array_to_image(source)
        return _single_image(image, "image/x-raw-array", None)
    raise InputError(
        None,
        f"cannot read a {type(source).__name__}",
        "pass a path, bytes, a PIL image or a numpy array",
    )


def _single_image(image: Any, media_type: str, digest: str | None, original: Any = None) -> _Input:
    from uncertain.adapters.images import dpi_of, prepare_image

    dpi = dpi_of(original if original is not None else image)
    with contextlib.suppress(AttributeError, ValueError):
        image.seek(0)
    prepared = prepare_image(image) if image.mode not in ("L", "1") else image
    if digest is None:
        digest = sha256_bytes(prepared.tobytes())
    jobs = iter([_image_job(0, prepared, dpi)])
    return _Input(None, jobs, media_type, 1, digest)


def _open_pdf(
    data: Path | bytes, path: Path | None, dpi: float, password: str | None, use_text_layer: bool
) -> _Input:
    from uncertain.adapters.pdf import iter_pdf_pages, open_pdf

    current = [open_pdf(data, password)]
    count = len(current[0])

    def replace(document: Any) -> None:
        current[0] = document

    def jobs() -> Iterator[_Job]:
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
                yield _Job(page.index, page.width, page.height, page.dpi, error=page.error)
            elif page.text is not None:
                yield _Job(page.index, page.width, page.height, page.dpi, text=page.text)
            else:
                assert page.image is not None
                job = _image_job(page.index, page.image, page.dpi)
                page.image = None  # release the pixels; the encoded copy is all that is kept
                yield job

    def close() -> None:
        current[0].close()

    digest = sha256_file(path) if path is not None else sha256_bytes(data)  # type: ignore[arg-type]
    return _Input(path, jobs(), "application/pdf", count, digest, closer=close)

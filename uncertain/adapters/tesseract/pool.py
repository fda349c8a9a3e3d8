"""Long-lived tesseract processes, kept and fed page after page, and reading one page with one.

Starting tesseract (loading its model) costs ~0.09 s of CPU: a third of reading a small
page, and most of rereading a page's weak words. So each process reads page after page,
named one per line on its stdin (`stream_filelist`), and is kept for the next page and the
next read. Each page's hOCR is the same as a fresh process gives (the LSTM reader keeps no
state between pages; a test compares them). Idle processes end after `_IDLE_SECONDS` and at
exit; the page folders of processes whose Python owner was killed are swept on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator

from uncertain.adapters.hocr import HocrPage, parse_hocr
from uncertain.adapters.tesseract.binary import _INSTALL_HINT, _environment, _Settings
from uncertain.errors import EngineError

_PAGE_START = b"<div class='ocr_page'"
_PAGE_END = b"\n  </div>\n"  # Tesseract indents only the ocr_page element's end by two
_IDLE_PER_CPU = 3  # idle processes kept: the page pass, the weak-word reread and a cross-check
_IDLE_SECONDS = 30.0  # an idle process (40-80 MB) ends after this long unused
_FOLDER_PREFIX = "uncertain-tesseract-"  # then the owner's pid: see _sweep_stale_folders


def _cpu_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not on Linux
        return max(os.cpu_count() or 1, 1)


class _PageFailed(Exception):
    """A page-level failure: recorded in `Page.error`, the other pages go on."""


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

PROCESS_POOL = _POOL
"""The process's kept tesseract processes (`idle`, `close()`): a benchmark empties them to time
a cold start beside a warm one."""


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

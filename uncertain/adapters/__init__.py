"""Adapters turn an engine's output into a `Document`; this module picks one for a file.

Files are recognized by their content (magic bytes), not only by their extension, so a
`.wav` that holds a PNG is read as an image and a text file named `.wav` is refused.
Third parties add adapters through the `uncertain.adapters` entry-point group: each entry
point names an object that follows the `Adapter` protocol.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from uncertain._files import special_file_kind
from uncertain.document import Document
from uncertain.errors import InputError, UsageError

__all__ = [
    "Adapter",
    "MediaKind",
    "ProgressCallback",
    "SniffResult",
    "adapter_for",
    "registered_adapters",
    "sniff",
]

MediaKind = Literal["audio", "video", "image", "pdf"]

ProgressCallback = Callable[[float, "float | None"], None]
"""Called as work advances with (done, total): seconds decoded of the audio's total seconds,
or pages read of the page count; total is None when the source does not say."""


@runtime_checkable
class Adapter(Protocol):
    """What an engine adapter provides. `read` returns an unfused document."""

    name: str
    kinds: frozenset[str]

    def read(self, source: Any, **options: Any) -> Document: ...


@dataclass(frozen=True)
class SniffResult:
    kind: MediaKind
    media_type: str


def _sniff_bytes(head: bytes) -> SniffResult | None:
    if head.startswith(b"%PDF-"):
        return SniffResult("pdf", "application/pdf")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SniffResult("image", "image/png")
    if head.startswith(b"\xff\xd8\xff"):
        return SniffResult("image", "image/jpeg")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return SniffResult("image", "image/tiff")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return SniffResult("image", "image/gif")
    if head.startswith(b"BM") and len(head) >= 14:
        return SniffResult("image", "image/bmp")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return SniffResult("image", "image/webp")
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return SniffResult("audio", "audio/wav")
    if head.startswith(b"fLaC"):
        return SniffResult("audio", "audio/flac")
    if head.startswith(b"OggS"):
        return SniffResult("audio", "audio/ogg")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return SniffResult("audio", "audio/mpeg")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return SniffResult("audio", "audio/mp4")
        return SniffResult("video", "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return SniffResult("video", "video/webm" if b"webm" in head[:64] else "video/x-matroska")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return SniffResult("audio", "audio/aiff")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF: WMA, WMV
        return SniffResult("video", "video/x-ms-asf")
    if head.startswith(b"#!AMR"):
        return SniffResult("audio", "audio/amr")
    if head.startswith(b"caff"):
        return SniffResult("audio", "audio/x-caf")
    if head.startswith(b".snd"):
        return SniffResult("audio", "audio/basic")
    return None


def _refuse_special(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(path, "is a directory", "pass the files inside it")
    kind = special_file_kind(mode)
    if kind is not None:
        raise InputError(
            path, f"is a {kind}, not a regular file", "copy it to a file or pass its bytes"
        )


def sniff(source: Path | bytes) -> SniffResult:
    """Recognize a file by its first bytes; `InputError` when it is empty or not supported."""
    if isinstance(source, bytes):
        head, name = source[:64], None
    else:
        name = source
        try:
            # Looked at before opening: opening a named pipe waits for a writer, and a device
            # may never stop giving bytes.
            _refuse_special(source, source.stat().st_mode)
            # Non-blocking, and checked again on the open file, in case the path was swapped
            # for a pipe in between.
            handle = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(handle, "rb") as stream:
                _refuse_special(source, os.fstat(handle).st_mode)
                head = stream.read(64)
        except FileNotFoundError:
            raise InputError(source, "no such file", "check the path") from None
        except PermissionError:
            raise InputError(source, "permission denied", "make the file readable") from None
        except OSError as error:
            raise InputError(source, f"cannot read ({error.strerror})") from None
    if not head:
        raise InputError(name, "the file is empty", "pass an audio, video, image or PDF file")
    result = _sniff_bytes(head)
    if result is None:
        raise InputError(
            name,
            "not a supported audio, video, image or PDF file (its content is not recognized)",
            "convert it to WAV, FLAC, MP3, MP4, PNG, JPEG, TIFF or PDF",
        )
    return result


def registered_adapters() -> dict[str, Adapter]:
    """Adapters registered by other packages under the `uncertain.adapters` entry points."""
    # Imported here: importlib.metadata takes longer to load than the rest of this module.
    from importlib.metadata import entry_points

    found: dict[str, Adapter] = {}
    for entry in entry_points(group="uncertain.adapters"):
        adapter = entry.load()
        if isinstance(adapter, Adapter):
            found[entry.name] = adapter
    return found


def adapter_for(kind: MediaKind) -> str:
    """Name of the built-in engine for a media kind: `whisper` for sound, `tesseract` for pages;
    `UsageError` for another kind."""
    if kind in ("audio", "video"):
        return "whisper"
    if kind in ("image", "pdf"):
        return "tesseract"
    raise UsageError(f"no adapter reads {kind!r} media", "use audio, video, image or pdf")

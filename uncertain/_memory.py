"""Keeping long runs flat in memory."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["release_free_memory"]

_trim: Callable[[int], int] | bool | None = None


def release_free_memory() -> None:
    """Hand memory that was freed back to the operating system (glibc only; else nothing).

    Page images and audio windows are large short-lived buffers; glibc keeps freed ones in
    its arenas, so without this the process grows with every page or window it has seen.
    """
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if callable(_trim):
        _trim(0)

"""What the commands read: files and folders named, standard input, pipes, output names.

A folder walk yields only regular files whose content is a supported medium; pipes, sockets
and devices are read only when the user allows it, and standard input or an allowed pipe is
read with a timeout, so nothing waits forever.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path

from uncertain._files import special_file_kind
from uncertain.adapters import sniff
from uncertain.cli.run import Run
from uncertain.errors import InputError

__all__ = [
    "INPUT_TIMEOUT",
    "STDIN",
    "iter_inputs",
    "output_stems",
    "read_stream",
    "special_kind",
    "streamed",
]

STDIN = Path("-")
# Seconds standard input or an allowed special file may take to send its first bytes, and
# may pause later, before it is given up on: nothing waits forever.
INPUT_TIMEOUT = 30.0


def special_kind(path: Path) -> str | None:
    """What `path` is when it is a pipe, socket or device; None for files, folders, and paths
    that cannot be looked at (those are reported when read)."""
    try:
        return special_file_kind(os.stat(path).st_mode)
    except OSError:
        return None


def streamed(path: Path) -> bool:
    """Whether `path` is read as a stream (standard input, or an allowed pipe or device)
    rather than opened as a file."""
    return path == STDIN or special_kind(path) is not None


def iter_inputs(paths: list[Path], run: Run, allow_special: bool | None = None) -> Iterator[Path]:
    """Files named, and media files found under folders named (each real folder once).

    Files named explicitly are yielded (a bad one is reported when read), except pipes,
    sockets and devices: reading those can wait forever, so they are reported unless
    `allow_special` (the command's `--allow-special`; None where a command has no such
    option). Files found while walking a folder are yielded only when they are regular files
    whose content is a supported medium: references and notes beside the recordings are
    skipped quietly, pipes, sockets and devices with a line saying so.
    """
    seen_dirs: set[str] = set()
    for path in paths:
        special = None if path == STDIN else special_kind(path)
        if special is not None:
            if special == "socket":
                hint = "pipe its data into - instead"
            elif allow_special:
                yield path
                continue
            elif allow_special is None:
                hint = "copy it to a file first"
            else:
                hint = "pass --allow-special to read from it, or - for standard input"
            run.fail(path, InputError(path, f"is a {special}, not a regular file", hint))
            continue
        if path == STDIN or not path.is_dir():
            yield path
            continue
        yield from _walk(path, run, seen_dirs)


def _walk(path: Path, run: Run, seen_dirs: set[str]) -> Iterator[Path]:
    """The media files under one folder named, in sorted order."""
    for folder, dirs, files in os.walk(path, followlinks=True, onerror=None):
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a symlink loop, or a folder reached twice
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs.sort()
        for name in sorted(files):
            candidate = Path(folder) / name
            if name.startswith(".") or name.endswith((".part", ".ref.txt")):
                continue
            special = special_kind(candidate)
            if special is not None:
                run.skip(candidate, f"is a {special}, not a regular file")
                continue
            try:
                sniff(candidate)
            except InputError as error:
                if error.problem == "permission denied":
                    run.fail(candidate, error)
                continue
            yield candidate


def output_stems(paths: list[Path]) -> list[str]:
    """Output names for a batch: each input's stem, made unique so that no output of one
    input overwrites another's (`a.wav` and `a.png` give `a.wav` and `a.png`; the same name
    in two folders gives `x` and `x-2`). The same inputs always get the same names."""
    plain = ["stdin" if p == STDIN else p.stem for p in paths]
    clashing = {stem for stem in plain if plain.count(stem) > 1}
    taken: set[str] = set()
    stems = []
    for path, stem in zip(paths, plain, strict=True):
        name = path.name if stem in clashing and path != STDIN else stem
        unique, number = name, 1
        while unique in taken:
            number += 1
            unique = f"{name}-{number}"
        taken.add(unique)
        stems.append(unique)
    return stems


def read_stream(path: Path, timeout: float) -> bytes:
    """All bytes of standard input (`-`) or of a pipe or device the user allowed.

    Waits at most `timeout` seconds for the first bytes and for each later pause, and stops
    as soon as the first bytes show an unsupported medium, so an endless device such as
    /dev/zero is not read to its end.
    """
    if path == STDIN:
        try:
            handle = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # a replaced stdin (tests, notebooks)
            return sys.stdin.buffer.read()
        if os.isatty(handle):
            raise InputError(
                "-", "standard input is a terminal", "pipe a file in: uncertain transcribe - < FILE"
            )
        return _read_handle(handle, "-", timeout)
    try:
        # Non-blocking: opening a pipe would otherwise wait for a writer, without a timeout.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise InputError(path, f"cannot be opened ({error.strerror})") from None
    try:
        return _read_handle(handle, str(path), timeout)
    finally:
        os.close(handle)


def _read_handle(handle: int, name: str, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # select() works on pipes only on POSIX; elsewhere a read simply waits.
        if os.name == "posix" and not select.select([handle], [], [], timeout)[0]:
            problem = (
                f"sent no data for {timeout:g} s after {size} bytes"
                if size
                else f"sent no data within {timeout:g} s"
            )
            raise InputError(
                name, problem, "check what writes to it, or allow more with --input-timeout"
            )
        try:
            chunk = os.read(handle, 1 << 20)
        except BlockingIOError:  # woken without data; wait again
            continue
        except OSError as error:
            raise InputError(name, f"cannot be read ({error.strerror})") from None
        if not chunk:
            return b"".join(chunks)
        if size < 64 <= size + len(chunk):
            try:
                sniff(b"".join(chunks) + chunk)
            except InputError as error:
                raise InputError(name, error.problem, error.hint) from None
        chunks.append(chunk)
        size += len(chunk)

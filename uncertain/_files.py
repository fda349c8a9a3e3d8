"""File helpers shared by adapters, exporters and the CLI: hashing, atomic writes, and the
checks that keep special files (pipes, sockets, devices) from being opened by accident."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from uncertain.errors import InputError, OutputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "ensure_output_folder",
    "sha256_bytes",
    "sha256_file",
    "special_file_kind",
]

# Errors after which no later output in the same place can be written either.
NOTHING_MORE_FITS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def special_file_kind(mode: int) -> str | None:
    """What a file is when it is not a regular file or a folder (`os.stat(...).st_mode`):
    reading one of these can block forever or never end, so nothing opens them by accident."""
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "special file"


def _output_hint(number: int | None) -> str:
    if number in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space or choose another output folder"
    if number == errno.EROFS:
        return "the file system is read-only; choose another output folder"
    if number in (errno.EACCES, errno.EPERM):
        return "make the folder writable or choose another output folder"
    return "choose another output folder"


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        problem = (
            "is not a folder"
            if folder.exists() and not folder.is_dir()
            else f"the output folder cannot be created ({error.strerror})"
        )
        raise OutputError(folder, problem, _output_hint(error.errno), error.errno) from None


def ensure_output_folder(folder: Path) -> None:
    """Create `folder` if needed and check that outputs can be written there, before any
    work is done: `OutputError` naming the folder when it cannot be created, is not
    writable, or sits on a full disk."""
    _make_folder(folder)
    try:
        handle, probe = tempfile.mkstemp(prefix=".uncertain-", suffix=".part", dir=folder)
    except OSError as error:
        raise OutputError(
            folder,
            f"the output folder is not writable ({error.strerror})",
            _output_hint(error.errno),
            error.errno,
        ) from None
    os.close(handle)
    os.unlink(probe)
    if hasattr(os, "statvfs"):
        space = os.statvfs(folder)
        # Blocks reserved for root still count when running as root.
        free = space.f_bfree if os.geteuid() == 0 else space.f_bavail
        if free == 0:
            raise OutputError(
                folder,
                "the disk holding the output folder is full",
                _output_hint(errno.ENOSPC),
                errno.ENOSPC,
            )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise InputError(
            path, f"cannot read ({error.strerror})", "check the path and permissions"
        ) from None
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file, or the whole new one, never half.

    The data goes to a temporary file in the same folder, is flushed to disk, then renamed
    over the target (an atomic step on POSIX and Windows). A failure (folder not writable,
    disk full) raises `OutputError` naming the folder or file and leaves no temporary behind.
    """
    _make_folder(path.parent)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".part", dir=path.parent
        )
    except OSError as error:
        raise OutputError(
            path.parent,
            f"the output folder is not writable ({error.strerror})",
            _output_hint(error.errno),
            error.errno,
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600 files; give the output the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise OutputError(
                path,
                f"cannot be written ({error.strerror or error})",
                _output_hint(error.errno),
                error.errno,
            ) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))

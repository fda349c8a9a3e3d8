"""Errors raised by uncertain.

Every error message names the file or setting at fault and says what to do about it.
A batch never stops on one of these: the CLI reports the file and goes on.

    UncertainError              root: catch this to catch everything uncertain raises
    ├── InputError              the input is missing, empty, unsupported, corrupt or too large
    ├── OutputError             an output folder cannot be created or written, or the disk is full
    ├── EngineError             an engine or model is missing, or the engine failed or timed out
    ├── CalibrationError        a calibrator file is missing, malformed or does not fit the document
    └── UsageError              a function was called with an argument it cannot take

`InputError`, `CalibrationError` and `UsageError` are also `ValueError`s, `OutputError` an
`OSError`, `EngineError` a `RuntimeError`, so code that catches the built-in kinds keeps working.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CalibrationError",
    "EngineError",
    "InputError",
    "OutputError",
    "UncertainError",
    "UsageError",
]


class UncertainError(Exception):
    """Root of every error raised by uncertain."""


class InputError(UncertainError, ValueError):
    """The input file or object cannot be used: missing, empty, unsupported, corrupt, too large."""

    def __init__(self, source: str | Path | None, problem: str, hint: str = "") -> None:
        self.source = None if source is None else str(source)
        self.problem = problem
        self.hint = hint
        where = f"{self.source}: " if self.source else ""
        super().__init__(f"{where}{problem}" + (f"; {hint}" if hint else ""))


class OutputError(UncertainError, OSError):
    """An output cannot be written: its folder cannot be created or is not writable, or the
    disk filled up. `target` is the folder or file at fault; `errno` the system's error number.
    Also an `OSError`, so code that caught the system's error keeps working."""

    def __init__(self, target: str | Path, problem: str, hint: str = "", errno: int | None = None):
        self.target = str(target)
        self.problem = problem
        self.hint = hint
        super().__init__(f"{self.target}: {problem}" + (f"; {hint}" if hint else ""))
        self.errno = errno


class EngineError(UncertainError, RuntimeError):
    """An engine or model is missing, failed, or ran past its timeout."""

    status_code: int | None = None
    """The HTTP status an endpoint answered with, where that was the failure."""


class CalibrationError(UncertainError, ValueError):
    """A calibrator is missing, malformed, or cannot be applied to the document's signals."""


class UsageError(UncertainError, ValueError):
    """A function was called with an argument it cannot take: an unknown option value, a number
    out of range, a value of the wrong kind. The caller's mistake, not the input's: nothing about
    the file or document is wrong. `problem` says what is wrong, `hint` what to pass instead."""

    def __init__(self, problem: str, hint: str = "") -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(problem + (f"; {hint}" if hint else ""))


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """`UsageError` naming the accepted values when `value` is not one of `choices` (a
    `Literal` type's `get_args`): the types say the same, but callers may not run a type
    checker."""
    if value not in choices:
        accepted = ", ".join(repr(choice) for choice in choices)
        raise UsageError(f"unknown {name} {value!r}", f"use one of {accepted}")

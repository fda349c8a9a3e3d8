"""The augmented fit clips of bench/speech_corpus.py: what the speech calibrators are fitted on.

A calibrator fitted on degraded copies is only honest if the copies stay on the fit side, keep
their source clip's group (so a clip and its copies never sit on both sides of a
cross-validation fold) and come out the same on every machine (seeded)."""

from __future__ import annotations

import hashlib
import sys
import wave
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import shared_data

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def speech_corpus(realdata_dir: Path) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    import speech_corpus

    shared_data(speech_corpus.CORPUS / "fit" / "clean")
    return speech_corpus


@pytest.fixture(scope="module")
def built(speech_corpus: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("augmented")
    speech_corpus.build_augmented(folder)
    return folder


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_fit_clip_comes_under_every_degradation_on_the_fit_side(
    speech_corpus: ModuleType, built: Path, realdata_dir: Path
) -> None:
    items = speech_corpus.augmented_items(built)
    clips = sorted(p.stem for p in (realdata_dir / "audio" / "fit").glob("*.txt"))
    chains = speech_corpus.augmentations()
    assert len(chains) == 29 and len(items) == len(clips) * len(chains)
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.split == "fit" and item.condition == "augmented"
        assert item.group in clips and Path(item.path).name.startswith(item.group + "-")
        reference = (realdata_dir / "audio" / "fit" / f"{item.group}.txt").read_text()
        assert item.reference == reference.strip()
    # No eval recording is mixed in as babble: the talkers are corpus fit/clean recordings.
    talkers = sorted(built.glob("babble-talker-*.wav"))
    assert len(talkers) == speech_corpus.BABBLE_TALKERS
    fit_clean = {p.stem for p in (speech_corpus.CORPUS / "fit" / "clean").iterdir()}
    assert all(t.stem.removeprefix("babble-talker-") in fit_clean for t in talkers)


def test_degraded_copies_are_16k_speech_that_differs_from_the_clean_clip(built: Path) -> None:
    clean = built / "jfk_inaugural_1961-clean.wav"
    for chain in ("white0", "babble5", "telephone+reverb", "mp3low", "speed1.15"):
        path = built / f"jfk_inaugural_1961-{chain}.wav"
        with wave.open(str(path)) as stream:
            assert stream.getframerate() == 16000 and stream.getnchannels() == 1
            seconds = stream.getnframes() / 16000
        assert 8.0 < seconds < 13.0, (chain, seconds)  # 11 s clip, speed changes included
        assert _digest(path) != _digest(clean), chain
    assert not list(built.glob("*.part*")), "a half-written file was left behind"


def test_the_copies_are_the_same_on_every_build(
    speech_corpus: ModuleType, built: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    speech_corpus.build_augmented(again)
    names = sorted(p.name for p in built.glob("*.wav"))
    assert names == sorted(p.name for p in again.glob("*.wav"))
    assert all(_digest(built / n) == _digest(again / n) for n in names)

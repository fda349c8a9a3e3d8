"""Writing test audio: 16-bit mono WAV from float samples in [-1, 1]."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from uncertain.adapters.audio import SAMPLE_RATE


def write_wav(path: Path, samples: np.ndarray[Any, Any], rate: int = SAMPLE_RATE) -> Path:
    """`samples`, clipped to [-1, 1], as a 16-bit mono WAV file at `path`; returns `path`."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path

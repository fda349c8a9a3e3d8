"""Voice-activity evidence: Silero VAD speech probabilities, read back per segment and word."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from uncertain.adapters.audio import SAMPLE_RATE

_VAD_FRAME = 512  # samples per Silero VAD probability (32 ms at 16 kHz)
_VAD_CHUNK = _VAD_FRAME * 1875  # 60 s of 16 kHz audio
_VAD_THRESHOLD = 0.5  # faster_whisper.vad.VadOptions().threshold


class _Vad:
    """Silero VAD speech probabilities of one window, read back by time range."""

    def __init__(self, samples: np.ndarray[Any, Any] | None) -> None:
        self.probabilities: np.ndarray[Any, Any] | None = None
        if samples is None:
            return
        from faster_whisper.vad import get_vad_model

        padded = np.pad(samples, (0, _VAD_FRAME - samples.shape[0] % _VAD_FRAME))
        # In chunks of a minute: the VAD's scratch memory grows with its input, and windows
        # vary in length, so one long window would otherwise raise the process's peak.
        model = get_vad_model()
        self.probabilities = np.concatenate(
            [
                np.asarray(model(padded[i : i + _VAD_CHUNK]), dtype=np.float64).reshape(-1)
                for i in range(0, padded.shape[0], _VAD_CHUNK)
            ]
        )

    def measure(self, start: float, end: float) -> tuple[float, float] | None:
        """(share of frames called speech, mean speech probability) in [start, end] s."""
        if self.probabilities is None or not len(self.probabilities):
            return None
        frames_per_second = SAMPLE_RATE / _VAD_FRAME
        first = min(int(start * frames_per_second), len(self.probabilities) - 1)
        last = max(first + 1, math.ceil(end * frames_per_second))
        part = self.probabilities[max(first, 0) : last]
        return float((part >= _VAD_THRESHOLD).mean()), float(part.mean())

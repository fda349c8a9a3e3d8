"""faster-whisper's log-Mel features of long audio, computed in 30 s chunks to bound memory."""

from __future__ import annotations

from typing import Any

import numpy as np

from uncertain.adapters.audio import SAMPLE_RATE

_FEATURE_CHUNK_FRAMES = 3000  # 30 s of 10 ms frames


class _ChunkedFeatures:
    """faster-whisper's log-Mel features of a long window, computed 30 s at a time.

    Its extractor holds a whole window's frames, their spectrum (twice: once as returned,
    once converted) and magnitudes at once, about 600 MB for a 600 s window: most of the
    process's peak, and more for a longer window. Frame by frame the arithmetic is the same
    (the frames, their FFT rows and the Mel matrix products are computed alike, then
    clamped by the window's global maximum, as there), so the result is bit for bit the
    same, which is checked once per process against the original on a minute of noise;
    where it is not (another faster-whisper), the original is used. Short audio always is.
    """

    _checked: bool | None = None

    def __init__(self, original: Any) -> None:
        self.original = original

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)

    def __call__(
        self, waveform: np.ndarray[Any, Any], padding: int = 160, chunk_length: int | None = None
    ) -> np.ndarray[Any, Any]:
        hop = int(self.original.hop_length)
        if waveform.shape[-1] <= 2 * _FEATURE_CHUNK_FRAMES * hop or not self._same():
            return self.original(waveform, padding=padding, chunk_length=chunk_length)  # type: ignore[no-any-return]
        if chunk_length is not None:  # the original's side effect, kept
            self.original.n_samples = chunk_length * self.original.sampling_rate
            self.original.nb_max_frames = self.original.n_samples // hop
        return self._chunked(waveform, padding)

    def _same(self) -> bool:
        if _ChunkedFeatures._checked is None:
            noise = np.random.default_rng(0).normal(0, 0.1, 95 * SAMPLE_RATE).astype(np.float32)
            try:
                same = bool(np.array_equal(self.original(noise), self._chunked(noise, 160)))
            except Exception:  # another extractor whose parts differ: use it as it is
                same = False
            _ChunkedFeatures._checked = same
        return _ChunkedFeatures._checked

    def _chunked(self, waveform: np.ndarray[Any, Any], padding: int) -> np.ndarray[Any, Any]:
        n_fft, hop = int(self.original.n_fft), int(self.original.hop_length)
        waveform = np.asarray(waveform, dtype=np.float32)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        padded = np.pad(waveform, (n_fft // 2, n_fft // 2), mode="reflect")
        del waveform
        frames = 1 + (padded.shape[0] - n_fft) // hop - 1  # the last frame is dropped there
        # Every chunk at least 30 s: BLAS multiplies small matrices by another method, whose
        # sums can round differently in the last bit.
        starts = list(range(0, frames, _FEATURE_CHUNK_FRAMES))
        if len(starts) > 1 and frames - starts[-1] < _FEATURE_CHUNK_FRAMES:
            starts.pop()
        parts = []
        for first, last in zip(starts, [*starts[1:], frames], strict=True):
            piece = padded[first * hop : (last - 1) * hop + n_fft]
            rows = np.lib.stride_tricks.as_strided(
                piece, (last - first, n_fft), (hop * piece.strides[0], piece.strides[0])
            )
            spectrum = np.fft.rfft(rows * window, n=n_fft, axis=-1).astype("complex64").T
            magnitudes = np.abs(spectrum) ** 2
            mel = self.original.mel_filters @ magnitudes
            parts.append(np.log10(np.clip(mel, a_min=1e-10, a_max=None)))
        log_spec = np.concatenate(parts, axis=1)
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return (log_spec + 4.0) / 4.0  # type: ignore[no-any-return]

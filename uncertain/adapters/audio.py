"""Loading and validating audio for the ASR adapter.

Audio is decoded with PyAV exactly the way `faster_whisper.decode_audio` does it (16 kHz,
mono, through signed 16-bit samples), but as a stream: `iter_windows` hands out bounded
windows cut at quiet moments, so memory stays flat however long the file is, while a
short file comes out as one window identical to `decode_audio`'s array.

Every problem with the input becomes an `InputError` that names the file and says what is
wrong: missing, empty, not audio, no audio stream, undecodable, zero length, truncated.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from uncertain.errors import EngineError, InputError

__all__ = [
    "SAMPLE_RATE",
    "AudioSource",
    "Deadline",
    "OpenedAudio",
    "Window",
    "iter_windows",
    "load_audio",
    "open_audio",
]

SAMPLE_RATE = 16_000
"""Whisper's sampling rate: every decoded array is 16 kHz mono float32."""

# Shorter than a tenth of a second no word fits: refuse it rather than let Whisper invent one.
MIN_SAMPLES = SAMPLE_RATE // 10

AudioSource = Union[str, Path, bytes, "npt.NDArray[Any]"]
"""What the ASR adapter reads: a path, the bytes of a file, or a 16 kHz mono float array."""

Float32Array = npt.NDArray[np.float32]

# faster_whisper.decode_audio feeds the resampler in groups of this many samples; keeping
# the same grouping keeps our streamed output bit-identical to its array.
_GROUP_SAMPLES = 500_000
_CONVERT_HINT = "convert it to WAV, FLAC, MP3, OGG or M4A (e.g. ffmpeg -i IN -ar 16000 OUT.wav)"
# Media types whose headers state the exact length, so a short decode means a cut file.
_EXACT_LENGTH_TYPES = frozenset({"audio/wav", "audio/flac", "audio/aiff"})


class Deadline:
    """A wall-clock budget: `check()` raises `EngineError` once `seconds` have passed."""

    def __init__(self, seconds: float | None, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self._end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        """Raise `EngineError` when the budget is spent."""
        if self._end is not None and time.monotonic() > self._end:
            raise EngineError(
                f"{self.what}: ran past its timeout of {self.seconds:g} s; "
                "pass a larger timeout or a shorter input"
            )


@dataclass(frozen=True)
class OpenedAudio:
    """A validated audio source: its name for messages, media type, path and bytes."""

    name: str
    media_type: str
    path: Path | None = None
    data: bytes | None = None
    array: Float32Array | None = None


@dataclass(frozen=True)
class Window:
    """A stretch of decoded audio: `samples` start `offset` seconds into the source."""

    offset: float
    samples: Float32Array
    last: bool


def open_audio(source: AudioSource) -> OpenedAudio:
    """Validate a source cheaply (exists, not empty, looks like audio or video)."""
    from uncertain.adapters import sniff

    if isinstance(source, np.ndarray):
        return OpenedAudio("<array>", "audio/x-raw", array=_check_array(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        result = sniff(data)
        name = "<bytes>"
        path = None
    elif isinstance(source, (str, Path)):
        path = Path(source)
        result = sniff(path)
        name = str(path)
        data = None
    else:
        raise InputError(
            None,
            f"cannot read audio from a {type(source).__name__}",
            "pass a path, the bytes of a file, or a 16 kHz mono float32 numpy array",
        )
    if result.kind not in ("audio", "video"):
        raise InputError(name, f"is {result.media_type}, not audio or video", _CONVERT_HINT)
    return OpenedAudio(name, result.media_type, path=path, data=data)


def _check_array(array: npt.NDArray[Any]) -> Float32Array:
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise InputError(
            "<array>",
            f"audio array has shape {array.shape}",
            "pass a 1-D 16 kHz mono array (average the channels first)",
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(
            "<array>",
            f"audio array has dtype {array.dtype}",
            "pass float samples in [-1, 1] (divide int16 samples by 32768)",
        )
    if array.size == 0:
        raise InputError("<array>", "audio array is empty (zero length)")
    samples = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise InputError("<array>", "audio array holds NaN or infinite samples")
    return samples


def _decode(opened: OpenedAudio, deadline: Deadline) -> Iterator[Float32Array]:
    """Decoded 16 kHz mono float32 chunks; raises `InputError` for anything undecodable."""
    if opened.array is not None:
        yield opened.array
        return
    try:
        import av
    except ImportError:
        raise EngineError(
            "PyAV is missing; pip install av (it comes with faster-whisper)"
        ) from None

    file: Any = opened.path if opened.data is None else io.BytesIO(opened.data)
    try:
        container = av.open(str(file) if opened.data is None else file, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise InputError(
            opened.name, f"cannot be opened as audio ({_reason(error)})", _CONVERT_HINT
        ) from None
    total = 0
    try:
        with container:
            if not container.streams.audio:
                raise InputError(opened.name, "holds no audio stream", _CONVERT_HINT)
            declared = _declared_duration(container, opened)
            resampler = av.audio.resampler.AudioResampler(
                format="s16", layout="mono", rate=SAMPLE_RATE
            )
            fifo = av.audio.fifo.AudioFifo()
            tail: list[bytes] = []  # the last packet's bytes, to spot a cut-off final frame
            for frame in _valid_frames(_frames_keeping_tail(container, tail)):
                deadline.check()
                frame.pts = None  # as decode_audio: ignore timestamp gaps
                fifo.write(frame)
                if fifo.samples >= _GROUP_SAMPLES:
                    for chunk in _resample(resampler, fifo.read()):
                        total += chunk.size
                        yield chunk
            if fifo.samples > 0:
                for chunk in _resample(resampler, fifo.read()):
                    total += chunk.size
                    yield chunk
            for chunk in _resample(resampler, None):
                total += chunk.size
                yield chunk
            del resampler
            gc.collect()  # PyAV resampler objects linger otherwise (faster-whisper issue 390)
    except InputError:
        raise  # already says what is wrong (it is a ValueError too: keep it from being wrapped)
    except av.error.FFmpegError as error:
        raise InputError(
            opened.name, f"cannot be decoded ({_reason(error)})", _CONVERT_HINT
        ) from None
    except ValueError as error:  # e.g. a stream that changes format mid-way
        raise InputError(opened.name, f"cannot be decoded ({error})", _CONVERT_HINT) from None
    if total == 0:
        raise InputError(
            opened.name, "holds no audio samples (zero length)", "pass a file with sound in it"
        )
    _check_truncation(opened, declared, total / SAMPLE_RATE)
    if opened.media_type == "audio/mpeg" and tail and _mpeg_frame_cut_off(tail[0]):
        raise InputError(
            opened.name,
            "is truncated: its last MPEG audio frame is cut off",
            "re-export or re-download the file",
        )
    if total < MIN_SAMPLES:
        raise InputError(
            opened.name,
            f"is too short to hold speech ({1000 * total / SAMPLE_RATE:.1f} ms of audio)",
            f"pass a recording of at least {MIN_SAMPLES / SAMPLE_RATE:.1f} s",
        )


def _reason(error: Exception) -> str:
    """What went wrong, without the file name FFmpeg's errors repeat (the message has it)."""
    return getattr(error, "strerror", None) or str(error)


def _frames_keeping_tail(container: Any, tail: list[bytes]) -> Iterator[Any]:
    """Decoded frames of the first audio stream, as `container.decode(audio=0)` gives them,
    keeping the bytes of the last non-empty packet in `tail`."""
    for packet in container.demux(audio=0):
        if packet.size:
            tail[:] = [bytes(packet)]
        yield from _valid_frames(iter(packet.decode()))


# Layer III bitrates (kbit/s) by index, and sample rates (Hz) by version and index.
_MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_cut_off(packet: bytes) -> bool:
    """True when an MPEG Layer III packet is shorter than the frame its header announces.

    FFmpeg decodes what it can of a cut-off file without complaint, and MP3 files rarely
    state their length, so the final frame's own header is the evidence of truncation.
    """
    if len(packet) < 4 or packet[0] != 0xFF or packet[1] & 0xE0 != 0xE0:
        return False
    version, layer = (packet[1] >> 3) & 3, (packet[1] >> 1) & 3
    bitrate_index, rate_index = packet[2] >> 4, (packet[2] >> 2) & 3
    if layer != 1 or version == 1 or rate_index == 3 or bitrate_index in (0, 15):
        return False  # not Layer III, or free-format: no length to check against
    kbps = (_MPEG1_L3_KBPS if version == 3 else _MPEG2_L3_KBPS)[bitrate_index]
    rate = _MPEG_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * kbps * 1000 // rate + ((packet[2] >> 1) & 1)
    return len(packet) < length


def _valid_frames(frames: Iterator[Any]) -> Iterator[Any]:
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue  # as decode_audio: skip a damaged frame, keep the rest


def _resample(resampler: Any, frame: Any) -> Iterator[Float32Array]:
    for out in resampler.resample(frame):
        samples = out.to_ndarray().reshape(-1)
        yield samples.astype(np.float32) / 32768.0


def _wav_declared_duration(opened: OpenedAudio) -> float | None:
    """Seconds a WAV header's data chunk claims (FFmpeg guesses from the file size instead)."""
    try:
        stream: Any = (
            opened.path.open("rb") if opened.path is not None else io.BytesIO(opened.data or b"")
        )
    except OSError:
        return None
    with stream:
        if stream.read(12)[8:12] != b"WAVE":
            return None
        byte_rate = 0
        for _ in range(64):  # a bounded walk over the chunks
            header = stream.read(8)
            if len(header) < 8:
                return None
            kind, size = header[:4], int.from_bytes(header[4:], "little")
            if kind == b"fmt ":
                fmt = stream.read(size + (size & 1))
                byte_rate = int.from_bytes(fmt[8:12], "little")
            elif kind == b"data":
                if byte_rate <= 0 or size in (0, 0xFFFFFFFF):
                    return None  # a stream written without a known length
                return size / byte_rate
            else:
                stream.seek(size + (size & 1), io.SEEK_CUR)
    return None


def _declared_duration(container: Any, opened: OpenedAudio) -> float | None:
    if opened.media_type == "audio/wav":
        return _wav_declared_duration(opened)
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _check_truncation(opened: OpenedAudio, declared: float | None, decoded: float) -> None:
    if declared is None or declared <= 0:
        return
    if opened.media_type in _EXACT_LENGTH_TYPES:
        short = decoded < declared - max(0.25, 0.01 * declared)
    else:
        # Compressed formats often only estimate their length; flag only gross shortfalls.
        short = decoded < 0.5 * declared and declared - decoded > 2.0
    if short:
        raise InputError(
            opened.name,
            f"is truncated or damaged: its header says {declared:.1f} s but only "
            f"{decoded:.1f} s of audio could be decoded",
            "re-export or re-download the file",
        )


def probe_duration(opened: OpenedAudio) -> float | None:
    """Seconds the source says it lasts (for progress), or None when it does not say."""
    if opened.array is not None:
        return float(opened.array.shape[0]) / SAMPLE_RATE
    try:
        import av

        file: Any = str(opened.path) if opened.data is None else io.BytesIO(opened.data)
        with av.open(file, metadata_errors="ignore") as container:
            if not container.streams.audio:
                return None
            seconds: float | None = _declared_duration(container, opened)
            return seconds
    except Exception:  # a probe only: decoding reports real problems with the file
        return None


def load_audio(source: AudioSource, *, timeout: float | None = None) -> Float32Array:
    """The whole source as 16 kHz mono float32, identical to `faster_whisper.decode_audio`."""
    opened = open_audio(source)
    chunks = list(_decode(opened, Deadline(timeout, f"decoding {opened.name}")))
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def iter_windows(
    opened: OpenedAudio,
    *,
    window: float = 600.0,
    search: float = 30.0,
    deadline: Deadline | None = None,
) -> Iterator[Window]:
    """Decoded audio in windows of about `window` seconds, cut at the quietest moment.

    A source shorter than `window + search` seconds comes out as one window holding all
    of it. Otherwise each cut lies in the last `search` seconds of the window, at the
    quietest half second, so words are rarely split; every window but the first starts
    where the previous one ended. Peak memory is bounded by `window + search` seconds of
    audio plus one decode group, whatever the source's length.
    """
    deadline = deadline or Deadline(None, opened.name)
    size = int(window * SAMPLE_RATE)
    lookahead = int(search * SAMPLE_RATE)
    pending: list[Float32Array] = []
    held = 0
    offset = 0
    for chunk in _decode(opened, deadline):
        pending.append(chunk)
        held += chunk.size
        while held >= size + lookahead:
            buffer = np.concatenate(pending) if len(pending) > 1 else pending[0]
            pending = []
            cut = quiet_cut(buffer, size - lookahead, size)
            # Only the window and the audio after it live while the window is decoded: not
            # the chunks it was joined from, nor the joined buffer (which would double it).
            head, rest = np.array(buffer[:cut]), np.array(buffer[cut:])
            del buffer
            start, offset = offset, offset + cut
            pending, held = [rest], rest.size
            del rest
            out = Window(start / SAMPLE_RATE, head, last=False)
            del head
            yield out
            del out  # the caller drops its reference too, so the next window starts clean
    if held:
        buffer = np.concatenate(pending) if len(pending) > 1 else pending[0]
        pending = []
        yield Window(offset / SAMPLE_RATE, buffer, last=True)


def quiet_cut(samples: Float32Array, low: int, high: int) -> int:
    """Sample index in [low, high) at the centre of the quietest half second there."""
    frame = SAMPLE_RATE // 100  # 10 ms energy frames
    region = samples[low:high]
    count = region.size // frame
    if count == 0:
        return high
    energy = np.square(region[: count * frame].reshape(count, frame), dtype=np.float64).mean(axis=1)
    span = min(50, count)  # half a second of frames
    smooth = np.convolve(energy, np.ones(span) / span, mode="valid")
    best = int(np.argmin(smooth))
    return low + (best + span // 2) * frame

"""Audio loading and validation: every bad input is an InputError naming the file."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from faster_whisper import decode_audio

from tests.wav import write_wav
from uncertain.adapters.audio import (
    SAMPLE_RATE,
    Deadline,
    iter_windows,
    load_audio,
    open_audio,
    quiet_cut,
)
from uncertain.errors import EngineError, InputError


def _fit_clips(realdata_dir: Path) -> list[Path]:
    fit = realdata_dir / "audio" / "fit"
    return sorted([*fit.glob("*.wav"), *fit.glob("*.flac")])


def _expect_input_error(source: object, *words: str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_audio(source)  # type: ignore[arg-type]
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return caught.value


def test_decoding_equals_faster_whisper(realdata_dir: Path) -> None:
    clips = _fit_clips(realdata_dir)
    assert len(clips) >= 4
    for clip in clips:
        ours = load_audio(clip)
        theirs = decode_audio(str(clip))
        assert ours.dtype == np.float32
        assert np.array_equal(ours, theirs), clip.name


def test_bytes_and_path_decode_the_same(realdata_dir: Path) -> None:
    clip = _fit_clips(realdata_dir)[0]
    assert np.array_equal(load_audio(clip.read_bytes()), load_audio(clip))


def test_missing_file(tmp_path: Path) -> None:
    error = _expect_input_error(tmp_path / "nowhere.wav", "nowhere.wav", "no such file")
    assert error.source is not None


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect_input_error(path, "empty.wav", "empty")


def test_text_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is a shopping list, not a recording\n" * 20)
    _expect_input_error(path, "notes.wav", "not a supported")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(7).bytes(4096).replace(b"\xff", b"\x00"))
    _expect_input_error(path, "noise.bin")


def test_image_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "picture.wav"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    _expect_input_error(path, "picture.wav", "image/png", "not audio")


def test_zero_length_audio(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32))
    _expect_input_error(path, "silent.wav", "zero length")


def test_undecodable_stream(tmp_path: Path) -> None:
    # A WAV header naming a codec FFmpeg does not have, over a second of bytes.
    data = np.random.default_rng(3).bytes(32000)
    fmt = struct.pack("<HHIIHH", 0x7777, 1, 16000, 32000, 2, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff += b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "odd_codec.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    _expect_input_error(path, "odd_codec.wav")


def test_truncated_wav(tmp_path: Path) -> None:
    full = write_wav(tmp_path / "full.wav", np.sin(np.arange(SAMPLE_RATE * 4) / 9.0) * 0.3)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + SAMPLE_RATE])  # header says 4 s, holds 0.5 s
    _expect_input_error(cut, "cut.wav", "truncated")


def test_truncated_flac(tmp_path: Path, realdata_dir: Path) -> None:
    clip = next(c for c in _fit_clips(realdata_dir) if c.suffix == ".flac")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    _expect_input_error(cut, "cut.flac", "truncated")


def test_header_claims_hours_holds_a_second(tmp_path: Path) -> None:
    samples = (np.sin(np.arange(SAMPLE_RATE) / 7.0) * 0.3 * 32767).astype("<i2").tobytes()
    claimed = SAMPLE_RATE * 2 * 3600 * 3  # three hours of 16-bit mono
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", claimed) + samples
    path = tmp_path / "liar.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", claimed + 36) + body)
    _expect_input_error(path, "liar.wav", "truncated", "10800")


def test_directory(tmp_path: Path) -> None:
    _expect_input_error(tmp_path, str(tmp_path), "directory")


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.zeros((2, 100), dtype=np.float32), "shape"),
        (np.zeros(100, dtype=np.int16), "dtype"),
        (np.array([0.0, np.nan], dtype=np.float32), "NaN"),
    ],
)
def test_bad_arrays(array: np.ndarray, problem: str) -> None:
    _expect_input_error(array, problem)


def test_unsupported_object() -> None:
    _expect_input_error(12345, "int")


def test_decode_timeout(realdata_dir: Path) -> None:
    opened = open_audio(_fit_clips(realdata_dir)[0])
    with pytest.raises(EngineError, match="timeout"):
        list(iter_windows(opened, deadline=Deadline(0.0, "decoding")))


def test_windows_cover_the_audio_and_cut_quietly() -> None:
    rng = np.random.default_rng(5)
    seconds = 75
    audio = (rng.standard_normal(SAMPLE_RATE * seconds) * 0.2).astype(np.float32)
    quiet = slice(int(SAMPLE_RATE * 17.2), int(SAMPLE_RATE * 17.8))
    audio[quiet] = 0.0
    windows = list(iter_windows(open_audio(audio), window=20.0, search=5.0))
    assert len(windows) >= 3
    assert np.array_equal(np.concatenate([w.samples for w in windows]), audio)
    assert windows[-1].last and not any(w.last for w in windows[:-1])
    offsets = [w.offset for w in windows]
    assert offsets[0] == 0.0 and offsets == sorted(offsets)
    # The first cut falls in the silent half second placed inside the search region.
    cut = windows[0].samples.size
    assert quiet.start <= cut <= quiet.stop
    for window in windows[:-1]:
        assert 15.0 * SAMPLE_RATE <= window.samples.size <= 20.0 * SAMPLE_RATE


def test_short_audio_is_one_window(realdata_dir: Path) -> None:
    clip = _fit_clips(realdata_dir)[0]
    windows = list(iter_windows(open_audio(clip)))
    assert len(windows) == 1
    assert np.array_equal(windows[0].samples, decode_audio(str(clip)))


def test_quiet_cut_finds_the_gap() -> None:
    audio = np.ones(SAMPLE_RATE * 10, dtype=np.float32)
    audio[SAMPLE_RATE * 6 : SAMPLE_RATE * 6 + SAMPLE_RATE // 2] = 0.0
    cut = quiet_cut(audio, SAMPLE_RATE * 4, SAMPLE_RATE * 9)
    assert SAMPLE_RATE * 6 <= cut <= SAMPLE_RATE * 6 + SAMPLE_RATE // 2


@pytest.mark.parametrize(
    ("suffix", "codec", "rate"),
    [("mp3", "libmp3lame", 16000), ("ogg", "libopus", 48000), ("m4a", "aac", 16000)],
)
def test_compressed_formats_decode(
    tmp_path: Path, realdata_dir: Path, suffix: str, codec: str, rate: int
) -> None:
    source = load_audio(_fit_clips(realdata_dir)[0])
    path = tmp_path / f"clip.{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (source * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        resampler = av.audio.resampler.AudioResampler(
            format=stream.codec_context.format, layout="mono", rate=rate
        )
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(piece):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    decoded = load_audio(path)
    assert abs(decoded.size - source.size) < SAMPLE_RATE // 2
    assert np.array_equal(decoded, decode_audio(str(path)))

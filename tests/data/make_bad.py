"""Regenerate tests/data/bad/: inputs broken in the ways real uploads are.

The files are committed; this script documents how each was made (sox and qpdf from Debian,
Pillow, PyAV). Cases that cannot live in git are made by the tests at run time: a folder loop
made of symlinks, a file without read permission, a named pipe and a unix socket (device
files such as /dev/zero and /dev/null are used where they are).

    python tests/data/make_bad.py
"""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent / "bad"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
sys.path.insert(0, str(SAMPLES))
from make_samples import pdf_with_objects  # noqa: E402  (the samples' minimal PDF writer)


def wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    """A PCM16 mono WAV header announcing `data_bytes` bytes of samples."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb by its dimensions)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def video_without_audio() -> bytes:
    """A one-second MP4 with a video stream and no audio stream (PyAV, from faster-whisper)."""
    import av
    import numpy as np

    stream_out = io.BytesIO()
    with av.open(stream_out, "w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for shade in range(10):
            pixels = np.full((48, 64, 3), shade * 20, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return stream_out.getvalue()


def main() -> None:
    if HERE.exists():
        shutil.rmtree(HERE)
    HERE.mkdir(parents=True)
    rng = random.Random(20261125)
    wav = (SAMPLES / "jfk.wav").read_bytes()
    png = (SAMPLES / "clean_page.png").read_bytes()
    jpeg = (SAMPLES / "degraded_page.jpg").read_bytes()
    pdf = (SAMPLES / "two_pages.pdf").read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        flac, mp3 = Path(scratch) / "a.flac", Path(scratch) / "a.mp3"
        subprocess.run(["sox", str(SAMPLES / "jfk.wav"), str(flac)], check=True)
        subprocess.run(["sox", str(SAMPLES / "jfk.wav"), "-C", "64", str(mp3)], check=True)
        flac_bytes, mp3_bytes = flac.read_bytes(), mp3.read_bytes()
        encrypted = Path(scratch) / "encrypted.pdf"
        subprocess.run(
            [
                "qpdf",
                "--encrypt",
                "secret",
                "secret",
                "256",
                "--",
                str(SAMPLES / "two_pages.pdf"),
                str(encrypted),
            ],
            check=True,
        )
        (HERE / "encrypted.pdf").write_bytes(encrypted.read_bytes())

    files: dict[str, bytes] = {
        "empty.wav": b"",
        "empty.png": b"",
        "empty.pdf": b"",
        "truncated.wav": wav[:30],  # cut inside the header
        "truncated.flac": flac_bytes[:2000],
        "truncated.mp3": mp3_bytes[:700],
        "truncated.png": png[:400],
        "truncated.jpg": jpeg[:500],
        "truncated.pdf": pdf[:300],
        "random.wav": rng.randbytes(4096),
        "random.mp3": rng.randbytes(4096),
        "random.png": rng.randbytes(4096),
        "random.jpg": rng.randbytes(4096),
        "text.wav": b"This is a text file that someone named .wav by mistake.\n" * 20,
        # A header announcing about 3 hours of samples, followed by one second of them.
        "claims_hours.wav": wav_header(16000 * 2 * 60 * 60 * 3) + wav[44 : 44 + 32000],
        "zero_length.wav": wav_header(0),
        "single_sample.wav": wav_header(2) + b"\x10\x00",
        "bomb_60000x60000.png": png_claiming(60000, 60000),
        # A PDF whose only page points at content and resources that are not in the file.
        "missing_objects.pdf": pdf_with_objects(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 9 0 R "
                b"/Resources 10 0 R >>",
            ]
        ),
        "no_audio.mp4": video_without_audio(),
        "zero_pages.pdf": pdf_with_objects(
            [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
        ),
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)

    one = io.BytesIO()
    Image.new("L", (1, 1), 255).save(one, format="PNG")
    (HERE / "one_pixel.png").write_bytes(one.getvalue())

    frames = [Image.new("L", (120, 40), shade) for shade in (255, 128, 0)]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    (HERE / "animated.gif").write_bytes(animated.getvalue())

    # Awkward names hold good content: they must be read, not refused.
    names = HERE / "names"
    names.mkdir()
    (names / "with space.png").write_bytes(png)
    (names / 'quote\'s "double".png').write_bytes(png)
    short_speech = wav_header(3 * 32000) + wav[44 : 44 + 3 * 32000]  # "And so, my fellow..."
    (names / "ünïcødé-日本.wav").write_bytes(short_speech)
    (names / "-leading-dash.wav").write_bytes(short_speech)
    print(f"wrote {len(list(HERE.rglob('*')))} entries to {HERE}")


if __name__ == "__main__":
    main()

"""Peak RSS while transcribing long audio: flat with length is the goal.

Run: .venv/bin/python bench/asr_memory.py [--minutes 5 20] [--window 120] [--model tiny.en]
     .venv/bin/python bench/asr_memory.py --minutes 10 60 --window 600   (the full check)

Builds WAV files of the given lengths by concatenating the real fit clips with 1.5 s
pauses, then transcribes each in a fresh process with WhisperAdapter.iter_transcribe
(consuming every segment) and reports that process's peak RSS. Targets: < 1.5 GB with
tiny.en, and the two lengths within 10% of each other. The default window (120 s) makes
both default lengths span several windows; --window 600 is the adapter's own default.
With --peer (the default; --no-peer skips it), plain faster-whisper
(`WhisperModel.transcribe(path, word_timestamps=True)`, consuming every segment) runs on the
same files, each in a fresh process alternating with ours, and its peak is printed beside
ours as a ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from _common import REALDATA

os.environ.setdefault("HF_HUB_OFFLINE", "1")
FIT = REALDATA / "audio" / "fit"


def build(minutes: float, path: Path) -> None:
    """Write `minutes` of 16 kHz mono speech made of fit clips separated by pauses."""
    import numpy as np

    from uncertain.adapters.audio import load_audio

    clips = [load_audio(p) for p in sorted([*FIT.glob("*.wav"), *FIT.glob("*.flac")])]
    pause = np.zeros(24_000, dtype=np.float32)
    target = int(minutes * 60 * 16_000)
    written = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        index = 0
        while written < target:
            piece = np.concatenate([clips[index % len(clips)], pause])[: target - written]
            out.writeframes((piece * 32767).astype("<i2").tobytes())
            written += piece.size
            index += 1


def child(path: str, window: float, model: str, plain: bool = False) -> None:
    """Transcribe one file and print its peak RSS in MB and the segment count."""
    start = time.perf_counter()
    if plain:
        from faster_whisper import WhisperModel

        from uncertain.models import resolve_whisper_model

        engine = WhisperModel(resolve_whisper_model(model)[0], device="cpu", compute_type="int8")
        start = time.perf_counter()
        segments, _ = engine.transcribe(path, word_timestamps=True)
        count = sum(1 for _ in segments)
    else:
        from uncertain.adapters.whisper import WhisperAdapter

        adapter = WhisperAdapter(model=model, window=window)
        count = sum(1 for _ in adapter.iter_transcribe(path))
    elapsed = time.perf_counter() - start
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count the parent's memory
    # (the long audio it built) that this process mirrored between fork and exec.
    with open("/proc/self/status") as stream:
        peak_mb = next(int(x.split()[1]) for x in stream if x.startswith("VmHWM:")) / 1024
    print(f"{peak_mb:.1f} {count} {elapsed:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs=2, default=[5.0, 20.0])
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.window, args.model, args.plain)
        return
    peaks = []
    plain_peaks: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for minutes in args.minutes:
            path = Path(folder) / f"long_{minutes:g}min.wav"
            build(minutes, path)
            command = [
                sys.executable,
                __file__,
                "--child",
                str(path),
                "--window",
                str(args.window),
                "--model",
                args.model,
            ]
            result = subprocess.run(command, check=True, capture_output=True, text=True)
            peak, count, elapsed = result.stdout.split()
            peaks.append(float(peak))
            print(
                f"{minutes:g} min ({args.model}, window {args.window:g} s): "
                f"peak RSS {float(peak):.0f} MB "
                f"(target < 1536 MB), {count} segments in {float(elapsed):.0f} s "
                f"(RTF {float(elapsed) / (minutes * 60):.3f})"
            )
            if args.peer:
                done = subprocess.run(
                    [*command, "--plain"], check=True, capture_output=True, text=True
                )
                plain_peak, plain_count, _ = done.stdout.split()
                plain_peaks.append(float(plain_peak))
                print(
                    f"  plain faster-whisper on the same file: peak RSS {float(plain_peak):.0f} "
                    f"MB ({plain_count} segments); ours / plain "
                    f"{float(peak) / float(plain_peak):.2f}x"
                )
            path.unlink()
    growth = peaks[1] / peaks[0] - 1
    verdict = "meets target" if abs(growth) <= 0.10 else "MISSES target"
    print(
        f"peak RSS {args.minutes[1]:g} min vs {args.minutes[0]:g} min: {growth:+.1%} "
        f"(target within 10%; {verdict})"
    )
    if len(plain_peaks) == 2:
        print(
            f"plain faster-whisper peak RSS {args.minutes[1]:g} min vs {args.minutes[0]:g} min: "
            f"{plain_peaks[1] / plain_peaks[0] - 1:+.1%}"
        )


if __name__ == "__main__":
    main()

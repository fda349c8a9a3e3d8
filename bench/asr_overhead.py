"""Wall time of WhisperAdapter.read against plain faster-whisper, and real-time factors.

Run: .venv/bin/python bench/asr_overhead.py [--repeats N] [--split fit|eval] [--skip-base]

Both sides use the same loaded CTranslate2 model, the same files (decoded once beforehand,
so file decoding is not timed on either side) and faster-whisper's default settings with
word_timestamps=True. Runs alternate plain / adapter / adapter+alternatives / adapter+
alternatives searching every window (the first build's way: the N-best search for every 30 s
window, not only those holding a word in doubt) / adapter with `prior_signals=True` (the
language-prior pass on silence), the order turning each file, so drift in machine load hits all
five alike. Targets: <= 1.05x without alternatives, <= 1.15x with alternatives=3 and with the
prior signals. Wall time and CPU time (this process, CTranslate2's threads included) are both
reported: on a machine shared with other work, CPU time moves far less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _common
import numpy as np

from uncertain.adapters.audio import load_audio
from uncertain.adapters.whisper import WhisperAdapter, nbest

REALDATA = _common.REALDATA / "audio"


def _files(split: str) -> list[Path]:
    folder = REALDATA / split
    return sorted([*folder.glob("*.wav"), *folder.glob("*.flac")])


def _plain(engine: object, audio: np.ndarray) -> str:
    """Plain faster-whisper: transcribe with word timestamps, consuming the generator."""
    segments, _ = engine.transcribe(audio, word_timestamps=True)  # type: ignore[attr-defined]
    return "".join(s.text for s in segments).strip()


def _plain_engine(path: str) -> object:
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type="int8")


def measure(model: str, files: list[Path], repeats: int) -> None:
    adapter = WhisperAdapter(model=model)
    adapter.load()
    from uncertain.models import resolve_whisper_model

    plain = _plain_engine(resolve_whisper_model(model)[0])
    audios = [load_audio(f) for f in files]
    seconds = sum(a.size for a in audios) / 16000
    for audio in audios[:1]:  # warm up both
        _plain(plain, audio)
        adapter.read(audio)
    cut = nbest.UNCERTAIN_WORD_PROBABILITY
    runs = ("plain", "ours", "alternatives", "every window", "prior")
    totals: dict[str, list[float]] = {name: [] for name in runs}
    cpu_totals: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        spent = dict.fromkeys(runs, 0.0)
        cpu = dict.fromkeys(runs, 0.0)
        for number, audio in enumerate(audios):
            reference = None
            turn = number % len(runs)
            for name in runs[turn:] + runs[:turn]:
                nbest.UNCERTAIN_WORD_PROBABILITY = 1.01 if name == "every window" else cut
                start = time.perf_counter()
                cpu_start = time.process_time()
                if name == "plain":
                    reference = _plain(plain, audio)
                elif name == "ours":
                    document = adapter.read(audio)
                elif name == "prior":
                    adapter.read(audio, prior_signals=True)
                else:
                    adapter.read(audio, alternatives=3)
                spent[name] += time.perf_counter() - start
                cpu[name] += time.process_time() - cpu_start
            nbest.UNCERTAIN_WORD_PROBABILITY = cut
            if document.text != reference:
                print(f"  MISMATCH: adapter text differs from plain faster-whisper: {reference!r}")
        for name in runs:
            totals[name].append(spent[name] / spent["plain"] if name != "plain" else spent[name])
            cpu_totals[name].append(cpu[name] / cpu["plain"] if name != "plain" else cpu[name])
    print(f"model {model}: {len(files)} files, {seconds:.1f} s of audio, {repeats} repeats")
    print(f"  plain faster-whisper RTF     {statistics.median(totals['plain']) / seconds:.3f}")
    _report("  overhead, no alternatives   ", statistics.median(totals["ours"]), 1.05)
    _report("  overhead, alternatives=3    ", statistics.median(totals["alternatives"]), 1.15)
    every = statistics.median(totals["every window"])
    _report("  same, search every window   ", every, 1.15)
    _report("  overhead, prior_signals=True", statistics.median(totals["prior"]), 1.15)
    plain_cpu = statistics.median(cpu_totals["plain"])
    print(f"  CPU time, plain faster-whisper {plain_cpu:.2f} s; ratios:")
    _report("  CPU, no alternatives        ", statistics.median(cpu_totals["ours"]), 1.05)
    _report("  CPU, alternatives=3         ", statistics.median(cpu_totals["alternatives"]), 1.15)
    _report("  CPU, search every window    ", statistics.median(cpu_totals["every window"]), 1.15)
    _report("  CPU, prior_signals=True     ", statistics.median(cpu_totals["prior"]), 1.15)
    spread = {k: (min(v), max(v)) for k, v in cpu_totals.items() if k != "plain"}
    print(
        "  CPU ratio spread over repeats (min-max): "
        + ", ".join(f"{k} {lo:.3f}-{hi:.3f}" for k, (lo, hi) in spread.items())
    )


def _report(label: str, ratio: float, target: float) -> None:
    verdict = "meets target" if ratio <= target else f"MISSES target by {ratio - target:.3f}x"
    print(f"{label}{ratio:.3f}x (target <= {target:.2f}x; {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--split", choices=("fit", "eval"), default="fit")
    parser.add_argument("--skip-base", action="store_true", help="only measure tiny.en")
    args = parser.parse_args()
    files = _files(args.split)
    if not files:
        sys.exit(f"no audio files under {REALDATA / args.split}")
    print(f"cpu cores: {os.cpu_count()}")
    measure("tiny.en", files, args.repeats)
    if not args.skip_base:
        measure("base", files, max(1, args.repeats // 2))


if __name__ == "__main__":
    main()

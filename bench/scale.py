"""Scale: Ray Data throughput on short clips against a plain loop, and notebook HTML size.

    .venv/bin/python bench/scale.py                 # 40 clips of 4 s, about 2 minutes on 2 cores
    .venv/bin/python bench/scale.py --clips 200     # a longer run
    .venv/bin/python bench/scale.py --skip-ray      # only the HTML size

Clips are slices of the real recordings in shared/realdata/audio/fit/, written to a
temporary folder. Engine threads are pinned to 1 everywhere (OMP_NUM_THREADS=1 for this
process's plain loop, `cpu_threads=1` for each Ray actor), so the comparison is one core
against N cores, not threads inside CTranslate2 against processes; a second plain loop with
2 engine threads (in a subprocess, since threads are fixed when the model loads) is printed
as a peer. Ray timings include starting the actors and loading a model in each; `ray.init`
is timed on its own.

Two throughputs are printed. End to end: the whole run, model loading and Ray actor start-up
included (a few seconds that dominate a small batch on a small machine). Steady: clips per
second once running; for the loop, a second, warm pass; for Ray, the difference between a run
over all clips and a run over a fifth of them, which cancels the start-up.

Targets: the 2-CPU Ray pipeline's steady throughput reaches >= 1.6x the warm plain loop; the
notebook HTML of a 3-hour transcript (~30,000 words, times and marks) stays under 2 MB.
"""

from __future__ import annotations

import os

# Pinned before anything loads CTranslate2 (or numpy's BLAS): see the module docstring.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from _common import REALDATA

FIT_AUDIO = REALDATA / "audio" / "fit"
SAMPLE_RATE = 16000
THROUGHPUT_TARGET = 1.6
HTML_TARGET_BYTES = 2_000_000


def make_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """`count` clips of `seconds` each, sliced round-robin from the fit recordings."""
    from faster_whisper import decode_audio

    sources = sorted(p for p in FIT_AUDIO.iterdir() if p.suffix in (".wav", ".flac"))
    if not sources:
        sys.exit(f"no recordings in {FIT_AUDIO}")
    audio = [decode_audio(str(p), sampling_rate=SAMPLE_RATE) for p in sources]
    length = int(seconds * SAMPLE_RATE)
    clips: list[Path] = []
    offsets = [0] * len(audio)
    while len(clips) < count:
        index = len(clips) % len(audio)
        samples = audio[index]
        start = offsets[index]
        if start + length > samples.shape[0]:
            start = 0
        offsets[index] = start + length // 3  # overlapping windows: more clips per recording
        piece = samples[start : start + length]
        path = folder / f"clip{len(clips):03d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes((np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes())
        clips.append(path)
    return clips


def plain_loop(paths: list[Path]) -> tuple[float, float, list[str]]:
    """Seconds for `uncertain.api.read` over every path: cold (model load included), then warm."""
    from uncertain import api

    start = time.perf_counter()
    texts = [api.read(path).text for path in paths]
    cold = time.perf_counter() - start
    start = time.perf_counter()
    for path in paths:
        api.read(path)
    return cold, time.perf_counter() - start, texts


def ray_run(paths: list[Path], actors: int, batch_size: int) -> tuple[float, list[str], int]:
    """Seconds for the Ray pipeline with `actors` one-CPU actors, actor start-up included."""
    from uncertain.integrations.ray import transcribe_dataset

    start = time.perf_counter()
    dataset = transcribe_dataset(
        paths, concurrency=actors, num_cpus=1, cpu_threads=1, batch_size=batch_size, style=None
    ).materialize()
    seconds = time.perf_counter() - start
    rows = {row["path"]: row for row in dataset.take_all()}
    errors = sum(row["status"] != "ok" for row in rows.values())
    return seconds, [rows[str(p)]["text"] or "" for p in paths], errors


def loop_with_two_threads(folder: str, count: int) -> None:
    """The plain loop again in a subprocess whose engine uses 2 threads (printed as a peer)."""
    peer = subprocess.run(
        [sys.executable, __file__, "--loop-only", "--clips-dir", folder],
        env={**os.environ, "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        check=True,
    )
    cold, warm = json.loads(peer.stdout.strip().splitlines()[-1])
    print(
        f"plain loop, 2 threads: cold {cold:5.1f} s ({count / cold:5.2f} clips/s), "
        f"warm {warm:5.1f} s ({count / warm:5.2f} clips/s)  (peer, separate process)"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_ray(clips: int, seconds: float, batch_size: int, peer_loop: bool = True) -> bool:
    import ray
    import ray.data

    with tempfile.TemporaryDirectory() as folder:
        paths = make_clips(Path(folder), clips, seconds)
        small = paths[: max(2, len(paths) // 5)]
        print(f"{len(paths)} clips of {seconds:g} s from {FIT_AUDIO}")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("engine threads pinned to 1 (OMP_NUM_THREADS=1 here, cpu_threads=1 per actor)")

        cold, warm, loop_texts = plain_loop(paths)
        loop_rate = len(paths) / warm
        print(
            f"plain loop, 1 thread:  cold {cold:5.1f} s ({len(paths) / cold:5.2f} clips/s), "
            f"warm {warm:5.1f} s ({loop_rate:5.2f} clips/s)  (peer)"
        )
        if peer_loop:
            loop_with_two_threads(folder, len(paths))

        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        print(f"ray.init (2 CPUs): {time.perf_counter() - start:.1f} s (not counted below)")
        passed = True
        try:
            for actors in (1, 2):
                full_s, texts, errors = ray_run(paths, actors, batch_size)
                small_s, _, _ = ray_run(small, actors, batch_size)
                # Actor start-up and model loading cancel out in the difference of two runs.
                steady = (len(paths) - len(small)) / max(full_s - small_s, 1e-9)
                same = sum(a == b for a, b in zip(texts, loop_texts, strict=True))
                ratio = steady / loop_rate
                line = (
                    f"Ray Data, {actors} CPU: end to end {full_s:5.1f} s "
                    f"({len(paths) / full_s:5.2f} clips/s, {cold / full_s:4.2f}x the cold loop); "
                    f"steady {steady:5.2f} clips/s = {ratio:4.2f}x the warm loop"
                )
                if actors == 2:
                    ok = ratio >= THROUGHPUT_TARGET
                    passed = passed and ok
                    line += f"  target >= {THROUGHPUT_TARGET}x  {verdict(ok)}"
                print(line)
                print(f"  {errors} errors, {same}/{len(paths)} texts equal the loop's")
        finally:
            ray.shutdown()
        print(
            f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine skews "
            "these times; texts may differ where Whisper falls back to sampling)"
        )
    return passed


def synthetic_transcript(words: int, seed: int = 7) -> object:
    """A ~3-hour fused transcript: timed words in segments of 20, about 8% of words marked."""
    from uncertain.document import Block, Document, Mark, Source, Span, TimeRange

    rng = random.Random(seed)
    vocabulary = [
        *("the", "patient", "said", "she", "had", "been", "taking", "metformin", "twice"),
        *("a", "day", "and", "that", "her", "breathing", "was", "worse", "at", "night"),
        *("so", "we", "talked", "about", "the", "inhaler", "and", "the", "follow", "up"),
    ]
    spans, blocks, marks, pieces = [], [], [], []
    offset, clock = 0, 0.0
    for number in range(words):
        word = rng.choice(vocabulary)
        duration = rng.uniform(0.22, 0.5)  # 0.36 s a word: 30,000 words make 3 hours
        weak = rng.random() < 0.08
        confidence = rng.uniform(0.05, 0.5) if weak else rng.uniform(0.5, 1.0)
        spans.append(
            Span(
                id=number,
                start=offset,
                end=offset + len(word),
                text=word,
                confidence=confidence,
                signals={
                    "word_probability": confidence,
                    "avg_logprob": -0.3,
                    "no_speech_probability": 0.02,
                    "compression_ratio": 1.4,
                },
                time=TimeRange(start=clock, end=clock + duration),
            )
        )
        pieces.append(word)
        offset += len(word) + 1
        clock += duration
        if confidence < 0.5:
            marks.append(Mark(span_ids=[number], reason="low_confidence", confidence=confidence))
    for first in range(0, words, 20):
        last = min(first + 20, words) - 1
        start, end = spans[first].time, spans[last].time
        assert start is not None and end is not None
        blocks.append(
            Block(
                kind="segment",
                span_ids=list(range(first, last + 1)),
                time=TimeRange(start=start.start, end=end.end),
            )
        )
    source = Source(path="three_hours.wav", media_type="audio/wav", duration=clock)
    source.engine, source.model = "faster-whisper", "whisper-tiny.en"
    return Document(text=" ".join(pieces), spans=spans, blocks=blocks, marks=marks, source=source)


def bench_html(words: int) -> bool:
    from uncertain.document import Document
    from uncertain.exporters import notebook_html

    doc = synthetic_transcript(words)
    assert isinstance(doc, Document)
    start = time.perf_counter()
    size = len(notebook_html(doc).encode("utf-8"))
    seconds = time.perf_counter() - start
    hours = (doc.source.duration or 0) / 3600
    ok = size < HTML_TARGET_BYTES
    print(
        f"notebook HTML, {len(doc.spans):,} words ({hours:.1f} h, {len(doc.marks):,} marks): "
        f"{size / 1e6:.2f} MB in {seconds:.2f} s  target < {HTML_TARGET_BYTES / 1e6:g} MB  "
        f"{verdict(ok)}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40, help="how many clips (default 40)")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (default 4 s)")
    parser.add_argument("--batch-size", type=int, default=4, help="clips per Ray batch")
    parser.add_argument("--words", type=int, default=30_000, help="words in the HTML test")
    parser.add_argument("--skip-ray", action="store_true", help="only measure the HTML size")
    parser.add_argument("--skip-html", action="store_true", help="only measure throughput")
    parser.add_argument(
        "--skip-peer", action="store_true", help="skip the 2-thread plain loop (saves a minute)"
    )
    parser.add_argument("--loop-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clips-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop_only:  # the peer run in a subprocess with other engine threads
        cold, warm, _ = plain_loop(sorted(args.clips_dir.glob("clip*.wav")))
        print(json.dumps([cold, warm]))
        return
    passed = True
    if not args.skip_ray:
        passed = bench_ray(args.clips, args.seconds, args.batch_size, not args.skip_peer) and passed
    if not args.skip_html:
        passed = bench_html(args.words) and passed
    print("all targets met" if passed else "some targets missed")


if __name__ == "__main__":
    main()

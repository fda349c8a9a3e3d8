"""How fast fusion is: calibrator + marking per 1,000 spans (target < 1 ms), and whole `fuse`.

    .venv/bin/python bench/fusion_speed.py [--spans 1000] [--repeat 200]

The core is what the target covers: the bundled tiny.en calibrator applied to a prepared
feature matrix, the hallucination rule and the marking of runs. The whole `fuse` call also
extracts signals from the pydantic spans and copies them into a new Document; it is shown as
its peer, measured in the same run. The bundled Tesseract calibrator (boosted trees, dearer
than a logistic map) is timed on a matrix of the same size, beside the core.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import CALIBRATION

from uncertain.document import Block, Document, Source, Span, TimeRange
from uncertain.fusion import (
    BoostedCalibrator,
    Calibrator,
    default_calibrator,
    fuse,
    is_possible_hallucination,
    mark_spans,
    span_signals,
)


def synthetic_document(n: int, seed: int = 0) -> Document:
    """An ASR-like document of `n` words with plausible Whisper signals."""
    rng = np.random.default_rng(seed)
    words, spans, position = [], [], 0
    for i in range(n):
        word = "word" + str(i % 97)
        p = float(rng.beta(5, 1))
        segment = i // 20
        spans.append(
            Span(
                id=i,
                start=position,
                end=position + len(word),
                text=word,
                signals={
                    "word_probability": p,
                    "min_token_probability": p * 0.9,
                    "avg_logprob": -0.3 - 0.05 * (segment % 5),
                    "no_speech_probability": 0.05,
                    "compression_ratio": 1.5,
                },
                time=TimeRange(start=i * 0.4, end=i * 0.4 + 0.3),
            )
        )
        words.append(word)
        position += len(word) + 1
    blocks = [
        Block(kind="segment", span_ids=list(range(s, min(s + 20, n)))) for s in range(0, n, 20)
    ]
    return Document(
        text=" ".join(words),
        spans=spans,
        blocks=blocks,
        source=Source(engine="faster-whisper", model="tiny.en"),
    )


def best_of(repeat: int, run: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    doc = synthetic_document(args.spans)
    calibrator, note = default_calibrator(doc)
    signals = span_signals(doc)
    matrix = calibrator.matrix(signals)
    eligible = np.ones(args.spans, dtype=bool)
    unreadable = np.zeros(args.spans, dtype=bool)

    def core() -> None:
        confidence = calibrator.predict_matrix(matrix)
        hallucinated = is_possible_hallucination(signals)
        mark_spans(confidence, eligible, hallucinated, unreadable, threshold=calibrator.threshold)

    per_k = 1000.0 / args.spans
    t_core = best_of(args.repeat, core) * 1e3 * per_k
    t_matrix = best_of(args.repeat, lambda: calibrator.matrix(signals)) * 1e3 * per_k
    t_signals = best_of(max(args.repeat // 10, 3), lambda: span_signals(doc)) * 1e3 * per_k
    t_fuse = best_of(max(args.repeat // 10, 3), lambda: fuse(doc)) * 1e3 * per_k
    print(f"calibrator: {note}, {args.spans} spans, best of {args.repeat}")
    verdict = "met" if t_core < 1.0 else "NOT met"
    print(f"calibrator + marking:       {t_core:.3f} ms per 1,000 spans (target < 1 ms: {verdict})")
    print(f"feature matrix from dicts:  {t_matrix:.3f} ms per 1,000 spans")
    print(f"signal extraction (spans):  {t_signals:.3f} ms per 1,000 spans")
    print(f"whole fuse() (peer):        {t_fuse:.3f} ms per 1,000 spans")
    ocr = Calibrator.load(CALIBRATION / "tesseract-eng.json")
    words = np.random.default_rng(1).normal(size=(args.spans, len(ocr.features)))
    t_ocr = best_of(args.repeat, lambda: ocr.predict_matrix(words)) * 1e3 * per_k
    trees = f", {len(ocr.trees)} trees" if isinstance(ocr, BoostedCalibrator) else ""
    print(
        f"tesseract-eng ({ocr.kind}{trees}): {t_ocr:.3f} ms per 1,000 spans "
        "(no target: Tesseract itself takes seconds per page)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Confidence quality of the bundled calibrators, on held-out corpus data and real eval data.

    .venv/bin/python bench/corpus.py --small --augment-real   # once: build the corpus (cached)
    .venv/bin/python bench/confidence.py [--cache DIR] [--engines whisper-tiny.en,tesseract-eng]
                                         [--no-eval] [--no-cross-check]

Per engine and set: WER, wrong/words, AUROC of the raw score, of whisper-timestamped's word
confidence (geometric mean of the word's token probabilities, punctuation tokens left out) and
of ours; ECE raw vs ours; Brier; and, with the marks `fuse` makes at the default threshold,
the share of wrong words flagged, the share of words flagged and the silent errors per 100
words. Each figure is printed beside its target and the raw baselines first measured on these sets.
Then the share of emitted words marked `possible_hallucination` on no-speech audio (silence,
noise, reversed speech, babble) and on clean real speech.

Report sets: the corpus's test split (texts, voices, fonts and recordings never used in
fitting); the real eval recordings and scans in shared/realdata/*/eval/ (beside the
repository); and those recordings each under three degradations built here with sox and fixed
seeds (white noise, brown noise, telephone band + reverb). shared/realdata/*/eval/ is read
for reporting only.
With cross-checking (tiny.en, second model base), the `whisper-tiny.en+base` calibrator is
measured on the real eval sets too, with the time the second decode costs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from _common import timestamped_confidence
from corpus import (
    DEFAULT_CACHE,
    REALDATA,
    Item,
    adapter_for,
    augment,
    load_items,
    seed_for,
    to_16k,
)
from fit_calibration import labelled

from uncertain.crosscheck import cross_check_speech
from uncertain.document import Document
from uncertain.evaluate import (
    auroc,
    brier_score,
    expected_calibration_error,
    normalize_text,
)
from uncertain.fusion import fuse

TARGETS = {
    "asr": {"auroc": 0.90, "gain": 0.05, "ece": 0.03},
    "ocr": {"auroc": 0.95, "gain": 0.0, "ece": 0.03},
}
CROSS_CHECK_AUROC = 0.93  # tiny.en cross-checked by base, on real speech with noise
FLAG_RECALL = 0.80  # share of wrong words flagged at the default threshold ...
FLAG_RATE_FACTOR = 2.0  # ... while flagging at most this many times the error rate
# The first measurement of these sets (tiny.en / Tesseract 5.3, raw score as confidence).
RAW_BASELINES = {
    "real eval": "WER 0.05, 4/89 wrong, AUROC raw 0.69, ECE raw 0.066",
    "real eval + noise": "WER 0.24, 60/279 wrong, AUROC raw 0.87, ECE raw 0.064",
    "real eval scans": "WER 0.05, 6/115 wrong, AUROC raw 0.87, ECE raw 0.056",
}
# The degradations of the augmented eval set: white noise, brown noise, telephone + reverb.
EVAL_CONDITIONS = ["white5", "brownm10", "telephone+reverb"]


def _cached(engine_model: str, name: str, media: Path, cache: Path) -> Document:
    """`media` read by the adapter, cached under docs/eval-<engine_model>/<name>.json."""
    target = cache / "docs" / f"eval-{engine_model}" / f"{name}.json"
    if target.exists():
        return Document.model_validate(json.loads(target.read_text()))
    options: dict[str, Any] = {}
    if engine_model.startswith("whisper") and not engine_model.endswith(".en"):
        options["language"] = "en"  # as a cross-check decodes: told tiny.en's language
    doc = adapter_for(engine_model).read(media, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(doc.to_json())
    return doc


def eval_media(kind: str, cache: Path, augmented: bool = False) -> list[tuple[Item, Path]]:
    """Real eval files (English only for OCR); with `augmented`, each clip degraded three ways."""
    folder = REALDATA / kind / "eval"
    found: list[tuple[Item, Path]] = []
    for ref in sorted(folder.glob("*.txt")):
        if kind == "ocr" and "gt4histocr" in ref.stem:
            continue  # German Fraktur: not the eng calibrator's domain
        media = [p for p in folder.glob(ref.stem + ".*") if p.suffix not in (".txt", ".xml")]
        if not media:
            continue
        text = ref.read_text(encoding="utf-8").strip()
        if not augmented:
            found.append(
                (Item(ref.stem, str(media[0]), text, kind, "eval", "eval", ref.stem, ""), media[0])
            )
            continue
        clean = cache / "eval-audio" / f"{ref.stem}-clean.wav"
        clean.parent.mkdir(parents=True, exist_ok=True)
        if not clean.exists():
            to_16k(media[0], clean)
        for condition in EVAL_CONDITIONS:
            path = cache / "eval-audio" / f"{ref.stem}-{condition}.wav"
            if not path.exists():
                augment(clean, condition, path, seed_for(f"eval-{ref.stem}-{condition}"))
            name = f"{ref.stem}-{condition}"
            found.append(
                (Item(name, str(path), text, kind, "eval", "eval", ref.stem, condition), path)
            )
    return found


def eval_pairs(
    engine_model: str, cache: Path, augmented: bool = False, cross_check: str | None = None
) -> list[tuple[Item, Document]]:
    """Real eval files read by the adapter (cached), optionally cross-checked by a second model."""
    kind = "ocr" if engine_model.startswith("tesseract") else "audio"
    pairs = []
    for item, media in eval_media(kind, cache, augmented):
        doc = _cached(engine_model, item.id, media, cache)
        if cross_check:
            doc = cross_check_speech(doc, _cached(f"whisper-{cross_check}", item.id, media, cache))
        pairs.append((item, doc))
    return pairs


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(
    name: str, pairs: Iterable[tuple[Item, Document]], asr: bool, auroc_target: float | None = None
) -> None:
    """Print one set's figures beside their targets and the raw baselines."""
    pairs = list(pairs)
    if not pairs:
        print(f"  {name}: no data")
        return
    fused = [(item, fuse(doc)) for item, doc in pairs]
    rows, labels, _, spans = labelled(fused)
    if labels.size == 0:
        print(f"  {name}: no words")
        return
    ours = np.array([s.confidence for s in spans])
    raw = np.array([r["word_probability" if asr else "word_confidence"] for r in rows])
    in_mark = {id(doc.span(i)) for _, doc in fused for mark in doc.marks for i in mark.span_ids}
    flagged = np.array([id(span) in in_mark for span in spans], dtype=bool)
    wrong = ~labels
    edits = refs = 0
    from rapidfuzz.distance import Levenshtein

    for item, doc in fused:
        hyp, ref = normalize_text(doc.text).split(), normalize_text(item.text).split()
        edits += Levenshtein.distance(hyp, ref)
        refs += len(ref)
    targets = TARGETS["asr" if asr else "ocr"]
    a_raw, a_ours = auroc(raw, labels), auroc(ours, labels)
    notes = sorted({doc.source.calibration or "?" for _, doc in fused if doc.spans})
    print(
        f"  {name}: {len(fused)} files, {labels.size} words, WER {edits / max(refs, 1):.3f}, "
        f"{int(wrong.sum())}/{labels.size} wrong; calibrator {' + '.join(notes)}"
    )
    baseline = RAW_BASELINES.get(name.removesuffix(" (reporting only)"))
    if baseline:
        print(f"    raw baseline: {baseline}")
    line = f"    AUROC raw {a_raw:.3f}"
    best_peer = a_raw
    if asr:
        ts = auroc(np.array([timestamped_confidence(s) for s in spans]), labels)
        best_peer = max(best_peer, ts)
        line += f", whisper-timestamped {ts:.3f}"
        if "cross_agreement" in rows[0]:
            crude = np.array([r["word_probability"] * r["cross_agreement"] for r in rows])
            line += f", word_probability x agreement {auroc(crude, labels):.3f}"
    goal = targets["auroc"] if auroc_target is None else auroc_target
    met = a_ours >= goal and a_ours >= best_peer + targets["gain"]
    line += (
        f", ours {a_ours:.3f} (target >= {goal:.2f} and best peer + {targets['gain']:.2f}: "
        f"{_met(met)}; not below raw: {_met(a_ours >= a_raw)})"
    )
    print(line)
    e_raw, e_ours = (
        expected_calibration_error(raw, labels),
        expected_calibration_error(ours, labels),
    )
    print(
        f"    ECE raw {e_raw:.3f}, ours {e_ours:.3f} (target <= {targets['ece']:.2f}: "
        f"{_met(e_ours <= targets['ece'])}; not above raw: {_met(e_ours <= e_raw)}); "
        f"Brier raw {brier_score(raw, labels):.3f}, ours {brier_score(ours, labels):.3f}"
    )
    n_wrong = int(wrong.sum())
    recall = (flagged & wrong).sum() / n_wrong if n_wrong else math.nan
    rate_ok = flagged.mean() <= FLAG_RATE_FACTOR * wrong.mean()
    print(
        f"    marks at default threshold: {recall:.1%} of wrong words flagged (target >= "
        f"{FLAG_RECALL:.0%}: {_met(recall >= FLAG_RECALL)}), {flagged.mean():.1%} of words "
        f"flagged (target <= {FLAG_RATE_FACTOR:g} x {wrong.mean():.1%}: {_met(rate_ok)}), "
        f"{100 * (~flagged & wrong).sum() / labels.size:.2f} silent errors per 100 words"
    )


def cross_check_cost(cache: Path, second: str = "base") -> None:
    """Time tiny.en and the second model decoding the clean real eval clips, measured now."""
    first_s = second_s = audio_s = 0.0
    for _item, media in eval_media("audio", cache):
        start = time.perf_counter()
        doc = adapter_for("whisper-tiny.en").read(media)
        first_s += time.perf_counter() - start
        start = time.perf_counter()
        adapter_for(f"whisper-{second}").read(media, language="en")
        second_s += time.perf_counter() - start
        audio_s += doc.source.duration or 0.0
    print(
        f"  cross-check cost on the {audio_s:.0f} s of clean real eval audio (1 thread per "
        f"model): tiny.en {first_s:.1f} s, second decode ({second}) {second_s:.1f} s "
        f"(+{second_s / max(first_s, 1e-9):.0%} of the first decode's time)"
    )


def hallucination_rate(pairs: Iterable[tuple[Item, Document]]) -> tuple[int, int]:
    """(words marked possible_hallucination, words emitted)."""
    marked = emitted = 0
    for _, doc in pairs:
        fused = fuse(doc)
        emitted += len(fused.spans)
        marked += sum(len(m.span_ids) for m in fused.marks if m.reason == "possible_hallucination")
    return marked, emitted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--engines", default="whisper-tiny.en,whisper-base,tesseract-eng")
    parser.add_argument("--no-eval", action="store_true", help="skip realdata eval")
    parser.add_argument("--no-cross-check", action="store_true", help="skip tiny.en + base")
    args = parser.parse_args(argv)
    for engine_model in args.engines.split(","):
        asr = engine_model.startswith("whisper")
        items = list(load_items(engine_model, args.cache))
        print(f"== {engine_model} ({len(items)} cached corpus files)")
        if not items:
            print("  no corpus: run bench/corpus.py first")
            continue
        for domain in ("synthetic", "real"):
            held = [(i, d) for i, d in items if i.split == "test" and i.domain == domain]
            report(f"held-out {domain}", held, asr)
        if not args.no_eval:
            name = "real eval" if asr else "real eval scans"
            report(f"{name} (reporting only)", eval_pairs(engine_model, args.cache), asr)
            if asr:
                report(
                    "real eval + noise (reporting only)",
                    eval_pairs(engine_model, args.cache, augmented=True),
                    asr,
                )
        if asr:
            for kind in ("silence", "noise", "reversed", "babble"):
                pairs = [(i, d) for i, d in items if i.domain == "nospeech" and i.source == kind]
                m, e = hallucination_rate(pairs)
                rate = f"{m / e:.1%}" if e else "n/a (no words emitted)"
                print(
                    f"  {kind}: {e} words emitted in {len(pairs)} clips, marked "
                    f"possible_hallucination {rate} (target >= 95%)"
                )
            clean = [(i, d) for i, d in items if i.domain == "real" and i.condition == "clean"]
            if not args.no_eval:
                clean += eval_pairs(engine_model, args.cache)
            m, e = hallucination_rate(clean)
            print(
                f"  clean real speech: {m}/{e} words marked possible_hallucination "
                f"({m / max(e, 1):.1%}, target <= 2%)"
            )
        if engine_model == "whisper-tiny.en" and not args.no_cross_check:
            print("== whisper-tiny.en, cross_check='base'")
            pairs = [
                (i, cross_check_speech(d, other[i.id]))
                for other in [{i.id: d for i, d in load_items("whisper-base", args.cache)}]
                for i, d in items
                if i.split == "test" and i.domain == "real" and i.id in other
            ]
            report("held-out real", pairs, asr, CROSS_CHECK_AUROC)
            if not args.no_eval:
                for augmented in (False, True):
                    report(
                        "real eval" + (" + noise" if augmented else "") + " (reporting only)",
                        eval_pairs(engine_model, args.cache, augmented, cross_check="base"),
                        asr,
                        CROSS_CHECK_AUROC,
                    )
                cross_check_cost(args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())

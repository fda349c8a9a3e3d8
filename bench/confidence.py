"""Confidence quality of the bundled calibrators, on held-out corpus data and real eval data.

    .venv/bin/python bench/corpus.py --small     # once: build and read the corpus (cached)
    .venv/bin/python bench/confidence.py [--cache DIR] [--engines whisper-tiny.en,tesseract-eng]

Per engine and domain: WER, wrong/words, AUROC of the raw score, of whisper-timestamped's
word confidence (geometric mean of the word's token probabilities, punctuation tokens left
out) and of ours; ECE raw vs ours; Brier; and, with the marks `fuse` makes at the default
threshold, the share of wrong words flagged, the share of words flagged and the silent
errors per 100 words. Then the share of emitted words marked `possible_hallucination` on
no-speech audio (silence, noise, reversed speech, babble) and on clean real speech.

Held-out data is the corpus's test split (texts, voices, fonts and recordings never used in
fitting). ../shared/realdata/*/eval/ is read here for reporting only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_CACHE, REALDATA, Item, _adapter, load_items
from fit_calibration import labelled

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
_PUNCT = set(".,!?;:'\"-()[]…")


def timestamped_confidence(span: Any) -> float:
    """whisper-timestamped: geometric mean of the word's token probabilities, no punctuation."""
    probs = [
        t.probability for t in span.tokens if t.text.strip() and not set(t.text.strip()) <= _PUNCT
    ]
    if not probs:
        return float(span.signals.get("word_probability", 0.0))
    return float(np.exp(np.mean(np.log(np.maximum(probs, 1e-12)))))


def eval_pairs(engine_model: str, cache: Path) -> list[tuple[Item, Document]]:
    """Real eval files read by the adapter (cached); English only for Tesseract."""
    kind = "ocr" if engine_model.startswith("tesseract") else "audio"
    folder = REALDATA / kind / "eval"
    pairs = []
    for ref in sorted(folder.glob("*.txt")):
        if kind == "ocr" and "gt4histocr" in ref.stem:
            continue  # German Fraktur: not the eng calibrator's domain
        media = [p for p in folder.glob(ref.stem + ".*") if p.suffix not in (".txt", ".xml")]
        if not media:
            continue
        target = cache / "docs" / f"eval-{engine_model}" / f"{ref.stem}.json"
        if target.exists():
            doc = Document.model_validate(json.loads(target.read_text()))
        else:
            doc = _adapter(engine_model).read(media[0])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(doc.to_json())
        text = ref.read_text(encoding="utf-8").strip()
        pairs.append((Item(ref.stem, str(media[0]), text, kind, "eval", "eval", ref.stem, ""), doc))
    return pairs


def report(name: str, pairs: Iterable[tuple[Item, Document]], asr: bool) -> None:
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
    print(
        f"  {name}: {len(fused)} files, {labels.size} words, WER {edits / max(refs, 1):.3f}, "
        f"wrong/words {wrong.mean():.3f}"
    )
    line = f"    AUROC raw {a_raw:.3f}"
    if asr:
        ts = np.array([timestamped_confidence(s) for s in spans])
        line += f", whisper-timestamped {auroc(ts, labels):.3f}"
    met = a_ours >= targets["auroc"] and a_ours >= a_raw + targets["gain"]
    line += (
        f", ours {a_ours:.3f} (target >= {targets['auroc']:.2f} and raw + {targets['gain']:.2f}"
        f"{': met' if met else ': NOT met'})"
    )
    print(line)
    e_raw, e_ours = (
        expected_calibration_error(raw, labels),
        expected_calibration_error(ours, labels),
    )
    print(
        f"    ECE raw {e_raw:.3f}, ours {e_ours:.3f} (target <= {targets['ece']:.2f}"
        f"{': met' if e_ours <= targets['ece'] else ': NOT met'}); Brier raw "
        f"{brier_score(raw, labels):.3f}, ours {brier_score(ours, labels):.3f}"
    )
    n_wrong = int(wrong.sum())
    recall = (flagged & wrong).sum() / n_wrong if n_wrong else math.nan
    print(
        f"    marks at default threshold: {recall:.1%} of wrong words flagged, "
        f"{flagged.mean():.1%} of words flagged, "
        f"{100 * (~flagged & wrong).sum() / labels.size:.2f} silent errors per 100 words"
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
            report("realdata eval (reporting only)", eval_pairs(engine_model, args.cache), asr)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

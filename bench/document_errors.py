"""Document-level calibration: expected errors against actual word errors, per condition.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/document_errors.py [--split eval] [--resamples 1000]
        [--speech-cache DIR] [--ocr-cache DIR] [--kinds forms,receipts,book,lines]

`Document.expected_errors()` is the sum of (1 - confidence) over a document's spans: the
number of wrong words the calibrated confidences predict. For each speech condition (the
tiny.en decodes that `speech_corpus.py` cached, fused with the bundled calibrator, scored as
`speech_confidence.py` scores them) and each scan kind (the Tesseract pages that
`ocr_corpus.py` cached, fused as `uncertain.read` does and, where RapidOCR's reading is cached
too, cross-checked as `read(cross_check="rapidocr")` does; scored as `ocr_confidence.py`
scores them) it prints:

- documents (recordings or pages) and words;
- the summed expected errors against the summed actual errors (wrong words, as labelled
  for AUROC and ECE), and their ratio with a 95% bootstrap interval over recordings or pages
  (NOIZEUS: sentences, all noises of one together), beside the target: within 20% (ratio
  0.8 to 1.2);
- the per-document Spearman correlation between expected and actual errors, with its interval;
- the same ratio over scored words only (punctuation-only spans, which no reference scores,
  left out of the expected errors), and against the word edits WER counts (deletions
  included, which no span can predict).

Report on `eval/` only; the script fits and chooses nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import intervals, ratio_interval, with_interval
from ocr_confidence import score_page
from ocr_corpus import DEFAULT_CACHE as OCR_CACHE
from ocr_corpus import Item as Page
from ocr_corpus import cross_checked, items, rapid_readings, tesseract_doc
from speech_confidence import CONDITIONS, recording
from speech_corpus import DEFAULT_CACHE as SPEECH_CACHE
from speech_corpus import load

from uncertain.document import Document
from uncertain.fusion import fuse

TARGET = (0.8, 1.2)  # expected / actual: within 20%
OCR_KINDS = ("forms", "receipts", "book", "lines")


@dataclass(frozen=True)
class Row:
    """One document: its bootstrap group and its error counts."""

    group: str
    expected: float  # Document.expected_errors(), every span with a confidence
    expected_scored: float  # the same over the spans the reference scores
    wrong: int  # scored spans labelled wrong
    edits: int  # word edits against the reference (WER's numerator)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties get their average rank); NaN when either is constant."""

    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        ranked = np.empty(len(x))
        ranked[order] = np.arange(len(x), dtype=float)
        # Average rank over each run of equal values.
        values, inverse = np.unique(x, return_inverse=True)
        sums = np.bincount(inverse, weights=ranked, minlength=len(values))
        counts = np.bincount(inverse, minlength=len(values))
        return np.asarray(sums / counts)[inverse]

    if len(a) < 3:
        return math.nan
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def speech_rows(split: str, cache: Path) -> dict[str, list[Row]]:
    """Per speech condition, one row per recording with a reference (tiny.en, bundled
    calibrator)."""
    out: dict[str, list[Row]] = {}
    for item, raw, _ in load("tiny.en", cache):
        if item.split != split or not item.reference or item.condition not in CONDITIONS:
            continue
        doc = fuse(raw)
        scored = recording(item, doc)
        out.setdefault(item.condition, []).append(
            Row(
                item.group,
                doc.expected_errors() or 0.0,
                float((1.0 - scored.confidence).sum()),
                int((~scored.right).sum()),
                scored.edits,
            )
        )
    return out


def _page_row(group: str, doc: Document, item: Page) -> Row:
    scored = score_page(doc, item)
    return Row(
        group,
        doc.expected_errors() or 0.0,
        float((1.0 - scored.confidence).sum()),
        int((~scored.right).sum()),
        scored.word_edits,
    )


def scan_rows(
    split: str, cache: Path, kinds: Iterable[str]
) -> tuple[dict[str, list[Row]], dict[str, list[Row]], dict[str, tuple[int, int]]]:
    """Per kind: rows of the cached pages fused as `read` does, rows of those with RapidOCR's
    reading cached too fused after the cross-check, and (cached, all) page counts."""
    alone: dict[str, list[Row]] = {}
    checked: dict[str, list[Row]] = {}
    counts: dict[str, tuple[int, int]] = {}
    for kind in kinds:
        chosen = [i for i in items(split, [kind]) if i.kind == kind]
        cached = [i for i in chosen if (cache / "tess" / f"{i.key}.json").is_file()]
        counts[kind] = (len(cached), len(chosen))
        for item in cached:
            doc = tesseract_doc(item, cache)
            alone.setdefault(kind, []).append(_page_row(item.key, fuse(doc), item))
            readings = rapid_readings(item, cache)
            if readings is not None:
                both = fuse(cross_checked(doc, readings))
                checked.setdefault(kind, []).append(_page_row(item.key, both, item))
    return alone, checked, counts


def report(name: str, rows: list[Row], resamples: int) -> str:
    """One condition's figures, each beside its target where it has one."""
    groups = sorted({r.group for r in rows})
    expected = sum(r.expected for r in rows)
    wrong = sum(r.wrong for r in rows)
    ratio = ratio_interval(((r.group, r.expected, r.wrong) for r in rows), resamples)
    scored = ratio_interval(((r.group, r.expected_scored, r.wrong) for r in rows), resamples)
    edits = ratio_interval(((r.group, r.expected, r.edits) for r in rows), resamples)
    index = {g: n for n, g in enumerate(groups)}
    members: list[list[int]] = [[] for _ in groups]
    for n, r in enumerate(rows):
        members[index[r.group]].append(n)
    exp = np.array([r.expected for r in rows])
    act = np.array([r.wrong for r in rows], dtype=float)

    def drawn_rows(drawn: np.ndarray) -> np.ndarray:
        return np.array([n for g in drawn for n in members[g]], dtype=int)

    rho = spearman(exp, act)
    rho_ci = intervals(
        len(groups),
        drawn_rows,
        {"rho": lambda picked: spearman(exp[picked], act[picked])},
        resamples=resamples,
        seed=0,
    )["rho"]
    low, high = TARGET
    met = "ok" if low <= ratio[0] <= high else "MISSED"
    fmt_ratio = "-" if math.isnan(ratio[0]) else with_interval(*ratio, ".2f")
    lines = [
        f"{name}: {len(rows)} documents ({len(groups)} groups)",
        f"   expected {expected:.1f} vs actual {wrong} wrong words: ratio {fmt_ratio} "
        f"(target {low}-{high}: {met})",
        f"   Spearman per document {with_interval(rho, *rho_ci, '.2f')}",
        f"   scored words only: ratio {with_interval(*scored, '.2f')}; "
        f"against word edits (deletions included): ratio {with_interval(*edits, '.2f')}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="eval", choices=["eval", "fit"])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--speech-cache", type=Path, default=SPEECH_CACHE)
    parser.add_argument("--ocr-cache", type=Path, default=OCR_CACHE)
    parser.add_argument("--kinds", default=",".join(OCR_KINDS), help="scan kinds to report")
    parser.add_argument("--no-speech", action="store_true", help="scans only")
    args = parser.parse_args(argv)
    print(
        f"split {args.split}; expected = Document.expected_errors(), actual = wrong words; "
        f"95% intervals: {args.resamples} bootstrap resamples of recordings or pages "
        "(NOIZEUS: sentences)"
    )
    if not args.no_speech:
        print("\n== speech, tiny.en, bundled calibrator")
        by_condition = speech_rows(args.split, args.speech_cache)
        for condition in CONDITIONS:
            if condition in by_condition:
                print(report(condition, by_condition[condition], args.resamples))
        pooled = [r for rows in by_condition.values() for r in rows]
        if pooled:
            print(report("all speech", pooled, args.resamples))
    kinds = [k for k in args.kinds.split(",") if k]
    if kinds:
        alone, checked, counts = scan_rows(args.split, args.ocr_cache, kinds)
        for title, found in (
            ("Tesseract, bundled calibrator (read's default)", alone),
            ("Tesseract cross-checked by RapidOCR (selective)", checked),
        ):
            print(f"\n== scans, {title}")
            for kind in kinds:
                cached, total = counts[kind]
                if kind not in found:
                    print(f"{kind}: none of its {total} pages cached")
                    continue
                note = "" if cached == total else f" (cached: {cached} of {total} pages)"
                print(report(kind + note, found[kind], args.resamples))
    return 0


if __name__ == "__main__":
    sys.exit(main())

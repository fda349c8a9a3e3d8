"""Confidence quality of scans on the real corpus's `eval/` split, per kind, with RapidOCR.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ocr_confidence.py [--cache DIR] [--read]
        [--cost-pages N] [--boot 1000]

For each kind (forms, receipts, books, lines, and `realdata`: scans that are not in the
corpus) it prints words, WER, AUROC, ECE, the share of words marked, the share of wrong words
marked and silent errors per 100 words, each with a 95% bootstrap interval over pages, for:
Tesseract's raw `word_confidence`, the bundled Tesseract calibrator, Tesseract cross-checked
by RapidOCR in selective mode (the default) and, on the pages whose full-page reading is
cached, in full-page mode; beside their targets. Engine outputs come from the cache that
`bench/ocr_corpus.py` describes (`--read` reads and caches what is missing: slow). Then it
times `uncertain.read` on `--cost-pages` eval pages per kind, Tesseract alone vs selective vs
full-page, alternated in the same run, and prints the cost per page and the ratios.
Per kind it also prints one row per mark preset (`review`, the default, `recall`, `prompt`;
`uncertain.fusion.presets`) for the calibrated variants: the share of words marked, of wrong
words caught and silent errors per 100 words, with the default's targets on books (marks at
most 2x the error rate, catches at least 70% of the wrong words).

The cached Tesseract documents get the lexicon and repetition signals the adapter adds (in
`ocr_corpus.tesseract_doc`) before fusing. With `--previous DIR` (a folder holding earlier
`tesseract-eng.json` and `tesseract-eng+rapidocr.json`, e.g. from
`git show REV:uncertain/calibration/tesseract-eng.json`), their rows are printed beside the
bundled ones, on the same pages.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import intervals, with_interval
from ocr_corpus import (
    DEFAULT_CACHE,
    Item,
    cross_checked,
    items,
    rapid_readings,
    record_readings,
    tesseract_doc,
)

import uncertain
from uncertain.adapters.rapidocr import RapidOcrReader, cross_check_source
from uncertain.document import Document
from uncertain.evaluate import (
    BoxReference,
    auroc,
    expected_calibration_error,
    label_page_spans,
    normalize_text,
    normalize_words,
    score_by_boxes,
)
from uncertain.fusion import PRESETS, fuse

# The default preset (review) on books: marks at most REVIEW_FACTOR x the error rate while
# catching at least REVIEW_RECALL of the wrong words.
REVIEW_FACTOR = 2.0
REVIEW_RECALL = 0.70
MAIN_KIND = "book"

TARGETS = {
    "tesseract": {"book": 0.93, "forms": 0.92, "receipts": 0.92},
    "selective": {"book": 0.96, "forms": 0.96, "receipts": 0.96},
}
BOOK_SILENT_TARGET = 0.5  # silent errors per 100 book words at the default marks, Tesseract alone


@dataclass
class PageScore:
    """One page's words under one variant: confidence, right or wrong, marked or not."""

    confidence: np.ndarray
    right: np.ndarray
    marked: np.ndarray
    word_edits: int
    ref_words: int
    presets: dict[str, np.ndarray] = field(default_factory=dict)
    """Per mark preset, which words `fuse(doc, threshold=preset)` marks: below the preset's
    threshold (the document's `mark_presets`) or marked for another reason (`unreadable`)."""


def score_page(doc: Document, item: Item, raw: bool = False) -> PageScore:
    reference = item.reference()
    if isinstance(reference, BoxReference):
        labels, counts = score_by_boxes(doc, reference)
        edits, ref_words = counts[0], counts[1]
    else:
        labels, joined = label_page_spans(doc, reference)
        from rapidfuzz.distance import Levenshtein

        # Parentheses are printed text here, not transcript tags (as `label_page_spans`).
        ref = normalize_text(reference.replace("(", " ").replace(")", " ")).split()
        edits = int(Levenshtein.distance(normalize_text(joined).split(), ref))
        ref_words = len(ref)
    conf, right, marked, other = [], [], [], []
    for span, label in zip(doc.spans, labels, strict=True):
        if not normalize_words(span.text, printed=True):
            continue
        value = span.signals.get("word_confidence", 0.0) if raw else (span.confidence or 0.0)
        conf.append(value)
        right.append(label)
        mark = None if raw else doc.mark_of(span.id)
        marked.append(mark is not None)
        other.append(mark is not None and mark.reason != "low_confidence")
    confidence = np.asarray(conf, dtype=float)
    flagged = np.asarray(other, dtype=bool)
    found = {} if raw else doc.source.settings.get("mark_presets")
    cuts = found if isinstance(found, dict) else {}
    return PageScore(
        confidence,
        np.asarray(right, dtype=bool),
        np.asarray(marked, dtype=bool),
        edits,
        ref_words,
        {name: (confidence < float(cut)) | flagged for name, cut in cuts.items()},  # type: ignore[arg-type]
    )


def measures(pages: list[PageScore]) -> dict[str, float]:
    conf = np.concatenate([p.confidence for p in pages])
    right = np.concatenate([p.right for p in pages])
    marked = np.concatenate([p.marked for p in pages])
    wrong = ~right
    n = max(conf.size, 1)
    ref_words = sum(p.ref_words for p in pages)
    return {
        "words": float(conf.size),
        "wrong": float(wrong.sum()),
        "wer": sum(p.word_edits for p in pages) / ref_words if ref_words else float("nan"),
        "auroc": auroc(conf, right),
        "ece": expected_calibration_error(conf, right),
        "marked": float(marked.mean()) if conf.size else float("nan"),
        "caught": float((marked & wrong).sum() / wrong.sum()) if wrong.any() else float("nan"),
        "silent": 100.0 * float((~marked & wrong).sum()) / n,
    }


MEASURES = ("words", "wrong", "wer", "auroc", "ece", "marked", "caught", "silent")


def bootstrap(pages: list[PageScore], rounds: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% intervals of each measure, resampling pages with replacement (a measure that is
    NaN in every draw has none)."""
    found = intervals(
        len(pages),
        lambda drawn: measures([pages[i] for i in drawn]),
        {key: lambda m, key=key: m[key] for key in MEASURES},
        resamples=rounds,
        seed=seed,
    )
    return {key: found[key] for key in MEASURES if not np.isnan(found[key][0])}


def fmt(value: float, interval: tuple[float, float] | None, digits: int = 3) -> str:
    if np.isnan(value):
        return "-"
    if interval is None:
        return f"{value:.{digits}f}"
    return with_interval(value, *interval, f".{digits}f")


def report(name: str, pages: list[PageScore], rounds: int, target: float | None) -> None:
    m = measures(pages)
    ci = bootstrap(pages, rounds) if len(pages) > 1 else {}
    aim = f" (target >= {target:.2f})" if target else ""
    if "marked" in ci and m["marked"] > 0:
        percent = {k: (100 * v[0], 100 * v[1]) for k, v in ci.items() if k in ("marked", "caught")}
        marks = (
            f"marked {fmt(100 * m['marked'], percent['marked'], 1)}%  "
            f"caught {fmt(100 * m['caught'], percent.get('caught'), 1)}%  "
            f"silent/100 {fmt(m['silent'], ci.get('silent'), 2)}"
        )
    else:
        marks = "marks -"
    print(
        f"  {name:26s} AUROC {fmt(m['auroc'], ci.get('auroc'))}{aim}  "
        f"ECE {fmt(m['ece'], ci.get('ece'))} (target <= 0.03)  {marks}"
    )


def preset_rows(name: str, kind: str, pages: list[PageScore], rounds: int) -> list[str]:
    """One line per mark preset: its threshold is the document's, then the share of words
    marked, of wrong words caught and silent errors per 100 words, with 95% intervals over
    pages; the default's targets on books beside it."""
    lines = []
    for preset in PRESETS:
        if not pages or not all(preset in p.presets for p in pages):
            continue
        scored = [
            PageScore(p.confidence, p.right, p.presets[preset], p.word_edits, p.ref_words)
            for p in pages
        ]
        m = measures(scored)
        ci = bootstrap(scored, rounds) if len(scored) > 1 else {}
        wrong = m["wrong"] / m["words"]
        target = ""
        if preset == "review" and kind == MAIN_KIND:
            limit = REVIEW_FACTOR * wrong
            target = (
                f"  [marked<={REVIEW_FACTOR:g}x wrong ({100 * limit:.1f}%) "
                + ("ok" if m["marked"] <= limit else f"MISSED by {100 * (m['marked'] - limit):.1f}")
                + f"; caught>={REVIEW_RECALL:.0%} "
                + (
                    "ok"
                    if m["caught"] >= REVIEW_RECALL
                    else f"MISSED by {100 * (REVIEW_RECALL - m['caught']):.1f}"
                )
                + "]"
            )
        percent = {k: (100 * v[0], 100 * v[1]) for k, v in ci.items() if k in ("marked", "caught")}
        lines.append(
            f"  {name:26s} {preset:7s} marked {fmt(100 * m['marked'], percent.get('marked'), 1)}%"
            f"  caught {fmt(100 * m['caught'], percent.get('caught'), 1)}%"
            f"  silent/100 {fmt(m['silent'], ci.get('silent'), 2)}{target}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--read", action="store_true", help="read and cache missing pages")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap rounds")
    parser.add_argument("--cost-pages", type=int, default=2, help="timed pages per kind")
    parser.add_argument("--kinds", default="forms,receipts,book,lines,realdata")
    parser.add_argument("--cost-only", action="store_true", help="only time the variants")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds")
    parser.add_argument(
        "--line-budget", type=float, default=0.15, help="share of lines for the budget variant"
    )
    parser.add_argument(
        "--previous", type=Path, help="folder with earlier tesseract-eng*.json to compare"
    )
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if args.cost_only:
        cost(kinds, args.cost_pages, args.rounds, args.line_budget)
        return
    print(
        "Scans, eval split (reporting only; calibrators fitted on fit/); 95% bootstrap "
        f"intervals over pages ({args.boot} rounds)"
    )
    for kind in kinds:
        chosen = [i for i in items("eval", [kind]) if i.kind == kind]
        previous = args.previous
        variants: dict[str, list[PageScore]] = {
            "tesseract raw score": [],
            "tesseract previous": [],
            "tesseract calibrated": [],
            "+ rapidocr selective previous": [],
            "+ rapidocr selective": [],
            f"+ rapidocr budget {args.line_budget:g} previous": [],
            f"+ rapidocr budget {args.line_budget:g}": [],
            "tesseract (full subset)": [],
            "+ rapidocr full-page": [],
        }
        lines_read = lines_total = 0
        for item in chosen:
            if not (args.cache / "tess" / f"{item.key}.json").is_file() and not args.read:
                continue
            doc = tesseract_doc(item, args.cache)
            readings = rapid_readings(item, args.cache)
            if readings is None and args.read:
                readings = record_readings(item, args.cache)
            if readings is None:
                continue  # compare variants on the same pages
            variants["tesseract raw score"].append(score_page(doc, item, raw=True))
            variants["tesseract calibrated"].append(score_page(fuse(doc), item))
            checked = cross_checked(doc, readings)
            read, total = checked.source.settings["cross_check_lines"]  # type: ignore[misc]
            lines_read, lines_total = lines_read + int(read), lines_total + int(total)
            variants["+ rapidocr selective"].append(score_page(fuse(checked), item))
            if previous is not None:
                variants["tesseract previous"].append(
                    score_page(fuse(doc, calibration=previous / "tesseract-eng.json"), item)
                )
                variants["+ rapidocr selective previous"].append(
                    score_page(
                        fuse(checked, calibration=previous / "tesseract-eng+rapidocr.json"), item
                    )
                )
            budgeted = cross_checked(doc, readings, line_budget=args.line_budget)
            variants[f"+ rapidocr budget {args.line_budget:g}"].append(
                score_page(fuse(budgeted), item)
            )
            if previous is not None:
                variants[f"+ rapidocr budget {args.line_budget:g} previous"].append(
                    score_page(
                        fuse(budgeted, calibration=previous / "tesseract-eng+rapidocr.json"), item
                    )
                )
            full = rapid_readings(item, args.cache, "full")
            if full is not None and full.get("page") is not None:
                variants["tesseract (full subset)"].append(variants["tesseract calibrated"][-1])
                full_doc = cross_checked(doc, full, mode="full")
                variants["+ rapidocr full-page"].append(score_page(fuse(full_doc), item))
        base = variants["tesseract calibrated"]
        if not base:
            print(f"{kind}: no cached pages")
            continue
        m = measures(base)
        ci = bootstrap(base, args.boot)
        print(
            f"{kind}: {len(base)} pages, {int(m['words'])} words, {int(m['wrong'])} wrong "
            f"({100 * m['wrong'] / m['words']:.1f}%), WER {fmt(m['wer'], ci.get('wer'))}; "
            f"selective mode read {lines_read} of {lines_total} lines"
        )
        for name, pages in variants.items():
            if not pages:
                continue
            target = None
            if name == "tesseract calibrated":
                target = TARGETS["tesseract"].get(kind)
            elif name.startswith("+ rapidocr") and "previous" not in name:
                target = TARGETS["selective"].get(kind)
            label = name if "subset" not in name else f"{name} ({len(pages)} pages)"
            report(label, pages, args.boot, target)
        if kind == "book":
            print(
                f"  book targets: Tesseract alone silent/100 <= {BOOK_SILENT_TARGET:.2f}; "
                "with the second reader silent/100 <= 0.30, marked <= 2x error rate"
            )
        print("  mark presets (fuse(doc, threshold=preset)):")
        for name in ("tesseract calibrated", "+ rapidocr selective"):
            for line in preset_rows(name, kind, variants[name], args.boot):
                print(line)
    if args.cost_pages:
        cost(kinds, args.cost_pages, args.rounds, args.line_budget)


# The second reader of the budget variant (its models load once, on first use).
SECOND_READER = RapidOcrReader()


def _budgeted(path: Path, budget: float) -> Document:
    """`read(..., cross_check="rapidocr")` with at most `budget` of each page's lines re-read."""
    doc = uncertain.read(path, fuse=False)
    return fuse(cross_check_source(doc, path, SECOND_READER, line_budget=budget))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the tesseract runs)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cost(kinds: list[str], per_kind: int, rounds: int = 2, budget: float = 0.15) -> None:
    """Seconds per page of uncertain.read: Tesseract alone, selective, full; alternated.

    Wall time and CPU time (this process and its tesseract children): on a shared machine
    the CPU time is the steadier measure of what each variant costs.
    """
    print(f"\nCost per page ({per_kind} eval pages per kind, variants alternated, {rounds} rounds)")
    variants: dict[str, Callable[[Path], Document]] = {
        "tesseract alone": lambda p: uncertain.read(p),
        "selective": lambda p: uncertain.read(p, cross_check="rapidocr"),
        f"budget {budget:g}": lambda p: _budgeted(p, budget),
        "full-page": lambda p: uncertain.read(p, cross_check="rapidocr", cross_check_mode="full"),
    }
    first = items("eval", ["book"])[0].path
    uncertain.read(first, cross_check="rapidocr")  # load models once
    _budgeted(first, budget)  # and the budget variant's reader's
    for kind in kinds:
        if kind in ("lines", "realdata"):
            continue
        pages = [i for i in items("eval", [kind]) if i.kind == kind]
        step = max(len(pages) // per_kind, 1)
        chosen = pages[step // 2 :: step][:per_kind]  # spread over the kind, not the first
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for item in chosen:
                for name, run in variants.items():
                    started, started_cpu = time.perf_counter(), _cpu()
                    run(item.path)
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(_cpu() - started_cpu)
        alone, alone_cpu = (
            statistics.mean(wall["tesseract alone"]),
            statistics.mean(cpu["tesseract alone"]),
        )
        parts = [
            f"{name} wall {statistics.mean(wall[name]):.2f} s "
            f"({statistics.mean(wall[name]) / alone:.2f}x), "
            f"CPU {statistics.mean(cpu[name]):.2f} s "
            f"({statistics.mean(cpu[name]) / alone_cpu:.2f}x)"
            for name in variants
        ]
        print(f"  {kind}: " + "; ".join(parts) + "  (target: selective <= 1.5x)", flush=True)


if __name__ == "__main__":
    main()

"""What the uncertainty buys downstream, on real transcripts of the corpus.

    PYTHONPATH=. .venv/bin/python bench/downstream.py decode [--split eval|fit]   # once, cached
    PYTHONPATH=. .venv/bin/python bench/downstream.py report [--split eval|fit] [--llm N]

`decode` reads a fixed, manageable subset of shared/corpus/{speech,ocr}/<split>/ with
the real engines and caches the raw (unfused) Documents as JSON under $UNCERTAIN_BENCH_CACHE
(default ~/.cache/uncertain-corpus/downstream): Whisper tiny.en with 3 N-best hypotheses,
Whisper base (the
cross-check's second reading; decoded only with UNCERTAIN_DECODE_BASE=1, else taken from the
confidence benchmark's cache $UNCERTAIN_BORROW_BASE), Tesseract with its character choices
(taken from $UNCERTAIN_BORROW_OCR where the OCR benchmark already decoded the page).
`report` re-applies `uncertain.fuse` at bench time (so refitted calibrators count without
re-decoding) and prints, each beside its target and with a 95% bootstrap interval over
recordings/pages:

- coverage: among wrong words, the share whose right reading is among the alternatives,
  per source of alternatives (N-best, cross-check, OCR character choices + second pass);
- calibration of the alternatives' probabilities (ECE, and how often each is right);
- `resolve`: WER before and after, per condition;
- with `--llm N` (a local model server, see --base-url): LLM post-correction of N marked
  items with the plain transcript, each render style and an N-best list, against the
  original and `resolve`; right words the model changed, blended readings; and an
  extraction task on the samples/ recordings and scans with a known answer.

Fit, tune and choose only on `--split fit`; `eval` is for reporting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common
from _common import SAMPLES, difference_interval, load_helper, ratio_interval, with_interval

from uncertain.document import Document, Span

CORPUS = Path(os.environ.get("UNCERTAIN_CORPUS_DIR", _common.CORPUS))
CACHE = Path(os.environ.get("UNCERTAIN_BENCH_CACHE", _common.CACHE / "downstream"))

# How many items per condition each split contributes: enough for an interval, small enough
# to decode on two shared cores (speech clips are ~5 s; pages take seconds each).
SPEECH_LIMIT = {"clean": 14, "noisy": 16, "spontaneous": 7, "accented": 8, "domain": 8}
OCR_LIMIT = {"receipts": 8, "book": 8, "forms": 8, "lines": 20}
# Documents other benchmarks already decoded with the same engines and settings are copied
# instead of decoded again (two cores are shared): Whisper base readings and Tesseract pages.
# Readings other benchmarks already cached (bench/speech_corpus.py, bench/ocr_confidence.py).
BORROW_BASE = Path(os.environ.get("UNCERTAIN_BORROW_BASE", _common.CACHE / "speech" / "base"))
DECODE_BASE = os.environ.get("UNCERTAIN_DECODE_BASE") == "1"
BORROW_OCR = Path(os.environ.get("UNCERTAIN_BORROW_OCR", _common.CACHE / "ocr" / "tess"))
AUDIO = (".flac", ".wav", ".mp3")
IMAGES = (".png", ".jpg", ".tif")


@dataclass(frozen=True)
class Item:
    """One recording or scan with its reference."""

    kind: str  # "speech" or "ocr"
    split: str
    condition: str
    path: Path

    @property
    def name(self) -> str:
        return f"{self.condition}/{self.path.stem}"

    def cached(self, variant: str) -> Path:
        return CACHE / self.split / self.kind / self.condition / f"{self.path.stem}.{variant}.json"


def _spread(paths: list[Path], limit: int) -> list[Path]:
    """`limit` paths spread evenly over the sorted list (fixed, so reruns pick the same)."""
    if len(paths) <= limit:
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def items(split: str) -> list[Item]:
    found: list[Item] = []
    for kind, limits, suffixes in (
        ("speech", SPEECH_LIMIT, AUDIO),
        ("ocr", OCR_LIMIT, IMAGES),
    ):
        for condition, limit in limits.items():
            folder = CORPUS / kind / split / condition
            if not folder.is_dir():
                continue
            paths = sorted(
                p
                for p in folder.iterdir()
                if p.suffix in suffixes
                and p.with_suffix(".txt").is_file()
                # German Fraktur lines need language data the bench does not assume.
                and not (condition == "lines" and not p.name.startswith("uw3"))
            )
            found += [Item(kind, split, condition, p) for p in _spread(paths, limit)]
    return found


def decode(split: str) -> None:
    todo = items(split)
    started = time.perf_counter()
    # One pass per variant, the cheap primary readings first, so a partial run is usable.
    for wanted in ("tiny3", "tess", "base"):
        for number, item in enumerate(todo, 1):
            _decode_item(item, split, wanted)
            if number % 10 == 0:
                elapsed = time.perf_counter() - started
                print(f"{wanted}: {number}/{len(todo)} ({elapsed:.0f} s)", file=sys.stderr)


def _decode_item(item: Item, split: str, wanted: str) -> None:
    from uncertain.api import ocr, transcribe

    variants: dict[str, object] = {}
    if item.kind == "speech":
        variants = {
            "tiny3": lambda p=item.path: transcribe(p, alternatives=3, fuse=False),
            "base": lambda p=item.path: transcribe(p, model="base", language="en", fuse=False),
        }
        borrowed = {"base": BORROW_BASE / f"{split}-{item.condition}-{item.path.stem}.json"}
    else:
        variants = {"tess": lambda p=item.path: ocr(p, fuse=False)}
        borrowed = {
            "tess": BORROW_OCR / f"corpus__ocr__{split}__{item.condition}__{item.path.name}.json"
        }
    for variant, run in variants.items():
        target = item.cached(variant)
        if variant != wanted or target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        other = borrowed.get(variant)
        if other is not None and other.is_file():
            target.write_bytes(other.read_bytes())
            continue
        try:
            doc = run()  # type: ignore[operator]
        except Exception as error:  # a bad item is reported and skipped
            print(f"skip {item.name} {variant}: {error}", file=sys.stderr)
            continue
        target.write_text(doc.to_json())


def load_doc(path: Path) -> Document:
    """A cached Document; the confidence benchmark wraps its own as {"item", "document"}."""
    raw = json.loads(path.read_text())
    return Document.from_dict(raw.get("document", raw) if isinstance(raw, dict) else raw)


def cached_items(split: str) -> Iterator[Item]:
    for item in items(split):
        if item.cached("tiny3" if item.kind == "speech" else "tess").is_file():
            yield item


def reference(item: Item) -> str:
    text = item.path.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
    if item.condition == "spontaneous":
        # Montreal-Forced-Aligner tags (<cutoff-x>, <hes-x>, <unk>, [laughter]) are not words.
        text = re.sub(r"<[^>]*>|\[[^\]]*\]", " ", text)
    return text


# -- labels ---------------------------------------------------------------------------------


def _funsd_words(item: Item) -> list[tuple[tuple[float, float, float, float], list[str]]]:
    from uncertain.evaluate import normalize_words

    form = json.loads(item.path.with_suffix(".json").read_text())["form"]
    return [
        (tuple(w["box"]), normalize_words(w["text"]))
        for entity in form
        for w in entity["words"]
        if w["text"].strip()
    ]


class Labeller:
    """Which spans of a reading are right, and which of their alternatives would be.

    Text references: the normalised words of the reading are aligned to the reference (minimum
    edits); a span is right when all its words align to equal words, and an alternative is
    right when its words equal the reference words where the span's first word aligns. FUNSD
    forms (reference not in reading order): each span is matched to the form word whose box
    overlaps it most, and compared with that word.
    """

    def __init__(self, item: Item) -> None:
        self.item = item
        self.reference = reference(item)
        self.funsd = _funsd_words(item) if item.condition == "forms" else None

    def spans(self, doc: Document) -> list[list[str] | None]:
        """Per span, the reference words it stands for (None: nothing to compare with)."""
        from rapidfuzz.distance import Levenshtein

        from uncertain.evaluate import normalize_words

        pieces = [normalize_words(span.text) for span in doc.spans]
        if self.funsd is not None:
            return [
                self._by_box(span) if words else None
                for span, words in zip(doc.spans, pieces, strict=True)
            ]
        hyp = [w for words in pieces for w in words]
        ref = normalize_words(self.reference)
        where: list[int | None] = [None] * len(hyp)
        for op in Levenshtein.opcodes(hyp, ref):
            for i in range(op.src_start, op.src_end):
                if op.tag in ("equal", "replace"):
                    j = op.dest_start + (i - op.src_start)
                    where[i] = j if j < op.dest_end else None
        out: list[list[str] | None] = []
        position = 0
        for words in pieces:
            places = where[position : position + len(words)]
            position += len(words)
            if not words or places[0] is None:
                out.append(None if not words else [])
                continue
            first = places[0]
            last = max(p for p in places if p is not None)
            out.append(ref[first : last + 1])
        return out

    def _by_box(self, span: Span) -> list[str] | None:
        if span.box is None or not self.funsd:
            return None
        b = span.box
        best, words = 0.0, None
        for (x0, y0, x1, y1), text in self.funsd:
            inter = max(0.0, min(b.x1, x1) - max(b.x0, x0)) * max(
                0.0, min(b.y1, y1) - max(b.y0, y0)
            )
            union = (b.x1 - b.x0) * (b.y1 - b.y0) + (x1 - x0) * (y1 - y0) - inter
            if union > 0 and inter / union > best:
                best, words = inter / union, text
        return words if best >= 0.3 else None


def _right(text: str, target: list[str] | None) -> bool | None:
    from uncertain.evaluate import normalize_words

    if target is None:
        return None
    return normalize_words(text) == target


def errors(doc: Document, labeller: Labeller) -> tuple[int, int]:
    """(word errors, reference words): WER's parts, or for forms wrong and matched spans."""
    from uncertain.evaluate import normalize_words

    if labeller.funsd is not None:
        labels = [_right(s.text, t) for s, t in zip(doc.spans, labeller.spans(doc), strict=False)]
        known = [x for x in labels if x is not None]
        return sum(not x for x in known), len(known)
    from rapidfuzz.distance import Levenshtein

    ref = normalize_words(labeller.reference)
    return int(Levenshtein.distance(normalize_words(doc.text), ref)), len(ref)


# -- statistics ---------------------------------------------------------------------------


def group_of(item: Item) -> str:
    # NOIZEUS: one sentence under many noises is one unit; otherwise the recording or page
    # (the lines cut from one page, `page~1`, are that page).
    found = re.match(r"noizeus_(sp\d+)", item.path.stem)
    return found.group(1) if found else item.name.split("~")[0]


def fmt(value: tuple[float, float, float], percent: bool = True) -> str:
    point, low, high = value
    if math.isnan(point):
        return "n/a"
    if percent:
        return f"{100 * point:5.1f}% [{100 * low:.1f}, {100 * high:.1f}]"
    return with_interval(point, low, high)


# -- loading and fusing ---------------------------------------------------------------------


@dataclass
class Loaded:
    item: Item
    labeller: Labeller
    readings: dict[str, Document]  # "tiny" / "cross" / "ocr": fused documents


def load(split: str) -> list[Loaded]:
    """Cached raw documents, fused now (so refitted calibrators apply without decoding)."""
    from uncertain.crosscheck import cross_check_speech
    from uncertain.fusion import fuse

    loaded = []
    for item in cached_items(split):
        readings: dict[str, Document] = {}
        if item.kind == "speech":
            primary = load_doc(item.cached("tiny3"))
            readings["tiny"] = fuse(primary)
            borrowed = BORROW_BASE / f"{split}-{item.condition}-{item.path.stem}.json"
            base = item.cached("base") if item.cached("base").is_file() else borrowed
            if base.is_file():
                other = load_doc(base)
                readings["cross"] = fuse(cross_check_speech(primary, other))
        else:
            readings["ocr"] = fuse(load_doc(item.cached("tess")))
        loaded.append(Loaded(item, Labeller(item), readings))
    return loaded


# -- coverage, calibration of alternatives, resolve ------------------------------------------


def alternative_rows(loaded: list[Loaded], reading: str) -> list[dict[str, Any]]:
    """One row per span with alternatives: right?, its alternatives' sources, scores, rightness."""
    from uncertain.resolution import alternative_source

    rows = []
    for entry in loaded:
        doc = entry.readings.get(reading)
        if doc is None:
            continue
        targets = entry.labeller.spans(doc)
        for span, target in zip(doc.spans, targets, strict=False):
            right = _right(span.text, target)
            if right is None:
                continue
            alts = [
                (alternative_source(span, n, a), a.confidence, bool(_right(a.text, target)), a.text)
                for n, a in enumerate(span.alternatives)
            ]
            rows.append(
                {
                    "group": group_of(entry.item),
                    "condition": entry.item.condition,
                    "right": right,
                    "confidence": span.confidence,
                    "alts": alts,
                    "span": span,
                }
            )
    return rows


def coverage(rows: list[dict[str, Any]], source: str | None) -> tuple[float, float, float]:
    pairs = [
        (r["group"], float(any(ok for s, _, ok, _ in r["alts"] if source in (None, s))), 1.0)
        for r in rows
        if not r["right"]
    ]
    return ratio_interval(pairs)


def fit_tables(
    rows: list[dict[str, Any]],
) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """q per source and score bin: among wrong words, how often that alternative was right.

    Bins are merged left to right until each holds 20 alternatives, then made non-decreasing
    (pool adjacent violators), so a higher engine score never means a lower q.
    """
    edges_all = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    tables = {}
    for source in ("nbest", "cross", "ocr"):
        scored = [
            (score, ok)
            for r in rows
            if not r["right"]
            for s, score, ok, _ in r["alts"]
            if s == source
        ]
        if len(scored) < 20:
            continue
        bins: list[list[float]] = []  # [lower edge, right, count]
        for n, low in enumerate(edges_all):
            high = edges_all[n + 1] if n + 1 < len(edges_all) else 1.01
            inside = [ok for score, ok in scored if low <= score < high]
            if bins and bins[-1][2] < 20:
                bins[-1][1] += sum(inside)
                bins[-1][2] += len(inside)
            else:
                bins.append([low, float(sum(inside)), float(len(inside))])
        while len(bins) > 1 and bins[-1][2] < 20:
            last = bins.pop()
            bins[-1][1] += last[1]
            bins[-1][2] += last[2]
        merged = True
        while merged:  # pool adjacent violators
            merged = False
            for n in range(len(bins) - 1):
                a, b = bins[n], bins[n + 1]
                if a[2] and b[2] and a[1] / a[2] > b[1] / b[2]:
                    bins[n] = [a[0], a[1] + b[1], a[2] + b[2]]
                    del bins[n + 1]
                    merged = True
                    break
        tables[source] = (
            tuple(b[0] for b in bins),
            tuple(round(b[1] / b[2], 3) if b[2] else 0.0 for b in bins),
        )
    return tables


def alternative_calibration(rows: list[dict[str, Any]]) -> tuple[float, int, float, float]:
    """ECE of the best alternative's resolved probability against its being right, n, mean p,
    share right."""
    import numpy as np

    from uncertain.evaluate import expected_calibration_error
    from uncertain.resolution import alternative_probabilities

    probs, oks = [], []
    for r in rows:
        ranked = alternative_probabilities(r["span"])
        if not ranked:
            continue
        best_text = ranked[0][0]
        ok = any(ok for _, _, ok, t in r["alts"] if t.strip() == best_text)
        probs.append(ranked[0][1])
        oks.append(ok)
    if not probs:
        return math.nan, 0, math.nan, math.nan
    return (
        expected_calibration_error(probs, oks),
        len(probs),
        float(np.mean(probs)),
        float(np.mean(oks)),
    )


def oracle(doc: Document, labeller: Labeller) -> Document:
    """`doc` with every wrong word that has a right alternative replaced by it: the most any
    choice among the alternatives could fix (resolve's ceiling)."""
    targets = labeller.spans(doc)
    pieces: list[str] = []
    spans: list[Span] = []
    position = 0
    for span, target in zip(doc.spans, targets, strict=False):
        pieces.append(doc.text[position : span.start])
        text = span.text
        if _right(text, target) is False:
            text = next((a.text.strip() for a in span.alternatives if _right(a.text, target)), text)
        pieces.append(text)
        spans.append(span.model_copy(update={"text": text}))
        position = span.end
    pieces.append(doc.text[position:])
    # Unvalidated: only errors() reads it (the text, or span texts and boxes for forms).
    return doc.model_copy(update={"text": "".join(pieces), "spans": spans})


def resolve_rows(
    loaded: list[Loaded], reading: str, margin: float | None
) -> dict[str, list[tuple[str, float, float, float]]]:
    """Per condition: (group, errors before, errors after, words); margin None: the oracle."""
    from uncertain.resolution import resolve

    out: dict[str, list[tuple[str, float, float, float]]] = {}
    for entry in loaded:
        doc = entry.readings.get(reading)
        if doc is None:
            continue
        before, words = errors(doc, entry.labeller)
        if margin is None:
            after, _ = errors(oracle(doc, entry.labeller), entry.labeller)
        else:
            after, _ = errors(
                resolve(doc, margin=None if math.isnan(margin) else margin), entry.labeller
            )
        out.setdefault(entry.item.condition, []).append(
            (group_of(entry.item), before, after, words)
        )
    return out


MARGIN_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def choose_margins(loaded: list[Loaded], readings: list[str]) -> dict[str, float]:
    """Per source, the margin resolve ships: chosen on the fit split only.

    Each source is tried alone (the others unused). Its margin is the smallest of
    `MARGIN_GRID` after which no condition gets worse, at that margin or any larger one, then
    one step larger for safety; a source that fixes no word net at that margin is not used
    (`math.inf`). The chosen set is then checked together.
    """
    import importlib

    module = importlib.import_module("uncertain.resolution")
    shipped = dict(module.MARGINS)
    chosen: dict[str, float] = {}

    def outcome() -> tuple[list[str], int]:
        worse, fixed = [], 0
        for r in readings:
            for condition, pairs in resolve_rows(loaded, r, math.nan).items():
                before = sum(b for _, b, _, _ in pairs)
                after = sum(a for _, _, a, _ in pairs)
                fixed += int(before - after)
                if after > before:
                    worse.append(f"{r}/{condition}")
        return worse, fixed

    print("\n## margins per source (fit split only): net words fixed, conditions made worse")
    try:
        for source in shipped:
            results = []
            for margin in MARGIN_GRID:
                module.MARGINS.update({s: math.inf for s in shipped})
                module.MARGINS[source] = margin
                worse, fixed = outcome()
                results.append((margin, worse, fixed))
                print(f"  {source:6} margin {margin:4}: fixed {fixed:+3d} worse {worse or '-'}")
            safe = next(
                (k for k in range(len(results)) if not any(w for _, w, _ in results[k:])), None
            )
            pick = None if safe is None else min(safe + 1, len(results) - 1)
            if pick is None or results[pick][2] <= 0:
                chosen[source] = math.inf
            else:
                chosen[source] = results[pick][0]
            print(f"  -> {source}: {chosen[source]} (shipped {shipped[source]})")
        module.MARGINS.update(chosen)
        worse, fixed = outcome()
        print(f"  together: fixed {fixed:+d}, worse {worse or '-'}")
        print(f"  MARGINS = {chosen!r}  (paste into uncertain/resolution.py; inf is math.inf)")
    finally:
        module.MARGINS.clear()
        module.MARGINS.update(shipped)
    return chosen


def report(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    loaded = load(args.split)
    print(f"# downstream benchmark, split {args.split}: {len(loaded)} items cached")
    print("(2-core machine shared with other jobs: times are noisy; quality figures are not)")
    readings = [r for r in ("tiny", "cross", "ocr") if any(r in e.readings for e in loaded)]
    rows = {r: alternative_rows(loaded, r) for r in readings}
    if args.fit_tables:
        tables: dict[str, Any] = {}
        for r in readings:
            tables.update({k: v for k, v in fit_tables(rows[r]).items() if k not in tables})
        print("\n## fitted q tables (paste into uncertain/resolution.py ALTERNATIVE_TABLES)")
        print(json.dumps(tables))
    print("\n## coverage: wrong words whose right reading is among the alternatives")
    print("target: none set; the higher, the more resolve and a model can fix")
    for r in readings:
        for source in (None, "nbest", "cross", "ocr"):
            if source and not any(s == source for row in rows[r] for s, *_ in row["alts"]):
                continue
            wrong = sum(not row["right"] for row in rows[r])
            print(f"  {r:6} {source or 'any':6} {fmt(coverage(rows[r], source))}  ({wrong} wrong)")
    print("\n## calibration of the best alternative's probability (resolve's formula)")
    for r in readings:
        ece, n, mean_p, share = alternative_calibration(rows[r])
        print(f"  {r:6} ECE {ece:.3f} over {n} words; mean p {mean_p:.3f}, right {share:.3f}")
    print("\n## resolve: WER before -> after (forms: share of box-matched words wrong)")
    print("target: lower than before on every condition; cross-check on noisy >= 10% relative")
    print("(margin nan: the shipped MARGINS; oracle: every right alternative taken, the ceiling)")
    for margin in [*args.margins, None]:
        print(f" margin {'oracle' if margin is None else margin}")
        for r in readings:
            per = resolve_rows(loaded, r, margin)
            for condition, pairs in sorted(per.items()):
                before = ratio_interval([(g, b, n) for g, b, _, n in pairs])
                after = ratio_interval([(g, a, n) for g, _, a, n in pairs])
                delta = difference_interval([(g, b, a, n) for g, b, a, n in pairs])
                rel = (before[0] - after[0]) / before[0] if before[0] else math.nan
                words = sum(n for *_, n in pairs)
                print(
                    f"  {r:6} {condition:12} n={len(pairs):3} words={words:5.0f} "
                    f"before {fmt(before)} after {fmt(after)} gain {fmt(delta)} "
                    f"rel {100 * rel:.1f}%"
                )
    if args.choose_margins:
        choose_margins(loaded, readings)
    if args.llm:
        llm_report(args, loaded)
    print(f"\n(report took {time.perf_counter() - started:.0f} s)")
    return 0


# -- the LLM end ------------------------------------------------------------------------------

CORRECT_TASK = (
    "Return this transcript with misrecognised words corrected. Output only the corrected "
    "transcript as plain text, without any markup, notes or explanation."
)
NBEST_TASK = (
    "Below are {n} hypotheses of the same machine transcript, most likely first. Return the "
    "transcript with misrecognised words corrected. Output only the corrected transcript as "
    "plain text, without any markup, notes or explanation."
)
# Prompt variants: a style with the render defaults, `+alt` with 2 alternatives per mark, `+p`
# with p (2 digits), `+ids` with span ids, `+strict` with the preamble that says to change
# only marked text; `-v1`: the first syntax (`<unsure id p alt>`, `[?x|alt 0.31]`).
PROMPTS = (
    "plain",
    "inline",
    "brackets",
    "footnotes",
    "json",
    "nbest",
    "inline+alt",
    "brackets+alt",
    "inline+alt+p",
    "brackets+alt+p",
    "brackets+strict",
    "inline+strict",
    "inline-v1",
    "brackets-v1",
)
STRICT = (
    " Change only marked text, and only where another reading is clearly right; copy all "
    "other text exactly."
)
# Extraction questions on samples/ with the answer known from its reference text.
EXTRACTION = [
    (
        "synthetic_drug.wav",
        "Which drugs does the patient take? Answer with the names only.",
        ["prednisolone", "metformin"],
    ),
    (
        "synthetic_drug.wav",
        "Which doctor prescribed them? Answer with the surname only.",
        ["szczepanski"],
    ),
    ("clean_page.png", "How much furosemide was given? Answer with the dose only.", ["40"]),
    ("clean_page.png", "What was the potassium level? Answer with the number only.", ["3.2"]),
    (
        "degraded_page.jpg",
        "Which drug was started at St. Bartholomew's? Answer with the name only.",
        ["spironolactone"],
    ),
    ("degraded_page.jpg", "How much metformin was given? Answer with the dose only.", ["500"]),
    (
        "two_pages.pdf",
        "When was the patient born? Answer with the date only.",
        ["3", "september", "1958"],
    ),
    ("two_pages.pdf", "What dose of atorvastatin? Answer with the dose only.", ["20"]),
    (
        "jfk.wav",
        "Who does the speaker address? Answer in three words at most.",
        ["fellow", "americans"],
    ),
]


@contextlib.contextmanager
def local_server(threads: int) -> Iterator[str]:
    """The test model behind llama.cpp's OpenAI-compatible server, on a free local port."""
    import tempfile

    from uncertain.models import assemble_test_llm

    # The test suite's launcher: it turns off a weight repacking that crashes llama.cpp here.
    served = load_helper("tests/llm/serve.py").served
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "server.log"
        with served(assemble_test_llm(), log, threads=threads, ready_timeout=180.0) as url:
            yield url


def _clean_answer(text: str) -> str:
    """The transcript a model returned, without fences, quotes or echoed markup."""
    text = re.sub(r"^```\w*\n?|\n?```$", "", text.strip())
    text = re.sub(r"</?(?:unsure|u)(?:\s[^>]*)?>|</?document>", "", text)
    text = re.sub(r"\[\?([^\]|]*)(\|[^\]]*)?\]", r"\1", text)  # the first brackets syntax
    text = re.sub(r"\[([^\]|?]*)(\|[^\]?]*)?\?[^\]]*\]", r"\1", text)  # [x|alt?]
    text = text.split("\n\n---\n")[0]
    return text.strip().strip('"').strip()


def nbest_hypotheses(doc: Document, n: int = 3) -> list[str]:
    """Whole-transcript hypotheses: the k-th alternative of every word that has one."""
    out = [doc.text]
    for k in range(n - 1):
        pieces, position, changed = [], 0, False
        for span in doc.spans:
            pieces.append(doc.text[position : span.start])
            if len(span.alternatives) > k:
                pieces.append(span.alternatives[k].text.strip())
                changed = True
            else:
                pieces.append(span.text)
            position = span.end
        pieces.append(doc.text[position:])
        if changed:
            out.append("".join(pieces))
    return out


# The first syntax's preambles (uncertain 0.1, before the compact marks).
V1_PREAMBLES = {
    "inline": (
        "The document was machine-transcribed. Text inside <unsure> tags may be misrecognized: "
        "p is the probability it is right, alt lists other readings separated by |, id names "
        "its spans. Treat such text as uncertain: keep the alternatives in mind and say so or "
        "ask rather than guess. &lt; &amp; &#x..; are escaped characters."
    ),
    "brackets": (
        "The document was machine-transcribed. [?text|alt 0.31] marks text that may be "
        "misrecognized: other readings follow |, then the probability it is right, then #span "
        "ids if shown. Treat such text as uncertain: keep the alternatives in mind and say so "
        "or ask rather than guess. \\x means x; \\u{3C} is a character code."
    ),
}


def v1_messages(doc: Document, style: str) -> list[dict[str, str]]:
    """Messages in the first syntax: `<unsure id p alt>` (ids, p and 2 alternatives) and
    `[?text|alt 0.31]` (p and 2 alternatives), rewritten from what the renderer reads back."""
    from uncertain.render import parse, render, to_messages
    from uncertain.render.escaping import INVISIBLE

    system, user = to_messages(doc, CORRECT_TASK, "inline", alternatives=2, digits=2, ids=True)
    system["content"] = system["content"].replace(preamble_of("inline"), V1_PREAMBLES[style])
    if style == "inline":
        # Text never holds a raw `<`, so only the tags themselves match.
        user["content"] = re.sub(r"<u([ >])", r"<unsure\1", user["content"])
        user["content"] = user["content"].replace("</u>", "</unsure>")
        return [system, user]

    def escape(text: str, inside: bool) -> str:
        text = text.replace("\\", "\\\\").replace("[?", "\\[?").replace("<", "\\u{3C}")
        if inside:
            text = text.replace("]", "\\]").replace("|", "\\|")
        return INVISIBLE.sub(lambda m: f"\\u{{{ord(m.group()):X}}}", text)

    parsed = parse(render(doc, "brackets", alternatives=2, digits=2), "brackets")
    out, position = [], 0
    for mark in parsed.marks:
        out.append(escape(parsed.text[position : mark.start], False))
        fields = [parsed.text[mark.start : mark.end], *mark.alternatives]
        out.append(f"[?{'|'.join(escape(f, True) for f in fields)} {mark.confidence:.2f}]")
        position = mark.end
    out.append(escape(parsed.text[position:], False))
    body = "".join(out)
    system["content"] = system["content"].replace(V1_PREAMBLES["inline"], V1_PREAMBLES[style])
    user["content"] = f"{CORRECT_TASK}\n\n<document>\n{body}\n</document>"
    return [system, user]


def preamble_of(style: str) -> str:
    from uncertain.render import preamble

    return preamble(style)


def messages_for(doc: Document, prompt: str) -> list[dict[str, str]]:
    from uncertain.render import to_messages

    if prompt.endswith("-v1"):
        return v1_messages(doc, prompt[:-3])
    if prompt != "nbest":
        style, *extras = prompt.split("+")
        options: dict[str, Any] = {}
        if "alt" in extras:
            options["alternatives"] = 2
        if "p" in extras:
            options["digits"] = 2
        if "ids" in extras:
            options["ids"] = True
        messages = to_messages(doc, CORRECT_TASK, style, **options)
        if "strict" in extras:
            messages[0]["content"] += STRICT
        return messages
    hypotheses = nbest_hypotheses(doc)
    body = "\n".join(f"{n}. {h}" for n, h in enumerate(hypotheses, 1))
    system, _ = to_messages(doc, CORRECT_TASK, "plain")
    user = f"{NBEST_TASK.format(n=len(hypotheses))}\n\n<document>\n{body}\n</document>"
    return [system, {"role": "user", "content": user}]


def changes(doc: Document, corrected: str, labeller: Labeller) -> tuple[int, int, int, int]:
    """(right marked words changed, right marked words, right words changed, blended readings).

    A word is changed when its normalised words do not survive unchanged in a minimal-edit
    alignment of the original to the corrected text. A blend is a marked position where the
    model wrote a word that is neither the reading, an alternative, nor the reference.
    """
    from rapidfuzz.distance import Levenshtein

    from uncertain.evaluate import normalize_words

    pieces = [normalize_words(s.text) for s in doc.spans]
    hyp = [w for ws in pieces for w in ws]
    new = normalize_words(corrected)
    kept = [False] * len(hyp)
    replaced: dict[int, str] = {}
    for op in Levenshtein.opcodes(hyp, new):
        for i in range(op.src_start, op.src_end):
            if op.tag == "equal":
                kept[i] = True
            elif op.tag == "replace":
                j = op.dest_start + (i - op.src_start)
                if j < op.dest_end:
                    replaced[i] = new[j]
    targets = labeller.spans(doc)
    marked = {i for m in doc.marks for i in m.span_ids}
    right_marked_changed = right_marked = right_changed = blends = position = 0
    for span, words, target in zip(doc.spans, pieces, targets, strict=True):
        places = range(position, position + len(words))
        position += len(words)
        right = _right(span.text, target)
        if not words or right is None:
            continue
        changed = not all(kept[i] for i in places)
        if right:
            right_changed += changed
            if span.id in marked:
                right_marked += 1
                right_marked_changed += changed
        if span.id in marked and changed:
            readings = {w for a in span.alternatives for w in normalize_words(a.text)}
            readings |= set(words) | set(target or [])
            if any(i in replaced and replaced[i] not in readings for i in places):
                blends += 1
    return right_marked_changed, right_marked, right_changed, blends


class ChunkLabeller(Labeller):
    """Labels of a piece of a page: the page's per-span reference words, kept."""

    def __init__(self, item: Item, targets: list[list[str] | None]) -> None:
        self.item = item
        self.targets = targets
        self.reference = " ".join(w for t in targets if t for w in t)
        self.funsd = None

    def spans(self, doc: Document) -> list[list[str] | None]:
        return list(self.targets)


def ocr_chunks(entry: Loaded, lines: int = 3) -> list[Loaded]:
    """The `lines` lines of a page from its first marked line, as a document of their own."""
    doc = entry.readings["ocr"]
    marked = {i for m in doc.marks for i in m.span_ids}
    blocks = [b for b in doc.blocks if b.kind == "line" and b.span_ids]
    first = next((n for n, b in enumerate(blocks) if marked & set(b.span_ids)), None)
    if first is None:
        return []
    ids = {i for b in blocks[first : first + lines] for i in b.span_ids}
    where = [n for n, span in enumerate(doc.spans) if span.id in ids]
    low, high = min(where), max(where)
    spans = doc.spans[low : high + 1]
    start = spans[0].start
    targets = entry.labeller.spans(doc)[low : high + 1]
    inside = {span.id for span in spans}
    sub = Document.model_validate(
        {
            "text": doc.text[start : spans[-1].end],
            "spans": [
                s.model_copy(update={"start": s.start - start, "end": s.end - start}) for s in spans
            ],
            "marks": [m for m in doc.marks if set(m.span_ids) <= inside],
            "pages": doc.pages,
            "source": doc.source,
        }
    )
    path = entry.item.path
    item = Item(
        entry.item.kind, entry.item.split, entry.item.condition, path.with_stem(f"{path.stem}~1")
    )
    return [Loaded(item, ChunkLabeller(item, targets), {"ocr": sub})]


def guarded(doc: Document, answer: str) -> str:
    """The model's edits inside marked spans only (`uncertain.render.guard`)."""
    from uncertain.render import guard

    return guard(doc, answer)


def llm_report(args: argparse.Namespace, loaded: list[Loaded]) -> None:
    from uncertain.llm import openai_client
    from uncertain.resolution import resolve

    pool = [
        e
        for e in loaded
        if (e.item.kind == "speech" or e.item.condition == "lines")
        and (e.readings.get("tiny") or e.readings.get("ocr")) is not None
    ]
    # Whole pages are too long for a small model's answer: three lines of a page, from its
    # first marked line, stand for the page.
    pool += [
        chunk
        for e in loaded
        if e.item.kind == "ocr" and e.item.condition != "lines" and "ocr" in e.readings
        for chunk in ocr_chunks(e)
    ]
    pool = [e for e in pool if (e.readings.get("tiny") or e.readings["ocr"]).marks]
    chosen = [pool[int(i * len(pool) / args.llm)] for i in range(min(args.llm, len(pool)))]
    cache = CACHE.parent / "llm"
    cache.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url = args.base_url or stack.enter_context(local_server(args.threads))
        client = openai_client(url, args.timeout)

        def complete(messages: list[dict[str, str]], key: str) -> str:
            import hashlib

            # The same prompt name may stand for other messages after a renderer change.
            digest = hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:10]
            path = cache / f"{key}-{digest}.json"
            for known in (path, cache / f"{key}.json"):
                if known.is_file():
                    stored = json.loads(known.read_text())
                    if stored["messages"] == messages:
                        return str(stored["answer"])
            began = time.perf_counter()
            try:
                response = client.chat.completions.create(
                    model=args.model,
                    messages=messages,
                    temperature=0.0,
                    seed=0,
                    max_tokens=args.max_tokens,
                )
            except Exception as error:  # a loaded machine times out: count it, go on
                print(f"  ({key}: {type(error).__name__}, counted as no answer)", file=sys.stderr)
                return ""
            answer = response.choices[0].message.content or ""
            path.write_text(json.dumps({"messages": messages, "answer": answer}))
            print(f"  ({key}: {time.perf_counter() - began:.0f} s)", file=sys.stderr)
            return answer

        print(f"\n## LLM post-correction: {len(chosen)} marked items (speech + OCR lines)")
        print(
            "target: corrected WER <= plain prompt's and <= original; right marked words "
            "changed <= 10%"
        )
        started = time.perf_counter()
        table: dict[str, list[tuple[str, float, float, float]]] = {}
        counts: dict[str, list[int]] = {}
        for entry in chosen:
            doc = entry.readings.get("tiny") or entry.readings["ocr"]
            group = group_of(entry.item)
            before, words = errors(doc, entry.labeller)
            after_resolve, _ = errors(resolve(doc), entry.labeller)
            table.setdefault("original", []).append((group, before, before, words))
            table.setdefault("resolve", []).append((group, before, after_resolve, words))
            for prompt in args.prompts:
                item = entry.item
                key = f"{args.model}-{item.split}-{item.condition}-{item.path.stem}-{prompt}"
                answer = _clean_answer(complete(messages_for(doc, prompt), key))
                for name, text in ((prompt, answer), (f"{prompt}/guarded", guarded(doc, answer))):
                    corrected = doc.model_copy(update={"text": text, "spans": []})
                    after, _ = errors(corrected, entry.labeller)
                    table.setdefault(name, []).append((group, before, after, words))
                    c = counts.setdefault(name, [0, 0, 0, 0])
                    for n, v in enumerate(changes(doc, text, entry.labeller)):
                        c[n] += v
        for name, pairs in table.items():
            wer_after = ratio_interval([(g, a, n) for g, _, a, n in pairs])
            gain = difference_interval(pairs)
            extra = ""
            if name in counts:
                rmc, rm, rc, blends = counts[name]
                share = f"{100 * rmc / rm:.0f}%" if rm else "n/a"
                extra = (
                    f" right-marked changed {rmc}/{rm} ({share}, target <= 10%), "
                    f"right changed {rc}, blends {blends}"
                )
            print(f"  {name:24} WER {fmt(wer_after)} gain vs original {fmt(gain)}{extra}")
        print(f"  ({time.perf_counter() - started:.0f} s of generation and scoring)")
        extraction(args, complete)


def extraction(args: argparse.Namespace, complete: Any) -> None:
    """Questions with a known answer about samples/, asked with plain and marked prompts."""
    from uncertain.api import read
    from uncertain.evaluate import normalize_words
    from uncertain.render import to_messages
    from uncertain.resolution import resolve

    cache = CACHE.parent / "samples"
    cache.mkdir(parents=True, exist_ok=True)
    docs: dict[str, Document] = {}
    for name, _, _ in EXTRACTION:
        if name in docs:
            continue
        path = cache / f"{name}.json"
        if not path.is_file():
            path.write_text(read(SAMPLES / name, alternatives=3).to_json())
        docs[name] = Document.load(path)
    print(f"\n## extraction on samples/ ({len(EXTRACTION)} questions with known answers)")
    for condition in args.extraction:
        right = 0
        for number, (name, question, expected) in enumerate(EXTRACTION):
            doc = docs[name]
            style = condition.split("+")[-1]
            if condition.startswith("resolve"):
                doc = resolve(doc)
            key = f"{args.model}-extract-{number}-{condition}"
            answer = complete(to_messages(doc, question, style), key)
            words = set(normalize_words(answer)) | {w.strip(".,") for w in answer.lower().split()}
            right += all(e in words for e in expected)
        print(f"  {condition:15} {right}/{len(EXTRACTION)} right")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["decode", "report"])
    parser.add_argument("--split", default="eval", choices=["eval", "fit"])
    parser.add_argument("--llm", type=int, default=0, help="LLM items (0: skip the LLM part)")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--prompts", nargs="+", default=list(PROMPTS), choices=PROMPTS)
    parser.add_argument(
        "--extraction",
        nargs="*",
        default=["plain", "inline", "brackets", "resolve+plain", "resolve+inline"],
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="model server threads (1 on a loaded machine)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per LLM call")
    parser.add_argument("--max-tokens", type=int, default=120, help="per LLM answer")
    parser.add_argument("--choose-margins", action="store_true", help="(fit split only)")
    parser.add_argument("--fit-tables", action="store_true", help="print q tables (fit split)")
    parser.add_argument(
        "--margins", type=float, nargs="+", default=[math.nan], help="nan: the shipped MARGINS"
    )
    args = parser.parse_args(argv)
    if args.command == "decode":
        decode(args.split)
        return 0
    return report(args)


if __name__ == "__main__":
    sys.exit(main())

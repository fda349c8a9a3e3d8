"""Speech confidence on the real corpus, per condition and model, with bootstrap intervals.

    .venv/bin/python bench/speech_corpus.py          # once: decode and cache (tiny.en, base)
    .venv/bin/python bench/speech_confidence.py [--split eval] [--resamples 1000]
                                                [--calibration DIR] [--systems a,b] [--markdown]

Reads the Documents bench/speech_corpus.py cached and, per condition of the split
(shared/corpus/speech/<split>/<condition>, plus `real`: shared/realdata/audio/<split>,
recordings that are not in the corpus; on the fit split also `augmented`, the realdata fit clips
degraded; `all`: every condition pooled, the split as a whole) and per system, prints: words,
share wrong, WER, AUROC, ECE, the share of words marked, the share of wrong words marked and
silent errors (wrong, unmarked) per 100 words, each with a 95% interval from a bootstrap that
resamples recordings (NOIZEUS: sentences, all noises of one together). Beside them, computed
from the same decode: the peers' scores (raw `word_probability`, as faster-whisper,
openai-whisper and stable-ts expose it; whisper-timestamped's geometric mean of the word's token
probabilities), the gain over the raw score with a paired interval (the same resampled
recordings for both: a loss whose interval holds zero is not a result) and the targets.

Then one row per system, condition (clean, noisy, all) and mark preset (`review`, the
default, `recall`, `prompt`; `uncertain.fusion.presets`): the preset's threshold, the share of
words marked, of wrong words caught and silent errors per 100 words, with their intervals,
beside the default's targets on clean speech (marks at most 2x the error rate, catches at least
70% of the wrong words). `--presets-only` prints that table alone.

Systems: `tiny.en`, `base` (decoded with language="en"), `tiny.en+base` (tiny.en
cross-checked by base's reading, as `transcribe(cross_check="base")` does), and
`base/tiny.en-cal` (tiny.en's calibrator on base's words: how a calibrator transfers to a
model it was not fitted on). Then hallucination marks on reversed speech and on real speech.

`--candidate FILE` (repeatable) adds `tiny.en [<file stem>]`: tiny.en's decodes fused with that
calibrator file (the language-prior signals added first when it reads them), beside today's
rows, and after the table its paired AUROC and ECE gains over today's tiny.en calibrator.

`--nbest CACHE` adds `tiny.en+nbest` (and `<model>+nbest` for any other model with a bundled
N-best calibrator whose decodes are in the cache): the model decoded with `alternatives=3`
(cached by `speech_corpus.py --alternatives 3 --cache CACHE`), fused as
`transcribe(alternatives=3)` does, with the calibrator that reads the N-best agreement, and
after the table the paired AUROC and ECE gains of that calibrator over the model's own on the
same decodes (same words).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    bundled_calibrator,
    intervals,
    is_bundled,
    timestamped_confidence,
    with_interval,
)
from speech_corpus import DEFAULT_CACHE, Item, load

from uncertain.crosscheck import cross_check_speech
from uncertain.document import Document
from uncertain.evaluate import (
    auroc,
    expected_calibration_error,
    label_spans,
    normalize_text,
    normalize_words,
)
from uncertain.fusion import PRESETS, Calibrator, fuse

CONDITIONS = ["clean", "noisy", "spontaneous", "accented", "domain", "real", "augmented"]
# Every condition's recordings pooled (reversed speech left out): the split as a pipeline that
# mixes them sees it, and the ship rule ("a default worse than the raw score on the eval
# split does not ship") read on the split as a whole.
ALL = "all"
# The targets on the eval split: (AUROC at least, ECE at most).
TARGETS: dict[str, tuple[float, float]] = {
    "clean": (0.92, 0.03),
    "noisy": (0.90, 0.03),
    "spontaneous": (0.88, 0.05),
    "accented": (0.88, 0.05),
}
CROSS_CHECK_NOISY_AUROC = 0.93
CLEAN_SILENT_PER_100 = 1.0  # at most, while marking at most 2x the error rate
CLEAN_RECALL = 0.80  # errors marked, at least (marks worth reading)
MARK_FACTOR = 2.0
# The default preset (review) on clean speech: marks at most MARK_FACTOR x the error rate while
# catching at least this share of the wrong words.
REVIEW_RECALL = 0.70
PRESET_CONDITIONS = ("clean", "noisy", ALL)
HALLUCINATION_RECALL = 0.95  # reversed speech: share of its words marked, at least
HALLUCINATION_ON_SPEECH = 0.02  # real speech: share marked possible_hallucination, at most


@dataclass
class Recording:
    """One recording's words (punctuation-only spans left out) and its WER counts."""

    group: str
    confidence: np.ndarray
    raw: np.ndarray
    timestamped: np.ndarray
    right: np.ndarray
    marked: np.ndarray
    hallucination: np.ndarray
    edits: int
    reference_words: int
    presets: dict[str, np.ndarray] = field(default_factory=dict)
    """Per mark preset, which words `fuse(doc, threshold=preset)` marks: below the preset's
    threshold (the document's `mark_presets`) or marked `possible_hallucination`."""


def _edits(hypothesis: str, reference: str) -> tuple[int, int]:
    from rapidfuzz.distance import Levenshtein

    hyp = normalize_text(hypothesis, numbers=True).split()
    ref = normalize_text(reference, numbers=True).split()
    return int(Levenshtein.distance(hyp, ref)), len(ref)


def recording(item: Item, doc: Document) -> Recording:
    """Score one fused document against its reference."""
    rows: list[tuple[float, float, float, bool, bool, bool]] = []
    labels = label_spans(doc, item.reference) if item.reference else [False] * len(doc.spans)
    for span, right in zip(doc.spans, labels, strict=True):
        if not normalize_words(span.text):
            continue
        mark = doc.mark_of(span.id)
        rows.append(
            (
                float(span.confidence if span.confidence is not None else math.nan),
                float(span.signals.get("word_probability", 0.0)),
                timestamped_confidence(span),
                right,
                mark is not None,
                mark is not None and mark.reason == "possible_hallucination",
            )
        )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    edits, words = _edits(doc.text, item.reference)
    confidence = np.asarray(columns[0], dtype=np.float64)
    hallucination = np.asarray(columns[5], dtype=bool)
    found = doc.source.settings.get("mark_presets")
    cuts = found if isinstance(found, dict) else {}
    return Recording(
        item.group,
        confidence,
        np.asarray(columns[1], dtype=np.float64),
        np.asarray(columns[2], dtype=np.float64),
        np.asarray(columns[3], dtype=bool),
        np.asarray(columns[4], dtype=bool),
        hallucination,
        edits,
        words,
        {
            name: (confidence < float(cut)) | hallucination  # type: ignore[arg-type]
            for name, cut in cuts.items()
        },
    )


@dataclass
class Pool:
    """Recordings of one condition and system, grouped for the bootstrap."""

    recordings: list[Recording]
    groups: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        index: dict[str, list[int]] = {}
        for i, rec in enumerate(self.recordings):
            index.setdefault(rec.group, []).append(i)
        self.groups = list(index.values())

    def take(self, drawn: Sequence[int] | None = None) -> dict[str, Any]:
        picks = (
            range(len(self.recordings))
            if drawn is None
            else [i for g in drawn for i in self.groups[g]]
        )
        recs = [self.recordings[i] for i in picks]

        def cat(name: str, dtype: Any) -> np.ndarray:
            parts = [getattr(r, name) for r in recs]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        presets = {
            f"marked:{name}": np.concatenate([r.presets[name] for r in recs])
            if recs and all(name in r.presets for r in recs)
            else np.zeros(0, dtype=bool)
            for name in PRESETS
        }
        return {
            **presets,
            "confidence": cat("confidence", np.float64),
            "raw": cat("raw", np.float64),
            "timestamped": cat("timestamped", np.float64),
            "right": cat("right", bool),
            "marked": cat("marked", bool),
            "hallucination": cat("hallucination", bool),
            "edits": sum(r.edits for r in recs),
            "reference_words": sum(r.reference_words for r in recs),
        }


def _safe(fn: Callable[[np.ndarray, np.ndarray], float], c: np.ndarray, r: np.ndarray) -> float:
    return fn(c, r) if c.size else math.nan


METRICS: dict[str, Callable[[dict[str, Any]], float]] = {
    "words": lambda d: float(d["right"].size),
    "wrong": lambda d: float((~d["right"]).mean()) if d["right"].size else math.nan,
    "WER": lambda d: d["edits"] / d["reference_words"] if d["reference_words"] else math.nan,
    "AUROC": lambda d: _safe(auroc, d["confidence"], d["right"]),
    "ECE": lambda d: _safe(expected_calibration_error, d["confidence"], d["right"]),
    "marked": lambda d: float(d["marked"].mean()) if d["marked"].size else math.nan,
    "errors marked": lambda d: (
        float(d["marked"][~d["right"]].mean()) if (~d["right"]).any() else math.nan
    ),
    "silent/100": lambda d: (
        float((~d["right"] & ~d["marked"]).mean() * 100) if d["right"].size else math.nan
    ),
    "AUROC raw": lambda d: _safe(auroc, d["raw"], d["right"]),
    "ECE raw": lambda d: _safe(expected_calibration_error, d["raw"], d["right"]),
    "AUROC wts": lambda d: _safe(auroc, d["timestamped"], d["right"]),
    "ECE wts": lambda d: _safe(expected_calibration_error, d["timestamped"], d["right"]),
    # Paired with the raw score on the same resampled recordings: is a difference a result?
    "AUROC gain": lambda d: (
        _safe(auroc, d["confidence"], d["right"]) - _safe(auroc, d["raw"], d["right"])
    ),
    "ECE gain": lambda d: (
        _safe(expected_calibration_error, d["raw"], d["right"])
        - _safe(expected_calibration_error, d["confidence"], d["right"])
    ),
    "hallucination marked": lambda d: (
        float(d["hallucination"].mean()) if d["hallucination"].size else math.nan
    ),
}


def measure(pool: Pool, names: Sequence[str], resamples: int) -> dict[str, tuple[float, ...]]:
    """Each metric's value and 95% interval (recordings resampled)."""
    whole = pool.take()
    if not resamples:
        return {name: (METRICS[name](whole),) for name in names}
    found = intervals(
        len(pool.groups),
        lambda drawn: pool.take(drawn.tolist()),
        {name: METRICS[name] for name in names},
        resamples=resamples,
        seed=13,
    )
    return {name: (METRICS[name](whole), *found[name]) for name in names}


def _fmt(name: str, figures: tuple[float, ...]) -> str:
    value = figures[0]
    if name == "words":
        return f"{value:.0f}"
    if name in ("wrong", "marked", "errors marked", "hallucination marked"):
        spec = ".1%"
    else:
        spec = ".2f" if name == "silent/100" else ".3f"
    return with_interval(*figures, spec) if len(figures) == 3 else f"{value:{spec}}"


def versus_raw(figures: dict[str, tuple[float, ...]]) -> str:
    """`ok` when AUROC and ECE are both at least as good as the raw score's; otherwise
    `WORSE`, with `(inside interval)` when the paired bootstrap interval of every lost gain
    holds zero (the loss is not a result: COMMON rule, a difference inside the interval)."""
    lost = [name for name in ("AUROC gain", "ECE gain") if figures[name][0] < 0]
    if not lost:
        return "ok"
    if all(len(figures[n]) == 3 and figures[n][2] >= 0 for n in lost):
        return (
            "WORSE (inside interval: " + ", ".join(f"{n} {_fmt(n, figures[n])}" for n in lost) + ")"
        )
    return "WORSE"


def targets_of(condition: str, system: str, figures: dict[str, tuple[float, ...]]) -> list[str]:
    """The targets for this row, each with whether it is met."""
    notes = []
    auroc_t, ece_t = TARGETS.get(condition, (math.nan, math.nan))
    if system == "tiny.en+base" and condition == "noisy":
        auroc_t = CROSS_CHECK_NOISY_AUROC
    a, e = figures["AUROC"][0], figures["ECE"][0]
    if not math.isnan(auroc_t):
        notes.append(f"AUROC>={auroc_t} {'ok' if a >= auroc_t else f'MISSED by {auroc_t - a:.3f}'}")
        notes.append(f"ECE<={ece_t} {'ok' if e <= ece_t else f'MISSED by {e - ece_t:.3f}'}")
    raw_a = figures["AUROC raw"][0]
    if not math.isnan(raw_a):
        notes.append(f"vs raw {versus_raw(figures)}")
    if condition == "clean":
        wrong, marked = figures["wrong"][0], figures["marked"][0]
        silent, recall = figures["silent/100"][0], figures["errors marked"][0]
        notes.append(
            f"marked<={MARK_FACTOR:g}x wrong ({MARK_FACTOR * wrong:.1%}) "
            f"{'ok' if marked <= MARK_FACTOR * wrong else 'MISSED'}"
        )
        notes.append(
            f"errors marked>={CLEAN_RECALL:.0%} {'ok' if recall >= CLEAN_RECALL else 'MISSED'}"
        )
        notes.append(
            f"silent<={CLEAN_SILENT_PER_100:g} "
            f"{'ok' if silent <= CLEAN_SILENT_PER_100 else 'MISSED'}"
        )
    return notes


def systems(
    split: str, cache: Path, calibration: Path | None
) -> dict[str, list[tuple[Item, Document]]]:
    """Fused documents of every system on the split's recordings (reversed speech included)."""
    tiny = {i.id: (i, d) for i, d, _ in load("tiny.en", cache) if i.split == split}
    base = {i.id: (i, d) for i, d, _ in load("base", cache) if i.split == split}

    def cal(name: str) -> Calibrator | None:
        if calibration is None:
            return None
        return Calibrator.load(calibration / f"whisper-{name}.json")

    tiny_cal = Calibrator.load(calibration / "whisper-tiny.en.json") if calibration else None
    out: dict[str, list[tuple[Item, Document]]] = {
        "tiny.en": [(i, fuse(d, calibration=cal("tiny.en"))) for i, d in tiny.values()],
        "base": [(i, fuse(d, calibration=cal("base"))) for i, d in base.values()],
        "tiny.en+base": [
            (i, fuse(cross_check_speech(d, base[k][1]), calibration=cal("tiny.en+base")))
            for k, (i, d) in tiny.items()
            if k in base
        ],
    }
    transfer = tiny_cal if tiny_cal is not None else bundled_calibrator("whisper-tiny.en")
    out["base/tiny.en-cal"] = [(i, fuse(d, calibration=transfer)) for i, d in base.values()]
    return out


def nbest_system(
    split: str, cache: Path, calibration: Path | None, model: str = "tiny.en"
) -> list[tuple[Item, Document]]:
    """`model` decoded with alternatives=3, fused with its calibrator (`default_calibrator`'s
    pick for such documents, or `whisper-<model>+nbest.json` of `--calibration`)."""
    calibrator = (
        Calibrator.load(calibration / f"whisper-{model}+nbest.json") if calibration else None
    )
    return [
        (i, fuse(d, calibration=calibrator))
        for i, d, _ in load(f"{model}+alt3", cache)
        if i.split == split
    ]


def nbest_gain(
    split: str, cache: Path, calibration: Path | None, resamples: int, model: str = "tiny.en"
) -> None:
    """Per condition: AUROC and ECE of `model`+nbest minus those of `model`'s own calibrator,
    both on the alternatives=3 decodes (the same words), with 95% paired bootstrap intervals
    over recordings (NOIZEUS: sentences)."""
    plain = Calibrator.load(calibration / f"whisper-{model}.json") if calibration else None
    if plain is None:
        plain = bundled_calibrator(f"whisper-{model}")
    pairs = [(i, d) for i, d in nbest_system(split, cache, calibration, model) if i.reference]
    print(f"\n== {model}+nbest vs {model}'s calibrator, same alternatives=3 decodes (paired)")
    paired_gain(pairs, plain, resamples)


def paired_gain(pairs: list[tuple[Item, Document]], other: Calibrator, resamples: int) -> None:
    """Per condition: AUROC and ECE of the fused `pairs` minus those of the same documents
    fused with `other`, with 95% paired bootstrap intervals over recordings (NOIZEUS:
    sentences)."""
    for condition in [*CONDITIONS, ALL]:
        chosen = [(i, d) for i, d in pairs if condition in (ALL, i.condition)]
        if not chosen:
            continue
        # The other calibrator's confidence in the place of the raw score: the gain metrics
        # then compare the two calibrators on the same resampled recordings.
        pool = Pool(
            [
                replace(recording(i, d), raw=recording(i, fuse(d, calibration=other)).confidence)
                for i, d in chosen
            ]
        )

        def gains(data: dict[str, Any]) -> tuple[float, float]:
            if data["right"].all() or not data["right"].any():
                return math.nan, math.nan
            return METRICS["AUROC gain"](data), METRICS["ECE gain"](data)

        whole = gains(pool.take())
        found = intervals(
            len(pool.groups),
            lambda drawn, pool=pool: gains(pool.take(drawn.tolist())),
            {"AUROC gain": lambda g: g[0], "ECE gain": lambda g: g[1]},
            resamples=resamples,
            seed=13,
        )
        cells = [
            f"{name} {with_interval(whole[k], *found[name], '+.3f')}"
            for k, name in enumerate(found)
        ]
        print(
            f"   {condition:12s} {len(chosen)} recordings, {len(pool.groups)} groups: "
            + "  ".join(cells)
        )


def candidate_system(
    split: str, cache: Path, path: Path
) -> tuple[str, list[tuple[Item, Document]], Calibrator]:
    """tiny.en's decodes fused with the calibrator in `path` (named `tiny.en [<file stem>]`);
    when it reads the language-prior signals, they are added to the documents first (from
    their token texts: `WhisperAdapter.add_prior_signals`)."""
    from uncertain.adapters.whisper import WhisperAdapter
    from uncertain.adapters.whisper.prior import PRIOR_SIGNALS

    calibrator = Calibrator.load(path)
    docs = [(i, d) for i, d, _ in load("tiny.en", cache) if i.split == split]
    if set(calibrator.feature_names) & set(PRIOR_SIGNALS):
        adapter = WhisperAdapter("tiny.en", device="cpu")
        docs = [(i, adapter.add_prior_signals(d)) for i, d in docs]
    return f"tiny.en [{path.stem}]", docs, calibrator


def preset_metrics(name: str) -> dict[str, Callable[[dict[str, Any]], float]]:
    """Marked share, wrong words caught and silent errors per 100 words under one preset."""
    key = f"marked:{name}"

    def marked(d: dict[str, Any]) -> float:
        return float(d[key].mean()) if d[key].size else math.nan

    def caught(d: dict[str, Any]) -> float:
        wrong = ~d["right"]
        return float(d[key][wrong].mean()) if d[key].size and wrong.any() else math.nan

    def silent(d: dict[str, Any]) -> float:
        return float((~d["right"] & ~d[key]).mean() * 100) if d[key].size else math.nan

    return {"marked": marked, "errors marked": caught, "silent/100": silent}


def preset_target(preset: str, condition: str, wrong: float, marked: float, caught: float) -> str:
    """The default preset's targets on clean speech, met or missed by how much."""
    if preset != "review" or condition != "clean":
        return ""
    limit = MARK_FACTOR * wrong
    parts = [
        f"marked<={MARK_FACTOR:g}x wrong ({limit:.1%}) "
        + ("ok" if marked <= limit else f"MISSED by {(marked - limit) * 100:.1f} points"),
        f"caught>={REVIEW_RECALL:.0%} "
        + (
            "ok"
            if caught >= REVIEW_RECALL
            else f"MISSED by {(REVIEW_RECALL - caught) * 100:.1f} points"
        ),
    ]
    return "; ".join(parts)


def preset_table(
    fused: dict[str, list[tuple[Item, Document]]], resamples: int, markdown: bool
) -> None:
    """One row per system, condition and mark preset: the threshold, the share of words marked,
    of wrong words caught and silent errors per 100 words, with 95% intervals over recordings."""
    print(
        "\n== mark presets (fuse(doc, threshold=preset)): marked, wrong caught, silent errors "
        "per 100 words"
    )
    table = [
        "| system | condition | preset | threshold | words (wrong) | words marked "
        "| wrong words caught | silent errors / 100 words | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for system, pairs in fused.items():
        for condition in PRESET_CONDITIONS:
            recs = [
                recording(i, d)
                for i, d in pairs
                if i.reference and i.condition != "reversed" and condition in (ALL, i.condition)
            ]
            if not recs or not recs[0].presets:
                continue
            pool = Pool(recs)
            whole = pool.take()
            wrong = float((~whole["right"]).mean())
            cuts = pairs[0][1].source.settings.get("mark_presets", {})
            for preset in PRESETS:
                metrics = preset_metrics(preset)
                values = {k: f(whole) for k, f in metrics.items()}
                found = intervals(
                    len(pool.groups),
                    lambda drawn, pool=pool: pool.take(drawn.tolist()),
                    metrics,
                    resamples=resamples,
                    seed=13,
                )
                cells = {k: _fmt(k, (values[k], *found[k])) for k in metrics}
                cut = cuts.get(preset, math.nan) if isinstance(cuts, dict) else math.nan
                target = preset_target(
                    preset, condition, wrong, values["marked"], values["errors marked"]
                )
                print(
                    f"   {system:14s} {condition:6s} {preset:7s} t={cut}: "
                    f"{whole['right'].size} words ({wrong:.1%} wrong), marked {cells['marked']}, "
                    f"caught {cells['errors marked']}, silent/100 {cells['silent/100']}"
                    + (f"  [{target}]" if target else "")
                )
                table.append(
                    f"| {system} | {condition} | {preset} | {cut} | {whole['right'].size} "
                    f"({wrong:.1%}) | {cells['marked']} | {cells['errors marked']} "
                    f"| {cells['silent/100']} | {target} |"
                )
    if markdown:
        print("\n" + "\n".join(table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--split", default="eval", choices=["eval", "fit"])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument(
        "--calibration", type=Path, default=None, help="a folder of calibrator JSON files to use"
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--systems", default="", help="comma-separated systems to score (default: all)"
    )
    parser.add_argument(
        "--nbest", type=Path, default=None, help="add <model>+nbest from this alternatives cache"
    )
    parser.add_argument(
        "--candidate",
        type=Path,
        action="append",
        default=[],
        help="add tiny.en fused with this calibrator file, beside today's (repeatable)",
    )
    parser.add_argument(
        "--presets-only", action="store_true", help="only the table of mark presets"
    )
    args = parser.parse_args(argv)
    fused = systems(args.split, args.cache, args.calibration)
    candidates = [candidate_system(args.split, args.cache, path) for path in args.candidate]
    for name, docs, calibrator in candidates:
        fused[name] = [(i, fuse(d, calibration=calibrator)) for i, d in docs]
    # Models with a bundled N-best calibrator whose alternatives=3 decodes are in the cache.
    nbest_models = [
        m
        for m in ("tiny.en", "base")
        if args.nbest and is_bundled(f"whisper-{m}+nbest") and (args.nbest / f"{m}+alt3").is_dir()
    ]
    for model in nbest_models:
        fused[f"{model}+nbest"] = nbest_system(args.split, args.nbest, args.calibration, model)
    if args.systems:
        keep = args.systems.split(",") + [name for name, _, _ in candidates]
        fused = {k: v for k, v in fused.items() if k in keep}
        fused = {k: v for k, v in fused.items() if k in args.systems.split(",")}
    if args.presets_only:
        preset_table(fused, args.resamples, args.markdown)
        return 0
    names = [
        "words",
        "wrong",
        "WER",
        "AUROC",
        "ECE",
        "marked",
        "errors marked",
        "silent/100",
        "AUROC raw",
        "ECE raw",
        "AUROC wts",
        "ECE wts",
        "AUROC gain",
        "ECE gain",
    ]
    print(
        f"split {args.split}; 95% intervals: {args.resamples} bootstrap resamples of recordings "
        "(NOIZEUS: sentences). raw = word_probability (faster-whisper, openai-whisper, "
        "stable-ts); wts = whisper-timestamped's geometric mean of token probabilities."
    )
    table = [
        "| condition | model | words | wrong | WER | AUROC [95% CI] | AUROC raw / wts "
        "| ECE [95% CI] | ECE raw | words marked | errors marked | silent errors / 100 words "
        "| targets |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for condition in [*CONDITIONS, ALL]:
        for system, pairs in fused.items():
            recs = [
                recording(i, d)
                for i, d in pairs
                if i.condition == condition
                or (condition == ALL and i.condition != "reversed" and i.reference)
            ]
            if not recs:
                continue
            pool = Pool(recs)
            figures = measure(pool, names, args.resamples)
            print(f"\n== {condition} / {system}: {len(recs)} recordings, {len(pool.groups)} groups")
            print("   " + "  ".join(f"{n} {_fmt(n, figures[n])}" for n in names[:5]))
            print("   " + "  ".join(f"{n} {_fmt(n, figures[n])}" for n in names[5:8]))
            print("   peers: " + "  ".join(f"{n} {_fmt(n, figures[n])}" for n in names[8:12]))
            print("   vs raw: " + "  ".join(f"{n} {_fmt(n, figures[n])}" for n in names[12:]))
            print("   targets: " + "; ".join(targets_of(condition, system, figures)))
            table.append(
                f"| {condition} | {system} | {_fmt('words', figures['words'])} "
                f"| {figures['wrong'][0]:.1%} | {figures['WER'][0]:.3f} "
                f"| {_fmt('AUROC', figures['AUROC'])} | {figures['AUROC raw'][0]:.3f} / "
                f"{figures['AUROC wts'][0]:.3f} | {_fmt('ECE', figures['ECE'])} "
                f"| {figures['ECE raw'][0]:.3f} | {_fmt('marked', figures['marked'])} "
                f"| {_fmt('errors marked', figures['errors marked'])} "
                f"| {_fmt('silent/100', figures['silent/100'])} "
                f"| {'; '.join(targets_of(condition, system, figures))} |"
            )
    if args.markdown:
        print("\n" + "\n".join(table))
    for model in nbest_models:
        nbest_gain(args.split, args.nbest, args.calibration, args.resamples, model)
    today = (
        Calibrator.load(args.calibration / "whisper-tiny.en.json")
        if args.calibration
        else bundled_calibrator("whisper-tiny.en")
    )
    for name, docs, calibrator in candidates:
        print(f"\n== {name} vs tiny.en's calibrator, same decodes (paired)")
        paired = [(i, fuse(d, calibration=calibrator)) for i, d in docs if i.reference]
        paired_gain(paired, today, args.resamples)
    preset_table(fused, args.resamples, args.markdown)
    print("\n== trading marks for recall (tiny.en): fuse(doc, threshold=t) marks words below t")
    for condition in ("clean", "noisy") if "tiny.en" in fused else ():
        whole = Pool([recording(i, d) for i, d in fused["tiny.en"] if i.condition == condition])
        data = whole.take()
        if not data["right"].size:
            continue
        wrong = ~data["right"]
        cells = []
        for cut in (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99):
            low = (data["confidence"] < cut) | data["hallucination"]
            cells.append(
                f"t={cut}: marks {low.mean():.0%}, catches {low[wrong].mean():.0%}, "
                f"silent {(wrong & ~low).mean() * 100:.1f}/100"
            )
        print(f"   {condition}: " + "; ".join(cells))
    print("\n== hallucination marks (possible_hallucination)")
    for system in ("tiny.en",) if "tiny.en" in fused else ():
        pairs = fused[system]
        rev = [recording(i, d) for i, d in pairs if i.condition == "reversed"]
        speech = [
            recording(i, d) for i, d in pairs if i.condition in ("clean", "real") and i.reference
        ]
        for label, recs, target in (
            ("reversed speech", rev, f">= {HALLUCINATION_RECALL:.0%}"),
            ("clean real speech", speech, f"<= {HALLUCINATION_ON_SPEECH:.0%}"),
        ):
            if not recs:
                print(f"   {system} {label}: not decoded")
                continue
            pool = Pool(recs)
            figures = measure(pool, ["words", "hallucination marked"], args.resamples)
            print(
                f"   {system} {label}: {len(recs)} recordings, "
                f"{_fmt('words', figures['words'])} words, marked "
                f"{_fmt('hallucination marked', figures['hallucination marked'])} "
                f"(target {target})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

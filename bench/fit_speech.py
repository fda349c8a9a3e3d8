"""Choose and fit the bundled Whisper calibrators on the real speech corpus's fit split.

    .venv/bin/python bench/speech_corpus.py                 # once: decode and cache
    .venv/bin/python bench/fit_speech.py [--only tiny.en,base,tiny.en+base] [--folds 5]
        [--choose "tiny.en=auto;base=auto;tiny.en+base=auto" --write [--out DIR]]
    .venv/bin/python bench/fit_speech.py --transfer [--fallback auto --write]
    .venv/bin/python bench/fit_speech.py --hallucination
    .venv/bin/python bench/fit_speech.py --presets [--in-sample] --write [--nbest NBEST]
    .venv/bin/python bench/speech_corpus.py --models tiny.en --alternatives 3 --cache NBEST
    .venv/bin/python bench/fit_speech.py --nbest NBEST [--nbest-model tiny.en+alt3]
        [--features-from uncertain/calibration/whisper-tiny.en.json] [--resamples 1000]

Data: the Documents bench/speech_corpus.py cached for shared/corpus/speech/fit/ (clean,
noisy, spontaneous) and shared/realdata/audio/fit/, whose clips also come under 29
degradations (condition `augmented`, each copy in its source clip's fold); eval/ is never read
here. Each candidate (a feature set under logistic regression with an L2 penalty, conditions
weighted as they come or equally, or an isotonic map of word_probability) is scored by grouped
cross-validation (folds split by recording, NOIZEUS by sentence: all its noises and SNRs in one
fold) and with each condition held out in turn. The printout gives, per candidate, out-of-fold
AUROC and ECE pooled and per condition beside raw word_probability's, and its worst condition
against raw (`worst_margin`). `auto` picks the candidate with the fewest features among those
within `TIE` of the best worst-condition score. With `--write` the chosen candidate is refitted
on all fit data and written to whisper-<name>.json (in uncertain/calibration/ or `--out`) with
its marking threshold. `--transfer` fits each candidate on one model's words and scores it on
the other's; with `--fallback` and `--write` the chosen family, fitted on both, becomes
whisper-fallback.json.

`--prior` asks whether the decoder's language prior (`prior_logprob`, `audio_gain`,
`min_token_audio_gain`: uncertain/adapters/whisper/prior.py, computed again for the cached tiny.en
documents from their token texts, no audio needed), the timing signals (`seconds_per_char`,
`gap_before`, `gap_after`, `neighbour_drop`) and conditioning on how hard the recording is
(`recording_mean_logprob`, alone and in interactions with the word scores), gradient-boosted
trees in place of the logistic map (`BoostedCalibrator`: interactions it finds itself), and
word frequency (wordfreq) pay over the shipped calibrator's features (`--features-from`), by
the rule of `--nbest` below; and, for comparison, what they add over word_probability and
min_token_probability alone. Interaction candidates are
measured here only (the calibrator format has no products of signals); with `--write`, the
appliable candidate that pays with the best worst-condition score is written as
whisper-tiny.en.json; `--pick NAME --write --out DIR` writes the named appliable candidate
whatever the verdict, as whisper-tiny.en-<name>.json, to report it on eval
(`speech_confidence.py --candidate FILE`).

`--nbest CACHE` asks whether N-best disagreement pays: it reads the fit
documents decoded with `alternatives=3` (cached by `speech_corpus.py --alternatives 3` under
`CACHE/tiny.en+alt3/`, whose spans carry `nbest_agreement`), and scores, by the same grouped
cross-validation and with each condition held out, the feature set of the shipped calibrator
(`--features-from`, read at run time, with its l2 and condition weighting) with and without
`nbest_agreement` (raw, logit and as an indicator of full agreement), and word_probability
with and without it. Per condition: out-of-fold AUROC and ECE, and the AUROC and ECE gains of
adding nbest_agreement, each with a 95% paired bootstrap interval over groups (recordings;
NOIZEUS sentences; augmented clips with their source recording), then a verdict: it pays when
the AUROC gain's interval lies above zero on clean or noisy speech and no condition's AUROC or
ECE gain interval lies below zero (grouped CV). With `--write`, the variant that pays with the
best worst-condition score (ties: raw) is fitted on all fit words and written as
whisper-tiny.en+nbest.json with its mark presets (`presets_for`).

Every `--write` stores the calibrator's mark presets (`uncertain.fusion.presets`: `review`,
the default threshold, marks at most twice the error rate; `recall` catches 90% of the wrong
words; `prompt` marks at most the error rate), computed by `presets_for` on the clean fit
words from out-of-fold confidence. `--presets --write` recomputes them for the shipped files
without refitting (with `--nbest CACHE`: for whisper-tiny.en+nbest.json).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import CALIBRATION, with_interval
from fit_calibration import ASR_FEATURES
from speech_corpus import DEFAULT_CACHE, Item, load

from uncertain.crosscheck import cross_check_speech
from uncertain.document import Document
from uncertain.evaluate import (
    auroc,
    bootstrap_interval,
    expected_calibration_error,
    label_spans,
    normalize_words,
)
from uncertain.fusion import (
    HALLUCINATION_CONFIDENCE,
    BoostedCalibrator,
    Calibrator,
    Feature,
    IsotonicCalibrator,
    LogisticCalibrator,
    is_possible_hallucination,
    span_signals,
)
from uncertain.fusion.presets import as_fused as fused_view
from uncertain.fusion.presets import describe_presets, mark_presets

OUT = CALIBRATION
TIE = 0.005  # worst-condition scores closer than this to the best count as a tie
TINY_AS_IS = "tiny.en's calibrator as it is"

# The four features the first build's calibrators used (bench/fit_calibration.py).
BASE_SET = ASR_FEATURES
WP = BASE_SET[0]  # word_probability
NEIGHBOURS = [
    Feature("prev_word_probability", "logit", default=0.5),
    Feature("next_word_probability", "logit", default=0.5),
]
SEGMENT = [
    Feature("segment_min_word_probability", "logit", default=0.5),
    Feature("segment_mean_word_probability", "logit", default=0.5),
]
ACOUSTIC = [
    Feature("seconds_per_char", "log", default=0.07),
    Feature("vad_speech_probability", "raw", default=1.0),
    Feature("no_speech_probability", "raw", default=0.0),
]
LEXICAL = [
    Feature("tokens_per_char", "raw", default=0.25),
    Feature("n_chars", "log", default=4.0),
    Feature("capitalized", "raw", default=0.0),
    Feature("first_token_probability", "logit", default=0.5),
]
CROSS = [
    Feature("cross_agreement", "raw", default=1.0),
    Feature("cross_word_probability", "logit", default=0.5),
    Feature("context_cross_agreement", "raw", default=1.0),
]


@dataclass(frozen=True)
class Spec:
    """A candidate: features under logistic regression (None: isotonic on word_probability),
    its L2 penalty, whether each condition gets the same total weight in the fit, and whether
    gradient-boosted trees (`BoostedCalibrator`) take the features instead of the logistic."""

    features: list[Feature] | None
    l2: float = 1.0
    balanced: bool = False
    boosted: bool = False


FOUR_LA = BASE_SET + LEXICAL + ACOUSTIC
ALL = BASE_SET + NEIGHBOURS + SEGMENT + ACOUSTIC + LEXICAL
CANDIDATES: dict[str, Spec] = {
    "isotonic(word_probability)": Spec(None),
    "logistic: word_probability": Spec([WP]),
    "logistic: wp + avg_logprob": Spec([WP, BASE_SET[3]]),
    "logistic: shipped 4": Spec(BASE_SET),
    "logistic: 4 + neighbours": Spec(BASE_SET + NEIGHBOURS),
    "logistic: 4 + segment": Spec(BASE_SET + SEGMENT),
    "logistic: 4 + acoustic": Spec(BASE_SET + ACOUSTIC),
    "logistic: 4 + lexical": Spec(BASE_SET + LEXICAL),
    "logistic: all": Spec(ALL),
    "logistic: 4 + lexical + acoustic": Spec(FOUR_LA),
    "logistic: 4 + lexical + neighbours": Spec(BASE_SET + LEXICAL + NEIGHBOURS),
    "logistic: all + position": Spec(
        [
            *ALL,
            Feature("position_in_segment", "raw", default=0.5),
            Feature("segment_words_per_second", "log", default=2.5),
            Feature("temperature", "raw", default=0.0),
        ]
    ),
    # Stronger penalties and equal weight per condition: fewer ways to fit one condition's
    # quirks at another's expense (the rule: no condition worse than the raw score).
    "logistic: shipped 4, l2 300": Spec(BASE_SET, l2=300.0),
    "logistic: 4 + lexical, l2 300": Spec(BASE_SET + LEXICAL, l2=300.0),
    "logistic: 4 + lexical + acoustic, l2 100": Spec(FOUR_LA, l2=100.0),
    "logistic: 4 + lexical + acoustic, l2 1000": Spec(FOUR_LA, l2=1000.0),
    "logistic: shipped 4, balanced": Spec(BASE_SET, balanced=True),
    "logistic: 4 + lexical, balanced": Spec(BASE_SET + LEXICAL, balanced=True),
    "logistic: 4 + lexical + acoustic, balanced": Spec(FOUR_LA, balanced=True),
    "logistic: 4 + lexical + acoustic, balanced, l2 100": Spec(FOUR_LA, 100.0, True),
}
CROSS_CANDIDATES: dict[str, Spec] = {
    "logistic: shipped 4 + cross 2": Spec([*BASE_SET, *CROSS[:2]]),
    "logistic: 4 + cross 3": Spec(BASE_SET + CROSS),
    "logistic: 4 + cross 3, balanced": Spec(BASE_SET + CROSS, balanced=True),
    "logistic: 4 + cross 3, l2 100": Spec(BASE_SET + CROSS, l2=100.0),
    # tiny.en's own family (4 + lexical) with the cross-check's two signals.
    "logistic: 4 + lexical + cross 2": Spec([*BASE_SET, *LEXICAL, *CROSS[:2]]),
    "logistic: 4 + lexical + cross 2, balanced": Spec(
        [*BASE_SET, *LEXICAL, *CROSS[:2]], balanced=True
    ),
    "logistic: 4 + lexical + acoustic + cross 3": Spec(FOUR_LA + CROSS),
    "logistic: 4 + lexical + acoustic + cross 3, balanced": Spec(FOUR_LA + CROSS, balanced=True),
    "logistic: all + cross 3": Spec(ALL + CROSS),
}


def fit_pairs(model: str, cache: Path) -> list[tuple[Item, Document]]:
    """Fit-split documents with references (reversed speech has none and is left out)."""
    if "+" in model:
        first, second = model.split("+")
        other = {i.id: d for i, d in fit_pairs(second, cache)}
        return [
            (i, cross_check_speech(d, other[i.id]))
            for i, d in fit_pairs(first, cache)
            if i.id in other
        ]
    return [
        (item, doc) for item, doc, _ in load(model, cache) if item.split == "fit" and item.reference
    ]


def labelled(
    pairs: Sequence[tuple[Item, Document]],
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray, np.ndarray]:
    """Per-word signals, right/wrong labels, groups and conditions (punctuation left out)."""
    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    groups: list[str] = []
    conditions: list[str] = []
    for item, doc in pairs:
        for span, row, right in zip(
            doc.spans, span_signals(doc), label_spans(doc, item.reference), strict=True
        ):
            if not normalize_words(span.text):
                continue
            rows.append(row)
            labels.append(right)
            groups.append(item.group)
            conditions.append(item.condition)
    return rows, np.asarray(labels), np.asarray(groups), np.asarray(conditions)


def make(spec: Spec, **meta: Any) -> Calibrator:
    if spec.features is None:
        return IsotonicCalibrator(WP, metadata=meta)
    if spec.boosted:
        return BoostedCalibrator(spec.features, metadata=meta)
    return LogisticCalibrator(spec.features, l2=spec.l2, metadata=meta)


def weights_for(spec: Spec, conditions: np.ndarray) -> np.ndarray | None:
    """Equal total weight per condition when the candidate asks for it, else None."""
    if not spec.balanced:
        return None
    names, index, counts = np.unique(conditions, return_inverse=True, return_counts=True)
    return len(conditions) / (len(names) * counts[index])


def fitted(
    spec: Spec,
    rows: list[dict[str, float]],
    labels: np.ndarray,
    conditions: np.ndarray,
    **meta: Any,
) -> Calibrator:
    calibrator = make(spec, **meta)
    calibrator.fit(rows, labels, weights_for(spec, conditions))
    return calibrator


def folds_of(groups: np.ndarray, folds: int) -> np.ndarray:
    """A fold number per word; whole groups go to one fold (assigned by a seeded shuffle)."""
    names = sorted(set(groups.tolist()))
    rng = np.random.default_rng(13)
    rng.shuffle(names)
    fold = {name: i % folds for i, name in enumerate(names)}
    return np.array([fold[g] for g in groups])


def out_of_fold(
    spec: Spec,
    rows: list[dict[str, float]],
    labels: np.ndarray,
    fold: np.ndarray,
    conditions: np.ndarray,
    hallucinated: np.ndarray,
) -> np.ndarray:
    """Out-of-fold confidence as `fuse` gives it (`hallucinated`: the words whose confidence
    it caps)."""
    predictions = np.zeros(len(rows))
    for k in sorted(set(fold.tolist())):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        calibrator = fitted(spec, [rows[i] for i in train], labels[train], conditions[train])
        predictions[test] = calibrator.predict([rows[i] for i in test])
    return as_fused(predictions, hallucinated)


def as_fused(p: np.ndarray, capped: np.ndarray) -> np.ndarray:
    """Confidence as `fuse` gives it: the looping-text words (`capped`) at most
    `HALLUCINATION_CONFIDENCE`."""
    return np.where(capped, np.minimum(p, HALLUCINATION_CONFIDENCE), p)


def scored(
    name: str,
    p: np.ndarray,
    held: np.ndarray,
    raw: np.ndarray,
    labels: np.ndarray,
    conditions: np.ndarray,
    fold: np.ndarray,
    held_out: np.ndarray,
) -> float:
    """Print a candidate's report and its worst condition against raw under both schemes
    (grouped CV: `p`; each condition held out: `held`); return the worse of the two."""
    cv = worst_margin(p, raw, labels, conditions, fold)
    loco = worst_margin(held, raw, labels, conditions, held_out)
    print(report(name, p, labels, conditions, fold))
    print(
        f"  {'':30s} worst condition vs raw: grouped CV {cv[0]:+.3f} ({cv[1]}); "
        f"condition held out {loco[0]:+.3f} ({loco[1]})"
    )
    return min(cv[0], loco[0])


def score_all(
    specs: dict[str, Spec],
    rows: list[dict[str, float]],
    labels: np.ndarray,
    conditions: np.ndarray,
    fold: np.ndarray,
    held_out: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Each candidate's out-of-fold confidence under both schemes (grouped CV: `fold`; each
    condition held out: `held_out`) and its `scored` report, after raw word_probability's."""
    raw = np.array([r.get("word_probability", 0.0) for r in rows])
    hallucinated = is_possible_hallucination(rows, capped_only=True)
    oof = {
        n: out_of_fold(s, rows, labels, fold, conditions, hallucinated) for n, s in specs.items()
    }
    held = {
        n: out_of_fold(s, rows, labels, held_out, conditions, hallucinated)
        for n, s in specs.items()
    }
    print(report("raw word_probability", raw, labels, conditions, fold))
    scores = {
        name: scored(name, oof[name], held[name], raw, labels, conditions, fold, held_out)
        for name in specs
    }
    return oof, held, scores


def fewest_within_tie(scores: dict[str, float], sizes: dict[str, int]) -> str:
    """The candidate with the fewest features among those within `TIE` of the best score
    (then the better score): gaps this small are noise on this fit split, and the simpler
    candidate is the safer bet."""
    top = max(scores.values())
    near = [name for name in scores if scores[name] >= top - TIE]
    return min(near, key=lambda name: (sizes[name], -scores[name]))


def worst_margin(
    p: np.ndarray, raw: np.ndarray, labels: np.ndarray, conditions: np.ndarray, fold: np.ndarray
) -> tuple[float, str]:
    """The smallest AUROC gain over the raw score across conditions, less any ECE loss.

    The rule is per condition: a default worse than the raw score anywhere does not
    ship. So candidates are compared by their worst condition, not by the pooled figure: the
    worst AUROC gain, minus the largest amount by which a condition's ECE exceeds raw's (ECE
    gains are not added: where raw is already calibrated they are bounded by its ECE and
    would tie every candidate).
    """
    ece = expected_calibration_error
    worst_a, where_a, worst_e, where_e = math.inf, "", 0.0, ""
    for condition in sorted(set(conditions.tolist())):
        m = conditions == condition
        gain_a = fold_auroc(p[m], labels[m], fold[m]) - fold_auroc(raw[m], labels[m], fold[m])
        gain_e = ece(raw[m], labels[m]) - ece(p[m], labels[m])
        if gain_a < worst_a:
            worst_a, where_a = gain_a, f"{condition} AUROC {gain_a:+.3f}"
        if gain_e < worst_e:
            worst_e, where_e = gain_e, f"{condition} ECE {gain_e:+.3f}"
    return worst_a + worst_e, ", ".join(w for w in (where_a, where_e) if w)


def fold_auroc(p: np.ndarray, labels: np.ndarray, fold: np.ndarray) -> float:
    """Mean of the folds' AUROCs: each fold's model ranks only its own test words."""
    values = [auroc(p[fold == k], labels[fold == k]) for k in sorted(set(fold.tolist()))]
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def report(
    name: str, p: np.ndarray, labels: np.ndarray, conditions: np.ndarray, fold: np.ndarray
) -> str:
    ece = expected_calibration_error
    parts = [f"all AUROC {fold_auroc(p, labels, fold):.3f} ECE {ece(p, labels):.3f}"]
    for condition in sorted(set(conditions.tolist())):
        m = conditions == condition
        parts.append(
            f"{condition} {fold_auroc(p[m], labels[m], fold[m]):.3f}/{ece(p[m], labels[m]):.3f}"
        )
    clean = conditions == "clean"
    if clean.any() and (~labels[clean]).any():
        pc, wrong = p[clean], ~labels[clean]
        cut = np.quantile(pc[wrong], 0.8)  # marks 80% of the wrong clean words
        budget = np.quantile(pc, min(1.0, 2 * wrong.mean()))  # marks 2x the error rate
        parts.append(
            f"| clean: 80% recall marks {(pc <= cut).mean():.1%}; "
            f"2x error rate catches {(pc[wrong] <= budget).mean():.0%}"
        )
    return f"  {name:30s} " + "  ".join(parts)


DEFAULT_ONLY = "tiny.en,base,tiny.en+base"
MAIN_CONDITION = "clean"  # the presets' words: on clean speech the marks must pay most


def presets_for(
    p: np.ndarray,
    labels: np.ndarray,
    conditions: np.ndarray,
    rows: list[dict[str, float]],
    how: str = "out of fold",
) -> tuple[dict[str, float], str]:
    """The mark presets (`uncertain.fusion.presets.mark_presets`) on the clean fit words, from
    confidence as `fuse` gives it (`p`, out of fold where the calibrator was fitted on these
    words), the words `fuse` marks whatever the threshold counting as marked; and a note for
    the calibrator's metadata saying what each marks and catches there."""
    confidence, flagged = fused_view(p, rows)
    main = conditions == MAIN_CONDITION
    presets = mark_presets(confidence[main], labels[main], flagged[main])
    note = (
        f"computed on the {MAIN_CONDITION} fit words (confidence {how}; bench/fit_speech.py): "
        + describe_presets(presets, confidence[main], labels[main], flagged[main])
    )
    return presets, note


def presets_table(
    p: np.ndarray,
    labels: np.ndarray,
    conditions: np.ndarray,
    rows: list[dict[str, float]],
    presets: dict[str, float],
) -> None:
    """What each preset marks and catches per fit condition (out of fold)."""
    confidence, flagged = fused_view(p, rows)
    for condition in sorted(set(conditions.tolist())):
        m = conditions == condition
        wrong = ~labels[m]
        cells = []
        for name, cut in presets.items():
            low = (confidence[m] < cut) | flagged[m]
            cells.append(
                f"{name} {cut:g}: marks {low.mean():.1%}, catches "
                f"{low[wrong].mean() if wrong.any() else math.nan:.0%}, silent "
                f"{(wrong & ~low).mean() * 100:.2f}/100"
            )
        print(f"    {condition:12s} (wrong {wrong.mean():.1%}) " + "; ".join(cells))


def write_presets(
    cache: Path,
    out: Path,
    folds: int,
    write: bool,
    in_sample: bool = False,
    only: Sequence[str] = ("tiny.en", "base", "tiny.en+base", "fallback"),
) -> None:
    """Recompute the presets of the shipped Whisper calibrators without refitting them: each
    one's feature set, penalty and weighting (`shipped_spec`) give its out-of-fold confidence
    on the fit words it was fitted on (tiny.en's calibrator as shipped for base, which was
    fitted on none of base's words; the fallback out of fold on tiny.en's and base's words
    pooled); with `write`, only `threshold`, `presets` and `metadata["presets"]` change in the
    file. `in_sample`: the shipped calibrator's own confidence instead (for a cache that holds
    only some of the fit conditions, where folds would train on fewer words than it did)."""
    for model, file in (
        ("tiny.en", "whisper-tiny.en.json"),
        ("base", "whisper-base.json"),
        ("tiny.en+base", "whisper-tiny.en+base.json"),
        ("fallback", "whisper-fallback.json"),
    ):
        if model not in only:
            continue
        pairs = (
            fit_pairs("tiny.en", cache) + fit_pairs("base", cache)
            if model == "fallback"
            else fit_pairs(model, cache)
        )
        if not pairs or (model == "fallback" and not fit_pairs("base", cache)):
            print(f"{model}: nothing decoded yet")
            continue
        rows, labels, groups, conditions = labelled(pairs)
        shipped = Calibrator.load(out / file)
        capped = is_possible_hallucination(rows, capped_only=True)
        if shipped.metadata.get("choice", "").startswith(TINY_AS_IS):
            p, how = as_fused(shipped.predict(rows), capped), "calibrator fitted on other words"
        elif in_sample:
            p = as_fused(shipped.predict(rows), capped)
            how = f"in sample, the shipped calibrator on {len(pairs)} fit recordings"
        else:
            _, spec = shipped_spec(out / file)
            fold = folds_of(groups, folds)
            p = out_of_fold(spec, rows, labels, fold, conditions, capped)
            how = f"out of fold over {len(pairs)} fit recordings"
        presets, note = presets_for(p, labels, conditions, rows, how)
        print(f"\n{model}: {len(pairs)} fit recordings, {len(rows)} words; {note}")
        presets_table(p, labels, conditions, rows, presets)
        if write:
            shipped.set_presets(presets, note)
            print(f"  wrote {shipped.save(out / file)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", default=DEFAULT_ONLY, help="with --presets, also: fallback")
    parser.add_argument("--choose", default="", help="name=candidate,... to write")
    parser.add_argument(
        "--presets",
        action="store_true",
        help="only recompute the mark presets of the shipped calibrators (with --write)",
    )
    parser.add_argument(
        "--in-sample",
        action="store_true",
        help="--presets: the shipped calibrators' own confidence, not out of fold",
    )
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where --write puts the files (default: the package)"
    )
    parser.add_argument("--hallucination", action="store_true", help="tune that rule instead")
    parser.add_argument("--transfer", action="store_true", help="calibrators across models")
    parser.add_argument(
        "--fallback", default="", help="with --transfer --write: the candidate (or auto)"
    )
    parser.add_argument(
        "--nbest", type=Path, default=None, help="N-best study: the cache of alternatives=3 decodes"
    )
    parser.add_argument("--nbest-model", default=NBEST_MODEL, help="its folder under --nbest")
    parser.add_argument(
        "--features-from",
        type=Path,
        default=OUT / "whisper-tiny.en.json",
        help="--nbest: the calibrator whose feature set is the baseline",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="--nbest: bootstrap draws")
    parser.add_argument(
        "--prior",
        action="store_true",
        help="study the language-prior, timing and recording-difficulty signals (tiny.en)",
    )
    parser.add_argument(
        "--pick",
        default="",
        help="--prior --write: write this candidate whatever the verdict (to report it on eval)",
    )
    args = parser.parse_args(argv)
    if args.prior:
        prior_study(
            args.cache,
            args.features_from,
            args.folds,
            args.resamples,
            write=args.write,
            out=args.out,
            pick=args.pick,
        )
    if args.presets:
        if args.nbest is not None:
            nbest_presets(
                args.nbest, args.nbest_model, args.folds, args.out, args.write, args.in_sample
            )
        else:
            only = (
                args.only.split(",")
                if args.only != DEFAULT_ONLY
                else [*args.only.split(","), "fallback"]
            )
            write_presets(args.cache, args.out, args.folds, args.write, args.in_sample, only)
        return 0
    if args.nbest is not None:
        nbest_study(
            args.nbest,
            args.nbest_model,
            args.features_from,
            args.folds,
            args.resamples,
            write=args.write,
            out=args.out,
        )
        return 0
    if args.hallucination:
        hallucination_grid(args.cache)
        return 0
    if args.transfer:
        transfer(args.cache, args.fallback, args.write, args.out)
        return 0
    chosen = dict(c.split("=", 1) for c in args.choose.split(";") if c)
    for model in args.only.split(","):
        pairs = fit_pairs(model, args.cache)
        if not pairs:
            print(f"{model}: nothing decoded yet")
            continue
        rows, labels, groups, conditions = labelled(pairs)
        fold = folds_of(groups, args.folds)
        print(
            f"\n{model}: {len(pairs)} recordings, {len(set(groups.tolist()))} groups, "
            f"{len(rows)} words, {int((~labels).sum())} wrong; {args.folds}-fold grouped CV "
            "(AUROC/ECE per condition)"
        )
        raw = np.array([r.get("word_probability", 0.0) for r in rows])
        hallucinated = is_possible_hallucination(rows, capped_only=True)
        # Each condition held out in turn: how a candidate does on a condition it never saw
        # (the eval split holds accented and domain speech, which fit/ does not).
        held_out = np.unique(conditions, return_inverse=True)[1]
        print(report("raw word_probability", raw, labels, conditions, fold))
        candidates = dict(CANDIDATES)
        if "+" in model:
            candidates.update(CROSS_CANDIDATES)
        oof: dict[str, np.ndarray] = {}
        worst: dict[str, float] = {}

        held: dict[str, np.ndarray] = {}
        for name, spec in candidates.items():
            oof[name] = out_of_fold(spec, rows, labels, fold, conditions, hallucinated)
            held[name] = out_of_fold(spec, rows, labels, held_out, conditions, hallucinated)
        fixed: dict[str, Calibrator] = {}
        if model == "base":
            # Another model's calibrator as it is: fitted on no base word at all.
            fixed[TINY_AS_IS] = Calibrator.load(args.out / "whisper-tiny.en.json")
            p = fixed[TINY_AS_IS].predict(rows)
            oof[TINY_AS_IS] = as_fused(p, hallucinated)
            held[TINY_AS_IS] = oof[TINY_AS_IS]
        for name, p in oof.items():
            worst[name] = scored(name, p, held[name], raw, labels, conditions, fold, held_out)
        top = max(worst.values())

        sizes = {name: len(c.features) for name, c in fixed.items()}
        sizes.update({name: len(spec.features or [WP]) for name, spec in candidates.items()})
        best = fewest_within_tie(worst, sizes)
        print(
            f"  best by the worst condition (both schemes): {max(worst, key=worst.__getitem__)!r}"
            f" ({top:+.3f}); the fewest features within {TIE}: {best!r} ({worst[best]:+.3f})"
        )
        pick = chosen.get(model)
        if pick == "auto":
            pick = best
        if pick is None:
            continue
        p = oof[pick]
        how = "out of fold" if pick not in fixed else "calibrator fitted on other words"
        presets, note = presets_for(p, labels, conditions, rows, how)
        print(f"  chosen {pick!r}: presets {note}")
        print("  the presets per fit condition (marked below the threshold or hallucination):")
        presets_table(p, labels, conditions, rows, presets)
        if not args.write:
            continue
        counts = {c: int((conditions == c).sum()) for c in sorted(set(conditions.tolist()))}
        meta = {
            "name": f"whisper-{model}",
            "engine": "faster-whisper",
            "model": model.split("+")[0],
            "corpus": (
                "../shared/corpus/speech/fit + ../shared/realdata/audio/fit, its clips also "
                f"under 29 degradations (augmented; bench/speech_corpus.py): {len(pairs)} "
                f"recordings, {len(rows)} words ({counts}), {int((~labels).sum())} wrong"
            ),
            "choice": (
                f"{pick}: the fewest features within {TIE} of the best worst-condition score "
                f"vs raw word_probability ({worst[pick]:+.3f}: worst AUROC gain less any ECE "
                f"loss) in {args.folds}-fold cross-validation grouped by recording (NOIZEUS: "
                "sentence) and with each condition held out; out-of-fold "
                f"AUROC {fold_auroc(p, labels, fold):.3f} ECE "
                f"{expected_calibration_error(p, labels):.3f} vs raw "
                f"{fold_auroc(raw, labels, fold):.3f} "
                f"/ {expected_calibration_error(raw, labels):.3f} (bench/fit_speech.py)"
            ),
        }
        if "+" in model:
            meta["cross_check_model"] = model.split("+")[1]
        if pick in fixed:
            calibrator = fixed[pick]
            calibrator.metadata = {
                **meta,
                "corpus": (
                    f"tiny.en's readings of {calibrator.metadata.get('corpus', '')}; chosen for "
                    f"{model} on its own readings of the same split ({len(pairs)} recordings, "
                    f"{len(rows)} words, {int((~labels).sum())} wrong)"
                ),
            }
        else:
            calibrator = fitted(candidates[pick], rows, labels, conditions, **meta)
        calibrator.set_presets(presets, note)
        args.out.mkdir(parents=True, exist_ok=True)
        path = calibrator.save(args.out / f"whisper-{model}.json")
        print(f"  wrote {path}")
    return 0


def hallucination_grid(cache: Path) -> None:
    """Share of words marked possible_hallucination on reversed vs real fit speech, per rule."""
    from uncertain.fusion import is_possible_hallucination

    by_condition: dict[str, list[dict[str, float]]] = {}
    right: dict[str, list[bool]] = {}
    for item, doc, _ in load("tiny.en", cache):
        if item.split != "fit":
            continue
        labels = label_spans(doc, item.reference) if item.reference else [False] * len(doc.spans)
        for r, s, ok in zip(span_signals(doc), doc.spans, labels, strict=True):
            if normalize_words(s.text):
                by_condition.setdefault(item.condition, []).append(r)
                right.setdefault(item.condition, []).append(ok)

    def col(rows: list[dict[str, float]], name: str, default: float) -> np.ndarray:
        return np.array([r.get(name, default) for r in rows])

    def shares(rule: Any) -> str:
        out = []
        for condition, rows in sorted(by_condition.items()):
            marked = rule(rows)
            ok = np.asarray(right[condition])
            accuracy = f" ({ok[marked].mean():.0%} right)" if marked.any() else ""
            out.append(f"{condition} {float(np.mean(marked)):.1%}{accuracy}")
        return "  ".join(out)

    print("\nhallucination rules on the fit split (share of words marked, tiny.en)")
    print(f"  {'current rule':44s} {shares(is_possible_hallucination)}")
    for logprob in (-0.5, -0.6, -0.7, -0.8):
        for no_speech in (0.05, 0.1, 0.15, 0.2):

            def rule(rows: list[dict[str, float]], lp: float = logprob, ns: float = no_speech):
                return is_possible_hallucination(rows) | (
                    (col(rows, "avg_logprob", 0.0) < lp)
                    & (col(rows, "no_speech_probability", 0.0) > ns)
                )

            print(f"  {f'or avg_logprob<{logprob} & no_speech>{no_speech}':44s} {shares(rule)}")
    for mean in (0.5, 0.55, 0.6, 0.65):
        for logprob in (-0.6, -0.7, -0.8):

            def rule2(rows: list[dict[str, float]], m: float = mean, lp: float = logprob):
                return is_possible_hallucination(rows, capped_only=True) | (
                    (col(rows, "segment_mean_word_probability", 1.0) < m)
                    & (col(rows, "avg_logprob", 0.0) < lp)
                )

            print(
                f"  {f'capped rules or seg mean wp<{mean} & avg_logprob<{logprob}':44s} "
                f"{shares(rule2)}"
            )
    print("  the capped rules alone (their words' confidence at most 0.2):")
    capped = shares(lambda rows: is_possible_hallucination(rows, capped_only=True))
    print(f"  {'capped rules':44s} {capped}")


def transfer(cache: Path, fallback: str = "", write: bool = False, out: Path = OUT) -> None:
    """Each candidate fitted on one model's fit words, applied to the other model's.

    With `fallback` (a candidate name) and `write`, that candidate is fitted on both models'
    words pooled and written as uncertain/calibration/whisper-fallback.json: the calibrator
    for Whisper models without their own (large-v3, turbo, distil-*).
    """
    data = {}
    for model in ("tiny.en", "base"):
        pairs = fit_pairs(model, cache)
        if not pairs:
            print(f"{model}: nothing decoded yet")
            return
        data[model] = labelled(pairs)
    ece = expected_calibration_error
    summary: dict[str, list[tuple[float, float]]] = {}
    print("\ntransfer: fitted on one model's fit split, scored on the other's (AUROC / ECE)")
    for source, target in (("tiny.en", "base"), ("base", "tiny.en")):
        rows, labels, _, _ = data[source]
        t_rows, t_labels, _, t_conditions = data[target]
        raw = np.array([r.get("word_probability", 0.0) for r in t_rows])
        print(f"  {source} -> {target}: raw {auroc(raw, t_labels):.3f} / {ece(raw, t_labels):.3f}")
        cap = is_possible_hallucination(t_rows, capped_only=True)
        one = np.zeros(len(t_rows), dtype=int)
        for name, spec in CANDIDATES.items():
            p = fitted(spec, rows, labels, data[source][3]).predict(t_rows)
            p = as_fused(p, cap)
            gain, where = worst_margin(p, raw, t_labels, t_conditions, one)
            summary.setdefault(name, []).append((auroc(p, t_labels), ece(p, t_labels), gain))
            print(
                f"    {name:30s} {auroc(p, t_labels):.3f} / {ece(p, t_labels):.3f}  "
                f"worst gain over raw {gain:+.3f} ({where})  ECE "
                + "  ".join(
                    f"{c} {ece(p[t_conditions == c], t_labels[t_conditions == c]):.3f}"
                    for c in sorted(set(t_conditions.tolist()))
                )
            )
    print("  mean over both directions (AUROC / ECE / worst gain over raw):")
    for name, values in summary.items():
        a, e, g = np.mean(values, axis=0)
        print(f"    {name:30s} {a:.3f} / {e:.3f} / {g:+.3f}")
    means = {name: float(np.mean([g for _, _, g in v])) for name, v in summary.items()}
    best = fewest_within_tie(
        means, {name: len(spec.features or [WP]) for name, spec in CANDIDATES.items()}
    )
    print(f"  the fewest features within {TIE} of the best mean worst gain: {best!r}")
    if fallback == "auto":
        fallback = best
    if not (fallback and write):
        return
    rows = data["tiny.en"][0] + data["base"][0]
    labels = np.concatenate([data["tiny.en"][1], data["base"][1]])
    conditions = np.concatenate([data["tiny.en"][3], data["base"][3]])
    a, e, g = np.mean(summary[fallback], axis=0)
    calibrator = make(
        CANDIDATES[fallback],
        name="whisper-fallback",
        engine="faster-whisper",
        model="any Whisper model without its own calibrator",
        corpus=(
            f"the tiny.en and base readings of ../shared/corpus/speech/fit + "
            "../shared/realdata/audio/fit (+ its clips augmented) pooled: "
            f"{len(rows)} words, "
            f"{int((~labels).sum())} wrong"
        ),
        choice=(
            f"{fallback}: best transfer between tiny.en and base (fitted on one, scored on "
            f"the other, both directions: mean AUROC {a:.3f}, ECE {e:.3f}, worst-condition "
            f"gain over raw {g:+.3f}; bench/fit_speech.py --transfer), then fitted on both"
        ),
    )
    calibrator.fit(rows, labels, weights_for(CANDIDATES[fallback], conditions))
    groups = np.concatenate([data["tiny.en"][2], data["base"][2]])
    capped = is_possible_hallucination(rows, capped_only=True)
    p = out_of_fold(CANDIDATES[fallback], rows, labels, folds_of(groups, 5), conditions, capped)
    calibrator.set_presets(*presets_for(p, labels, conditions, rows))
    print(f"  wrote {calibrator.save(out / 'whisper-fallback.json')}")


NBEST_MODEL = "tiny.en+alt3"
NBEST_VARIANTS = {
    "raw": Feature("nbest_agreement", "raw", default=1.0),
    "logit": Feature("nbest_agreement", "logit", default=1.0),
    # 1 where every weighted hypothesis reads the word as decoded (up to clipping).
    "indicator": Feature("nbest_agreement", "indicator", default=1.0, cutoff=0.999),
}


def _spoken_frequency(pairs: Sequence[tuple[Item, Document]], rows: list[dict[str, float]]) -> None:
    """Study-only signals: each word's wordfreq frequency and whether the list holds it (the
    OCR lexicon signals, `uncertain.adapters.lexicon`), on the rows `labelled` gave."""
    from uncertain.adapters.lexicon import lexicon_for, lexicon_signals

    lexicon = lexicon_for("eng")
    spans = [s for _, doc in pairs for s in doc.spans if normalize_words(s.text)]
    for row, found in zip(rows, lexicon_signals(spans, lexicon), strict=True):
        row.update(found)


def shipped_spec(path: Path) -> tuple[str, Spec]:
    """The feature set, penalty and weighting of a bundled calibrator, as a candidate."""
    calibrator = Calibrator.load(path)
    if not isinstance(calibrator, LogisticCalibrator):
        return f"{path.name}: isotonic, so word_probability", Spec([WP])
    choice = str(calibrator.metadata.get("choice", ""))
    # The candidate it was chosen as (its name starts the `choice` note), for its weighting.
    named = [n for n in CANDIDATES if choice.startswith(n + ":")]
    balanced = CANDIDATES[max(named, key=len)].balanced if named else False
    label = f"{path.name} ({len(calibrator.features)} features, l2 {calibrator.l2:g}"
    label += ", balanced)" if balanced else ")"
    return label, Spec(list(calibrator.features), l2=calibrator.l2, balanced=balanced)


def gain_interval(
    p: np.ndarray,
    q: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    fold: np.ndarray,
    resamples: int,
) -> dict[str, tuple[float, float, float]]:
    """AUROC(p) - AUROC(q) (mean over folds) and ECE(q) - ECE(p), each with its 95% paired
    bootstrap interval over groups: a draw takes whole groups with replacement and scores both
    on the same words."""
    names, index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(len(names))]
    ece = expected_calibration_error

    def take(drawn: np.ndarray) -> np.ndarray:
        return np.concatenate([members[g] for g in drawn])

    def auroc_gain(drawn: np.ndarray) -> float:
        t = take(drawn)
        return fold_auroc(p[t], labels[t], fold[t]) - fold_auroc(q[t], labels[t], fold[t])

    def ece_gain(drawn: np.ndarray) -> float:
        t = take(drawn)
        return ece(q[t], labels[t]) - ece(p[t], labels[t])

    out = {}
    for name, gain in (("AUROC", auroc_gain), ("ECE", ece_gain)):
        low, high = bootstrap_interval(len(names), gain, resamples=resamples, seed=13)
        out[name] = (gain(np.arange(len(names))), low, high)
    return out


def nbest_study(
    cache: Path,
    model: str,
    features_from: Path,
    folds: int,
    resamples: int,
    *,
    write: bool = False,
    out: Path = OUT,
) -> None:
    """Does N-best disagreement pay for word confidence? (module docstring: `--nbest`)."""
    pairs = [
        (item, doc) for item, doc, _ in load(model, cache) if item.split == "fit" and item.reference
    ]
    if not pairs:
        print(f"{cache / model}: nothing decoded yet")
        return
    rows, labels, groups, conditions = labelled(pairs)
    fold = folds_of(groups, folds)
    held_out = np.unique(conditions, return_inverse=True)[1]
    names = sorted(set(conditions.tolist()))
    print(
        f"\nN-best study ({cache / model}): {len(pairs)} fit recordings, "
        f"{len(set(groups.tolist()))} groups, {len(rows)} words, {int((~labels).sum())} wrong; "
        f"{folds}-fold grouped CV; intervals: {resamples} paired bootstrap draws of groups"
    )
    agreement = np.array([r.get("nbest_agreement", np.nan) for r in rows])
    print("  nbest_agreement per condition: words carrying it / below 1 / its own AUROC")
    for c in names:
        m = conditions == c
        present = ~np.isnan(agreement[m])
        below = present & (agreement[m] < 0.999)
        own = auroc(np.nan_to_num(agreement[m], nan=1.0), labels[m])
        print(
            f"    {c:12s} {m.sum():5d} words  {present.mean():6.1%} / {below.mean():6.1%}"
            f" / {own:.3f}  (wrong {(~labels[m]).mean():.1%})"
        )
    label, shipped = shipped_spec(features_from)
    print(f"  baseline: {label}: {', '.join(f.name for f in shipped.features or [WP])}")
    with_nbest = {
        name: Spec([*(shipped.features or [WP]), f], shipped.l2, shipped.balanced)
        for name, f in NBEST_VARIANTS.items()
    }
    comparisons = [("shipped", shipped, f"shipped + nbest {n}", s) for n, s in with_nbest.items()]
    comparisons.append(
        ("word_probability", Spec([WP]), "wp + nbest raw", Spec([WP, NBEST_VARIANTS["raw"]]))
    )
    specs = {name: spec for a, sa, b, sb in comparisons for name, spec in ((a, sa), (b, sb))}
    oof, held, scores = score_all(specs, rows, labels, conditions, fold, held_out)
    pays: list[str] = []
    for without, _, with_, _ in comparisons:
        for scheme, predictions, scheme_fold in (
            ("grouped CV", oof, fold),
            ("condition held out", held, held_out),
        ):
            print(f"  AUROC gain of {with_!r} over {without!r}, {scheme} [95% interval]:")
            verdict: dict[str, dict[str, tuple[float, float, float]]] = {}
            for c in [*names, "all"]:
                m = np.ones(len(rows), dtype=bool) if c == "all" else conditions == c
                verdict[c] = gain_interval(
                    predictions[with_][m],
                    predictions[without][m],
                    labels[m],
                    groups[m],
                    scheme_fold[m],
                    resamples,
                )
                print(
                    f"    {c:12s} "
                    + "  ".join(
                        f"{k} gain {with_interval(*figures, '+.4f')}"
                        for k, figures in verdict[c].items()
                    )
                )
            gains = any(verdict[c]["AUROC"][1] > 0 for c in ("clean", "noisy") if c in verdict)
            losses = [f"{c} {k}" for c in names for k, v in verdict[c].items() if v[2] < 0]
            if scheme == "grouped CV" and gains and not losses and without == "shipped":
                pays.append(with_)
            lost = ", ".join(losses) or "none"
            print(
                f"    -> AUROC gain beyond its interval on clean or noisy: "
                f"{'yes' if gains else 'no'}; loss beyond its interval: {lost}"
            )
    print(
        "  verdict: "
        + (
            f"pays ({', '.join(pays)})"
            if pays
            else "does not pay (no gain beyond its interval on clean or noisy fit speech "
            "without a loss elsewhere)"
        )
    )
    if not (write and pays):
        return
    # Among the variants that pay, the best worse-of-both-schemes score vs raw (fit_speech's
    # rule for every bundled calibrator); ties within TIE go to the first listed (raw: the
    # value as it is, no cutoff or clipping chosen).
    top = max(scores[name] for name in pays)
    pick = next(name for name in pays if scores[name] >= top - TIE)
    p = oof[pick]
    clean = conditions == "clean"
    for name in ("shipped", pick):
        print(f"  {'chosen ' if name == pick else ''}{name!r}: presets")
        presets_table(
            oof[name], labels, conditions, rows, presets_for(oof[name], labels, conditions, rows)[0]
        )
    presets, note = presets_for(p, labels, conditions, rows)
    base_model = model.split("+")[0]
    counts = {c: int((conditions == c).sum()) for c in names}
    gain = gain_interval(
        oof[pick][clean], oof["shipped"][clean], labels[clean], groups[clean], fold[clean], 0
    )["AUROC"][0]
    calibrator = fitted(
        specs[pick],
        rows,
        labels,
        conditions,
        name=f"whisper-{base_model}+nbest",
        engine="faster-whisper",
        model=base_model,
        alternatives=model.rsplit("alt", 1)[-1],
        corpus=(
            f"../shared/corpus/speech/fit + ../shared/realdata/audio/fit decoded with "
            f"alternatives={model.rsplit('alt', 1)[-1]}: {len(pairs)} recordings, {len(rows)} "
            f"words ({counts}), {int((~labels).sum())} wrong"
        ),
        choice=(
            f"{pick}: the features of {label} plus nbest_agreement, kept because "
            f"adding it gained AUROC beyond its 95% paired bootstrap interval (groups) on clean "
            f"or noisy fit speech with no loss beyond its interval elsewhere, in "
            f"{folds}-fold cross-validation grouped by recording (NOIZEUS: sentence); of the "
            f"transforms that pay (raw, logit, indicator), the best worst-condition score vs raw "
            f"word_probability, ties within {TIE} going to raw; clean AUROC gain over the "
            f"features without it {gain:+.3f}; out-of-fold AUROC "
            f"{fold_auroc(p, labels, fold):.3f} ECE {expected_calibration_error(p, labels):.3f} "
            "(bench/fit_speech.py --nbest)"
        ),
    )
    calibrator.set_presets(presets, note)
    out.mkdir(parents=True, exist_ok=True)
    print(f"  wrote {calibrator.save(out / f'whisper-{base_model}+nbest.json')}")


PRIOR = [
    Feature("prior_logprob", "raw", default=-8.0),
    Feature("audio_gain", "raw", default=8.0),
]
PRIOR_MIN = Feature("min_token_audio_gain", "raw", default=4.0)
TIMING = [
    Feature("seconds_per_char", "log", default=0.07),
    Feature("gap_before", "raw", default=0.0),
    Feature("gap_after", "raw", default=0.0),
]
NEIGHBOUR_DROP = Feature("neighbour_drop", "raw", default=0.0)
DIFFICULTY = Feature("recording_mean_logprob", "raw", default=-0.3)
# Written-and-spoken word frequency (wordfreq), built here only (`_spoken_frequency`).
FREQUENCY = [
    Feature("lexicon_log_frequency", "raw", default=4.0),
    Feature("lexicon_known", "raw", default=1.0),
]
# Products of a word score with the recording's difficulty, built here only (`_interactions`).
INTERACTIONS = [
    Feature("x_word_probability", "raw"),
    Feature("x_min_token_probability", "raw"),
    Feature("x_audio_gain", "raw"),
    Feature("x_prior_logprob", "raw"),
]


def _interactions(rows: list[dict[str, float]]) -> None:
    """Study-only signals: logit word scores and prior signals times recording_mean_logprob."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    for row in rows:
        r = row.get("recording_mean_logprob", -0.3)
        row["x_word_probability"] = logit(row.get("word_probability", 0.5)) * r
        row["x_min_token_probability"] = logit(row.get("min_token_probability", 0.5)) * r
        row["x_audio_gain"] = row.get("audio_gain", 8.0) * r
        row["x_prior_logprob"] = row.get("prior_logprob", -8.0) * r


def prior_study(
    cache: Path,
    features_from: Path,
    folds: int,
    resamples: int,
    *,
    write: bool = False,
    out: Path = OUT,
    pick: str = "",
) -> None:
    """Do the prior, timing and difficulty signals pay? (module docstring: `--prior`).

    `pick` names a candidate to write whatever the verdict (into `out`, to report it)."""
    from uncertain.adapters.whisper import WhisperAdapter

    adapter = WhisperAdapter("tiny.en", device="cpu")
    pairs = [(item, adapter.add_prior_signals(doc)) for item, doc in fit_pairs("tiny.en", cache)]
    if not pairs:
        print(f"{cache / 'tiny.en'}: nothing decoded yet")
        return
    rows, labels, groups, conditions = labelled(pairs)
    _interactions(rows)
    _spoken_frequency(pairs, rows)
    fold = folds_of(groups, folds)
    held_out = np.unique(conditions, return_inverse=True)[1]
    names = sorted(set(conditions.tolist()))
    label, shipped = shipped_spec(features_from)
    base = list(shipped.features or [WP])
    print(
        f"\nprior, timing and difficulty study (tiny.en, {cache}): {len(pairs)} fit recordings, "
        f"{len(set(groups.tolist()))} groups, {len(rows)} words, {int((~labels).sum())} wrong; "
        f"{folds}-fold grouped CV; intervals: {resamples} paired bootstrap draws of groups"
    )
    print(f"  baseline: {label}: {', '.join(f.name for f in base)}")

    def spec(extra: list[Feature], boosted: bool = False) -> Spec:
        return Spec([*base, *extra], shipped.l2, shipped.balanced, boosted)

    candidates = {
        "shipped + prior": spec(PRIOR),
        "shipped + prior + min token gain": spec([*PRIOR, PRIOR_MIN]),
        "shipped + timing": spec(TIMING),
        "shipped + timing + neighbour drop": spec([*TIMING, NEIGHBOUR_DROP]),
        "shipped + difficulty": spec([DIFFICULTY]),
        "shipped + prior + timing": spec([*PRIOR, *TIMING]),
        "shipped + prior + timing + difficulty": spec([*PRIOR, *TIMING, DIFFICULTY]),
        # Trees can condition every score on the recording's difficulty without products.
        "shipped, boosted": spec([], boosted=True),
        "shipped + prior + timing + difficulty, boosted": spec(
            [*PRIOR, *TIMING, DIFFICULTY], boosted=True
        ),
        "study only: shipped + word frequency": spec(FREQUENCY),
        "study only: shipped + difficulty interactions": spec([DIFFICULTY, *INTERACTIONS[:2]]),
        "study only: shipped + prior + difficulty interactions": spec(
            [*PRIOR, DIFFICULTY, *INTERACTIONS]
        ),
        "study only: shipped + prior + timing + difficulty interactions": spec(
            [*PRIOR, *TIMING, DIFFICULTY, *INTERACTIONS]
        ),
    }
    # The same signals over word_probability and min_token_probability alone (no weighting):
    # what they add to a model that lacks the shipped features' segment and context evidence.
    two = Spec(base[:2]) if len(base) >= 2 else Spec([WP])
    over_two = {
        "two + prior": Spec([*(two.features or []), *PRIOR]),
        "study only: two + difficulty interactions": Spec(
            [*(two.features or []), DIFFICULTY, *INTERACTIONS[:2]]
        ),
        "study only: two + prior + difficulty interactions": Spec(
            [*(two.features or []), *PRIOR, DIFFICULTY, *INTERACTIONS]
        ),
    }
    specs = {"shipped": shipped, **candidates, "two": two, **over_two}
    baseline_of = {**dict.fromkeys(candidates, "shipped"), **dict.fromkeys(over_two, "two")}
    oof, _, scores = score_all(specs, rows, labels, conditions, fold, held_out)
    pays: list[str] = []
    for name, against in baseline_of.items():
        print(f"  gain of {name!r} over {against!r}, grouped CV [95% interval]:")
        verdict = {}
        for c in [*names, "all"]:
            m = np.ones(len(rows), dtype=bool) if c == "all" else conditions == c
            verdict[c] = gain_interval(
                oof[name][m], oof[against][m], labels[m], groups[m], fold[m], resamples
            )
            print(
                f"    {c:12s} "
                + "  ".join(
                    f"{k} gain {with_interval(*figures, '+.4f')}"
                    for k, figures in verdict[c].items()
                )
            )
        gains = any(verdict[c]["AUROC"][1] > 0 for c in ("clean", "noisy") if c in verdict)
        losses = [f"{c} {k}" for c in names for k, v in verdict[c].items() if v[2] < 0]
        if gains and not losses and against == "shipped":
            pays.append(name)
        print(
            f"    -> AUROC gain beyond its interval on clean or noisy: {'yes' if gains else 'no'}; "
            f"loss beyond its interval: {', '.join(losses) or 'none'}"
        )
    shippable = [n for n in pays if not n.startswith("study only")]
    print(
        "  verdict: "
        + (f"pays ({', '.join(pays)})" if pays else "nothing pays")
        + ("" if shippable else "; the shipped calibrator stays")
    )
    verdict_note = ""
    if pick:
        if pick not in candidates or pick.startswith("study only"):
            raise SystemExit(f"--pick: not an appliable candidate: {pick!r}")
        verdict_note = f"{pick}: named with --pick, whatever the verdict"
    elif write and shippable:
        top = max(scores[n] for n in shippable)
        pick = next(n for n in shippable if scores[n] >= top - TIE)
        verdict_note = (
            f"{pick}: gained AUROC beyond its 95% paired bootstrap interval (groups) on clean or "
            "noisy fit speech with no loss beyond its interval elsewhere"
        )
    if not (write and pick):
        return
    p = oof[pick]
    counts = {c: int((conditions == c).sum()) for c in names}
    calibrator = fitted(
        specs[pick],
        rows,
        labels,
        conditions,
        name="whisper-tiny.en",
        engine="faster-whisper",
        model="tiny.en",
        corpus=(
            f"../shared/corpus/speech/fit + ../shared/realdata/audio/fit: {len(pairs)} recordings, "
            f"{len(rows)} words ({counts}), {int((~labels).sum())} wrong"
        ),
        choice=(
            f"{verdict_note}, in {folds}-fold "
            f"cross-validation grouped by recording (NOIZEUS: sentence); out-of-fold AUROC "
            f"{fold_auroc(p, labels, fold):.3f} ECE {expected_calibration_error(p, labels):.3f} "
            "(bench/fit_speech.py --prior)"
        ),
    )
    calibrator.set_presets(*presets_for(p, labels, conditions, rows))
    out.mkdir(parents=True, exist_ok=True)
    # A named pick is written beside the bundled file, never over it.
    slug = "-".join(w for w in pick.replace("+", " ").split() if w != "shipped")
    name = (
        f"whisper-tiny.en-{slug}.json"
        if verdict_note.endswith("verdict")
        else "whisper-tiny.en.json"
    )
    print(f"  wrote {calibrator.save(out / name)}")


def nbest_presets(
    cache: Path, model: str, folds: int, out: Path, write: bool, in_sample: bool = False
) -> None:
    """`--presets` for the N-best calibrator: its out-of-fold presets on the alternatives=3
    fit decodes, written into whisper-<model>+nbest.json without refitting it."""
    base_model = model.split("+")[0]
    path = out / f"whisper-{base_model}+nbest.json"
    pairs = [
        (item, doc) for item, doc, _ in load(model, cache) if item.split == "fit" and item.reference
    ]
    if not pairs:
        print(f"{cache / model}: nothing decoded yet")
        return
    rows, labels, groups, conditions = labelled(pairs)
    _, spec = shipped_spec(path)
    # Its `choice` note names no candidate: it was fitted weighted as tiny.en's own.
    spec = replace(spec, balanced=shipped_spec(out / f"whisper-{base_model}.json")[1].balanced)
    capped = is_possible_hallucination(rows, capped_only=True)
    if in_sample:
        p = as_fused(Calibrator.load(path).predict(rows), capped)
        how = f"in sample, the shipped calibrator on {len(pairs)} fit recordings"
    else:
        p = out_of_fold(spec, rows, labels, folds_of(groups, folds), conditions, capped)
        how = f"out of fold over {len(pairs)} fit recordings"
    presets, note = presets_for(p, labels, conditions, rows, how)
    print(f"\n{path.name}: {note}")
    presets_table(p, labels, conditions, rows, presets)
    if write:
        shipped = Calibrator.load(path)
        shipped.set_presets(presets, note)
        print(f"  wrote {shipped.save(path)}")


if __name__ == "__main__":
    sys.exit(main())

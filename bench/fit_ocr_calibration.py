"""Fit the bundled Tesseract calibrators on the real OCR corpus's `fit/` split.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fit_ocr_calibration.py [--cache DIR] [--write]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/fit_ocr_calibration.py --presets [--write]

Two calibrators: `tesseract-eng` (Tesseract alone) and `tesseract-eng+rapidocr` (Tesseract
cross-checked by RapidOCR in selective mode). Candidates (feature sets under logistic
regression or gradient-boosted trees, `BoostedCalibrator`, which needs the `fit` extra; or an
isotonic map) are compared by 5-fold cross-validation grouped by page over
`shared/corpus/ocr/fit/` plus `shared/realdata/ocr/fit/` (beside the repository), with each
kind (forms, receipts, books, lines) given the same total weight; among those with
ECE <= 0.03, the ones within 0.002 of the best mean AUROC over the kinds tie and the one with
the fewest features is chosen,
refitted on all fit pages and, with `--write`, saved into `uncertain/calibration/`. The mark
presets (`uncertain.fusion.presets`: `review`, the default threshold, marks at most twice the
error rate; `recall` catches 90% of the wrong words; `prompt` marks at most the error rate)
are computed by `presets_for` on the book pages' words from out-of-fold confidence.
`--presets` recomputes them for the shipped files without refitting (written with `--write`):
run it after a refit made elsewhere.
Lexicon and repetition signals (`uncertain.adapters.lexicon`) are added to the cached
Tesseract documents (by `ocr_corpus.tesseract_doc`), as the adapter adds them to a fresh
read. Each candidate is compared with the logistic choice bundled before boosted trees
(`BASELINE`) per kind by the AUROC gain of their out-of-fold predictions, with a 95% paired
bootstrap interval over pages.
Two book pages whose references are defective (`EXCLUDED`) are left out.
Nothing here reads `eval/`.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import CALIBRATION
from ocr_corpus import DEFAULT_CACHE, Item, cross_checked, items, rapid_readings, tesseract_doc

from uncertain.adapters.rapidocr import DEFAULT_LINE_THRESHOLD
from uncertain.evaluate import (
    BoxReference,
    auroc,
    bootstrap_interval,
    expected_calibration_error,
    label_page_spans,
    normalize_words,
    score_by_boxes,
)
from uncertain.fusion import (
    BoostedCalibrator,
    Calibrator,
    Feature,
    IsotonicCalibrator,
    LogisticCalibrator,
    span_signals,
)
from uncertain.fusion.presets import as_fused, describe_presets, mark_presets

TESSERACT = [
    Feature("word_confidence", "logit", 0.5),
    Feature("min_char_confidence", "logit", 0.5),
    Feature("mean_char_confidence", "logit", 0.5),
    Feature("context_min_word_confidence", "logit", 0.5),
]
SHAPE = [
    Feature("min_char_xconf", "raw", 0.5),
    Feature("n_chars", "log", 1.0),
    Feature("alnum_share", "raw", 1.0),
    Feature("has_digit", "raw", 0.0),
    Feature("mixed_alnum", "raw", 0.0),
    Feature("capitalized", "raw", 0.0),
    Feature("box_height_ratio", "raw", 1.0),
]
# Unchecked words (selective mode leaves confident lines alone) take the defaults of words
# the second reader agreed with; `cross_checked` tells the two apart.
CROSS = [
    Feature("cross_checked", "raw", 0.0),
    Feature("cross_agreement", "raw", 1.0),
    Feature("cross_word_confidence", "logit", 0.999),
    Feature("cross_min_char_confidence", "logit", 0.999),
    Feature("cross_char_similarity", "raw", 1.0),
    Feature("cross_unmatched", "raw", 0.0),
    Feature("cross_extra_chars", "log", 1.0),
]
# Where the readings differ, how sure each engine was (`uncertain.fusion.span_signals`).
DISAGREEMENT = [
    Feature("cross_checked", "raw", 0.0),
    Feature("cross_disagreement", "raw", 0.0),
    Feature("cross_disagreement_logit", "raw", 0.0),
    Feature("cross_disagreement_other_logit", "raw", 0.0),
    Feature("cross_disagreement_similarity", "raw", 0.0),
    Feature("cross_unmatched", "raw", 0.0),
]

# Is the word in the language's word list, how common; a non-word's capital (names) and how
# far Tesseract's score holds off the vocabulary. Words no list judged (codes, amounts, other
# languages) take 0 in both `lexicon_known` and `lexicon_miss`: neither known nor unknown.
LEXICON = [
    Feature("lexicon_known", "raw", 0.0),
    Feature("lexicon_miss", "raw", 0.0),
    Feature("lexicon_log_frequency", "raw", 0.0),
    Feature("lexicon_miss_capitalized", "raw", 0.0),
    Feature("lexicon_miss_logit", "raw", 0.0),
]
# A non-word near a common word (one edit away), or explained by an OCR confusion or two
# words run together.
NEAREST = [
    Feature("lexicon_nearest_distance", "indicator", 0.0, cutoff=1.5),
    Feature("lexicon_nearest_log_frequency", "raw", 0.0),
]
CONFUSION = [
    Feature("ocr_confusion_explains", "raw", 0.0),
    Feature("lexicon_split", "raw", 0.0),
]
# The same reading elsewhere in the document, and read better there.
REPEAT = [
    Feature("document_repeats", "indicator", 0.0, cutoff=0.5),
    Feature("repeated_higher_elsewhere", "raw", 0.0),
]
# RapidOCR's differing reading is a word where Tesseract's is not (or the other way).
CROSS_LEXICON = [Feature("cross_lexicon_gain", "raw", 0.0)]
# Two fit book pages whose references are defective (one lacks 2.5 lines, one starts
# mid-word): their words would be labelled wrong where the reading is right.
EXCLUDED = ("oldbooks_f048", "oldbooks_f040")
# Mean AUROCs over the kinds this close to the best are a tie, won by the fewest features.
TIE = 0.002
# The logistic choice bundled before boosted trees, the one each candidate is compared with.
BASELINE = {
    False: "logistic(...+lexicon+repeat)",
    True: "logistic(disagreement+shape+lexicon+cross_lexicon)",
}


def candidates(cross: bool) -> dict[str, Calibrator]:
    # Without the character-choice signals: `char_choices="auto"` gives them to the words in
    # doubt only, and a word's confidence must not depend on whether choices were asked for.
    base = [TESSERACT[0], TESSERACT[3], *SHAPE]
    lex = base + LEXICON
    found: dict[str, Calibrator] = {
        "isotonic(word_confidence)": IsotonicCalibrator(TESSERACT[0]),
        "logistic(tesseract)": LogisticCalibrator(TESSERACT),
        "logistic(tesseract+shape)": LogisticCalibrator(TESSERACT + SHAPE),
        "logistic(word+context+shape)": LogisticCalibrator(base),
        "logistic(word+context+shape+lexicon)": LogisticCalibrator(lex),
        "logistic(...+lexicon+nearest)": LogisticCalibrator(lex + NEAREST),
        "logistic(...+lexicon+confusion)": LogisticCalibrator(lex + CONFUSION),
        "logistic(...+lexicon+repeat)": LogisticCalibrator(lex + REPEAT),
        "logistic(...+lexicon+all)": LogisticCalibrator(lex + NEAREST + CONFUSION + REPEAT),
        # The same evidence under gradient-boosted trees: a lexicon miss, a digit or a short
        # token can count differently on a receipt code than on a book word.
        "boosted(word+context+shape+lexicon)": BoostedCalibrator(lex),
        "boosted(...+lexicon+repeat)": BoostedCalibrator(lex + REPEAT),
    }
    if cross:
        dis = [TESSERACT[0], TESSERACT[3], *DISAGREEMENT]  # no character-choice signals
        found = {
            "logistic(tesseract+cross)": LogisticCalibrator(TESSERACT + CROSS),
            "logistic(tesseract+disagreement)": LogisticCalibrator(TESSERACT + DISAGREEMENT),
            "logistic(tesseract+cross+disagreement)": LogisticCalibrator(
                TESSERACT + CROSS + DISAGREEMENT[1:]
            ),
            "logistic(disagreement+lexicon)": LogisticCalibrator(dis + LEXICON),
            "logistic(disagreement+lexicon+cross_lexicon)": LogisticCalibrator(
                dis + LEXICON + CROSS_LEXICON
            ),
            "logistic(disagreement+shape+lexicon+cross_lexicon)": LogisticCalibrator(
                dis + SHAPE + LEXICON + CROSS_LEXICON
            ),
            "logistic(disagreement+lexicon+all+cross_lexicon)": LogisticCalibrator(
                dis + LEXICON + NEAREST + CONFUSION + REPEAT + CROSS_LEXICON
            ),
            "logistic(disagreement+shape+lexicon+all+cross_lexicon)": LogisticCalibrator(
                dis + SHAPE + LEXICON + NEAREST + CONFUSION + REPEAT + CROSS_LEXICON
            ),
            "boosted(disagreement+shape+lexicon+cross_lexicon)": BoostedCalibrator(
                dis + SHAPE + LEXICON + CROSS_LEXICON
            ),
            "boosted(disagreement+shape+lexicon+repeat+cross_lexicon)": BoostedCalibrator(
                dis + SHAPE + LEXICON + REPEAT + CROSS_LEXICON
            ),
        }
    return found


def paired_gain(
    predicted: np.ndarray, baseline: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> tuple[float, float, float]:
    """AUROC of `predicted` minus that of `baseline` on the same words, with a 95% paired
    bootstrap interval over pages (`groups`)."""
    pages = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in pages]

    def gain(drawn: np.ndarray) -> float:
        pick = np.concatenate([members[i] for i in drawn])
        return auroc(predicted[pick], labels[pick]) - auroc(baseline[pick], labels[pick])

    low, high = bootstrap_interval(len(pages), gain, resamples=500, seed=0)
    return gain(np.arange(len(pages))), low, high


def page_rows(
    item: Item, cache: Path, cross: bool, threshold: float
) -> tuple[list[dict[str, float]], list[bool]] | None:
    doc = tesseract_doc(item, cache)
    if cross:
        readings = rapid_readings(item, cache)
        if readings is None:
            return None
        doc = cross_checked(doc, readings, line_threshold=threshold)
    reference = item.reference()
    labels = (
        score_by_boxes(doc, reference)[0]
        if isinstance(reference, BoxReference)
        else label_page_spans(doc, reference)[0]
    )
    rows, right = [], []
    for span, row, label in zip(doc.spans, span_signals(doc), labels, strict=True):
        if normalize_words(span.text, printed=True):
            rows.append(row)
            right.append(label)
    return rows, right


def dataset(
    cache: Path, cross: bool, threshold: float
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray, list[str], list[str]]:
    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    groups: list[int] = []
    kinds: list[str] = []
    pages: list[str] = []
    for item in items("fit"):
        if item.language != "eng":
            continue  # the calibrators are for English; German Fraktur misleads them
        if any(name in item.key for name in EXCLUDED):
            continue
        if not (cache / "tess" / f"{item.key}.json").is_file():
            continue  # not cached yet: the fit uses what has been read
        found = page_rows(item, cache, cross, threshold)
        if found is None:
            continue
        page_rows_, right = found
        rows += page_rows_
        labels += right
        groups += [len(pages)] * len(right)
        kinds += [item.kind] * len(right)
        pages.append(item.key)
    return rows, np.asarray(labels), np.asarray(groups), kinds, pages


def kind_weights(kinds: list[str]) -> np.ndarray:
    counts: dict[str, int] = defaultdict(int)
    for kind in kinds:
        counts[kind] += 1
    total = len(kinds)
    return np.asarray([total / (len(counts) * counts[k]) for k in kinds])


def cross_validate(
    calibrator: Calibrator,
    rows: list[dict[str, float]],
    labels: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    folds: int = 5,
) -> np.ndarray:
    """Out-of-fold predictions, folds made of whole pages."""
    fold = (groups * 7919) % folds
    predicted = np.zeros(len(rows))
    for k in range(folds):
        train = fold != k
        model = Calibrator.from_json(calibrator.to_json())
        model.fit([rows[i] for i in np.flatnonzero(train)], labels[train], weights[train])
        test = np.flatnonzero(~train)
        predicted[test] = model.predict([rows[i] for i in test])
    return predicted


MAIN_KIND = "book"  # the presets' words: printed books, where marks must pay most


def presets_for(
    predicted: np.ndarray, labels: np.ndarray, kinds: list[str], rows: list[dict[str, float]]
) -> tuple[dict[str, float], str]:
    """The mark presets (`uncertain.fusion.presets.mark_presets`) on the book pages' words,
    from out-of-fold confidence as `fuse` gives it (unreadable words marked whatever the
    threshold), and a note for the calibrator's metadata."""
    confidence, flagged = as_fused(predicted, rows)
    main = np.asarray([k == MAIN_KIND for k in kinds])
    presets = mark_presets(confidence[main], labels[main], flagged[main])
    note = (
        f"computed on the {MAIN_KIND} fit pages' words (out-of-fold confidence, "
        "bench/fit_ocr_calibration.py): "
        + describe_presets(presets, confidence[main], labels[main], flagged[main])
    )
    return presets, note


def presets_table(
    predicted: np.ndarray,
    labels: np.ndarray,
    kinds: list[str],
    rows: list[dict[str, float]],
    presets: dict[str, float],
) -> None:
    """What each preset marks and catches per fit kind (out of fold)."""
    confidence, flagged = as_fused(predicted, rows)
    for kind in sorted(set(kinds)):
        m = np.asarray([k == kind for k in kinds])
        wrong = labels[m] == 0
        cells = []
        for name, cut in presets.items():
            low = (confidence[m] < cut) | flagged[m]
            caught = f"{low[wrong].mean():.0%}" if wrong.any() else "-"
            cells.append(f"{name} {cut:g}: marks {low.mean():.1%}, catches {caught}")
        print(f"    {kind:10s} (wrong {wrong.mean():.1%}) " + "; ".join(cells))


def shipped_presets(cache: Path, line_threshold: float, write: bool) -> None:
    """Recompute the presets of the shipped Tesseract calibrators without refitting them: the
    out-of-fold confidence of each one's kind and features, fitted as `main` fits them."""
    for cross in (False, True):
        name = "tesseract-eng+rapidocr" if cross else "tesseract-eng"
        rows, labels, groups, kinds, pages = dataset(cache, cross, line_threshold)
        if MAIN_KIND not in kinds:
            print(f"{name}: no {MAIN_KIND} page cached yet")
            continue
        shipped = Calibrator.load(CALIBRATION / f"{name}.json")
        predicted = cross_validate(shipped, rows, labels, groups, kind_weights(kinds))
        presets, note = presets_for(predicted, labels, kinds, rows)
        print(f"== {name}: {len(pages)} fit pages, {len(rows)} words; {note}")
        presets_table(predicted, labels, kinds, rows, presets)
        if write:
            shipped.set_presets(presets, note)
            print(f"  written {shipped.save(CALIBRATION / f'{name}.json')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--write", action="store_true", help="save into uncertain/calibration/")
    parser.add_argument("--line-threshold", type=float, default=DEFAULT_LINE_THRESHOLD)
    parser.add_argument(
        "--presets", action="store_true", help="only recompute the shipped files' mark presets"
    )
    args = parser.parse_args()
    if args.presets:
        shipped_presets(args.cache, args.line_threshold, args.write)
        return
    for cross in (False, True):
        name = "tesseract-eng+rapidocr" if cross else "tesseract-eng"
        rows, labels, groups, kinds, pages = dataset(args.cache, cross, args.line_threshold)
        weights = kind_weights(kinds)
        wrong = int((labels == 0).sum())
        print(f"== {name}: {len(pages)} fit pages, {len(rows)} words, {wrong} wrong")
        results = {}
        for label, calibrator in candidates(cross).items():
            predicted = cross_validate(calibrator, rows, labels, groups, weights)
            per_kind = {}
            for kind in sorted(set(kinds)):
                mask = np.asarray([k == kind for k in kinds])
                per_kind[kind] = (
                    auroc(predicted[mask], labels[mask]),
                    expected_calibration_error(predicted[mask], labels[mask]),
                )
            # Chosen by the mean of the corpus kinds' AUROCs (each kind counts the same);
            # the realdata pages' references follow zone files, not the engines' order.
            balanced = float(
                np.mean([a for k, (a, _) in per_kind.items() if k != "realdata" and a == a])
            )
            e = expected_calibration_error(predicted, labels)
            results[label] = (balanced, e, predicted)
            print(
                f"  {label:40s} CV AUROC (mean over kinds) {balanced:.3f}, ECE {e:.3f} | "
                + ", ".join(f"{k} {a:.3f}/{c:.3f}" for k, (a, c) in per_kind.items())
            )
            if BASELINE[cross] in results and label != BASELINE[cross]:
                gains = []
                for kind in sorted(set(kinds)):
                    mask = np.asarray([k == kind for k in kinds])
                    g, low, high = paired_gain(
                        predicted[mask],
                        results[BASELINE[cross]][2][mask],
                        labels[mask],
                        groups[mask],
                    )
                    gains.append(f"{kind} {g:+.3f} [{low:+.3f}, {high:+.3f}]")
                print(f"    AUROC gain over {BASELINE[cross]}: " + ", ".join(gains), flush=True)
        good = {k: v for k, v in results.items() if v[1] <= 0.03} or results
        best = max(v[0] for v in good.values())
        # A signal earns its place: within TIE of the best, the fewest features win.
        tied = [k for k, v in good.items() if v[0] >= best - TIE]
        chosen = min(tied, key=lambda k: (len(candidates(cross)[k].features), -good[k][0]))
        presets, note = presets_for(results[chosen][2], labels, kinds, rows)
        print(f"  chosen: {chosen}; presets {note}")
        presets_table(results[chosen][2], labels, kinds, rows, presets)
        if not args.write:
            continue
        final = candidates(cross)[chosen]
        final.fit(rows, labels, weights)
        by_kind = ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds)))
        final.metadata = {
            "name": name,
            "engine": "tesseract" + ("+rapidocr" if cross else ""),
            "model": "eng",
            "corpus": (
                f"../shared/corpus/ocr/fit + ../shared/realdata/ocr/fit: {len(pages)} pages, "
                f"{len(rows)} words ({by_kind}), {wrong} wrong; each kind the same total weight"
            ),
            "choice": (
                f"{chosen}: fewest features within {TIE} of the best 5-fold page-grouped CV "
                "AUROC (mean over kinds), "
                f"{results[chosen][0]:.3f} "
                f"(ECE {results[chosen][1]:.3f}) of "
                + ", ".join(f"{k} {v[0]:.3f}" for k, v in results.items())
                + (f"; selective line threshold {args.line_threshold:g}" if cross else "")
            ),
        }
        final.set_presets(presets, note)
        target = CALIBRATION / f"{name}.json"
        final.save(target)
        print(f"  written {target}")
        if math.isnan(results[chosen][0]):
            print("  warning: AUROC is NaN (one class only)")


if __name__ == "__main__":
    main()

"""Fitting calibrators on your own documents and their references.

`labelled_signals` turns documents and references into calibrator inputs (each word's
signals and whether it is right); `fit_calibrator` fits a calibrator with the features of the
bundled one for the documents' engine. Judging words right or wrong against a reference is
`uncertain.evaluate`'s work: it is imported when a fit runs, so fusion does not depend on
evaluate when it loads (evaluate imports fusion, not the other way round).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from uncertain.document import Document
from uncertain.errors import CalibrationError
from uncertain.fusion.bundled import default_calibrator
from uncertain.fusion.calibrators import (
    BoostedCalibrator,
    Calibrator,
    IsotonicCalibrator,
    LogisticCalibrator,
)
from uncertain.fusion.presets import as_fused, describe_presets, mark_presets
from uncertain.fusion.signals import span_signals

PRESET_FOLDS = 5
"""`fit_calibrator` computes the presets from out-of-fold confidence, folds made of whole
documents (at most this many; one per document when there are fewer)."""

CALIBRATOR_KINDS = ("logistic", "boosted", "isotonic")
"""The kinds `fit_calibrator` fits."""

if TYPE_CHECKING:
    from uncertain.evaluate.references import BoxReference


def labelled_signals(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]],
) -> tuple[list[dict[str, float]], list[bool], list[float]]:
    """Calibrator inputs from documents and their references: each word's signals (as
    `span_signals` gives them), whether it is right, and its current confidence (NaN when
    unfused). Punctuation-only spans are left out."""
    # Imported here so that fusion never imports evaluate when it loads.
    from uncertain.evaluate.boxes import score_by_boxes
    from uncertain.evaluate.normalize import label_page_spans, label_spans, normalize_words
    from uncertain.evaluate.references import BoxReference

    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    confidences: list[float] = []
    for doc, reference in docs_with_refs:
        signals = span_signals(doc)
        if isinstance(reference, BoxReference):
            span_labels = score_by_boxes(doc, reference)[0]
        elif doc.pages:
            span_labels = label_page_spans(doc, reference)[0]
        else:
            span_labels = label_spans(doc, reference)
        for span, row, right in zip(doc.spans, signals, span_labels, strict=True):
            if normalize_words(span.text, printed=bool(doc.pages)):
                rows.append(row)
                labels.append(right)
                confidences.append(math.nan if span.confidence is None else span.confidence)
    return rows, labels, confidences


def fit_calibrator(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]], *, kind: str = "logistic"
) -> Calibrator:
    """Fit a calibrator on your own documents (unfused or fused) and their reference texts.

    It uses the features of the bundled calibrator for the documents' engine and model:
    `logistic` refits all of them, `boosted` grows gradient-boosted trees on them (which
    needs scikit-learn, the `fit` extra), `isotonic` maps the first (the engine's main score)
    monotonically. `CalibrationError` when there is nothing to fit on, or no wrong (or no
    right) word to learn from.

    The calibrator carries mark presets computed on these words (`uncertain.fusion.presets`:
    `review`, its `threshold`, `recall` and `prompt`), from out-of-fold confidence (each
    document's words scored by a calibrator fitted on the other documents; in-sample when
    there is one document); `metadata["presets"]` says what each marks and catches.
    """
    pairs = list(docs_with_refs)
    if kind not in CALIBRATOR_KINDS:
        raise CalibrationError(
            f"unknown calibrator kind {kind!r}; use {', '.join(CALIBRATOR_KINDS)}"
        )
    if not pairs:
        raise CalibrationError("no documents to fit on; pass files with reference texts")
    bundled, _ = default_calibrator(pairs[0][0])
    rows, labels, groups = [], [], []
    for number, pair in enumerate(pairs):
        doc_rows, doc_labels, _ = labelled_signals([pair])
        rows += doc_rows
        labels += doc_labels
        groups += [number] * len(doc_rows)
    wrong = labels.count(False)
    if wrong == 0 or wrong == len(labels):
        raise CalibrationError(
            f"the {len(labels)} words hold {wrong} wrong ones: a calibrator needs both right and "
            "wrong words; add harder recordings or scans (noise, accents, low resolution)"
        )
    corpus = f"{len(pairs)} documents, {len(labels)} words, {wrong} wrong (uncertain calibrate)"
    calibrator: Calibrator
    if kind == "logistic":
        calibrator = LogisticCalibrator(
            bundled.features, threshold=bundled.threshold, metadata={"corpus": corpus}
        )
    elif kind == "boosted":
        calibrator = BoostedCalibrator(
            bundled.features, threshold=bundled.threshold, metadata={"corpus": corpus}
        )
    else:
        calibrator = IsotonicCalibrator(
            bundled.features[0], threshold=bundled.threshold, metadata={"corpus": corpus}
        )
    calibrator.fit(rows, labels)
    predicted, how = _out_of_fold(calibrator, rows, labels, groups)
    confidence, flagged = as_fused(predicted, rows)
    presets = mark_presets(confidence, labels, flagged)
    calibrator.set_presets(
        presets, f"{how}: {describe_presets(presets, confidence, labels, flagged)}"
    )
    return calibrator


def _out_of_fold(
    calibrator: Calibrator, rows: list[dict[str, float]], labels: list[bool], groups: list[int]
) -> tuple[npt.NDArray[np.float64], str]:
    """Each word's confidence from a copy of `calibrator` fitted without its document's fold
    (folds of whole documents), and how it was computed; in-sample with one document."""
    group = np.asarray(groups)
    y = np.asarray(labels, dtype=bool)
    folds = min(PRESET_FOLDS, int(group.max()) + 1)
    if folds < 2:
        return calibrator.predict(rows), "in-sample confidence (one document)"
    fold = group % folds
    predicted = np.zeros(len(rows))
    for k in range(folds):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        copy = Calibrator.from_json(calibrator.to_json())
        if y[train].all() or not y[train].any():
            copy = calibrator  # a fold of one class cannot be fitted; use the full fit
        else:
            copy.fit([rows[i] for i in train], y[train])
        predicted[test] = copy.predict([rows[i] for i in test])
    return predicted, f"out-of-fold confidence, {folds} folds of whole documents"

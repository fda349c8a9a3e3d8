"""Calibrators: map a span's signals to the probability that the span is right.

Three kinds exist, all applied in numpy and saved as JSON files with a `kind` discriminator:

- `LogisticCalibrator`: several named features, each a signal under a simple transform
  (`raw`, `logit`, `log`, `indicator`), combined by L2-regularised logistic regression
  fitted by Newton's method (IRLS), with optional sample weights.
- `IsotonicCalibrator`: one feature, mapped through a monotone step function found by
  pool-adjacent-violators, stored as breakpoints and interpolated linearly between them
  (plus a slope under 1e-4 that keeps the feature's ranking exactly, ties included).
- `BoostedCalibrator`: gradient-boosted shallow regression trees over named features, so that
  one signal can count differently depending on another (a lexicon miss means little on a
  receipt code and much on a book word). Applying it needs numpy only; fitting it needs
  scikit-learn (the `fit` extra).

`LogisticCalibrator` and `IsotonicCalibrator` are fitted in numpy.

A signal a span lacks takes its feature's documented `default` (before the transform).
Each calibrator also carries its mark thresholds: `presets` (`review`, `recall`, `prompt`; see
`uncertain.fusion.presets`) and `threshold`, the default (`review`'s).
`load_calibrator` (or `Calibrator.load`) reads either kind back.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from uncertain.errors import CalibrationError, UsageError, check_choice
from uncertain.fusion.presets import DEFAULT_PRESET, PRESETS, MarkPreset
from uncertain.fusion.signals import Feature, _number

FloatArray = npt.NDArray[np.float64]

CALIBRATION_FORMAT_VERSION = 1
"""Version of the calibrator JSON format; files with a higher version are refused."""
DEFAULT_THRESHOLD = 0.5
"""Threshold used when a calibrator does not carry its own."""

_TIE_BREAK = 1e-4


class Calibrator(ABC):
    """Maps span signals to the probability that the span is right."""

    kind: ClassVar[str]

    def __init__(
        self,
        features: Sequence[Feature],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        presets: Mapping[str, float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.features = list(features)
        self.threshold = threshold
        self.presets: dict[str, float] = dict(presets or {})
        """Threshold per mark preset (`uncertain.fusion.presets`); `threshold` is `review`'s."""
        self.metadata: dict[str, str] = dict(metadata or {})
        if DEFAULT_PRESET in self.presets:
            self.threshold = self.presets[DEFAULT_PRESET]

    def set_presets(self, presets: Mapping[str, float], note: str | None = None) -> None:
        """Carry these preset thresholds; the default preset's becomes `threshold`, and `note`
        (how they were computed) goes into `metadata["presets"]`."""
        self.presets = {name: float(presets[name]) for name in PRESETS if name in presets}
        if DEFAULT_PRESET in self.presets:
            self.threshold = self.presets[DEFAULT_PRESET]
        if note is not None:
            self.metadata["presets"] = note

    def preset_thresholds(self) -> dict[str, float]:
        """Every preset's threshold; `review` is `threshold` when the file names none."""
        return {DEFAULT_PRESET: self.threshold, **self.presets}

    def mark_threshold(self, value: float | MarkPreset | str | None = None) -> float:
        """The threshold for `value`: a probability as it is, a preset's name (`review`,
        `recall`, `prompt`) as this calibrator sets it, None for `threshold` (`review`'s).

        `UsageError` listing the presets for an unknown name or a number outside 0..1;
        `CalibrationError` when this calibrator carries no threshold for a known preset (a file
        fitted before presets existed: refit it, or give a probability).
        """
        if value is None:
            return self.threshold
        if isinstance(value, str):
            check_choice("marks preset", value, PRESETS)
            found = self.preset_thresholds().get(value)
            if found is None:
                name = self.metadata.get("name", type(self).__name__)
                raise CalibrationError(
                    f"calibrator {name} carries no {value!r} preset (it has "
                    f"{', '.join(sorted(self.preset_thresholds()))}); refit it with "
                    "`uncertain calibrate`, or give a probability"
                )
            return found
        return _probability(value)

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
            **({"presets": dict(self.presets)} if self.presets else {}),
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


def _probability(value: object) -> float:
    """A threshold given as a number: `UsageError` unless it is a probability."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(
            f"a threshold must be a probability or a preset name, not {value!r}",
            f"use 0..1 or one of {', '.join(repr(p) for p in PRESETS)}",
        )
    if not 0.0 <= float(value) <= 1.0:
        raise UsageError(f"threshold must be between 0 and 1, not {value}")
    return float(value)


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
    presets = raw.get("presets", {})
    if not isinstance(presets, dict):
        raise ValueError("presets must be an object of thresholds")
    # Names this version does not know are left out: a newer file still loads.
    presets = {str(k): _number(v, f"preset {k}") for k, v in presets.items() if k in PRESETS}
    if not all(0.0 <= v <= 1.0 for v in presets.values()):
        raise ValueError(f"a preset threshold is outside [0, 1]: {presets}")
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
            presets=presets,
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
        return IsotonicCalibrator(
            features[0], x=x, y=y, threshold=threshold, presets=presets, metadata=meta
        )
    if kind == BoostedCalibrator.kind:
        trees = raw["trees"]
        if not isinstance(trees, list):
            raise ValueError("trees must be a list")
        return BoostedCalibrator(
            features,
            trees=[_Tree.from_dict(t, len(features)) for t in trees],
            settings=_boosting_settings(raw.get("settings", {})),
            threshold=threshold,
            presets=presets,
            metadata=meta,
        )
    raise ValueError(f"unknown kind {kind!r} (known: logistic, isotonic, boosted)")


def _sigmoid(z: FloatArray) -> FloatArray:
    """Log-odds to probability (clipped so that no exp overflows)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


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
        presets: Mapping[str, float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(features, threshold=threshold, presets=presets, metadata=metadata)
        self.coefficients = (
            np.zeros(len(self.features))
            if coefficients is None
            else np.asarray(coefficients, dtype=np.float64)
        )
        self.intercept = float(intercept)
        self.l2 = float(l2)

    def predict_matrix(self, x: FloatArray) -> FloatArray:
        # Row by row, not a BLAS product whose rounding depends on how many rows there are: a
        # word gets the same confidence whether its page is fused alone or in its document.
        return _sigmoid((x * self.coefficients).sum(axis=1) + self.intercept)

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
            p = _sigmoid(design @ beta)
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
        presets: Mapping[str, float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__([feature], threshold=threshold, presets=presets, metadata=metadata)
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


class _Tree:
    """One regression tree as parallel node arrays; node 0 is the root, a leaf has feature -1.

    A row goes to `left` when its feature value (in single precision, as the tree was
    fitted) is at most `threshold`, else to `right`; a leaf's `value` is added to the score."""

    def __init__(
        self,
        feature: Sequence[int],
        threshold: Sequence[float],
        left: Sequence[int],
        right: Sequence[int],
        value: Sequence[float],
    ) -> None:
        self.feature = np.asarray(feature, dtype=np.intp)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.intp)
        self.right = np.asarray(right, dtype=np.intp)
        self.value = np.asarray(value, dtype=np.float64)

    @classmethod
    def from_dict(cls, raw: Any, n_features: int) -> _Tree:
        if not isinstance(raw, dict):
            raise ValueError("a tree must be an object of node arrays")
        columns = {}
        for key in ("feature", "threshold", "left", "right", "value"):
            column = raw[key]
            if not isinstance(column, list):
                raise ValueError(f"a tree's {key} must be a list")
            columns[key] = [_number(v, f"tree {key}") for v in column]
        size = len(columns["feature"])
        for key in ("feature", "left", "right"):
            if not all(v.is_integer() for v in columns[key]):
                raise ValueError(f"a tree's {key} must hold whole numbers")
        if size == 0 or any(len(c) != size for c in columns.values()):
            raise ValueError("a tree's node arrays must be non-empty and of equal length")
        tree = cls(
            [int(v) for v in columns["feature"]],
            columns["threshold"],
            [int(v) for v in columns["left"]],
            [int(v) for v in columns["right"]],
            columns["value"],
        )
        nodes = np.arange(size)
        inner = tree.feature >= 0
        if np.any(tree.feature >= n_features) or np.any(tree.feature < -1):
            raise ValueError(f"a tree splits on a feature outside 0..{n_features - 1}")
        # Children come after their parent, so every path ends at a leaf.
        for child in (tree.left, tree.right):
            if np.any(inner & ((child <= nodes) | (child >= size))):
                raise ValueError("a tree's child index does not follow its parent")
        return tree

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        return {
            "feature": [int(v) for v in self.feature],
            "threshold": [float(v) for v in self.threshold],
            "left": [int(v) for v in self.left],
            "right": [int(v) for v in self.right],
            "value": [float(v) for v in self.value],
        }

    @property
    def depth(self) -> int:
        """The longest root-to-leaf path, in splits."""
        depth = np.zeros(self.feature.size, dtype=np.intp)
        for node in range(self.feature.size):  # parents come before children
            if self.feature[node] >= 0:
                depth[self.left[node]] = depth[self.right[node]] = depth[node] + 1
        return int(depth.max())


BOOSTING_DEFAULTS: dict[str, float] = {
    "trees": 150,
    "max_depth": 3,
    "learning_rate": 0.1,
    "min_leaf": 50,
    "subsample": 0.8,
}
"""How `BoostedCalibrator.fit` grows its trees unless told otherwise."""


def _boosting_settings(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ValueError("settings must be an object")
    unknown = set(raw) - set(BOOSTING_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown boosting settings {sorted(unknown)}")
    return {**BOOSTING_DEFAULTS, **{k: _number(v, k) for k, v in raw.items()}}


class BoostedCalibrator(Calibrator):
    """P(right) = sigmoid(sum over trees of the leaf each span reaches): gradient-boosted
    regression trees on the log-odds, fitted by scikit-learn, applied with numpy alone.

    `settings` (`BOOSTING_DEFAULTS`): how many trees, their depth, the learning rate (folded
    into the leaf values), the fewest spans in a leaf, and the share of spans each tree sees."""

    kind: ClassVar[str] = "boosted"

    def __init__(
        self,
        features: Sequence[Feature],
        *,
        trees: Sequence[_Tree] = (),
        settings: Mapping[str, float] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        presets: Mapping[str, float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(features, threshold=threshold, presets=presets, metadata=metadata)
        self.settings = {**BOOSTING_DEFAULTS, **(settings or {})}
        self._set_trees(list(trees))

    def _set_trees(self, trees: list[_Tree]) -> None:
        self.trees = trees
        # All trees side by side: node arrays concatenated, child indices shifted, so one
        # gather per level walks every tree at once.
        sizes = [t.feature.size for t in trees]
        self._roots = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        shift = np.repeat(self._roots, sizes) if trees else np.zeros(0, dtype=np.intp)
        self._feature = np.concatenate([t.feature for t in trees]) if trees else shift
        self._threshold = np.concatenate([t.threshold for t in trees]) if trees else shift * 0.0
        self._left = np.concatenate([t.left for t in trees]) + shift if trees else shift
        self._right = np.concatenate([t.right for t in trees]) + shift if trees else shift
        self._value = np.concatenate([t.value for t in trees]) if trees else shift * 0.0
        self._depth = max((t.depth for t in trees), default=0)

    def predict_matrix(self, x: FloatArray) -> FloatArray:
        if not self.trees:
            raise CalibrationError("this boosted calibrator has no trees: fit it first")
        # The trees were fitted on single-precision values with gaps as 0; compare those.
        values = np.nan_to_num(x).astype(np.float32).astype(np.float64)
        rows = np.arange(x.shape[0])[:, None]
        node = np.broadcast_to(self._roots, (x.shape[0], self._roots.size))
        for _ in range(self._depth):
            feature = self._feature[node]
            inner = feature >= 0
            goes_left = values[rows, np.maximum(feature, 0)] <= self._threshold[node]
            child = np.where(goes_left, self._left[node], self._right[node])
            node = np.where(inner, child, node)
        # Each row's sum runs over its own trees in a fixed order: a span's confidence does
        # not depend on which other spans are scored with it.
        return _sigmoid(self._value[node].sum(axis=1))

    def fit(
        self,
        signals: Sequence[Mapping[str, float]],
        correct: Sequence[bool] | npt.NDArray[Any],
        weights: Sequence[float] | npt.NDArray[Any] | None = None,
    ) -> BoostedCalibrator:
        """Grow the trees with scikit-learn's gradient boosting (log loss, seeded).

        `CalibrationError` when scikit-learn is missing (install the `fit` extra), or when the
        spans are all right or all wrong."""
        try:
            from sklearn.ensemble import GradientBoostingClassifier
        except ImportError:
            raise CalibrationError(
                "fitting a boosted calibrator needs scikit-learn: "
                "pip install 'uncertain-ingest[fit]' (or fit kind='logistic')"
            ) from None
        x = self.matrix(signals)
        y, w = _as_arrays(x.shape[0], correct, weights)
        if y.all() or not y.any():
            raise CalibrationError("a boosted calibrator needs both right and wrong spans")
        settings = self.settings
        model = GradientBoostingClassifier(
            loss="log_loss",
            n_estimators=int(settings["trees"]),
            max_depth=int(settings["max_depth"]),
            learning_rate=settings["learning_rate"],
            min_samples_leaf=int(settings["min_leaf"]),
            subsample=settings["subsample"],
            init="zero",  # the score starts at 0, so it is the trees' sum and nothing else
            random_state=0,
        )
        model.fit(np.nan_to_num(x), y.astype(np.int64), sample_weight=w)
        rate = float(settings["learning_rate"])
        trees = []
        for (estimator,) in model.estimators_:
            grown = estimator.tree_
            leaf = grown.children_left < 0
            trees.append(
                _Tree(
                    np.where(leaf, -1, grown.feature).tolist(),
                    np.where(leaf, 0.0, grown.threshold).tolist(),
                    np.where(leaf, 0, grown.children_left).tolist(),
                    np.where(leaf, 0, grown.children_right).tolist(),
                    # The learning rate goes into the leaves; 9 digits are plenty and keep
                    # the file small (a fitted calibrator predicts what its file does).
                    [float(f"{v:.9g}") for v in rate * grown.value[:, 0, 0]],
                )
            )
        self._set_trees(trees)
        return self

    def _parameters(self) -> dict[str, Any]:
        return {"settings": dict(self.settings), "trees": [t.to_dict() for t in self.trees]}

    def to_json(self) -> str:
        # One line per tree: thousands of node numbers one per line would make the file
        # unreadable for the few fields a person looks at.
        data = self.to_dict()
        trees = data.pop("trees")
        head = json.dumps(data, indent=1)
        lines = ",\n".join("  " + json.dumps(t, separators=(",", ":")) for t in trees)
        return head[: head.rindex("}")].rstrip() + f',\n "trees": [\n{lines}\n ]\n}}\n'

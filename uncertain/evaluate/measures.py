"""Measures, as small pure functions (as jiwer's): transcript accuracy and confidence quality.

`wer` and `cer` take `(reference, hypothesis)`, as jiwer's do, and compare after
`normalize_text`. Confidence quality is judged by `auroc` (how well confidence tells wrong
words from right ones), `expected_calibration_error`, `brier_score`, and what a flagging
threshold catches (`flag_report`); `bootstrap_interval` gives their uncertainty over
resampled groups, and `reliability_diagram` draws calibration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from uncertain.errors import EngineError
from uncertain.evaluate.normalize import normalize_text

FloatArray = npt.NDArray[np.float64]


def _distance(hyp: Sequence[str] | str, ref: Sequence[str] | str) -> int:
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(hyp, ref))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (argument order as jiwer's): word
    edits (after normalization) per reference word."""
    ref = normalize_text(reference, numbers=True).split()
    hyp = normalize_text(hypothesis, numbers=True).split()
    if not ref:
        return 0.0 if not hyp else float(len(hyp))
    return _distance(hyp, ref) / len(ref)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of `hypothesis` against `reference` (argument order as jiwer's):
    character edits (after normalization) per reference character."""
    ref = normalize_text(reference, numbers=True)
    hyp = normalize_text(hypothesis, numbers=True)
    if not ref:
        return 0.0 if not hyp else float(len(hyp))
    return _distance(hyp, ref) / len(ref)


def _arrays(confidences: Iterable[float], correct: Iterable[bool]) -> tuple[FloatArray, FloatArray]:
    conf = np.asarray(list(confidences), dtype=np.float64)
    right = np.asarray(list(correct), dtype=np.float64)
    if conf.shape != right.shape:
        raise ValueError(f"{conf.size} confidences but {right.size} labels")
    return conf, right


def auroc(confidences: Iterable[float], correct: Iterable[bool]) -> float:
    """Area under the ROC curve of confidence for telling right words from wrong ones.

    The probability that a random right word has higher confidence than a random wrong one,
    ties counting one half (Mann-Whitney U with mid-ranks). NaN when either class is empty.
    """
    conf, right = _arrays(confidences, correct)
    n_right = int(right.sum())
    n_wrong = right.size - n_right
    if n_right == 0 or n_wrong == 0:
        return math.nan
    order = np.argsort(conf, kind="mergesort")
    sorted_conf = conf[order]
    ranks = np.empty(conf.size, dtype=np.float64)
    # Mid-ranks: every member of a group of ties gets the mean of the group's ranks.
    _, first, counts = np.unique(sorted_conf, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    rank_sum = float(ranks[right == 1].sum())
    return (rank_sum - n_right * (n_right + 1) / 2.0) / (n_right * n_wrong)


def expected_calibration_error(
    confidences: Iterable[float], correct: Iterable[bool], bins: int = 10
) -> float:
    """Expected calibration error: |accuracy - mean confidence| over equal-width bins, weighted.

    Bins are [0, 1/bins), ..., [1 - 1/bins, 1]; each contributes its share of the words.
    """
    conf, right = _arrays(confidences, correct)
    if conf.size == 0:
        return math.nan
    index = np.clip((conf * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    conf_sum = np.bincount(index, weights=conf, minlength=bins)
    right_sum = np.bincount(index, weights=right, minlength=bins)
    return float(np.abs(conf_sum - right_sum).sum() / conf.size) if counts.sum() else math.nan


def brier_score(confidences: Iterable[float], correct: Iterable[bool]) -> float:
    """Mean squared difference between confidence and the 0/1 outcome (lower is better)."""
    conf, right = _arrays(confidences, correct)
    return float(np.mean((conf - right) ** 2)) if conf.size else math.nan


def bootstrap_interval(
    groups: int,
    statistic: Callable[[npt.NDArray[np.int64]], float],
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `groups` resampled with replacement.

    Words of one recording (or one sentence read under many noises) are not independent, so
    the unit resampled is the group: `statistic` receives the indices of the groups drawn
    (repeats included) and returns the figure for that sample. Draws where the figure is NaN
    (say, AUROC with no wrong word) are left out; (NaN, NaN) when all are.
    """
    if groups <= 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = np.array(
        [statistic(rng.integers(0, groups, groups)) for _ in range(resamples)], dtype=np.float64
    )
    values = values[np.isfinite(values)]
    if not values.size:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class FlagReport:
    """What flagging the words below a threshold catches, and what it costs."""

    threshold: float
    error_recall: float
    """Share of wrong words that are flagged."""
    flag_rate: float
    """Share of all words that are flagged."""
    silent_errors_per_100: float
    """Wrong words left unflagged, per 100 words."""


def flag_report(
    confidences: Iterable[float], correct: Iterable[bool], threshold: float
) -> FlagReport:
    """Flag words below `threshold`; report error recall, flag rate and silent errors."""
    conf, right = _arrays(confidences, correct)
    return _flag_report(conf < threshold, right, threshold)


def _flag_report(flagged: npt.NDArray[np.bool_], right: FloatArray, threshold: float) -> FlagReport:
    wrong = right == 0
    n = right.size
    n_wrong = int(wrong.sum())
    return FlagReport(
        threshold=threshold,
        error_recall=float((flagged & wrong).sum() / n_wrong) if n_wrong else math.nan,
        flag_rate=float(flagged.sum() / n) if n else math.nan,
        silent_errors_per_100=float(100.0 * (~flagged & wrong).sum() / n) if n else math.nan,
    )


def reliability_diagram(
    confidences: Iterable[float], correct: Iterable[bool], path: str | Path, bins: int = 10
) -> Path:
    """Draw accuracy against confidence per bin (with the diagonal) into a PNG at `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EngineError(
            'reliability diagrams need matplotlib: pip install "uncertain-ingest[notebook]"'
        ) from None
    conf, right = _arrays(confidences, correct)
    index = np.clip((conf * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    shown = counts > 0
    mean_conf = np.bincount(index, weights=conf, minlength=bins)[shown] / counts[shown]
    accuracy = np.bincount(index, weights=right, minlength=bins)[shown] / counts[shown]
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(mean_conf, accuracy, marker="o", label="observed")
    axes.set_xlabel("confidence")
    axes.set_ylabel("share correct")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    ece = expected_calibration_error(conf, right.astype(bool), bins)
    axes.set_title(f"{conf.size} words, ECE {ece:.3f}")
    axes.legend(loc="upper left")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return target

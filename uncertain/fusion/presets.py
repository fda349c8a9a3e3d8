"""Mark presets: named thresholds, each computed on labelled words for one use of the marks.

A calibrator carries one threshold per preset (`Calibrator.presets`); `fuse(threshold=...)`,
`transcribe`, `read` and `render(marks=...)` take a preset's name wherever they take a
probability:

- `review` (the default): marks to check by hand. The highest threshold at which the marked
  words are at most twice the error rate, so a reader checks few words while the marks catch
  as many wrong words as the ranking allows at that cost.
- `recall`: marks that miss few errors, whatever they cost: the lowest threshold whose marks
  catch at least 90% of the wrong words (never below `review`'s).
- `prompt`: marks for a prompt to an LLM. The highest threshold at which the marked words are
  at most the error rate: there the share of marks on wrong words equals the share of wrong
  words marked (precision equals recall); marks added past it are mostly right words, which
  teach a model that a mark means little, and each costs prompt tokens.

`mark_presets` computes the three from confidences as `fuse` gives them and right/wrong labels;
the fitting scripts and `fit_calibrator` call it on the words of the calibrator's main
condition (clean speech, printed books; for a user's fit, all their words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from uncertain.fusion.marks import HALLUCINATION_CONFIDENCE, _hallucination_rules, is_unreadable

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MarkPreset = Literal["review", "recall", "prompt"]
PRESETS: tuple[MarkPreset, ...] = get_args(MarkPreset)
"""The preset names, the default first."""
DEFAULT_PRESET: MarkPreset = "review"

REVIEW_FACTOR = 2.0
"""`review` marks at most this many words per wrong word."""
PROMPT_FACTOR = 1.0
"""`prompt` marks at most this many words per wrong word."""
RECALL_TARGET = 0.9
"""`recall` catches at least this share of the wrong words."""
STEP = 0.001
"""Thresholds are searched on this grid (0 to 1)."""


def as_fused(
    predicted: Sequence[float] | FloatArray,
    signals: Sequence[Mapping[str, float]],
    has_box: Sequence[bool] | None = None,
) -> tuple[FloatArray, BoolArray]:
    """A calibrator's raw predictions as `fuse` turns them into confidence, and the words
    `fuse` marks whatever the threshold (`possible_hallucination`, `unreadable`).

    Looping text is capped at `HALLUCINATION_CONFIDENCE`, digital text (signal `digital`) is
    1.0 and never marked. `has_box` (default: every OCR word has one) feeds `is_unreadable`.
    """
    confidence, hallucinated, unreadable, digital = _fused_parts(predicted, signals, has_box)
    return confidence, (hallucinated | unreadable) & ~digital


def _fused_parts(
    predicted: Sequence[float] | FloatArray,
    signals: Sequence[Mapping[str, float]],
    has_box: Sequence[bool] | None,
) -> tuple[FloatArray, BoolArray, BoolArray, BoolArray]:
    """Confidence, hallucinated, unreadable and digital words: `fuse` and `as_fused` share it."""
    n = len(signals)
    p = np.clip(np.asarray(predicted, dtype=np.float64), 0.0, 1.0)
    capped, hallucinated = _hallucination_rules(signals, None)
    unreadable = is_unreadable(signals, [True] * n if has_box is None else has_box)
    digital = np.fromiter((r.get("digital", 0.0) >= 0.5 for r in signals), dtype=bool, count=n)
    p = np.where(capped, np.minimum(p, HALLUCINATION_CONFIDENCE), p)
    p[digital] = 1.0
    return p, hallucinated, unreadable, digital


def mark_presets(
    confidence: Sequence[float] | FloatArray,
    right: Sequence[bool] | BoolArray,
    flagged: Sequence[bool] | BoolArray | None = None,
) -> dict[str, float]:
    """The threshold of each preset on these words (`flagged`: marked whatever the threshold).

    A word is marked when its confidence is below the threshold or it is flagged. `review`:
    the highest threshold (0.001 steps) at which at most `REVIEW_FACTOR` words per wrong word
    are marked; `prompt`: the same at `PROMPT_FACTOR`; `recall`: the lowest that catches
    `RECALL_TARGET` of the wrong words, never below `review`. ValueError when there are no
    words or no wrong word.
    """
    p = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    flags = np.zeros(p.size, dtype=bool) if flagged is None else np.asarray(flagged, dtype=bool)
    if p.shape != ok.shape or p.shape != flags.shape:
        raise ValueError(f"{p.size} confidences, {ok.size} labels and {flags.size} flags")
    wrong = int((~ok).sum())
    if p.size == 0 or wrong == 0:
        raise ValueError("presets need labelled words, some of them wrong")
    grid = np.round(np.arange(0, round(1 / STEP) + 1) * STEP, 3)
    free = ~flags
    # Words marked (and wrong words caught) at each threshold: the flagged ones plus those of
    # the others whose confidence is below it.
    marked = flags.sum() + np.searchsorted(np.sort(p[free]), grid, side="left")
    caught = (flags & ~ok).sum() + np.searchsorted(np.sort(p[free & ~ok]), grid, side="left")

    def highest(factor: float) -> float:
        within = np.flatnonzero(marked <= factor * wrong)
        return float(grid[within[-1]]) if within.size else 0.0

    review = highest(REVIEW_FACTOR)
    enough = np.flatnonzero(caught >= RECALL_TARGET * wrong)
    recall = max(float(grid[enough[0]]) if enough.size else 1.0, review)
    return {"review": review, "recall": recall, "prompt": highest(PROMPT_FACTOR)}


def describe_presets(
    presets: Mapping[str, float],
    confidence: Sequence[float] | FloatArray,
    right: Sequence[bool] | BoolArray,
    flagged: Sequence[bool] | BoolArray | None = None,
) -> str:
    """One line for a calibrator's metadata: what each preset marks and catches on the words
    it was computed on."""
    p = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    flags = np.zeros(p.size, dtype=bool) if flagged is None else np.asarray(flagged, dtype=bool)
    parts = []
    for name, cut in presets.items():
        low = (p < cut) | flags
        parts.append(
            f"{name} {cut:g} marks {low.mean():.1%}, catches {low[~ok].mean():.0%} of the wrong"
        )
    return f"{p.size} words, {(~ok).mean():.1%} wrong: " + "; ".join(parts)

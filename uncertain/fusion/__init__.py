"""Fusion: turn each span's raw engine signals into a calibrated confidence, and mark weak runs.

A `Calibrator` maps a span's signals (a `dict[str, float]`, see `span_signals`) to the
probability that the span is right; `fuse` applies one to a document and rebuilds its marks
(`possible_hallucination`, `unreadable`, `low_confidence`). The pieces, one concern each:

- `signals`: `Feature` (a signal under a transform) and `span_signals` (engine signals plus
  those derived from the document).
- `calibrators`: `LogisticCalibrator`, `IsotonicCalibrator` and `BoostedCalibrator`, their
  JSON form and `load_calibrator`.
- `fitting`: `fit_calibrator` and `labelled_signals`, fitting on your own documents.
- `bundled`: the calibrators shipped in `uncertain/calibration/` and `default_calibrator`,
  which picks one for a document's engine and model.
- `marks`: the marking rules (`is_possible_hallucination`, `is_unreadable`, `mark_spans`).
- `presets`: the named thresholds a calibrator carries (`review`, the default, `recall`,
  `prompt`) and `mark_presets`, which computes them on labelled words.
- `annotate`: `fuse`.

Every name is re-exported here; import from `uncertain.fusion`.
"""

from __future__ import annotations

from uncertain.fusion.annotate import fuse
from uncertain.fusion.bundled import _BUNDLED as _BUNDLED  # the benchmarks read these two
from uncertain.fusion.bundled import _bundled as _bundled
from uncertain.fusion.bundled import default_calibrator
from uncertain.fusion.calibrators import (
    BOOSTING_DEFAULTS,
    CALIBRATION_FORMAT_VERSION,
    DEFAULT_THRESHOLD,
    BoostedCalibrator,
    Calibrator,
    IsotonicCalibrator,
    LogisticCalibrator,
    load_calibrator,
)
from uncertain.fusion.fitting import fit_calibrator, labelled_signals
from uncertain.fusion.marks import (
    COMPRESSION_LIMIT,
    FALLBACK_LOGPROB_LIMIT,
    FALLBACK_TEMPERATURE,
    HALLUCINATION_CONFIDENCE,
    LOGPROB_LIMIT,
    NO_SPEECH_LIMIT,
    SEGMENT_LOGPROB_LIMIT,
    SEGMENT_PROBABILITY_LIMIT,
    UNREADABLE_ALNUM_SHARE,
    UNREADABLE_CONFIDENCE,
    VAD_SPEECH_LIMIT,
    is_possible_hallucination,
    is_unreadable,
    mark_spans,
)
from uncertain.fusion.presets import PRESETS, MarkPreset, mark_presets
from uncertain.fusion.signals import Feature, Transform, span_signals

__all__ = [
    "BOOSTING_DEFAULTS",
    "CALIBRATION_FORMAT_VERSION",
    "COMPRESSION_LIMIT",
    "DEFAULT_THRESHOLD",
    "FALLBACK_LOGPROB_LIMIT",
    "FALLBACK_TEMPERATURE",
    "HALLUCINATION_CONFIDENCE",
    "LOGPROB_LIMIT",
    "NO_SPEECH_LIMIT",
    "PRESETS",
    "SEGMENT_LOGPROB_LIMIT",
    "SEGMENT_PROBABILITY_LIMIT",
    "UNREADABLE_ALNUM_SHARE",
    "UNREADABLE_CONFIDENCE",
    "VAD_SPEECH_LIMIT",
    "BoostedCalibrator",
    "Calibrator",
    "Feature",
    "IsotonicCalibrator",
    "LogisticCalibrator",
    "MarkPreset",
    "Transform",
    "default_calibrator",
    "fit_calibrator",
    "fuse",
    "is_possible_hallucination",
    "is_unreadable",
    "labelled_signals",
    "load_calibrator",
    "mark_presets",
    "mark_spans",
    "span_signals",
]

"""What the bench scripts share: where the data and the caches are, the bootstrap over
recordings or pages, and how a figure is printed with its interval.

Importing this module puts the repository first on `sys.path`, so a script run as
`python bench/NAME.py` measures the package beside it, installed or not; import it before
`uncertain`. It imports nothing else at import time (the memory benchmarks' child processes
import it too, and measure their own footprint).

Data: the real corpus and the real recordings and scans lie in a `shared/` folder beside the
repository (`shared/corpus/{speech,ocr}/{fit,eval}/`, `shared/realdata/{audio,ocr}/{fit,eval}/`);
they are not part of the repository (mixed licences, 140 MB). Decoded documents are cached
under `CACHE` (outside the repository), so a report never decodes twice.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from uncertain.fusion import Calibrator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "samples"
CALIBRATION = ROOT / "uncertain" / "calibration"
"""The bundled calibrators (`NAME.json`): what the fit scripts write, what `fuse` reads."""
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
REALDATA = SHARED / "realdata"
CACHE = Path.home() / ".cache" / "uncertain-corpus"
"""Where decoded documents are kept (each script a folder of its own below it)."""

T = TypeVar("T")


def bundled_calibrator(name: str) -> Calibrator:
    """The calibrator the package ships as `NAME.json` (say `whisper-tiny.en`)."""
    from uncertain.fusion import Calibrator

    return Calibrator.load(CALIBRATION / f"{name}.json")


def is_bundled(name: str) -> bool:
    """Whether the package ships a calibrator `NAME.json`."""
    return (CALIBRATION / f"{name}.json").is_file()


def load_helper(relative: str) -> ModuleType:
    """A helper module of the repository's tests (`tests/llm/serve.py`, say) loaded from its
    file, the way a script runs it: not imported as `tests.*`, a name that other installed
    distributions sometimes take."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the peers' scores ------------------------------------------------------------------------

_PUNCTUATION = set(".,!?;:'\"-()[]…")


def timestamped_confidence(span: Any) -> float:
    """whisper-timestamped's word confidence, the peer the speech figures are set beside: the
    geometric mean of the word's token probabilities, punctuation tokens left out (the word
    probability where nothing else is left)."""
    import numpy as np

    probs = [
        t.probability
        for t in span.tokens
        if t.text.strip() and not set(t.text.strip()) <= _PUNCTUATION
    ]
    if not probs:
        return float(span.signals.get("word_probability", 0.0))
    return float(np.exp(np.mean(np.log(np.maximum(probs, 1e-12)))))


# -- the bootstrap over groups (recordings, sentences, pages) ---------------------------------


def intervals(
    groups: int,
    sample: Callable[[np.ndarray], T],
    figures: Mapping[str, Callable[[T], float]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """The 95% bootstrap interval of each figure, all over the same draws of `groups`.

    `uncertain.evaluate.bootstrap_interval` for each figure with one seed, so every figure
    sees the same resampled groups; `sample(drawn)` builds what a draw holds (the indices of
    the groups drawn, repeats included) once, and each figure reads it. A figure that is NaN
    in every draw gets (NaN, NaN).
    """
    from uncertain.evaluate import bootstrap_interval

    built: dict[bytes, T] = {}

    def once(drawn: np.ndarray) -> T:
        key = drawn.tobytes()
        if key not in built:
            built[key] = sample(drawn)
        return built[key]

    return {
        name: bootstrap_interval(
            groups, lambda drawn, f=figure: f(once(drawn)), resamples=resamples, seed=seed
        )
        for name, figure in figures.items()
    }


def _summed(rows: Iterable[tuple[Any, ...]]) -> np.ndarray:
    """Per group (the first field of each row), the sums of the other fields; one row each."""
    import numpy as np

    sums: dict[str, list[float]] = {}
    for group, *values in rows:
        total = sums.setdefault(group, [0.0] * len(values))
        for n, value in enumerate(values):
            total[n] += value
    return np.array(list(sums.values()))


def ratio_interval(
    rows: Iterable[tuple[str, float, float]], resamples: int = 1000
) -> tuple[float, float, float]:
    """sum(a) / sum(b) over rows (group, a, b), with its 95% bootstrap interval over groups.

    A word error rate is a ratio of sums (errors over reference words): its groups are
    resampled, not its words. (NaN, NaN, NaN) without rows or with sum(b) zero.
    """
    from uncertain.evaluate import bootstrap_interval

    values = _summed(rows)
    if not len(values) or values[:, 1].sum() == 0:
        return math.nan, math.nan, math.nan

    def ratio(drawn: np.ndarray) -> float:
        pick = values[drawn]
        below = pick[:, 1].sum()
        return float(pick[:, 0].sum() / below) if below > 0 else math.nan

    low, high = bootstrap_interval(len(values), ratio, resamples=resamples, seed=0)
    return float(values[:, 0].sum() / values[:, 1].sum()), low, high


def difference_interval(
    rows: Iterable[tuple[str, float, float, float]], resamples: int = 1000
) -> tuple[float, float, float]:
    """(sum(a) - sum(b)) / sum(n) over rows (group, a, b, n), with its 95% bootstrap interval
    over groups: the gain of `b` over `a` (errors before and after, per `n` words), paired."""
    from uncertain.evaluate import bootstrap_interval

    values = _summed(rows)
    if not len(values) or values[:, 2].sum() == 0:
        return math.nan, math.nan, math.nan

    def gain(pick: np.ndarray) -> float:
        return float((pick[:, 0].sum() - pick[:, 1].sum()) / pick[:, 2].sum())

    def drawn_gain(drawn: np.ndarray) -> float:
        pick = values[drawn]
        return gain(pick) if pick[:, 2].sum() > 0 else math.nan

    low, high = bootstrap_interval(len(values), drawn_gain, resamples=resamples, seed=0)
    return gain(values), low, high


# -- printing -------------------------------------------------------------------------------


def with_interval(value: float, low: float, high: float, spec: str = ".3f") -> str:
    """`value [low, high]`, each formatted by `spec` (a format spec: `.3f`, `.1%`, `+.4f`)."""
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"

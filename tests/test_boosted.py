"""Boosted-tree calibrators: what they learn, that numpy applies exactly what scikit-learn
fitted, that a file round-trips, and that bad files and a missing scikit-learn say what to do."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from uncertain.errors import CalibrationError
from uncertain.evaluate import auroc
from uncertain.fusion import (
    BoostedCalibrator,
    Calibrator,
    Feature,
    LogisticCalibrator,
    fit_calibrator,
)

FEATURES = [Feature("word_confidence", "logit", 0.5), Feature("lexicon_miss"), Feature("digits")]


def interacting(n: int, seed: int) -> tuple[list[dict[str, float]], np.ndarray]:
    """Words whose lexicon miss matters only when they have no digits (a code is never in a
    lexicon; a word is): a law one linear map cannot express."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.3, 0.99, n)
    miss = rng.random(n) < 0.3
    digits = rng.random(n) < 0.4
    z = 4.0 * (confidence - 0.6) - 3.0 * (miss & ~digits) + 1.0 * (miss & digits)
    truth = rng.random(n) < 1 / (1 + np.exp(-z))
    rows = [
        {"word_confidence": float(c), "lexicon_miss": float(m), "digits": float(d)}
        for c, m, d in zip(confidence, miss, digits, strict=True)
    ]
    return rows, truth


def test_boosted_learns_an_interaction_a_logistic_map_cannot() -> None:
    rows, truth = interacting(6000, seed=0)
    test_rows, test_truth = interacting(4000, seed=1)
    boosted = BoostedCalibrator(FEATURES).fit(rows, truth)
    logistic = LogisticCalibrator(FEATURES).fit(rows, truth)
    gain = auroc(boosted.predict(test_rows), test_truth) - auroc(
        logistic.predict(test_rows), test_truth
    )
    assert gain > 0.01
    # And it is a probability: on held-out words the mean confidence matches the share right.
    assert boosted.predict(test_rows).mean() == pytest.approx(test_truth.mean(), abs=0.02)


def test_numpy_applies_what_scikit_learn_fitted() -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    rows, truth = interacting(3000, seed=2)
    settings = {"trees": 40, "max_depth": 3, "learning_rate": 0.1, "min_leaf": 20, "subsample": 1}
    calibrator = BoostedCalibrator(FEATURES, settings=settings).fit(rows, truth)
    x = calibrator.matrix(rows)
    reference = GradientBoostingClassifier(
        n_estimators=40,
        max_depth=3,
        learning_rate=0.1,
        min_samples_leaf=20,
        subsample=1.0,
        init="zero",
        random_state=0,
    ).fit(x, truth.astype(int))
    # Leaf values are stored to 9 digits, hence the tolerance.
    np.testing.assert_allclose(
        calibrator.predict(rows), reference.predict_proba(x)[:, 1], rtol=0, atol=1e-7
    )


def test_boosted_round_trips_and_scores_each_word_alone_as_in_a_batch(tmp_path: Path) -> None:
    rows, truth = interacting(2000, seed=3)
    calibrator = BoostedCalibrator(FEATURES, settings={"trees": 30}, threshold=0.4).fit(rows, truth)
    calibrator.set_presets({"review": 0.6, "recall": 0.8, "prompt": 0.3})
    path = calibrator.save(tmp_path / "b.json")
    text = path.read_text()
    assert json.loads(text)["kind"] == "boosted"
    assert text.count('{"feature":') == 30  # one line per tree
    loaded = Calibrator.load(path)
    assert isinstance(loaded, BoostedCalibrator)
    assert loaded.settings["trees"] == 30 and loaded.threshold == 0.6
    assert np.array_equal(loaded.predict(rows), calibrator.predict(rows))
    alone = np.array([loaded.predict([row])[0] for row in rows[:50]])
    assert np.array_equal(alone, loaded.predict(rows)[:50])


def _one_tree(**changes: object) -> str:
    tree = {"feature": [0, -1, -1], "threshold": [0.5, 0, 0], "left": [1, 0, 0]}
    tree |= {"right": [2, 0, 0], "value": [0.0, -1.0, 1.0]}
    tree |= changes
    return json.dumps(
        {"kind": "boosted", "version": 1, "features": [{"signal": "a"}], "trees": [tree]}
    )


def test_a_hand_written_tree_goes_left_at_its_threshold(tmp_path: Path) -> None:
    path = tmp_path / "tree.json"
    path.write_text(_one_tree())
    calibrator = Calibrator.load(path)
    low, high = calibrator.predict([{"a": 0.5}, {"a": 0.51}])
    assert low == pytest.approx(1 / (1 + np.e)) and high == pytest.approx(1 / (1 + np.e**-1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"left": [0, 0, 0]}, "child index does not follow its parent"),
        ({"right": [7, 0, 0]}, "child index does not follow its parent"),
        ({"feature": [3, -1, -1]}, "feature outside"),
        ({"value": [0.0, 1.0]}, "equal length"),
        ({"threshold": ["x", 0, 0]}, "tree threshold"),
        ({"left": [1.5, 0, 0]}, "whole numbers"),
    ],
)
def test_bad_trees_name_the_file(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_one_tree(**changes))
    with pytest.raises(CalibrationError, match=message) as info:
        Calibrator.load(path)
    assert str(path) in str(info.value)


def test_unfitted_boosted_calibrator_says_to_fit_it() -> None:
    with pytest.raises(CalibrationError, match="fit it first"):
        BoostedCalibrator(FEATURES).predict([{"word_confidence": 0.9}])


def test_fitting_without_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection: scikit-learn is installed here, so hide it.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    rows, truth = interacting(200, seed=4)
    with pytest.raises(CalibrationError, match=r"uncertain-ingest\[fit\]"):
        BoostedCalibrator(FEATURES).fit(rows, truth)


def test_fit_calibrator_grows_boosted_trees_on_real_scans(realdata_dir: Path) -> None:
    """`fit_calibrator(kind="boosted")` on the realdata fit scans and their references: the
    bundled Tesseract features, presets from out-of-fold confidence."""
    from uncertain import read

    fit = realdata_dir / "ocr" / "fit"
    scans = sorted(fit.glob("page_tesseract_*.tif")) + sorted(fit.glob("line_uw3_*.png"))
    pairs = [(read(p, fuse=False), p.with_suffix(".txt").read_text()) for p in scans]
    calibrator = fit_calibrator(pairs, kind="boosted")
    assert isinstance(calibrator, BoostedCalibrator)
    assert calibrator.trees and set(calibrator.presets) == {"review", "recall", "prompt"}
    assert "out-of-fold" in calibrator.metadata["presets"]

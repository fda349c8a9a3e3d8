"""Mark presets: computed on labelled words, carried by calibrators, and accepted by name
wherever a threshold or marks option is (API, render, CLI, calibrate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import uncertain
from uncertain.cli import app
from uncertain.document import Document
from uncertain.errors import CalibrationError, UsageError
from uncertain.fusion import (
    PRESETS,
    Calibrator,
    Feature,
    LogisticCalibrator,
    _bundled,
    fuse,
    mark_presets,
)
from uncertain.fusion.presets import PROMPT_FACTOR, RECALL_TARGET, REVIEW_FACTOR
from uncertain.render import render

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SHIPPED = tuple(
    f"whisper-{m}" for m in ("tiny.en", "base", "tiny.en+base", "tiny.en+nbest", "fallback")
)
"""Calibrators whose presets have been computed on the fit corpus."""


def _marked(confidence: np.ndarray, flagged: np.ndarray, cut: float) -> np.ndarray:
    return (confidence < cut) | flagged


def test_presets_meet_their_definitions_and_are_the_extremes() -> None:
    rng = np.random.default_rng(5)
    right = rng.random(4000) > 0.08
    # An imperfect ranking: wrong words score lower on average, with overlap.
    confidence = np.clip(np.where(right, rng.beta(8, 1, 4000), rng.beta(3, 2, 4000)), 0, 1)
    flagged = rng.random(4000) < 0.01
    presets = mark_presets(confidence, right, flagged)
    assert set(presets) == set(PRESETS)
    wrong = int((~right).sum())
    for name, factor in (("review", REVIEW_FACTOR), ("prompt", PROMPT_FACTOR)):
        cut = presets[name]
        assert _marked(confidence, flagged, cut).sum() <= factor * wrong
        # The highest such threshold: one step up marks too many.
        assert _marked(confidence, flagged, round(cut + 0.001, 3)).sum() > factor * wrong
    cut = presets["recall"]
    assert _marked(confidence, flagged, cut)[~right].sum() >= RECALL_TARGET * wrong
    assert _marked(confidence, flagged, round(cut - 0.001, 3))[~right].sum() < (
        RECALL_TARGET * wrong
    )
    assert presets["prompt"] <= presets["review"] <= presets["recall"]


def test_presets_need_wrong_words() -> None:
    with pytest.raises(ValueError, match="some of them wrong"):
        mark_presets(np.array([0.9, 0.8]), np.array([True, True]))


def _simple(**kwargs: object) -> LogisticCalibrator:
    return LogisticCalibrator(
        [Feature("word_probability", "logit")], coefficients=[1.0], intercept=0.0, **kwargs
    )  # type: ignore[arg-type]


def test_presets_round_trip_and_the_default_is_review() -> None:
    calibrator = _simple(presets={"review": 0.6, "recall": 0.9, "prompt": 0.4})
    assert calibrator.threshold == 0.6  # review is the default threshold
    loaded = Calibrator.from_json(calibrator.to_json())
    assert loaded.presets == {"review": 0.6, "recall": 0.9, "prompt": 0.4}
    assert [loaded.mark_threshold(p) for p in (None, "review", "recall", "prompt", 0.7)] == [
        0.6,
        0.6,
        0.9,
        0.4,
        0.7,
    ]


def test_old_calibrator_files_keep_working() -> None:
    """A file written before presets: its threshold is review's, other presets fail clearly."""
    data = json.loads(_simple(threshold=0.55).to_json())
    assert "presets" not in data
    old = Calibrator.from_json(json.dumps(data))
    assert old.mark_threshold() == old.mark_threshold("review") == 0.55
    with pytest.raises(CalibrationError, match="no 'prompt' preset"):
        old.mark_threshold("prompt")
    # Names a newer version may add are left out, not refused.
    data["presets"] = {"review": 0.5, "someday": 0.3}
    assert Calibrator.from_json(json.dumps(data)).presets == {"review": 0.5}


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(UsageError, match="'review', 'recall', 'prompt'"):
        _simple().mark_threshold("strict")
    with pytest.raises(UsageError, match="between 0 and 1"):
        _simple().mark_threshold(1.5)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_presets_are_ordered_and_described(name: str) -> None:
    calibrator = _bundled(name)
    presets = calibrator.presets
    assert set(presets) == set(PRESETS)
    assert presets["prompt"] <= presets["review"] <= presets["recall"]
    assert calibrator.threshold == presets["review"]
    assert "review" in calibrator.metadata["presets"]


# -- real engine output -----------------------------------------------------------------


@pytest.fixture(scope="module")
def jfk() -> Document:
    return uncertain.transcribe(SAMPLES / "jfk.wav")


def _marked_words(doc: Document) -> int:
    return sum(len(m.span_ids) for m in doc.marks)


def test_presets_from_the_api_on_a_real_sample(jfk: Document) -> None:
    recall = uncertain.transcribe(SAMPLES / "jfk.wav", threshold="recall")
    prompt = fuse(jfk, threshold="prompt")
    assert _marked_words(prompt) <= _marked_words(jfk) < _marked_words(recall)
    # The default is review, and the document says which threshold and presets it used.
    assert fuse(jfk, threshold="review").marks == jfk.marks
    presets = _bundled("whisper-tiny.en").presets
    assert jfk.source.settings["mark_threshold"] == presets["review"]
    assert jfk.source.settings["mark_presets"] == presets
    assert recall.source.settings["mark_threshold"] == presets["recall"]
    # A probability works as it always did.
    assert fuse(jfk, threshold=0.97).source.settings["mark_threshold"] == 0.97
    with pytest.raises(UsageError, match="unknown marks preset 'strict'"):
        fuse(jfk, threshold="strict")  # type: ignore[arg-type]


def test_render_re_marks_by_preset(jfk: Document) -> None:
    for preset in PRESETS:
        assert render(jfk, marks=preset) == render(fuse(jfk, threshold=preset), marks="marks")
    # A document fused before presets were recorded: the bundled calibrator it names.
    settings = {k: v for k, v in jfk.source.settings.items() if k != "mark_presets"}
    older = jfk.model_copy(update={"source": jfk.source.model_copy(update={"settings": settings})})
    assert render(older, marks="recall") == render(jfk, marks="recall")
    unknown = older.model_copy(
        update={"source": older.source.model_copy(update={"calibration": "mine (given)"})}
    )
    with pytest.raises(UsageError, match="no presets"):
        render(unknown, marks="prompt")
    with pytest.raises(UsageError, match="'prompt'"):
        render(jfk, marks="strict")  # type: ignore[arg-type]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_takes_presets(tmp_path: Path, jfk: Document) -> None:
    counts = {}
    for preset in ("review", "recall"):
        out = tmp_path / preset
        code, _, err = invoke(
            "transcribe", str(SAMPLES / "jfk.wav"), "--threshold", preset, "-f", "json",
            "-o", str(out), "-q",
        )  # fmt: skip
        assert code == 0, err
        counts[preset] = _marked_words(Document.load(out / "jfk.json"))
    assert counts["review"] < counts["recall"]
    saved = tmp_path / "jfk.json"
    saved.write_text(jfk.to_json(), encoding="utf-8")
    code, out, err = invoke("render", str(saved), "--marks", "prompt")
    assert code == 0, err
    assert out.rstrip("\n") == render(jfk, marks="prompt")
    code, out, _ = invoke("render", str(saved), "--threshold", "0.9")  # the older spelling
    assert out.rstrip("\n") == render(jfk, marks=0.9)


@pytest.mark.parametrize(
    "args",
    [
        ("transcribe", str(SAMPLES / "jfk.wav"), "--threshold", "strict"),
        ("render", "doc.json", "--marks", "strict"),
        ("ask", "doc.json", "what?", "--model", "m", "--marks", "strict"),
        ("transcribe", str(SAMPLES / "jfk.wav"), "--threshold", "1.5"),
    ],
    ids=["transcribe", "render", "ask", "out of range"],
)
def test_cli_unknown_preset_is_a_usage_error(args: tuple[str, ...]) -> None:
    code, _, err = invoke(*args)
    assert code == 2
    assert "review" in err and "prompt" in err


def test_calibrate_writes_presets(tmp_path: Path) -> None:
    target = tmp_path / "mine.json"
    code, _, err = invoke(
        "calibrate", str(SAMPLES / "jfk.wav"), str(SAMPLES / "synthetic_drug.wav"),
        "-o", str(target),
    )  # fmt: skip
    assert code == 0, err
    saved = json.loads(target.read_text(encoding="utf-8"))
    assert set(saved["presets"]) == set(PRESETS)
    assert saved["threshold"] == saved["presets"]["review"]
    assert "out-of-fold" in saved["metadata"]["presets"]
    mine = Calibrator.load(target)
    doc = uncertain.transcribe(SAMPLES / "synthetic_drug.wav", calibration=mine, threshold="prompt")
    assert doc.source.settings["mark_threshold"] == saved["presets"]["prompt"]

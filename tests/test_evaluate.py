"""Evaluation measures against hand-computed values."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from uncertain.document import Document, Mark, Span
from uncertain.errors import InputError
from uncertain.evaluate import (
    align_words,
    auroc,
    brier_score,
    cer,
    evaluate,
    expected_calibration_error,
    find_reference,
    flag_report,
    label_spans,
    normalize_text,
    reliability_diagram,
    wer,
)


def make_doc(words: list[str], confidences: list[float] | None = None) -> Document:
    text = " ".join(words)
    spans = []
    position = 0
    for i, word in enumerate(words):
        c = None if confidences is None else confidences[i]
        spans.append(Span(id=i, start=position, end=position + len(word), text=word, confidence=c))
        position += len(word) + 1
    return Document(text=text, spans=spans)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("Don’t STOP", "do not stop"),
        ("ﬁne", "fine"),  # NFKC folds the ligature
        ("co-trimoxazole 500mg", "co trimoxazole five hundred mg"),
        ("1,000 and 25%", "one thousand and twenty five percent"),
        ("in 1961", "in nineteen sixty one"),
        ("in 1905", "in nineteen oh five"),
        ("code 007", "code zero zero seven"),
        ("...", ""),
        # Whisper's English normaliser: tags, fillers, contractions, titles, spelling.
        ("so <cutoff-montreal> uh this is [laughter] it <unk>", "so this is it"),
        ("um we're gonna", "we are going to"),
        ("Mr. Grey's colour", "mister grays color"),  # only pronouns' 's reads "is"
        ("it's grey", "it is gray"),
        ("a naïve café", "a naive cafe"),
        # Numbers written either way compare equal.
        ("fourteen seventy", normalize_text("1470")),
        ("the 21st and 12th", "the twenty first and twelfth"),
        ("$5 or 3.5%", "five dollars or three point five percent"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("1200 prisoners", "twelve hundred prisoners"),
        ("in 1803 it rose to 710", "in eighteen oh three it rose to seven hundred ten"),
        ("6,439 persons", "six thousand, four hundred thirty-nine persons"),
        ("£10 each", "ten pounds each"),
        ("on the 27th", "on the twenty-seventh"),
        ("10, 11, and 13 years", "ten, eleven, and thirteen years"),
        ("the MFA aligner", "the m f a hm aligner"),
    ],
)
def test_whole_text_numbers_compare_equal_either_way(written: str, spoken: str) -> None:
    assert normalize_text(written, numbers=True) == normalize_text(spoken, numbers=True)
    assert wer(spoken, written) == 0.0
    assert all(label_spans(make_doc(written.split()), spoken))


def test_label_spans_does_not_invent_errors_from_writing_conventions() -> None:
    hyp = make_doc(
        [
            "I'm",
            "gonna",
            "meet",
            "Mr.",
            "Smith",
            "on",
            "the",
            "21st",
            "in",
            "1470,",
            "the",
            "colour-blind",
            "one.",
        ]
    )
    ref = "i am <cutoff-x> going to meet mister smith on the twenty first [laughter] um in "
    ref += "fourteen seventy the color blind one"
    assert label_spans(hyp, ref) == [True] * len(hyp.spans)
    assert wer(ref, hyp.text) == 0.0


def test_align_words_labels_each_hypothesis_word() -> None:
    hyp = ["the", "cat", "sat", "on", "mat", "today"]
    ref = ["the", "cat", "sat", "on", "the", "mat"]
    # "the" before "mat" was deleted; "today" is an insertion.
    assert align_words(hyp, ref) == [True, True, True, True, True, False]
    assert align_words(["a", "x", "c"], ["a", "b", "c"]) == [True, False, True]
    assert align_words([], ["a"]) == []
    assert align_words(["a"], []) == [False]


def test_label_spans_handles_numbers_and_punctuation() -> None:
    doc = make_doc(["He", "paid", "25", "dollars", "—", "metaformin"])
    labels = label_spans(doc, "he paid twenty five dollars, metformin")
    assert labels == [True, True, True, True, True, False]


def test_wer_and_cer() -> None:
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("the cat sat", "the bat sat down") == pytest.approx(2 / 3)
    assert cer("abce", "abcd") == pytest.approx(1 / 4)
    assert wer("", "") == 0.0


def test_wer_and_cer_take_reference_first() -> None:
    # Argument order as jiwer's: (reference, hypothesis). Two inserted words are two edits
    # per two reference words; read the other way round they would be two deletions in four.
    assert wer("the cat", "the cat sat down") == pytest.approx(1.0)
    assert wer(reference="the cat", hypothesis="the cat sat down") == pytest.approx(1.0)
    assert wer("the cat sat down", "the cat") == pytest.approx(0.5)
    assert cer("abc", "abcdef") == pytest.approx(1.0)
    assert cer("abcdef", "abc") == pytest.approx(0.5)


def test_auroc_hand_computed() -> None:
    # Right words: 0.9, 0.5; wrong: 0.5, 0.1. Pairs: (0.9>0.5)=1, (0.9>0.1)=1,
    # (0.5=0.5)=0.5, (0.5>0.1)=1 -> 3.5 / 4.
    assert auroc([0.1, 0.5, 0.5, 0.9], [False, True, False, True]) == pytest.approx(0.875)
    assert auroc([0.9, 0.1], [True, False]) == 1.0
    assert auroc([0.9, 0.1], [False, True]) == 0.0
    assert math.isnan(auroc([0.3, 0.4], [True, True]))


def test_ece_hand_computed() -> None:
    # Bin [0.2,0.3): confidences 0.2, 0.2, one right -> |0.4 - 1| ... computed per bin:
    conf = [0.25, 0.25, 0.95, 0.95]
    right = [True, False, True, True]
    # bin 2: mean conf 0.25, accuracy 0.5 -> gap 0.25, weight 1/2; bin 9: 0.95 vs 1 -> 0.05, 1/2
    assert expected_calibration_error(conf, right) == pytest.approx(0.5 * 0.25 + 0.5 * 0.05)
    assert expected_calibration_error([1.0], [True]) == 0.0  # 1.0 falls in the last bin
    assert brier_score([1.0, 0.0, 0.5], [True, True, False]) == pytest.approx((0 + 1 + 0.25) / 3)


def test_flag_report() -> None:
    conf = [0.1, 0.2, 0.8, 0.9, 0.3]
    right = [False, True, False, True, True]
    report = flag_report(conf, right, 0.5)
    assert report.error_recall == 0.5  # one of two wrong words is below 0.5
    assert report.flag_rate == pytest.approx(3 / 5)
    assert report.silent_errors_per_100 == pytest.approx(20.0)


def test_evaluate_uses_marks_and_skips_punctuation() -> None:
    doc = make_doc(["the", "cat", "zat", "!"], [0.9, 0.8, 0.2, 1.0])
    doc = doc.model_copy(
        update={"marks": [Mark(span_ids=[2], reason="low_confidence", confidence=0.2)]}
    )
    report = evaluate([(doc, "the cat sat")])
    assert report.words == 3
    assert report.wrong == 1
    assert report.wer == pytest.approx(1 / 3)
    assert report.auroc == 1.0
    assert report.flags.error_recall == 1.0
    assert report.flags.flag_rate == pytest.approx(1 / 3)
    assert "AUROC 1.000" in str(report)
    with pytest.raises(InputError, match="fuse the document first"):
        evaluate([(make_doc(["a"]), "a")])


def test_find_reference(tmp_path: Path) -> None:
    audio = tmp_path / "clip.wav"
    audio.write_bytes(b"x")
    with pytest.raises(InputError, match=r"clip\.ref\.txt.*clip\.txt"):
        find_reference(audio)
    (tmp_path / "clip.txt").write_text("hello")
    assert find_reference(audio) == tmp_path / "clip.txt"
    (tmp_path / "clip.ref.txt").write_text("hello")
    assert find_reference(audio) == tmp_path / "clip.ref.txt"
    other = tmp_path / "refs"
    other.mkdir()
    (other / "clip.txt").write_text("hi")
    assert find_reference(audio, other) == other / "clip.txt"


def test_reliability_diagram_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = reliability_diagram([0.1, 0.6, 0.9, 0.95], [False, True, True, True], tmp_path / "r.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_bootstrap_interval_resamples_groups_not_items() -> None:
    from uncertain.evaluate import bootstrap_interval

    # Two groups: one all right, one all wrong. Resampling groups gives accuracies 0, 0.5, 1.
    right = [np.ones(50), np.zeros(50)]

    def accuracy(drawn: np.ndarray) -> float:
        return float(np.concatenate([right[g] for g in drawn]).mean())

    low, high = bootstrap_interval(2, accuracy, resamples=400, seed=1)
    assert low == 0.0 and high == 1.0  # word-level resampling would give about 0.4-0.6
    assert all(math.isnan(v) for v in bootstrap_interval(0, accuracy))
    same = bootstrap_interval(3, lambda d: 0.25, resamples=50)
    assert same == (0.25, 0.25)


def test_fitting_is_fusions_and_fusion_loads_without_evaluate() -> None:
    # Imports flow one way: evaluate imports fusion; fusion reaches evaluate's labelling only
    # when a fit runs. The fitting names stay importable from uncertain.evaluate.
    import uncertain.evaluate
    import uncertain.fusion

    assert uncertain.evaluate.fit_calibrator is uncertain.fusion.fit_calibrator
    assert uncertain.evaluate.labelled_signals is uncertain.fusion.labelled_signals
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, uncertain.fusion; "
            "print(sorted(m for m in sys.modules if m.startswith('uncertain.evaluate')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"

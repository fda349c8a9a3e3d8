"""Scoring by word boxes (FUNSD-style references) and case folding (SROIE-style)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from uncertain.document import Box, Document, Page, Span
from uncertain.errors import InputError
from uncertain.evaluate import (
    BoxReference,
    BoxWord,
    evaluate,
    find_box_reference,
    label_page_spans,
    label_spans,
    load_box_reference,
    normalize_words,
    score_by_boxes,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def page_doc(words: list[tuple[str, tuple[float, float, float, float]]]) -> Document:
    """A one-page document whose spans sit at the given boxes, in the given order."""
    spans, position = [], 0
    for i, (text, (x0, y0, x1, y1)) in enumerate(words):
        box = Box(page=0, x0=x0, y0=y0, x1=x1, y1=y1)
        spans.append(
            Span(id=i, start=position, end=position + len(text), text=text, box=box, confidence=0.9)
        )
        position += len(text) + 1
    pages = [Page(width=1000, height=1000)]
    return Document(text=" ".join(t for t, _ in words), spans=spans, pages=pages)


FORM = [
    ("Date:", (10.0, 10.0, 60.0, 30.0)),
    ("12/03/1998", (70.0, 10.0, 170.0, 30.0)),
    ("To:", (10.0, 50.0, 40.0, 70.0)),
    ("Kelli", (50.0, 50.0, 100.0, 70.0)),
    ("Scruggs", (110.0, 50.0, 180.0, 70.0)),
]


def test_box_scoring_does_not_depend_on_the_references_order() -> None:
    doc = page_doc(FORM)
    words = [BoxWord(t, b) for t, b in FORM]
    shuffled = words[:]
    random.Random(1).shuffle(shuffled)
    for order in (words, shuffled, words[::-1]):
        labels, (edits, ref_words, _, _) = score_by_boxes(doc, BoxReference(tuple(order)))
        assert labels == [True] * 5 and edits == 0 and ref_words > 0
    # Text alignment against the same words in annotation order invents errors.
    assert not all(label_spans(doc, " ".join(w.text for w in words[::-1])))


def test_box_scoring_finds_misreads_inventions_and_misses() -> None:
    truth = [BoxWord(t, b) for t, b in FORM] + [BoxWord("Sincerely", (10.0, 90.0, 90.0, 110.0))]
    read = [*FORM[:3], ("Keli", FORM[3][1]), FORM[4], ("~~x", (300.0, 300.0, 320.0, 320.0))]
    labels, (edits, ref_words, char_edits, _) = score_by_boxes(
        page_doc(read), BoxReference(tuple(truth))
    )
    assert labels == [True, True, True, False, True, False]
    assert edits == 3  # one misread, one invented word, one missed word
    assert char_edits > 0
    assert ref_words == sum(len(normalize_words(w.text)) for w in truth)


def test_split_and_merged_words_are_right_when_they_read_the_same() -> None:
    truth = (BoxWord("PACK/CARTON", (0.0, 0.0, 100.0, 20.0)),)
    split = page_doc([("PACK/", (0.0, 0.0, 50.0, 20.0)), ("CARTON", (52.0, 0.0, 100.0, 20.0))])
    assert score_by_boxes(split, BoxReference(truth))[0] == [True, True]
    merged = page_doc([("B.VONDERLIPPE", (0.0, 0.0, 130.0, 20.0))])
    parts = (
        BoxWord("B.", (0.0, 0.0, 28.0, 20.0)),
        BoxWord("VON", (33.0, 0.0, 61.0, 20.0)),
        BoxWord("DER", (66.0, 0.0, 94.0, 20.0)),
        BoxWord("LIPPE", (99.0, 0.0, 130.0, 20.0)),
    )
    assert score_by_boxes(merged, BoxReference(parts))[0] == [False]


def test_words_hyphenated_across_lines_are_joined_before_scoring() -> None:
    text = "my un-\nfortunate race"
    spans, position = [], 0
    for i, word in enumerate(["my", "un-", "fortunate", "race"]):
        start = text.index(word, position)
        box = Box(page=0, x0=0.0, y0=10.0 * i, x1=10.0, y1=10.0 * i + 8)
        spans.append(Span(id=i, start=start, end=start + len(word), text=word, box=box))
        position = start + len(word)
    doc = Document(text=text, spans=spans, pages=[Page(width=100, height=100)])
    labels, joined = label_page_spans(doc, "My unfortunate race.")
    assert labels == [True, True, True, True] and joined == "my unfortunate race"
    assert label_page_spans(doc, "My unhappy race.")[0] == [True, False, False, True]
    assert label_spans(doc, "My unfortunate race.")[1:3] == [False, False]
    assert (
        evaluate(
            [
                (
                    doc.model_copy(
                        update={
                            "spans": [s.model_copy(update={"confidence": 0.9}) for s in doc.spans]
                        }
                    ),
                    "My unfortunate race.",
                )
            ]
        ).wer
        == 0.0
    )


def test_receipt_lines_with_boxes_score_by_place(tmp_path: Path) -> None:
    """SROIE gives each text line its corners; the lines' order need not be reading order."""
    image = tmp_path / "receipt.png"
    image.write_bytes(b"")
    (tmp_path / "receipt.csv").write_text(
        "0,30,200,30,200,50,0,50,TOTAL RM12.50\n0,0,200,0,200,20,0,20,CASH BILL\n"
    )
    reference = find_box_reference(image)
    assert reference is not None and reference.words[0].text == "TOTAL RM12.50"
    doc = page_doc(
        [
            ("Cash", (0.0, 2.0, 40.0, 18.0)),
            ("Bil", (50.0, 2.0, 90.0, 18.0)),
            ("Total", (0.0, 32.0, 40.0, 48.0)),
            ("Rm12.50", (50.0, 32.0, 120.0, 48.0)),
        ]
    )
    labels, (edits, ref_words, _, _) = score_by_boxes(doc, reference)
    assert labels == [True, False, True, True] and edits == 1
    assert ref_words == sum(len(normalize_words(w.text)) for w in reference.words)


def test_receipts_compare_case_insensitively() -> None:
    doc = page_doc([("Total", (0.0, 0.0, 40.0, 10.0)), ("Rm12.50", (50.0, 0.0, 90.0, 10.0))])
    assert label_spans(doc, "TOTAL RM12.50") == [True, True]


def test_evaluate_and_cli_eval_use_word_boxes(tmp_path: Path) -> None:
    doc = page_doc(FORM)
    reference = BoxReference(tuple(BoxWord(t, b) for t, b in reversed(FORM)))
    report = evaluate([(doc, reference)])
    assert report.wer == 0.0 and report.wrong == 0
    # A FUNSD-style pair beside an image: `uncertain eval` scores it by place.
    image = tmp_path / "form.png"
    image.write_bytes((SAMPLES / "clean_page.png").read_bytes())
    read = subprocess.run(
        [
            sys.executable,
            "-m",
            "uncertain",
            "transcribe",
            str(image),
            "-f",
            "json",
            "-o",
            str(tmp_path),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert read.returncode == 0, read.stderr
    spans = json.loads((tmp_path / "form.json").read_text())["spans"]
    form = {
        "form": [
            {
                "words": [
                    {
                        "text": s["text"],
                        "box": [s["box"]["x0"], s["box"]["y0"], s["box"]["x1"], s["box"]["y1"]],
                    }
                ]
            }
            for s in reversed(spans)
        ]
    }
    (tmp_path / "form.json").write_text(json.dumps(form))
    (tmp_path / "form.txt").write_text("not in reading order at all")
    assert find_box_reference(image) is not None
    done = subprocess.run(
        [sys.executable, "-m", "uncertain", "eval", str(image)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WER 0.000" in done.stdout and "wrong 0 " in done.stdout


def test_bad_box_reference_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "form.json"
    bad.write_text('{"form": [{"words": [{"text": "x", "box": "nope"}]}]}')
    with pytest.raises(InputError, match=r"form\.json"):
        load_box_reference(bad)
    (tmp_path / "page.json").write_text('{"schema_version": "1.0", "text": ""}')
    assert find_box_reference(tmp_path / "page.png") is None  # a document JSON, not a reference


def test_bracketed_printed_words_are_scored_not_dropped_as_tags() -> None:
    """A receipt's "(PRICE INCLUSIVE OF GST)" is printed text: read right, its words are right
    (before, the reference line normalised to nothing and every word there counted as
    invented); a word read as "(RM)" is a word too, and a misread inside brackets is wrong."""
    line = (100.0, 100.0, 400.0, 120.0)
    doc = page_doc(
        [
            ("(Price", (100.0, 100.0, 160.0, 120.0)),
            ("Inclusive", (165.0, 100.0, 250.0, 120.0)),
            ("Of", (255.0, 100.0, 280.0, 120.0)),
            ("GST)", (285.0, 100.0, 330.0, 120.0)),
            ("(RM)", (335.0, 100.0, 380.0, 120.0)),
        ]
    )
    reference = BoxReference((BoxWord("(PRICE INCLUSIVE OF GST) (RM)", line),))
    labels, (edits, ref_words, _, _) = score_by_boxes(doc, reference)
    assert labels == [True] * 5 and edits == 0 and ref_words == 5
    misread = BoxReference((BoxWord("(PRICE INCLUSIVE OF GST) (RS)", line),))
    assert score_by_boxes(doc, misread)[0] == [True, True, True, True, False]
    assert normalize_words("(coughs) so") == ["so"]
    assert normalize_words("(RM) [1] so", printed=True) == ["rm", "one", "so"]

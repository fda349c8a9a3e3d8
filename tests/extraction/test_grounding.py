"""Finding extracted values in the words of real scans read by the real Tesseract."""

from __future__ import annotations

from pathlib import Path

import pytest

from uncertain.document import Document
from uncertain.extraction import ground
from uncertain.extraction.grounding import FUZZY_MIN, normalize

from .pages import CLEAN_PAGE, draw_page, read_page, span_of


@pytest.fixture(scope="module")
def page() -> Document:
    return read_page(CLEAN_PAGE)


@pytest.fixture(scope="module")
def receipt(tmp_path_factory: pytest.TempPathFactory) -> Document:
    return read_page(draw_page(tmp_path_factory.mktemp("receipt") / "receipt.png"))


def test_the_scans_read_as_expected(page: Document, receipt: Document) -> None:
    # The premises of the tests below: the words they look for are read as written.
    assert "Szczepanski" in [s.text for s in page.spans]
    assert {"RM9.00", "25/12/2018", "4711"} <= {s.text for s in receipt.spans}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Szczepanski", ["Szczepanski"]),
        ("Dr. Szczepanski", ["Dr.", "Szczepanski"]),
        ("dr szczepanski", ["Dr.", "Szczepanski"]),  # case and punctuation folded
        ("St. Bartholomew's", ["St.", "Bartholomew's"]),
        ("shortness of breath", ["shortness", "of", "breath."]),
    ],
)
def test_words_of_the_page_are_found_exactly(page: Document, value: str, words: list[str]) -> None:
    found = ground(page, "string", value)
    assert found.found and found.exact and found.similarity == 1.0
    assert [page.span(i).text for i in found.span_ids] == words
    assert found.occurrences == 1


def test_a_repeated_value_counts_its_places(page: Document) -> None:
    found = ground(page, "string", "mg")
    assert found.exact and found.occurrences == 3  # "40 mg", "500 mg", "25 mg."


def test_a_part_of_a_word_is_not_an_exact_match(page: Document) -> None:
    # "form" is inside "metformin": found only approximately (and never as that word exactly).
    found = ground(page, "string", "formin")
    assert not found.exact


def test_a_value_with_one_character_changed_is_found_fuzzily(page: Document) -> None:
    found = ground(page, "string", "Szczepansky")
    assert found.found and not found.exact
    assert FUZZY_MIN <= found.similarity < 1.0
    assert span_of(page, "Szczepanski") in found.span_ids


def test_a_value_not_in_the_document_is_not_found(page: Document) -> None:
    for value in ("Rasmussen", "amoxicillin 250 mg"):
        found = ground(page, "string", value)
        assert not found.found and found.span_ids == () and not found.exact
        assert found.similarity < FUZZY_MIN


def test_an_amount_written_differently_is_found_by_value(receipt: Document) -> None:
    found = ground(receipt, "number", 9.0)
    assert found.exact and found.span_ids == (span_of(receipt, "RM9.00"),)
    # The other amounts on the receipt are the places a total could have been read from.
    assert found.candidates >= 3
    assert ground(receipt, "integer", 4711).span_ids == (span_of(receipt, "4711"),)
    assert ground(receipt, "number", 4.5).span_ids == (span_of(receipt, "RM4.50"),)
    assert not ground(receipt, "number", 9.5).found


def test_a_date_written_day_first_is_found_by_value(receipt: Document) -> None:
    found = ground(receipt, "date", "2018-12-25")
    assert found.exact and found.span_ids == (span_of(receipt, "25/12/2018"),)
    assert not ground(receipt, "date", "2018-12-26").found


def test_a_date_written_in_words_spans_its_words(tmp_path: Path) -> None:
    doc = read_page(draw_page(tmp_path / "letter.png", ["Issued on 3 March 2021 in Leeds"]))
    found = ground(doc, "date", "2021-03-03")
    assert found.exact
    assert [doc.span(i).text for i in found.span_ids] == ["3", "March", "2021"]


def test_nothing_to_find(page: Document) -> None:
    assert not ground(page, "boolean", True).found
    assert not ground(page, "string", None).found
    assert not ground(page, "string", "...").found  # nothing left after normalising


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize("Café-Crème, 2x!") == "cafecreme2x"


def test_a_date_is_not_an_amount(receipt: Document) -> None:
    # 25/12/2018 would read as 25 by the amount parser: a date word is no place for an amount.
    found = ground(receipt, "number", 25.0)
    assert not found.found
    assert span_of(receipt, "25/12/2018") not in found.span_ids

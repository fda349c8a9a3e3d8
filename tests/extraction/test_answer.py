"""Reading the model's JSON answer: values, where each value sits, and its tokens' log-probs."""

from __future__ import annotations

import pytest

from uncertain.extraction.answer import AnswerError, parse_answer, value_logprobs


def at(text: str, where: tuple[int, int]) -> str:
    return text[where[0] : where[1]]


def test_positions_of_strings_numbers_literals_and_list_items() -> None:
    text = (
        '{"shop": "Sunrise \\"Mart\\"", "total": 9.5, "count": -3, "card": true, '
        '"note": null, "items": [{"name": "Coffee", "price": 4.5}, {"name": "", "price": 1e2}]}'
    )
    parsed = parse_answer(text)
    assert parsed.value["shop"] == 'Sunrise "Mart"'
    assert parsed.value["items"][1] == {"name": "", "price": 100.0}
    where = parsed.positions
    # Strings without their quotes (escapes as written), numbers and literals as written.
    assert at(text, where["shop"]) == 'Sunrise \\"Mart\\"'
    assert at(text, where["total"]) == "9.5"
    assert at(text, where["count"]) == "-3" and parsed.value["count"] == -3
    assert at(text, where["card"]) == "true" and at(text, where["note"]) == "null"
    assert at(text, where["items[0].name"]) == "Coffee"
    assert at(text, where["items[0].price"]) == "4.5"
    assert at(text, where["items[1].price"]) == "1e2"
    assert where["items[1].name"][0] == where["items[1].name"][1]  # the empty string


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"total": 9.5}\n```',
        '  \n{"total": 9.5}  \n',
        'Here is the answer: {"total": 9.5}',
    ],
)
def test_fences_whitespace_and_a_preamble_are_allowed(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.value == {"total": 9.5}
    assert at(text, parsed.positions["total"]) == "9.5"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("no json here", "no JSON object"),
        ('{"total": 9.5', "malformed JSON"),
        ('{"total": 9,5}', "malformed JSON"),
        ("{'total': 9.5}", "malformed JSON"),
        ('{"total": 09}', "malformed JSON"),
        ('{"total": 9.5} and that is all', "text after the JSON object"),
        ('{"total": 9.5}\n{"total": 10}', "text after the JSON object"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested too deeply"),
    ],
)
def test_malformed_answers_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(AnswerError, match=says):
        parse_answer(text)


def test_value_logprobs_picks_the_tokens_of_the_value() -> None:
    tokens = [('{"', -0.01), ("total", -0.02), ('":', -0.01), (" ", -0.01), ("9", -0.5),
              (".", -0.1), ("50", -2.0), (',"', -0.01), ("shop", -0.01), ('":"', -0.01),
              ("Sun", -0.3), ("rise", -0.4), ('"}', -0.01)]  # fmt: skip
    text = "".join(t for t, _ in tokens)
    parsed = parse_answer(text)
    assert value_logprobs(tokens, text, parsed.positions["total"]) == [-0.5, -0.1, -2.0]
    assert value_logprobs(tokens, text, parsed.positions["shop"]) == [-0.3, -0.4]


def test_value_logprobs_of_an_empty_string_is_the_closing_token() -> None:
    tokens = [('{"name":"', -0.01), ('"}', -1.5)]
    text = "".join(t for t, _ in tokens)
    parsed = parse_answer(text)
    assert value_logprobs(tokens, text, parsed.positions["name"]) == [-1.5]


def test_value_logprobs_without_matching_tokens_is_empty() -> None:
    text = '{"total": 9.5}'
    where = parse_answer(text).positions["total"]
    assert value_logprobs([], text, where) == []
    assert value_logprobs([('{"total": 10}', -0.1)], text, where) == []

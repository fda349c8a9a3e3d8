"""Normalisation and alignment: how a transcript's words are compared with a reference's.

`normalize_text` folds case, punctuation, apostrophes, unicode forms, numbers, contractions,
British spellings, fillers and non-word tags, following Whisper's English text normaliser;
`align_words` pairs a hypothesis's words with a reference's by Levenshtein alignment. A
hypothesis word is *correct* when the alignment pairs it with an equal reference word:
`label_spans` (and `label_page_spans`, for pages with words hyphenated across line ends)
labels each span of a document so. Spans whose text normalizes to nothing (punctuation only)
are counted correct: they carry no word to get wrong.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence

from uncertain.crosscheck import strip_diacritics
from uncertain.document import Document

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_DASHES = re.compile(r"[\-‐‑‒–—―/]+")
_GROUPED_NUMBER = re.compile(r"(?<=\d)[,_](?=\d{3}\b)")
_NON_WORD = re.compile(r"[^\w\s]+")
_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _number_words(n: int) -> str:
    """English words for 0 <= n < 10**9 ("101" -> "one hundred one")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    for size, name in ((10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            head = _number_words(n // size) + " " + name
            return head + ("" if rest == 0 else " " + _number_words(rest))
    raise AssertionError("unreachable")


def _year_words(n: int) -> str:
    """Years are read in pairs: 1961 -> "nineteen sixty one", 1900 -> "nineteen hundred"."""
    high, low = divmod(n, 100)
    if low == 0:
        return _number_words(high) + " hundred"
    return _number_words(high) + " " + ("oh " + _ONES[low] if low < 10 else _number_words(low))


def _digits(digits: str) -> re.Match[str]:
    match = re.fullmatch(r"\d+", digits)
    assert match is not None
    return match


def _spell_number(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) > 9 or (len(digits) > 1 and digits.startswith("0")):
        return " ".join(_ONES[int(d)] for d in digits)  # codes, phone numbers: digit by digit
    value = int(digits)
    if len(digits) == 4 and 1100 <= value <= 1999 and value % 100 != 0:
        return _year_words(value)
    return _number_words(value)


# Not words: <cutoff-...>, <unk>, [laughter], (coughs). Whisper's normaliser drops them too.
_TAGS = re.compile(r"<[^<>]*>|\[[^\[\]]*\]|\([^()]*\)")
# On a printed page brackets are text ("(PRICE INCLUSIVE OF GST)", "[1]"), not the tags of a
# transcript ("(coughs)"): they become spaces and the words inside them stay.
_BRACKETS = re.compile(r"[()\[\]<>]")


@functools.cache
def _whisper_rules() -> tuple[
    re.Pattern[str], list[tuple[re.Pattern[str], str]], dict[str, str], Callable[[str], str]
]:
    """Whisper's English normaliser data: fillers, contractions and titles, British spellings.

    Taken from `whisper-normalizer` (OpenAI Whisper's `EnglishTextNormalizer`, MIT) so our
    scores agree with the usual Whisper WER. Its number rule (spelled numbers to digits) works
    across words, so it runs only on whole texts (`numbers=True`); a transcript's words are
    normalised one span at a time with digits spelled out, which keeps each word local.
    """
    from whisper_normalizer.english import EnglishSpellingNormalizer, EnglishTextNormalizer

    english = EnglishTextNormalizer()
    # Whisper's fillers, and a few more spelled in spontaneous-speech references.
    fillers = re.compile(english.ignore_patterns.replace("|um)", "|um|hm|er|erm|uhm)"))
    # Whisper reads every "'s" as "is", which turns possessives into an extra word wherever
    # a reference writes "debtors' side" and the transcript "debtor's side": only pronouns.
    replacers = [
        (_PRONOUN_IS, r"\1 is") if pattern == r"'s\b" else (re.compile(pattern), value)
        for pattern, value in english.replacers.items()
    ]
    spelling = dict(EnglishSpellingNormalizer().mapping)
    return fillers, replacers, spelling, english.standardize_numbers


_PRONOUN_IS = re.compile(r"\b(it|he|she|that|there|here|what|who|where|how)'s\b")


_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_ORDINAL_WORDS = {
    **{"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth"},
    **{"nine": "ninth", "twelve": "twelfth"},
}
_MONEY = re.compile(r"([$£€])\s*(\d+(?:\.\d+)?)")
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")


def _spell_ordinal(digits: str) -> str:
    """ "21" (of "21st") -> "twenty first", "12" -> "twelfth"."""
    words = _spell_number(_digits(digits)).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    elif last.isalpha():
        last += "th"
    return " " + " ".join([*words[:-1], last]) + " "


def normalize_words(text: str, *, printed: bool = False) -> list[str]:
    """The words of `text` after `normalize_text`, as a list.

    `printed=True` for the text of a scan: words in brackets are printed words, not
    transcript tags, so they stay."""
    return normalize_text(text, printed=printed).split()


def normalize_text(text: str, *, numbers: bool = False, printed: bool = False) -> str:
    """Fold text for comparison the way Whisper's English normaliser does, numbers spelled out.

    "Don't pay $1,000 for Co-Trimoxazole, Mr Grey [laughter] um!" becomes
    "do not pay one thousand dollars for co trimoxazole mister gray". Tags in <>, [] or ()
    and the fillers hmm/mm/mhm/mmm/uh/um (and hm/er/erm/uhm) go; contractions and titles
    expand (`won't` -> "will not", `dr` -> "doctor"); British spellings become American;
    diacritics go; hyphens and slashes split words; `%` reads as "percent"; integers are
    spelled out in words (four-digit numbers 1100-1999 as years), so a transcript that
    writes digits and a reference that spells them out compare equal ("1470" and "fourteen
    seventy").

    `numbers=True` first reads spelled-out numbers as Whisper's normaliser does ("twelve
    hundred", "one hundred and twenty", "ten pounds" -> 1200, 120, £10) before spelling
    them out again, so every way of saying a number ends in one form, and joins spelled-out
    letters ("m f a" -> "mfa"). It looks across words: use it on whole texts (references,
    WER), not on one word at a time.

    `printed=True` is for the text of a scan: brackets there are printed ("(PRICE INCLUSIVE OF
    GST)"), not the tags of a transcript, so the words inside them stay.
    """
    fillers, replacers, spelling, standardize_numbers = _whisper_rules()
    if printed:  # a scan's text: brackets are printed, their words stay
        text = _BRACKETS.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _TAGS.sub(" ", text)
    text = fillers.sub(" ", text)
    for pattern, value in replacers:
        text = pattern.sub(value, text)
    text = strip_diacritics(text)  # as Whisper's normaliser does
    text = text.replace("'", "")
    text = _GROUPED_NUMBER.sub("", text)
    if numbers:
        text = re.sub(r"\.(?!\d)", " ", text)  # periods, except decimal points
        text = _DASHES.sub(" ", text)
        # Commas stay (Whisper's normaliser drops them): "ten, eleven" is two numbers, not
        # 1011; only the comma after a scale word, as in "six thousand, four hundred", goes.
        text = re.sub(r"\b(thousand|million|billion),", r"\1", text)
        text = re.sub(r"[^\w\s.,%$£€]", " ", text)
        text = standardize_numbers(text)
    text = text.replace("%", " percent ").replace("&", " and ")
    text = _MONEY.sub(lambda m: f" {m.group(2)} {_CURRENCY[m.group(1)]} ", text)
    text = _DECIMAL.sub(" point ", text)
    text = _ORDINAL.sub(lambda m: _spell_ordinal(m.group(1)), text)
    text = _DASHES.sub(" ", text)
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    text = re.sub(r"\d+", lambda m: " " + _spell_number(m) + " ", text)
    if numbers:
        # Spelled-out letters ("m f a") read as the abbreviation a transcript writes ("MFA").
        text = _LETTERS.sub(lambda m: " " + m.group(0).replace(" ", "") + " ", text)
    return " ".join(spelling.get(word, word) for word in text.split())


_LETTERS = re.compile(r"(?<!\S)(?:[b-hj-z] (?:[a-z] )*[a-z]|[a-z] (?:[a-z] )*[b-hj-z])(?!\S)")


def align_words(hyp_words: Sequence[str], ref_words: Sequence[str]) -> list[bool]:
    """For each hypothesis word, whether a minimum-edit alignment pairs it with an equal word."""
    from rapidfuzz.distance import Levenshtein

    correct = [False] * len(hyp_words)
    if not hyp_words or not ref_words:
        return correct
    for op in Levenshtein.opcodes(list(hyp_words), list(ref_words)):
        if op.tag == "equal":
            for i in range(op.src_start, op.src_end):
                correct[i] = True
    return correct


def label_spans(doc: Document, reference_text: str) -> list[bool]:
    """Whether each span of `doc` is right, judged against `reference_text`.

    A span may normalize to several words ("25" -> "twenty five"); it is right when all of
    them align to equal reference words. Punctuation-only spans are counted right.
    """
    pieces = [normalize_words(span.text) for span in doc.spans]
    hyp = [word for words in pieces for word in words]
    aligned = align_words(hyp, normalize_text(reference_text, numbers=True).split())
    labels: list[bool] = []
    position = 0
    for words in pieces:
        labels.append(all(aligned[position : position + len(words)]))
        position += len(words)
    return labels


def _line_ends(doc: Document) -> set[int]:
    """Indices of spans that end a line (the next span starts after a newline)."""
    ends = set()
    for i in range(len(doc.spans) - 1):
        if "\n" in doc.text[doc.spans[i].end : doc.spans[i + 1].start]:
            ends.add(i)
    return ends


def label_page_spans(doc: Document, reference_text: str) -> tuple[list[bool], str]:
    """`label_spans` for a page, with words hyphenated across a line end joined first.

    Books break words at line ends ("un-" / "fortunate") while references give the whole
    word; both halves are right when the joined word is. Parentheses in a page's reference
    are printed text, not the tags of a transcript ("(coughs)"), so their words stay. Returns
    the labels and the text the page reads as once joined (for WER).
    """
    ends = _line_ends(doc)
    groups: list[list[int]] = []
    i = 0
    while i < len(doc.spans):
        group = [i]
        while (
            group[-1] in ends
            and doc.spans[group[-1]].text.endswith(("-", "¬", "‐", "­"))
            and len(doc.spans[group[-1]].text) > 1
            and group[-1] + 1 < len(doc.spans)
        ):
            group.append(group[-1] + 1)
        groups.append(group)
        i = group[-1] + 1
    joined = [
        "".join(
            doc.spans[k].text.rstrip("-¬‐­") if k != group[-1] else doc.spans[k].text for k in group
        )
        for group in groups
    ]
    pieces = [normalize_words(text, printed=True) for text in joined]
    reference = normalize_words(reference_text, printed=True)
    aligned = align_words([w for words in pieces for w in words], reference)
    labels = [True] * len(doc.spans)
    position = 0
    for group, words in zip(groups, pieces, strict=True):
        right = all(aligned[position : position + len(words)])
        position += len(words)
        for k in group:
            labels[k] = right
    return labels, " ".join(joined)

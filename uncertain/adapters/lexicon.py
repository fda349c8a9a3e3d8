"""Lexicon evidence about OCR words: is the reading a word of the language, and how common.

Tesseract is often sure of readings that are no words at all ("weoks" at 0.84): old-print c/e
confusions, joined words, broken letters. A word list says what the engine cannot: a reading
outside the language's vocabulary is wrong far more often than one inside it. The lists are
`wordfreq`'s (Apache-2.0; word frequencies of many sources, shipped inside its wheel), read
straight from its data files once per process and language (about 0.1 s for English), without
importing `wordfreq` itself.

`add_lexicon_signals(doc, language)` records on each OCR word with letters (words with digits,
and symbols, are left alone: no word list holds codes and amounts):

- `lexicon_known`: 1 when the word (case-folded, outer punctuation stripped; every part of a
  hyphenated word; a word broken at a line end joined with its rest) is in the list, else 0.
- `lexicon_log_frequency`: its Zipf frequency (log10 of occurrences per billion words; 0 when
  unknown): "the" 7.7, "weeks" 5.2, "hath" 3.6.
- `lexicon_nearest_distance`: 0 when known, 1 when a word one edit away is known, else 2.
- `lexicon_nearest_log_frequency`: the Zipf frequency of the most common word one edit away
  (0 when none).
- `ocr_confusion_explains`: 1 when an unknown word becomes a known one by undoing one common
  OCR confusion (c/e, o/e, rn/m, li/h, cl/d, 0/O, 1/l/I, 5/S, vv/w, long s), else 0.
- `lexicon_split`: 1 when an unknown word is two common words run together ("hisown").
- `document_repeats`: how many other words of the page read the same (case-insensitive).
- `repeated_higher_elsewhere`: 1 when the same reading occurs elsewhere on the page with a
  higher `word_confidence` (a name the engine read well once is less likely an error here).
  Pages are judged alone (a word broken at a page's end too), so reading a file page by page
  (`iter_read`) gives the same signals as reading it whole.

Languages: the Tesseract codes in `LANGUAGES` (English, German, French, Spanish, Italian,
Portuguese, Dutch, and others wordfreq covers); `eng+deu` merges the lists. Other languages
get no lexicon signals (`document_repeats` and `repeated_higher_elsewhere` only), and the
calibrators' defaults treat their words as neither known nor unknown.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import itertools
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from uncertain.document import Document, Span

__all__ = [
    "LANGUAGES",
    "Lexicon",
    "add_lexicon_signals",
    "is_known",
    "lexicon_for",
    "lexicon_signals",
]

# Tesseract language codes -> wordfreq's (those with a list; `large` where wordfreq has one).
LANGUAGES: dict[str, str] = {
    "eng": "en",
    "deu": "de",
    "fra": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "swe": "sv",
    "dan": "da",
    "nor": "nb",
    "fin": "fi",
    "pol": "pl",
    "ces": "cs",
    "ces_old": "cs",
    "cat": "ca",
    "hun": "hu",
    "ron": "ro",
    "tur": "tr",
    "ind": "id",
    "msa": "ms",
    "slk": "sk",
    "slv": "sl",
    "lit": "lt",
    "lav": "lv",
    "isl": "is",
    "rus": "ru",
    "ukr": "uk",
    "bul": "bg",
    "ell": "el",
    "vie": "vi",
    "fil": "fil",
}

# Outer punctuation that is not part of a word.
_OUTER = ".,;:!?()[]{}\"'«»„“”‘’‚‹›-–—/%$€£*_|~<>=+&#@^`"
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_HYPHENS = ("-", "‐", "‑", "–", "—")
# One-step OCR confusions, each way: (seen, meant).
_CONFUSIONS: tuple[tuple[str, str], ...] = tuple(
    pair
    for a, b in (
        ("c", "e"),
        ("o", "e"),
        ("rn", "m"),
        ("li", "h"),
        ("cl", "d"),
        ("0", "o"),
        ("1", "l"),
        ("1", "i"),
        ("l", "i"),
        ("5", "s"),
        ("vv", "w"),
        ("ſ", "s"),
        ("f", "s"),
    )
    for pair in ((a, b), (b, a))
)
_MIN_SPLIT_ZIPF = 4.0  # both halves of a joined word must be common words


class Lexicon:
    """A word list with Zipf frequencies (case-folded words), and the lookups OCR needs."""

    def __init__(self, words: dict[str, float]) -> None:
        self.words = words
        self.alphabet = "".join(sorted({c for w in _sample(words) for c in w if c.isalpha()}))

    def zipf(self, word: str) -> float | None:
        """The word's Zipf frequency, or None when the list lacks it."""
        return self.words.get(word)

    def nearest(self, word: str) -> float | None:
        """The Zipf frequency of the most common word one edit (delete, transpose, replace,
        insert) away from `word`, or None when there is none."""
        best: float | None = None
        for candidate in _edits1(word, self.alphabet):
            found = self.words.get(candidate)
            if found is not None and (best is None or found > best):
                best = found
        return best

    def confusion_explains(self, word: str) -> bool:
        """Whether undoing one common OCR confusion turns `word` into a known word."""
        for seen, meant in _CONFUSIONS:
            start = word.find(seen)
            while start >= 0:
                if word[:start] + meant + word[start + len(seen) :] in self.words:
                    return True
                start = word.find(seen, start + 1)
        return False

    def split(self, word: str) -> bool:
        """Whether `word` is two common words run together."""
        for cut in range(1, len(word)):
            left, right = self.words.get(word[:cut]), self.words.get(word[cut:])
            if (
                left is not None
                and right is not None
                and min(left, right) >= _MIN_SPLIT_ZIPF
                and (cut > 1 or word[0] in "ai")
                and (len(word) - cut > 1 or word[-1] in "ai")
            ):
                return True
        return False


def _sample(words: dict[str, float]) -> Iterable[str]:
    """The most common words (dicts keep insertion order, most frequent first)."""
    for count, word in enumerate(words):
        if count >= 5000:
            return
        yield word


def _edits1(word: str, alphabet: str) -> Iterable[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    for left, right in splits:
        if right:
            yield left + right[1:]
            if len(right) > 1:
                yield left + right[1] + right[0] + right[2:]
            for c in alphabet:
                if c != right[0]:
                    yield left + c + right[1:]
        for c in alphabet:
            yield left + c + right


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


_LOCK = threading.Lock()


@functools.cache
def _load(code: str) -> Lexicon | None:
    """wordfreq's list for one of its language codes (`large` if it has one, else `small`)."""
    import msgpack  # type: ignore[import-untyped]  # wordfreq's; its lists are gzipped msgpack

    folder = _data_dir()
    if folder is None:
        return None
    for size in ("large", "small"):
        path = folder / f"{size}_{code}.msgpack.gz"
        if path.is_file():
            break
    else:
        return None
    with gzip.open(path) as handle:
        data: list[Any] = msgpack.load(handle, raw=False)
    # "cB" format: after a header, bucket i holds the words of frequency 10 ** (-i / 100).
    words: dict[str, float] = {}
    for index, bucket in enumerate(data[1:]):
        zipf = round(9.0 - index / 100.0, 2)
        for word in bucket:
            words.setdefault(word, zipf)
    return Lexicon(words)


def lexicon_for(language: str) -> Lexicon | None:
    """The lexicon of a Tesseract language string (`"eng"`, `"eng+deu"`), loaded once per
    process; None when no language in it has a list (or `wordfreq` is not installed)."""
    codes = sorted({LANGUAGES[part] for part in language.split("+") if part in LANGUAGES})
    if not codes:
        return None
    with _LOCK:
        return _merged(tuple(codes))


@functools.cache
def _merged(codes: tuple[str, ...]) -> Lexicon | None:
    found = [lexicon for lexicon in (_load(code) for code in codes) if lexicon is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    words: dict[str, float] = {}
    for lexicon in found:
        for word, zipf in lexicon.words.items():
            if zipf > words.get(word, -1.0):
                words[word] = zipf
    return Lexicon(dict(sorted(words.items(), key=lambda item: -item[1])))


def _core(text: str) -> str:
    return text.strip(_OUTER).casefold()  # as wordfreq keys its lists (ß -> ss)


def _known(lexicon: Lexicon, core: str) -> float | None:
    """Zipf frequency of a word, a hyphenated word's rarest part, or None when unknown."""
    found = lexicon.zipf(core)
    if found is not None:
        return found
    for hyphen in _HYPHENS:
        if hyphen in core:
            parts = [p for p in core.split(hyphen) if p]
            zipfs = [lexicon.zipf(p) for p in parts]
            if parts and all(z is not None for z in zipfs):
                return min(z for z in zipfs if z is not None)
    if "’" in core:
        return _known(lexicon, core.replace("’", "'"))
    return None


def is_known(lexicon: Lexicon, text: str) -> bool | None:
    """Whether every word of `text` that has letters and no digits is in `lexicon`; None
    when no word of it has (nothing a word list can judge)."""
    verdicts = [
        _known(lexicon, core) is not None
        for core in (_core(part) for part in text.split())
        if _LETTER.search(core) and not _DIGIT.search(core)
    ]
    return all(verdicts) if verdicts else None


def lexicon_signals(
    spans: list[Span], lexicon: Lexicon | None, next_text: list[str | None] | None = None
) -> list[dict[str, float]]:
    """The lexicon signals of each span (see the module docstring), without the document
    ones. `next_text[i]` is the text of the word after span i on the next line when span i
    ends a line with a hyphen (the rest of a broken word), else None."""
    found: list[dict[str, float]] = []
    for index, span in enumerate(spans):
        signals: dict[str, float] = {}
        core = _core(span.text)
        if lexicon is None or not _LETTER.search(core) or _DIGIT.search(core):
            found.append(signals)
            continue
        zipf = _known(lexicon, core)
        rest = next_text[index] if next_text else None
        if rest is not None:
            joined = _known(lexicon, core + _core(rest))
            if joined is not None:
                zipf = joined
        if zipf is not None:
            signals.update(
                lexicon_known=1.0,
                lexicon_log_frequency=zipf,
                lexicon_nearest_distance=0.0,
                lexicon_nearest_log_frequency=zipf,
                ocr_confusion_explains=0.0,
                lexicon_split=0.0,
            )
        else:
            nearest = lexicon.nearest(core) if len(core) > 1 else None
            signals.update(
                lexicon_known=0.0,
                lexicon_log_frequency=0.0,
                lexicon_nearest_distance=2.0 if nearest is None else 1.0,
                lexicon_nearest_log_frequency=0.0 if nearest is None else nearest,
                ocr_confusion_explains=1.0 if lexicon.confusion_explains(core) else 0.0,
                lexicon_split=1.0 if lexicon.split(core) else 0.0,
            )
        found.append(signals)
    return found


def _page(span: Span) -> int:
    return span.box.page if span.box is not None else 0


def _broken_rests(doc: Document) -> list[str | None]:
    """For each span ending a line with a hyphen, the first word of the next line."""
    rests: list[str | None] = [None] * len(doc.spans)
    positions = {span.id: i for i, span in enumerate(doc.spans)}
    lines = [b for b in doc.blocks if b.kind == "line" and b.span_ids]
    for line, following in itertools.pairwise(lines):
        last = positions.get(line.span_ids[-1])
        first = positions.get(following.span_ids[0])
        if last is None or first is None or _page(doc.spans[last]) != _page(doc.spans[first]):
            continue  # pages are judged alone, so `iter_read` and `read` agree
        if doc.spans[last].text.rstrip().endswith(_HYPHENS):
            rests[last] = doc.spans[first].text
    return rests


def add_lexicon_signals(doc: Document, language: str | None = None) -> Document:
    """`doc` with lexicon and repetition signals on its OCR words (see the module docstring).

    `language` is a Tesseract language string; by default the one the document was read
    with (`source.settings["language"]`, else `source.model`). Digital text (PDF text layers)
    and spans without `word_confidence` are left alone. Returns a new document.
    """
    if language is None:
        setting = doc.source.settings.get("language")
        language = setting if isinstance(setting, str) else (doc.source.model or "")
    lexicon = lexicon_for(language)
    rests = _broken_rests(doc)
    words = [
        i
        for i, s in enumerate(doc.spans)
        if "word_confidence" in s.signals and "digital" not in s.signals
    ]
    found = lexicon_signals([doc.spans[i] for i in words], lexicon, [rests[i] for i in words])
    # Repetition on the page: the same reading, and whether it was read better there.
    best: dict[tuple[int, str], float] = {}
    counts: dict[tuple[int, str], int] = {}
    keys: list[tuple[int, str]] = []
    for i in words:
        span = doc.spans[i]
        key = (_page(span), _core(span.text))
        keys.append(key)
        if not key[1]:
            continue
        counts[key] = counts.get(key, 0) + 1
        confidence = span.signals["word_confidence"]
        best[key] = max(best.get(key, -1.0), confidence)
    spans = list(doc.spans)
    for i, key, signals in zip(words, keys, found, strict=True):
        span = spans[i]
        merged = dict(span.signals)
        merged.update(signals)
        if key[1]:
            merged["document_repeats"] = float(counts[key] - 1)
            merged["repeated_higher_elsewhere"] = (
                1.0 if best[key] > span.signals["word_confidence"] else 0.0
            )
        spans[i] = span.model_copy(update={"signals": merged})
    return doc.model_copy(update={"spans": spans})

"""Measures of how good a transcript and its confidences are, as small pure functions.

Words are compared after `normalize_text` (case, punctuation, apostrophes, unicode forms,
numbers, contractions, British spellings, fillers and non-word tags folded, following Whisper's
English text normaliser), aligned to a reference by Levenshtein alignment. A hypothesis word is
*correct* when the alignment pairs it with an equal reference word. Confidence quality is
judged by AUROC (how well confidence tells wrong words from right ones), expected calibration
error, Brier score, and what a flagging threshold catches.

Spans whose text normalizes to nothing (punctuation only) are counted correct by
`label_spans` and left out of every figure by `evaluate`: they carry no word to get wrong.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from uncertain.crosscheck import strip_diacritics
from uncertain.document import Document
from uncertain.errors import CalibrationError, EngineError, InputError

if TYPE_CHECKING:
    from uncertain.fusion import Calibrator

__all__ = [
    "BoxReference",
    "BoxWord",
    "EvaluationReport",
    "FlagReport",
    "align_words",
    "auroc",
    "bootstrap_interval",
    "brier_score",
    "cer",
    "evaluate",
    "expected_calibration_error",
    "find_box_reference",
    "find_reference",
    "flag_report",
    "label_page_spans",
    "label_spans",
    "load_box_reference",
    "load_line_box_reference",
    "normalize_text",
    "normalize_words",
    "reliability_diagram",
    "score_by_boxes",
    "wer",
]

FloatArray = npt.NDArray[np.float64]

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


def normalize_words(text: str) -> list[str]:
    """The words of `text` after `normalize_text`, as a list."""
    return normalize_text(text).split()


def normalize_text(text: str, *, numbers: bool = False) -> str:
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
    """
    fillers, replacers, spelling, standardize_numbers = _whisper_rules()
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


def _distance(hyp: Sequence[str] | str, ref: Sequence[str] | str) -> int:
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(hyp, ref))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (argument order as jiwer's): word
    edits (after normalization) per reference word."""
    ref = normalize_text(reference, numbers=True).split()
    hyp = normalize_text(hypothesis, numbers=True).split()
    if not ref:
        return 0.0 if not hyp else float(len(hyp))
    return _distance(hyp, ref) / len(ref)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of `hypothesis` against `reference` (argument order as jiwer's):
    character edits (after normalization) per reference character."""
    ref = normalize_text(reference, numbers=True)
    hyp = normalize_text(hypothesis, numbers=True)
    if not ref:
        return 0.0 if not hyp else float(len(hyp))
    return _distance(hyp, ref) / len(ref)


def _arrays(confidences: Iterable[float], correct: Iterable[bool]) -> tuple[FloatArray, FloatArray]:
    conf = np.asarray(list(confidences), dtype=np.float64)
    right = np.asarray(list(correct), dtype=np.float64)
    if conf.shape != right.shape:
        raise ValueError(f"{conf.size} confidences but {right.size} labels")
    return conf, right


def auroc(confidences: Iterable[float], correct: Iterable[bool]) -> float:
    """Area under the ROC curve of confidence for telling right words from wrong ones.

    The probability that a random right word has higher confidence than a random wrong one,
    ties counting one half (Mann-Whitney U with mid-ranks). NaN when either class is empty.
    """
    conf, right = _arrays(confidences, correct)
    n_right = int(right.sum())
    n_wrong = right.size - n_right
    if n_right == 0 or n_wrong == 0:
        return math.nan
    order = np.argsort(conf, kind="mergesort")
    sorted_conf = conf[order]
    ranks = np.empty(conf.size, dtype=np.float64)
    # Mid-ranks: every member of a group of ties gets the mean of the group's ranks.
    _, first, counts = np.unique(sorted_conf, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    rank_sum = float(ranks[right == 1].sum())
    return (rank_sum - n_right * (n_right + 1) / 2.0) / (n_right * n_wrong)


def expected_calibration_error(
    confidences: Iterable[float], correct: Iterable[bool], bins: int = 10
) -> float:
    """Expected calibration error: |accuracy - mean confidence| over equal-width bins, weighted.

    Bins are [0, 1/bins), ..., [1 - 1/bins, 1]; each contributes its share of the words.
    """
    conf, right = _arrays(confidences, correct)
    if conf.size == 0:
        return math.nan
    index = np.clip((conf * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    conf_sum = np.bincount(index, weights=conf, minlength=bins)
    right_sum = np.bincount(index, weights=right, minlength=bins)
    return float(np.abs(conf_sum - right_sum).sum() / conf.size) if counts.sum() else math.nan


def brier_score(confidences: Iterable[float], correct: Iterable[bool]) -> float:
    """Mean squared difference between confidence and the 0/1 outcome (lower is better)."""
    conf, right = _arrays(confidences, correct)
    return float(np.mean((conf - right) ** 2)) if conf.size else math.nan


def bootstrap_interval(
    groups: int,
    statistic: Callable[[npt.NDArray[np.int64]], float],
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `groups` resampled with replacement.

    Words of one recording (or one sentence read under many noises) are not independent, so
    the unit resampled is the group: `statistic` receives the indices of the groups drawn
    (repeats included) and returns the figure for that sample. Draws where the figure is NaN
    (say, AUROC with no wrong word) are left out; (NaN, NaN) when all are.
    """
    if groups <= 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = np.array(
        [statistic(rng.integers(0, groups, groups)) for _ in range(resamples)], dtype=np.float64
    )
    values = values[np.isfinite(values)]
    if not values.size:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class FlagReport:
    """What flagging the words below a threshold catches, and what it costs."""

    threshold: float
    error_recall: float
    """Share of wrong words that are flagged."""
    flag_rate: float
    """Share of all words that are flagged."""
    silent_errors_per_100: float
    """Wrong words left unflagged, per 100 words."""


def flag_report(
    confidences: Iterable[float], correct: Iterable[bool], threshold: float
) -> FlagReport:
    """Flag words below `threshold`; report error recall, flag rate and silent errors."""
    conf, right = _arrays(confidences, correct)
    return _flag_report(conf < threshold, right, threshold)


def _flag_report(flagged: npt.NDArray[np.bool_], right: FloatArray, threshold: float) -> FlagReport:
    wrong = right == 0
    n = right.size
    n_wrong = int(wrong.sum())
    return FlagReport(
        threshold=threshold,
        error_recall=float((flagged & wrong).sum() / n_wrong) if n_wrong else math.nan,
        flag_rate=float(flagged.sum() / n) if n else math.nan,
        silent_errors_per_100=float(100.0 * (~flagged & wrong).sum() / n) if n else math.nan,
    )


def reliability_diagram(
    confidences: Iterable[float], correct: Iterable[bool], path: str | Path, bins: int = 10
) -> Path:
    """Draw accuracy against confidence per bin (with the diagonal) into a PNG at `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EngineError(
            'reliability diagrams need matplotlib: pip install "uncertain-ingest[notebook]"'
        ) from None
    conf, right = _arrays(confidences, correct)
    index = np.clip((conf * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    shown = counts > 0
    mean_conf = np.bincount(index, weights=conf, minlength=bins)[shown] / counts[shown]
    accuracy = np.bincount(index, weights=right, minlength=bins)[shown] / counts[shown]
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(mean_conf, accuracy, marker="o", label="observed")
    axes.set_xlabel("confidence")
    axes.set_ylabel("share correct")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    ece = expected_calibration_error(conf, right.astype(bool), bins)
    axes.set_title(f"{conf.size} words, ECE {ece:.3f}")
    axes.legend(loc="upper left")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return target


def find_reference(path: str | Path, refs_dir: str | Path | None = None) -> Path:
    """The reference text for `path`: NAME.ref.txt, else NAME.txt, in `refs_dir` or beside it."""
    file = Path(path)
    folder = Path(refs_dir) if refs_dir is not None else file.parent
    candidates = [folder / f"{file.stem}.ref.txt", folder / f"{file.stem}.txt"]
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != file.resolve():
            return candidate
    raise InputError(
        file,
        f"no reference text: neither {candidates[0]} nor {candidates[1]} exists",
        "write the true text into one of them, or pass the folder that holds it",
    )


@dataclass
class EvaluationReport:
    """Transcript accuracy and confidence quality over a set of documents."""

    documents: int
    words: int
    wrong: int
    wer: float
    cer: float
    auroc: float
    ece: float
    brier: float
    flags: FlagReport
    mean_confidence: float
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        f = self.flags
        lines = [
            f"documents {self.documents}, words {self.words}, wrong {self.wrong} "
            f"({self.wrong / self.words if self.words else math.nan:.1%})",
            f"WER {self.wer:.3f}  CER {self.cer:.3f}",
            f"AUROC {self.auroc:.3f}  ECE {self.ece:.3f}  Brier {self.brier:.3f}  "
            f"mean confidence {self.mean_confidence:.3f}",
            f"flagged ({'marks' if math.isnan(f.threshold) else f'below {f.threshold:.2f}'}): "
            f"{f.flag_rate:.1%} of words, "
            f"{f.error_recall:.1%} of wrong words; {f.silent_errors_per_100:.2f} silent errors "
            "per 100 words",
            *self.notes,
        ]
        return "\n".join(lines)


def evaluate(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]],
    *,
    threshold: float | None = None,
    signal: str | None = None,
) -> EvaluationReport:
    """Score fused documents against their reference texts.

    Confidence is `span.confidence` (or the raw signal named by `signal`, to compare against
    an engine's own score). A word is flagged when it is inside a mark, or, when `threshold`
    is given, when its confidence is below it. WER and CER are pooled over all documents
    (total edits / total reference length). Punctuation-only spans are left out. A
    `BoxReference` (words with boxes) is scored by place: see `score_by_boxes`; pages
    scored by text join words hyphenated across line ends (`label_page_spans`).
    """
    conf: list[float] = []
    labels: list[bool] = []
    flagged: list[bool] = []
    word_edits = ref_words = char_edits = ref_chars = documents = 0
    for doc, reference in docs_with_refs:
        documents += 1
        if isinstance(reference, BoxReference):
            span_labels, counts = score_by_boxes(doc, reference)
            word_edits, ref_words = word_edits + counts[0], ref_words + counts[1]
            char_edits, ref_chars = char_edits + counts[2], ref_chars + counts[3]
        else:
            hyp_text = doc.text
            if doc.pages:
                span_labels, hyp_text = label_page_spans(doc, reference)
            else:
                span_labels = label_spans(doc, reference)
            ref_norm = normalize_text(reference, numbers=not doc.pages)
            hyp_norm = normalize_text(hyp_text, numbers=not doc.pages)
            word_edits += _distance(hyp_norm.split(), ref_norm.split())
            ref_words += len(ref_norm.split())
            char_edits += _distance(hyp_norm, ref_norm)
            ref_chars += len(ref_norm)
        for span, right in zip(doc.spans, span_labels, strict=True):
            if not normalize_words(span.text):
                continue
            value = span.confidence if signal is None else span.signals.get(signal)
            if value is None:
                what = "fuse the document first" if signal is None else f"no signal {signal!r}"
                raise InputError(doc.source.path, f"span {span.id} has no confidence ({what})")
            conf.append(float(value))
            labels.append(right)
            in_mark = doc.mark_of(span.id) is not None
            flagged.append(in_mark if threshold is None else value < threshold)
    c, r = _arrays(conf, labels)
    flags = _flag_report(
        np.asarray(flagged, dtype=bool), r, math.nan if threshold is None else threshold
    )
    return EvaluationReport(
        documents=documents,
        words=int(c.size),
        wrong=int((r == 0).sum()),
        wer=word_edits / ref_words if ref_words else math.nan,
        cer=char_edits / ref_chars if ref_chars else math.nan,
        auroc=auroc(c, labels),
        ece=expected_calibration_error(c, labels),
        brier=brier_score(c, labels),
        flags=flags,
        mean_confidence=float(c.mean()) if c.size else math.nan,
    )


def labelled_signals(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]],
) -> tuple[list[dict[str, float]], list[bool], list[float]]:
    """Calibrator inputs from documents and their references: each word's signals (as
    `uncertain.fusion.span_signals` gives them), whether it is right, and its current
    confidence (NaN when unfused). Punctuation-only spans are left out."""
    from uncertain.fusion import span_signals

    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    confidences: list[float] = []
    for doc, reference in docs_with_refs:
        signals = span_signals(doc)
        if isinstance(reference, BoxReference):
            span_labels = score_by_boxes(doc, reference)[0]
        elif doc.pages:
            span_labels = label_page_spans(doc, reference)[0]
        else:
            span_labels = label_spans(doc, reference)
        for span, row, right in zip(doc.spans, signals, span_labels, strict=True):
            if normalize_words(span.text):
                rows.append(row)
                labels.append(right)
                confidences.append(math.nan if span.confidence is None else span.confidence)
    return rows, labels, confidences


def fit_calibrator(
    docs_with_refs: Iterable[tuple[Document, str | BoxReference]], *, kind: str = "logistic"
) -> Calibrator:
    """Fit a calibrator on your own documents (unfused or fused) and their reference texts.

    It uses the features of the bundled calibrator for the documents' engine and model:
    `logistic` refits all of them, `isotonic` maps the first (the engine's main score)
    monotonically. `CalibrationError` when there is nothing to fit on, or no wrong (or no
    right) word to learn from.
    """
    from uncertain.fusion import (
        IsotonicCalibrator,
        LogisticCalibrator,
        default_calibrator,
    )

    pairs = list(docs_with_refs)
    if kind not in ("logistic", "isotonic"):
        raise CalibrationError(f"unknown calibrator kind {kind!r}; use logistic or isotonic")
    if not pairs:
        raise CalibrationError("no documents to fit on; pass files with reference texts")
    bundled, _ = default_calibrator(pairs[0][0])
    rows, labels, _ = labelled_signals(pairs)
    wrong = labels.count(False)
    if wrong == 0 or wrong == len(labels):
        raise CalibrationError(
            f"the {len(labels)} words hold {wrong} wrong ones: a calibrator needs both right and "
            "wrong words; add harder recordings or scans (noise, accents, low resolution)"
        )
    corpus = f"{len(pairs)} documents, {len(labels)} words, {wrong} wrong (uncertain calibrate)"
    calibrator: Calibrator
    if kind == "logistic":
        calibrator = LogisticCalibrator(
            bundled.features, threshold=bundled.threshold, metadata={"corpus": corpus}
        )
    else:
        calibrator = IsotonicCalibrator(
            bundled.features[0], threshold=bundled.threshold, metadata={"corpus": corpus}
        )
    calibrator.fit(rows, labels)
    return calibrator


# -- scoring by word boxes (FUNSD-style references) ------------------------------------------


@dataclass(frozen=True)
class BoxWord:
    """One reference word with its box (page pixels: x0, y0, x1, y1)."""

    text: str
    box: tuple[float, float, float, float]
    page: int = 0


@dataclass(frozen=True)
class BoxReference:
    """A reference given as words with boxes, scored by place instead of by text order.

    Use it where the reference's text is not in reading order (FUNSD's `NAME.txt` lists
    entities in annotation order): text alignment would count order differences as errors.
    """

    words: tuple[BoxWord, ...]
    path: str | None = None

    @property
    def text(self) -> str:
        """The reference words joined by spaces (annotation order, not reading order)."""
        return " ".join(w.text for w in self.words)


def load_box_reference(path: str | Path) -> BoxReference:
    """A FUNSD annotation (`{"form": [{"words": [{"text", "box"}, ...]}, ...]}`) as a reference.

    `InputError` naming the file when it is not one.
    """
    import json

    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        words = tuple(
            BoxWord(str(word["text"]), tuple(float(v) for v in word["box"][:4]))  # type: ignore[arg-type]
            for entity in raw["form"]
            for word in entity.get("words", [])
            if str(word.get("text", "")).strip()
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as error:
        raise InputError(
            file,
            f"is not a word-box reference ({type(error).__name__}: {error})",
            'give a FUNSD-style JSON: {"form": [{"words": [{"text", "box": [x0, y0, x1, y1]}]}]}',
        ) from None
    return BoxReference(words, str(file))


def load_line_box_reference(path: str | Path) -> BoxReference:
    """SROIE-style text lines with boxes (`x1,y1,...,x4,y4,text` per line) as a reference."""
    file = Path(path)
    words: list[BoxWord] = []
    try:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split(",", 8)
            if len(parts) < 9:
                raise ValueError(f"line {number} has no 8 corner numbers and a text")
            xs = [float(v) for v in parts[0:8:2]]
            ys = [float(v) for v in parts[1:8:2]]
            if parts[8].strip():
                words.append(BoxWord(parts[8], (min(xs), min(ys), max(xs), max(ys))))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            file,
            f"is not a line-box reference ({error})",
            "give one line per text line: x1,y1,x2,y2,x3,y3,x4,y4,text",
        ) from None
    return BoxReference(tuple(words), str(file))


_CORNERS = re.compile(r"^(\s*-?\d+(\.\d+)?\s*,){8}")


def find_box_reference(path: str | Path, refs_dir: str | Path | None = None) -> BoxReference | None:
    """The box reference beside `path` (or in `refs_dir`), if there is one: FUNSD word boxes
    `NAME.json`, or SROIE line boxes `NAME.csv` (`x1,y1,...,x4,y4,text` lines)."""
    file = Path(path)
    if file.suffix in (".json", ".csv"):
        return None  # a document JSON: its reference is a text or another JSON beside it
    folder = Path(refs_dir) if refs_dir is not None else file.parent
    lines = folder / f"{file.stem}.csv"
    if lines.is_file():
        try:
            first = lines.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        except OSError:
            first = ""
        if _CORNERS.match(first):
            return load_line_box_reference(lines)
    candidate = folder / f"{file.stem}.json"
    if not candidate.is_file():
        return None
    try:
        head = candidate.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    if '"form"' not in head:
        return None
    return load_box_reference(candidate)


def _box_overlap(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller if smaller > 0 else 0.0


def _box_groups(
    doc: Document, reference: BoxReference
) -> tuple[list[tuple[list[int], list[int]]], list[int], list[int]]:
    """Groups of (span indices, reference word indices) that overlap each other (connected
    components), plus the spans and the reference words that overlap nothing."""
    spans = [i for i, s in enumerate(doc.spans) if s.box is not None and normalize_words(s.text)]
    refs = [j for j, w in enumerate(reference.words) if normalize_words(w.text)]
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(node: tuple[str, int]) -> tuple[str, int]:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    touched_spans: set[int] = set()
    touched_refs: set[int] = set()
    for i in spans:
        box = doc.spans[i].box
        assert box is not None
        own = (box.x0, box.y0, box.x1, box.y1)
        for j in refs:
            word = reference.words[j]
            if word.page != box.page or _box_overlap(own, word.box) < 0.5:
                continue
            parent[find(("s", i))] = find(("r", j))
            touched_spans.add(i)
            touched_refs.add(j)
    groups: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for i in sorted(touched_spans):
        groups.setdefault(find(("s", i)), ([], []))[0].append(i)
    for j in sorted(touched_refs):
        groups.setdefault(find(("r", j)), ([], []))[1].append(j)
    lonely_spans = [i for i in spans if i not in touched_spans]
    lonely_refs = [j for j in refs if j not in touched_refs]
    return list(groups.values()), lonely_spans, lonely_refs


def _reading_order(boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Indices of boxes top to bottom, then left to right within a shared line."""
    order = sorted(range(len(boxes)), key=lambda k: (boxes[k][1] + boxes[k][3]) / 2)
    lines: list[list[int]] = []
    for k in order:
        centre = (boxes[k][1] + boxes[k][3]) / 2
        if lines:
            last = boxes[lines[-1][-1]]
            if last[1] <= centre <= last[3]:
                lines[-1].append(k)
                continue
        lines.append([k])
    return [k for line in lines for k in sorted(line, key=lambda k: boxes[k][0])]


def score_by_boxes(
    doc: Document, reference: BoxReference
) -> tuple[list[bool], tuple[int, int, int, int]]:
    """Label each span right or wrong by the reference words at its place, and count edits.

    Spans and reference words (or lines) that overlap (at least half of the smaller box) form
    groups; a group's words are compared in reading order, after `normalize_words`. A span is
    right when its group reads the same on both sides, else when a word alignment of the
    group's two readings pairs it with an equal word. A span at a place with no reference word
    is wrong (text the engine invented); punctuation-only spans are right, as in
    `label_spans`. Returns the labels and (word edits, reference words, character edits,
    reference characters): unmatched reference words count as deleted, unmatched spans as
    inserted.
    """
    labels = [True] * len(doc.spans)
    groups, lonely_spans, lonely_refs = _box_groups(doc, reference)
    word_edits = char_edits = 0
    for i in lonely_spans:
        labels[i] = False
        words = normalize_words(doc.spans[i].text)
        word_edits += len(words)
        char_edits += len(" ".join(words))
    for j in lonely_refs:
        words = normalize_words(reference.words[j].text)
        word_edits += len(words)
        char_edits += len(" ".join(words))
    for span_ids, ref_ids in groups:
        span_boxes = []
        for i in span_ids:
            box = doc.spans[i].box
            assert box is not None
            span_boxes.append((box.x0, box.y0, box.x1, box.y1))
        ordered_spans = [span_ids[k] for k in _reading_order(span_boxes)]
        ordered_refs = [
            ref_ids[k] for k in _reading_order([reference.words[j].box for j in ref_ids])
        ]
        hyp = [w for i in ordered_spans for w in normalize_words(doc.spans[i].text)]
        ref = [w for j in ordered_refs for w in normalize_words(reference.words[j].text)]
        word_edits += _distance(hyp, ref)
        char_edits += _distance(" ".join(hyp), " ".join(ref))
        if hyp == ref:
            continue
        # The group differs somewhere: align its words in reading order, as for text.
        aligned = align_words(hyp, ref)
        position = 0
        for i in ordered_spans:
            count = len(normalize_words(doc.spans[i].text))
            labels[i] = all(aligned[position : position + count])
            position += count
    ref_words = sum(len(normalize_words(w.text)) for w in reference.words)
    ref_chars = sum(len(" ".join(normalize_words(w.text))) for w in reference.words)
    return labels, (word_edits, ref_words, char_edits, ref_chars)


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
    word; both halves are right when the joined word is. Returns the labels and the text the
    page reads as once joined (for WER).
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
    pieces = [normalize_words(text) for text in joined]
    aligned = align_words([w for words in pieces for w in words], normalize_words(reference_text))
    labels = [True] * len(doc.spans)
    position = 0
    for group, words in zip(groups, pieces, strict=True):
        right = all(aligned[position : position + len(words)])
        position += len(words)
        for k in group:
            labels[k] = right
    return labels, " ".join(joined)

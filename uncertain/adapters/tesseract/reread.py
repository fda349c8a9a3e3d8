"""Character choices for the words in doubt: each weak word is cut out with its neighbours
and the crops are reread, with choices, in one extra tesseract run per page."""

from __future__ import annotations

import math

from uncertain.adapters.hocr import HocrLine, HocrPage, HocrWord
from uncertain.adapters.inputs import PageJob, encode_page
from uncertain.adapters.tesseract.binary import _Settings
from uncertain.adapters.tesseract.pool import _PageFailed, _run_tesseract

__all__ = ["WEAK_WORD_CONFIDENCE"]

WEAK_WORD_CONFIDENCE = 0.90
"""Words whose `word_confidence` is below this are in doubt and get character choices.

Most words the bundled calibrators mark are below it, so they carry choices for a reader;
the calibrators themselves read no character-choice signal (a test checks), so a word's
confidence is the same whether its choices were asked for or not.
"""


def _is_weak(word: HocrWord) -> bool:
    return word.wconf is None or word.wconf < WEAK_WORD_CONFIDENCE * 100.0


_CONTEXT_WORDS = 1  # page words kept on each side of a weak word: the decoder reads in context


def _crop_box(line: HocrLine, first: int, last: int) -> tuple[int, int, int, int] | None:
    """The pixels to reread for words `first..last` of `line`: their columns, the line's rows.

    The line's full height keeps Tesseract's height normalization as it was on the page; the
    columns stop halfway to the neighbouring words so no stray ink joins the crop.
    """
    left_word, right_word = line.words[first].box, line.words[last].box
    if left_word is None or right_word is None or line.box is None:
        return None
    height = line.box[3] - line.box[1]
    pad = max(2.0, 0.3 * height)
    left = left_word[0] - pad
    right = right_word[2] + pad
    if first and (previous := line.words[first - 1].box) is not None:
        left = max(left, (previous[2] + left_word[0]) / 2)
    if last + 1 < len(line.words) and (following := line.words[last + 1].box) is not None:
        right = min(right, (right_word[2] + following[0]) / 2)
    box = (
        math.floor(max(left, 0.0)),
        math.floor(line.box[1]),
        math.ceil(right),
        math.ceil(line.box[3]),
    )
    return box if box[2] > box[0] and box[3] > box[1] else None


def _weak_runs(line: HocrLine) -> list[tuple[int, int]]:
    """Ranges of word numbers to reread: each weak word with its context, overlaps merged."""
    runs: list[tuple[int, int]] = []
    for number, word in enumerate(line.words):
        if not _is_weak(word):
            continue
        first = max(number - _CONTEXT_WORDS, 0)
        last = min(number + _CONTEXT_WORDS, len(line.words) - 1)
        if runs and first <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return runs


def _reread_weak_words(settings: _Settings, job: PageJob, first: HocrPage) -> dict[int, HocrWord]:
    """Give the page's words in doubt their character choices, from one extra tesseract run.

    Each weak word is cut out with its neighbours (see `_crop_box`), the crops stacked one per
    row on a blank page and read with `lstm_choice_mode=2`. Where the reading at a weak word's
    place is the page's, character for character, its choices are copied onto the page's
    characters (the page's text, boxes and scores stay); otherwise that reading is returned,
    by `id()` of the page word, to serve as alternatives.
    """
    import io

    from PIL import Image

    rows: list[tuple[list[HocrWord], tuple[int, int, int, int]]] = []
    for paragraph in first.paragraphs:
        for line in paragraph.lines:
            for run_first, run_last in _weak_runs(line):
                box = _crop_box(line, run_first, run_last)
                if box is not None:
                    rows.append((line.words[run_first : run_last + 1], box))
    if not rows:
        return {}
    assert job.image_bytes is not None
    with Image.open(io.BytesIO(job.image_bytes)) as image:
        image.load()
        margin = max(max(b[3] - b[1] for _, b in rows), 16)
        width = max(b[2] - b[0] for _, b in rows) + 2 * margin
        height = sum(b[3] - b[1] for _, b in rows) + margin * (len(rows) + 1)
        bands = len(image.getbands())
        white: int | tuple[int, ...] = (
            1 if image.mode == "1" else 255 if bands == 1 else (255,) * bands
        )
        sheet = Image.new(image.mode, (width, height), white)
        # Where each row sits on the sheet: page x = sheet x + shift; rows by vertical band.
        places: list[tuple[float, float, float]] = []
        y = margin
        for _, box in rows:
            sheet.paste(image.crop(box), (margin, y))
            places.append((y - margin / 2, y + (box[3] - box[1]) + margin / 2, box[0] - margin))
            y += box[3] - box[1] + margin
    try:
        read = _run_tesseract(settings, encode_page(sheet), job.dpi, 6, job.index, choices=True)
    except _PageFailed:
        return {}  # the choices are extra evidence; the page keeps its plain reading
    found: list[list[tuple[float, HocrWord]]] = [[] for _ in rows]
    for word in read.words():
        if word.box is None:
            continue
        middle = (word.box[1] + word.box[3]) / 2
        for row, (top, bottom, shift) in enumerate(places):
            if top <= middle < bottom:
                found[row].append(((word.box[0] + word.box[2]) / 2 + shift, word))
                break
    rereads: dict[int, HocrWord] = {}
    for (words, _), pieces in zip(rows, found, strict=True):
        for word in words:
            if not _is_weak(word) or word.box is None:
                continue
            x0, x1 = word.box[0], word.box[2]
            mine = sorted((p for p in pieces if x0 <= p[0] <= x1), key=lambda p: p[0])
            if not mine:
                continue
            chars = [c for _, piece in mine for c in piece.chars]
            text = "".join(piece.text for _, piece in mine)
            if text == word.text and [c.text for c in chars] == [c.text for c in word.chars]:
                for own, theirs in zip(word.chars, chars, strict=True):
                    own.choices = list(theirs.choices)
            else:
                rereads[id(word)] = HocrWord(text, chars=chars)
    return rereads

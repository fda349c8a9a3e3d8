"""Tesseract adapter: images and PDFs into a `Document` with word and character evidence.

Each page goes through the `tesseract` binary with `hocr_char_boxes=1`, writing hOCR to a
pipe (the processes are kept and fed page after page, so tesseract's start, as costly as
reading a small page, is paid once: idle ones end after 30 s and at exit); that output gives
the words, their boxes, Tesseract's word score and, with
`lstm_choice_mode=2`, per character the decoder's alternative characters with scores. The
choices cost Tesseract ~13% more and matter only for the words in doubt, so a large page is
read without them and its weak words (`WEAK_WORD_CONFIDENCE`) are cut out with their
neighbours and reread with them in one extra run (`char_choices`; small pages keep one run
with choices, where a second process would cost more than it saves).
Pages run in parallel: a thread per worker drives one single-threaded tesseract process
(`OMP_THREAD_LIMIT=1`: Tesseract's own OpenMP threads fight each other when several pages
run at once, and a single page gains little from them), and at most two pages per worker are
rendered and waiting at any time, so memory stays flat however long the document is.

Signals on each OCR word (all in `Span.signals`; none of them is a calibrated probability):

- `word_confidence`: Tesseract's `x_wconf` / 100, a rescaled log score.
- `min_char_confidence`, `mean_char_confidence` (words with character choices only): over
  the word's characters, the share of the decoder's probability mass that the chosen
  character holds among its alternatives
  (`exp(x_confs / 5)` normalized: `x_confs` is `100 - 5 * rating`, a negative log probability).
- `reading_probability`: the product of those, the chance the word reads as it does if the
  characters were independent.
- `min_char_xconf`, `mean_char_xconf`: Tesseract's own per-character `x_conf` / 100.
- `char_count`, `box_height_ratio` (word height / line height), `is_numeric` (1 or 0),
  `mixed_alnum` (letters and digits in one word, 1 or 0).
- With `cross_check=True`: `cross_agreement` (1 when a second pass with another page
  segmentation reads the same text at the same place, else 0) and `cross_word_confidence`.
- Lexicon and repetition evidence over the whole document (`uncertain.adapters.lexicon`):
  `lexicon_known`, `lexicon_log_frequency`, `lexicon_nearest_distance`,
  `lexicon_nearest_log_frequency`, `ocr_confusion_explains`, `lexicon_split` (words with
  letters, in a language with a word list), `document_repeats`, `repeated_higher_elsewhere`.

`Span.alternatives` holds up to three other readings built from the character alternatives,
with their probability under the same independence assumption, best first (a weak word
whose reread crop read otherwise has that reading first, and no character-choice signals).
Text from a PDF text layer carries `{"digital": 1.0}` and confidence 1.0.

The modules: `binary` (the program, its version and languages), `pool` (the kept
processes), `pages` (one page's job and running the jobs in order), `reread` (the words in
doubt), `signals` (signals and alternatives of a word, document-level signals, cross-check
matching), `builder` (the
`Document`) and `adapter` (`TesseractAdapter`). Opening the input as pages is
`uncertain.adapters.inputs`.
"""

from __future__ import annotations

from uncertain.adapters.inputs import OpenedInput, PageJob, encode_page, open_pages
from uncertain.adapters.tesseract.adapter import TesseractAdapter
from uncertain.adapters.tesseract.binary import CharChoices, check_languages
from uncertain.adapters.tesseract.pages import MIN_IMAGE_SIDE
from uncertain.adapters.tesseract.reread import WEAK_WORD_CONFIDENCE
from uncertain.adapters.tesseract.signals import alternatives_for, char_posteriors, word_signals

__all__ = [
    "CharChoices",
    "MIN_IMAGE_SIDE",
    "TesseractAdapter",
    "WEAK_WORD_CONFIDENCE",
    "alternatives_for",
    "char_posteriors",
    "check_languages",
    "word_signals",
]

# Names this module held before it became a package, still importable from here (their homes
# are the modules named).
from uncertain.adapters.tesseract.binary import _Settings  # noqa: F401
from uncertain.adapters.tesseract.pages import _ordered_results, _PageResult  # noqa: F401
from uncertain.adapters.tesseract.pool import (  # noqa: F401
    _FOLDER_PREFIX,
    _POOL,
    _Pool,
    _run_tesseract,
)
from uncertain.adapters.tesseract.pool import PROCESS_POOL as PROCESS_POOL

_Job = PageJob
_Input = OpenedInput
_encode = encode_page
_open_input = open_pages

"""Keeping a model's corrections to the words that were marked as uncertain."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from uncertain.crosscheck import normalize_word
from uncertain.document import Document
from uncertain.render.styles import MarksOption, _chosen_marks

_WORD = re.compile(r"\S+")


def _key(word: str) -> str:
    # Case and punctuation do not make two readings of a word different; a word of
    # punctuation alone is compared as it is, folded.
    return normalize_word(word) or unicodedata.normalize("NFKC", word).casefold()


def guard(doc: Document, answer: str, *, marks: MarksOption = "auto") -> str:
    """`doc`'s text with a model's corrected version of it (`answer`) taken only where marked.

    The words of the text and of the answer are aligned; where they differ, the answer's
    words are taken only when every word they replace lies in a marked span (`marks` chooses
    the marks as in `render`), or, for words the answer adds, when a neighbour does; and an
    edit may add at most one word to the words it replaces. Anywhere else the document's text
    stands, so a model asked to correct a transcript can fix the
    words the evidence doubts but not rewrite the ones it trusts. On the corpus fit split this
    kept a 0.5B model from making transcripts worse (`bench/downstream.py`; see the README).
    """
    chosen = _chosen_marks(doc, marks)
    marked_ids = {i for mark in chosen for i in mark.span_ids}
    # Character ranges of the marked spans; a word is marked when it lies inside one.
    ranges = sorted((s.start, s.end) for s in doc.spans if s.id in marked_ids)
    words = [(m.start(), m.end()) for m in _WORD.finditer(doc.text)]
    marked = [any(a <= start and end <= b for a, b in ranges) for start, end in words]
    ours = [_key(doc.text[a:b]) for a, b in words]
    theirs = _WORD.findall(answer)
    if not theirs:
        return doc.text  # no answer is no correction
    matcher = SequenceMatcher(None, ours, [_key(w) for w in theirs], autojunk=False)
    out: list[str] = []
    position = 0
    edits: list[tuple[int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1 > 1:
            # As many words as it replaces: judged word by word, so that a run mixing marked
            # and unmarked words keeps the corrections of the marked ones.
            edits += [(i, i + 1, j1 + (i - i1), j1 + (i - i1) + 1) for i in range(i1, i2)]
        else:
            edits.append((i1, i2, j1, j2))
    for i1, i2, j1, j2 in edits:
        if i1 < i2:
            allowed = all(marked[i1:i2])
            start, end = words[i1][0], words[i2 - 1][1]
        else:  # an insertion: next to a marked word, or not at all
            allowed = any(marked[max(i1 - 1, 0) : i1 + 1])
            start = end = words[i1 - 1][1] if i1 > 0 else (words[0][0] if words else 0)
        # A correction rewrites a word or two; more new words than that is the model
        # rewriting the text (echoed alternatives, a second copy), and the text stands.
        if (j2 - j1) > (i2 - i1) + 1:
            allowed = False
        if not allowed:
            continue
        replacement = " ".join(theirs[j1:j2])
        if i1 == i2:
            replacement = " " + replacement if i1 > 0 else replacement + " "
        elif not replacement:  # words dropped: their space goes with them
            while end < len(doc.text) and doc.text[end] in " \t":
                end += 1
        out.append(doc.text[position:start])
        out.append(replacement)
        position = end
    out.append(doc.text[position:])
    return "".join(out)

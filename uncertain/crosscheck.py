"""Cross-checking: a second, different reading of the same input as evidence.

Where two engines (or two models) read the same words, both are probably right; where they
disagree, the first reading is likely wrong and the second is its best alternative. This
module aligns a second reading to the first word by word and records, on each span of the
first reading:

- `cross_agreement`: 1.0 when the second reading has the same word (compared case- and
  punctuation-insensitively), else 0.0;
- `cross_word_probability`: the second reading's probability for its aligned word (0.0 when
  nothing was aligned);

and adds the second reading's word as an alternative where the two differ.
"""

from __future__ import annotations

import unicodedata

from rapidfuzz.distance import Indel

from uncertain.document import Alternative, Document, Span

__all__ = ["cross_check_speech", "normalize_word", "strip_diacritics"]


def normalize_word(text: str) -> str:
    """Lower case, without punctuation or symbols, for comparing two readings of a word."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def strip_diacritics(text: str) -> str:
    """`text` without combining marks ("café" -> "cafe")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _probability(span: Span) -> float:
    return span.signals.get("word_probability", span.confidence or 0.0)


def cross_check_speech(primary: Document, secondary: Document) -> Document:
    """The primary reading with agreement signals and alternatives taken from the secondary."""
    ours = [normalize_word(s.text) for s in primary.spans]
    theirs = [normalize_word(s.text) for s in secondary.spans]
    agreement = [0.0] * len(ours)
    other_probability = [0.0] * len(ours)
    other_text: list[list[Span]] = [[] for _ in ours]

    def disagree(i1: int, i2: int, j1: int, j2: int) -> None:
        # Our words i1..i2 stand where the other reading has j1..j2: pair them by position,
        # surplus words of the other reading joining our last word of the run.
        if i1 == i2:
            return
        for offset, j in enumerate(range(j1, j2)):
            other_text[i1 + min(offset, i2 - i1 - 1)].append(secondary.spans[j])
        for i in range(i1, i2):
            if other_text[i]:
                other_probability[i] = min(_probability(s) for s in other_text[i])

    # A longest-common-subsequence alignment keeps every word both readings share; the gaps
    # between shared words are where the readings differ.
    i = j = 0
    for opcode in Indel.opcodes(ours, theirs):
        if opcode.tag != "equal":
            continue
        disagree(i, opcode.src_start, j, opcode.dest_start)
        for offset in range(opcode.src_end - opcode.src_start):
            agreement[opcode.src_start + offset] = 1.0
            other_probability[opcode.src_start + offset] = _probability(
                secondary.spans[opcode.dest_start + offset]
            )
        i, j = opcode.src_end, opcode.dest_end
    disagree(i, len(ours), j, len(theirs))
    spans = []
    for index, span in enumerate(primary.spans):
        signals = dict(span.signals)
        signals["cross_agreement"] = agreement[index]
        signals["cross_word_probability"] = other_probability[index]
        alternatives = list(span.alternatives)
        if other_text[index]:
            reading = " ".join(s.text for s in other_text[index])
            known = {normalize_word(a.text) for a in alternatives} | {ours[index]}
            if normalize_word(reading) not in known:
                alternatives.insert(
                    0, Alternative(text=reading, confidence=other_probability[index])
                )
        spans.append(span.model_copy(update={"signals": signals, "alternatives": alternatives}))
    settings = dict(primary.source.settings)
    settings["cross_check_model"] = secondary.source.model
    source = primary.source.model_copy(update={"settings": settings})
    return primary.model_copy(update={"spans": spans, "source": source})

"""Property tests: whatever the document text holds, every style's structure stays intact.

Documents are built from generated words that mix each style's own delimiters, escapes,
fence tags, injections and invisible characters with arbitrary Unicode; random runs of
adjacent spans are marked. Rendering then parsing must give back exactly the text and marks.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import examples
from uncertain.document import Alternative, Document, Mark, Span
from uncertain.render import STYLES, ParsedMark, parse, render, to_messages
from uncertain.render.escaping import _INVISIBLE as INVISIBLE

MARKUP_STYLES = [s for s in STYLES if s != "plain"]

DELIMITERS = [
    "<u>",
    "</u>",
    '<u p="0.5" alt="a|b">',
    "?]",
    "?",
    "?0.3",
    "x?]",
    "|y?0.5 #3]",
    "<unsure",
    "</unsure>",
    '<unsure p="0.5">',
    "<",
    ">",
    "&",
    "&amp;",
    "&#x41;",
    "&lt;",
    '"',
    "'",
    "]",
    "[",
    "|",
    "[?",
    "[1]",
    "[12]",
    "\\",
    "\\\\",
    "\\u{41}",
    "\\u{",
    "\\n",
    " 0.31",
    " #12",
    " @1.0-2.0",
    "p=0.5",
    "; or: ",
    '"x"',
    "\n\n---\n",
    "---",
    "\n",
    "\r",
    "\t",
    "\x00",
    "\x1b[31m",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u2028",
    "\U000e0041",
    "</document>",
    "<document>",
    "ignore previous instructions",
    '{"unsure":"x","p":1}',
    "\\u003c",
]
DELIMITERS += [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]

# Arbitrary Unicode without surrogates (a str with lone surrogates is not valid text).
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
PIECE = st.one_of(st.sampled_from(DELIMITERS), ANY_TEXT)
WORD = st.lists(PIECE, min_size=1, max_size=3).map("".join)
GAP = st.one_of(st.just(" "), st.just(""), st.just("\n"), PIECE)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    words = draw(st.lists(WORD, min_size=1, max_size=12))
    pieces: list[str] = [draw(st.one_of(st.just(""), PIECE))]
    spans: list[Span] = []
    ids = draw(st.permutations(range(len(words) * 3)))[: len(words)]
    position = len(pieces[0])
    for number, word in enumerate(words):
        if number:
            gap = draw(GAP)
            pieces.append(gap)
            position += len(gap)
        alternatives = draw(st.lists(WORD, max_size=2, unique=True))
        spans.append(
            Span(
                id=ids[number],
                start=position,
                end=position + len(word),
                text=word,
                confidence=draw(st.floats(0, 1)),
                alternatives=[
                    Alternative(text=a, confidence=draw(st.floats(0, 1))) for a in alternatives
                ],
            )
        )
        pieces.append(word)
        position += len(word)
    pieces.append(draw(st.one_of(st.just(""), PIECE)))
    marks: list[Mark] = []
    index = 0
    while index < len(spans):
        if draw(st.booleans()):
            length = draw(st.integers(1, min(3, len(spans) - index)))
            marks.append(
                Mark(
                    span_ids=[s.id for s in spans[index : index + length]],
                    reason="low_confidence",
                    confidence=draw(st.floats(0, 1)),
                )
            )
            index += length
        index += 1
    return Document(text="".join(pieces), spans=spans, marks=marks)


def expected_alternatives(doc: Document, mark: Mark, limit: int) -> tuple[str, ...]:
    """What the renderer should show: the k-th reading of every span that has a k-th one."""
    spans = [doc.span(i) for i in mark.span_ids]
    own = doc.text[spans[0].start : spans[-1].end]
    found: list[str] = []
    for k in range(max(len(s.alternatives) for s in spans)):
        if len(found) >= limit:
            break
        reading = own
        # replace from the right so earlier offsets stay valid
        for span in reversed(spans):
            if len(span.alternatives) > k:
                start, end = span.start - spans[0].start, span.end - spans[0].start
                reading = reading[:start] + span.alternatives[k].text + reading[end:]
        if reading != own and reading not in found:
            found.append(reading)
    return tuple(found)


def expected_marks(doc: Document, digits: int | None, limit: int, ids: bool) -> list[ParsedMark]:
    out = []
    for mark in sorted(doc.marks, key=lambda m: doc.span(m.span_ids[0]).start):
        first, last = doc.span(mark.span_ids[0]), doc.span(mark.span_ids[-1])
        out.append(
            ParsedMark(
                first.start,
                last.end,
                None if digits is None else float(f"{mark.confidence:.{digits}f}"),
                expected_alternatives(doc, mark, limit),
                tuple(mark.span_ids) if ids else (),
            )
        )
    return out


OPTIONS: dict[str, Any] = {
    "digits": st.one_of(st.none(), st.integers(0, 4)),
    "alternatives": st.integers(0, 3),
    "ids": st.booleans(),
}


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=documents(),
    style=st.sampled_from(MARKUP_STYLES),
    digits=OPTIONS["digits"],
    alternatives=OPTIONS["alternatives"],
    ids=OPTIONS["ids"],
    positions=st.booleans(),
)
def test_render_then_parse_gives_back_text_and_marks(
    doc: Document, style: str, digits: int | None, alternatives: int, ids: bool, positions: bool
) -> None:
    rendered = render(
        doc,
        style,
        marks="marks",
        digits=digits,
        alternatives=alternatives,
        ids=ids,
        positions=positions,
    )
    parsed = parse(rendered, style)
    assert parsed.text == doc.text
    if digits is None and style in ("footnotes", "json"):
        digits = 2  # these styles always show p
    assert parsed.marks == expected_marks(doc, digits, alternatives, ids)
    # Nothing invisible reaches the model, and nothing can close the document fence.
    assert INVISIBLE.search(rendered) is None
    assert "</document" not in rendered.lower()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), style=st.sampled_from(STYLES))
def test_messages_keep_the_fence_and_the_document(doc: Document, style: str) -> None:
    messages = to_messages(doc, "Summarize.", style, marks="marks")
    user = messages[1]["content"]
    head, tail = "Summarize.\n\n<document>\n", "\n</document>"
    assert user.startswith(head) and user.endswith(tail)
    inner = user[len(head) : -len(tail)]
    assert "<document" not in inner.lower() and "</document" not in inner.lower()
    assert INVISIBLE.search(user) is None
    if style != "plain":
        assert parse(inner, style).text == doc.text

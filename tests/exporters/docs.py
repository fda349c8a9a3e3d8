"""Hand-built documents for the exporter tests (independent of the adapters)."""

from __future__ import annotations

from uncertain.document import (
    Alternative,
    Block,
    Box,
    Document,
    Mark,
    Page,
    Source,
    Span,
    TimeRange,
)

HOSTILE_WORDS = [
    "<script>alert(1)</script>",
    "-->",
    "&amp;",
    "&lt;b&gt;",
    "]]>",
    "<!--",
    "</c>",
    "**bold**",
    "[link](http://x)",
    "#hash",
    "|pipe|",
    "\\back\\",
    "`tick`",
    "\u202eevil\u202c",
    "zero\u200bwidth\u200d",
    "\ufeffbom",
    "x" * 5000,
    "'quote\"",
    "1.",
    "-",
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=2>",
    "{alt?}",
    "[?fake|marker 0.50]",
    "00:00:01.000",
]
"""Words that try to break every format: markup, arrows, entities, bidi, zero-width, huge."""

# Between the words: blank lines and odd breaks the subtitle formats must neutralise.
HOSTILE_GAPS = [" ", "\n\n", " ", "\r\n", " \n\n\n ", "\u2028", " ", "\t"]


SAMPLE = "the patient was given metaformin twice daily for his diabetes"


def _confidence(n: int) -> float:
    # A spread over all bands, deterministic: 0.95, 0.2, 0.75, 0.55, 0.35, 0.99, ...
    return [0.95, 0.2, 0.75, 0.55, 0.35, 0.99, 0.91, 0.45][n % 8]


def _text_and_offsets(words: list[str], gaps: list[str]) -> tuple[str, list[tuple[int, int]]]:
    text = ""
    offsets = []
    for n, word in enumerate(words):
        if n:
            text += gaps[(n - 1) % len(gaps)]
        offsets.append((len(text), len(text) + len(word)))
        text += word
    return text, offsets


def _marks(spans: list[Span]) -> list[Mark]:
    marks: list[Mark] = []
    run: list[Span] = []
    for span in [*spans, None]:
        if span is not None and span.confidence is not None and span.confidence < 0.5:
            run.append(span)
            continue
        if run:
            marks.append(
                Mark(
                    span_ids=[s.id for s in run],
                    reason="low_confidence",
                    confidence=min(s.confidence or 0 for s in run),
                )
            )
            run = []
    return marks


def audio_doc(
    words: list[str] | None = None,
    *,
    gaps: list[str] | None = None,
    fused: bool = True,
    per_segment: int = 4,
    path: str | None = "talk.wav",
) -> Document:
    """Speech: 0.5 s per word, segment blocks of `per_segment` words, marks under 0.5."""
    words = words or SAMPLE.split(" ")
    text, offsets = _text_and_offsets(words, gaps or [" "])
    spans = []
    for n, (word, (start, end)) in enumerate(zip(words, offsets, strict=True)):
        confidence = _confidence(n) if fused else None
        alternatives = []
        if fused and confidence is not None and confidence < 0.5:
            alternatives = [Alternative(text=word.upper() + "?", confidence=1 - confidence)]
        spans.append(
            Span(
                id=n,
                start=start,
                end=end,
                text=word,
                confidence=confidence,
                signals={"word_probability": 0.5},
                alternatives=alternatives,
                time=TimeRange(start=n * 0.5, end=n * 0.5 + 0.4),
            )
        )
    blocks = [
        Block(
            kind="segment",
            span_ids=[s.id for s in spans[n : n + per_segment]],
            time=TimeRange(start=n * 0.5, end=min(len(spans), n + per_segment) * 0.5),
        )
        for n in range(0, len(spans), per_segment)
    ]
    return Document(
        text=text,
        spans=spans,
        blocks=blocks,
        marks=_marks(spans) if fused else [],
        source=Source(
            path=path,
            media_type="audio/wav",
            duration=len(words) * 0.5,
            engine="faster-whisper",
            model="tiny.en",
        ),
    )


def image_doc(
    lines: list[list[str]] | None = None,
    *,
    fused: bool = True,
    path: str | None = "scan.png",
    width: int = 1000,
    height: int = 800,
    char_tokens: bool = True,
    blocks: bool = True,
) -> Document:
    """A scan: one page, lines of words with boxes, line and paragraph blocks."""
    lines = lines or [["Invoice", "number", "4711"], ["Total:", "12,50", "EUR"], ["Thank", "you"]]
    text = ""
    spans: list[Span] = []
    line_blocks: list[Block] = []
    n = 0
    for row, words in enumerate(lines):
        if row:
            text += "\n"
        ids = []
        x = 10.0
        for column, word in enumerate(words):
            if column:
                text += " "
            start = len(text)
            text += word
            confidence = _confidence(n) if fused else None
            wide = min(float(width - 1), x + 10 * min(len(word), 20))
            spans.append(
                Span(
                    id=n,
                    start=start,
                    end=len(text),
                    text=word,
                    confidence=confidence,
                    signals={"word_confidence": 0.9},
                    alternatives=(
                        [Alternative(text=word + "!", confidence=0.3)]
                        if fused and confidence is not None and confidence < 0.5
                        else []
                    ),
                    tokens=(
                        [{"text": c, "probability": 0.8} for c in word]  # type: ignore[misc]
                        if char_tokens and len(word) < 50
                        else []
                    ),
                    box=Box(
                        page=0, x0=min(x, width - 2), y0=20 + row * 40, x1=wide, y1=50 + row * 40
                    ),
                )
            )
            ids.append(n)
            x = wide + 8
            n += 1
        line_blocks.append(Block(kind="line", span_ids=ids))
    return Document(
        text=text,
        spans=spans,
        blocks=[Block(kind="paragraph", span_ids=[s.id for s in spans]), *line_blocks]
        if blocks
        else [],
        marks=_marks(spans) if fused else [],
        pages=[Page(width=width, height=height, dpi=300)],
        source=Source(path=path, media_type="image/png", page_count=1, engine="tesseract"),
    )


def hostile_audio() -> Document:
    return audio_doc(HOSTILE_WORDS, gaps=HOSTILE_GAPS, path="<evil>&\"name'.wav")


def hostile_image() -> Document:
    rows = [HOSTILE_WORDS[n : n + 4] for n in range(0, len(HOSTILE_WORDS), 4)]
    return image_doc(rows, path="<evil>&\"name';.png", width=60000, height=2000)


def words_of(doc: Document) -> list[str]:
    """The span texts, the reference every format must give back."""
    return [s.text for s in doc.spans]

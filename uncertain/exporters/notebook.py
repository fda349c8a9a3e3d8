"""Compact HTML for Jupyter: a heat map with hover titles, and a table for many documents.

No script (notebooks may not run it): each word's details are in its `title`. Long
documents are cut: the first `max_words` words in full, then only the marked runs with
a few words of context, so a three-hour transcript stays well under 2 MB.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from uncertain.document import Document, Span
from uncertain.exporters._common import (
    Run,
    fmt_conf,
    heat_class,
    marked_runs,
    run_index,
    summary,
    title_of,
)
from uncertain.exporters.report import heat_css

__all__ = ["notebook_html", "notebook_table_html"]

_SCOPE = ".uncertain-nb "
_STYLE = (
    "<style>"
    + heat_css(_SCOPE)
    + f"\n{_SCOPE}.text{{white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.6}}"
    + f"\n{_SCOPE}.w{{border-radius:3px}}"
    + f"\n{_SCOPE}.gap{{color:#777;font-style:italic}}"
    + f"\n{_SCOPE}.summary{{font-weight:600}}"
    + "</style>"
)


def _title(span: Span, marked: bool) -> str:
    parts = [f"confidence {fmt_conf(span.confidence)}"]
    if marked:
        parts.append("marked")
    parts += [f"or {a.text} ({fmt_conf(a.confidence)})" for a in span.alternatives[:3]]
    if span.time is not None:
        parts.append(f"{span.time.start:.2f}-{span.time.end:.2f} s")
    if span.box is not None:
        b = span.box
        parts.append(f"page {b.page + 1} box {b.x0:g},{b.y0:g},{b.x1:g},{b.y1:g}")
    return "; ".join(parts)


def _word(span: Span, marked: bool) -> str:
    classes = f"w {heat_class(span.confidence)}" + (" mk" if marked else "")
    return (
        f'<span class="{classes}" title="{html.escape(_title(span, marked))}">'
        f"{html.escape(span.text, quote=False)}</span>"
    )


def _stretch(doc: Document, first: int, last: int, marked: dict[int, int]) -> str:
    """HTML for spans first..last (positions, inclusive) with the text between them."""
    out: list[str] = []
    spans = doc.spans
    for n in range(first, last + 1):
        span = spans[n]
        if n > first:
            out.append(html.escape(doc.text[spans[n - 1].end : span.start], quote=False))
        out.append(_word(span, span.id in marked))
    return "".join(out)


def notebook_html(
    doc: Document, *, max_words: int = 2000, context: int = 5, max_excerpts: int = 300
) -> str:
    """A compact heat-map fragment for `Document._repr_html_`."""
    runs = marked_runs(doc)
    marked = run_index(runs)
    spans = doc.spans
    head = f'<div class="summary">{html.escape(title_of(doc))}: {html.escape(summary(doc))}</div>'
    if not spans:
        body = html.escape(doc.text[:5000], quote=False)
    elif len(spans) <= max_words:
        body = (
            html.escape(doc.text[: spans[0].start], quote=False)
            + _stretch(doc, 0, len(spans) - 1, marked)
            + html.escape(doc.text[spans[-1].end :], quote=False)
        )
    else:
        body = _excerpts(doc, runs, marked, max_words, context, max_excerpts)
    return f'<div class="uncertain-nb">{_STYLE}{head}<div class="text">{body}</div></div>'


def _excerpts(
    doc: Document,
    runs: list[Run],
    marked: dict[int, int],
    max_words: int,
    context: int,
    max_excerpts: int,
) -> str:
    spans = doc.spans
    position = {s.id: n for n, s in enumerate(spans)}
    shown_until = max_words - 1
    out = [_stretch(doc, 0, shown_until, marked)]
    excerpts = 0
    for run in runs:
        first = position[run.span_ids[0]]
        last = position[run.span_ids[-1]]
        if last <= shown_until:
            continue
        if excerpts >= max_excerpts:
            break
        start = max(first - context, shown_until + 1)
        end = min(last + context, len(spans) - 1)
        skipped = start - shown_until - 1
        if skipped:
            out.append(f' <span class="gap">[… {skipped} words …]</span> ')
        out.append(_stretch(doc, start, end, marked))
        shown_until = end
        excerpts += 1
    rest = len(spans) - 1 - shown_until
    if rest:
        out.append(
            f' <span class="gap">[… {rest} more words; only marked passages are shown here, '
            "export -f html for the whole document …]</span>"
        )
    return "".join(out)


def notebook_table_html(docs: Iterable[Document]) -> str:
    """A table of documents: source, media, engine, words, marked share, mean confidence."""
    rows = []
    for doc in docs:
        mean = doc.mean_confidence()
        length = ""
        if doc.source.duration is not None:
            length = f"{doc.source.duration:.1f} s"
        elif doc.pages:
            length = f"{len(doc.pages)} page{'s' if len(doc.pages) != 1 else ''}"
        cells = [
            title_of(doc),
            doc.source.media_type,
            " ".join(x for x in (doc.source.engine, doc.source.model) if x),
            length,
            str(len(doc.spans)),
            f"{doc.marked_share():.0%}",
            "not fused" if mean is None else f"{mean:.2f}",
        ]
        confidence_class = heat_class(mean)
        row = "".join(f"<td>{html.escape(c)}</td>" for c in cells[:-1])
        row += f'<td class="{confidence_class}">{html.escape(cells[-1])}</td>'
        rows.append(f"<tr>{row}</tr>")
    header = "".join(
        f"<th>{h}</th>"
        for h in ("source", "media", "engine", "length", "words", "marked", "confidence")
    )
    return (
        f'<div class="uncertain-nb">{_STYLE}<table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )

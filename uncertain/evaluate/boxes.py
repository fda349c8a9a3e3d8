"""Scoring by word boxes: spans labelled by the reference words at their place on the page.

For references whose text is not in reading order (FUNSD): spans and reference words that
overlap form groups, compared in reading order. See `score_by_boxes`.
"""

from __future__ import annotations

from uncertain.document import Document
from uncertain.evaluate.measures import _distance
from uncertain.evaluate.normalize import align_words, normalize_words
from uncertain.evaluate.references import BoxReference


def _words(text: str) -> list[str]:
    """The normalised words of printed text (a scan's words or its reference's)."""
    return normalize_words(text, printed=True)


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
    spans = [i for i, s in enumerate(doc.spans) if s.box is not None and _words(s.text)]
    refs = [j for j, w in enumerate(reference.words) if _words(w.text)]
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
    groups; a group's words are compared in reading order, after `normalize_words` for printed
    text (bracketed words stay). A span is right when its group reads the same on both sides,
    else when a word alignment of the group's two readings pairs it with an equal word. A span
    at a place with no reference word is wrong (text the engine invented); punctuation-only
    spans are right, as in `label_spans`. Returns the labels and (word edits, reference
    words, character edits, reference characters): unmatched reference words count as
    deleted, unmatched spans as inserted.
    """
    labels = [True] * len(doc.spans)
    groups, lonely_spans, lonely_refs = _box_groups(doc, reference)
    word_edits = char_edits = 0
    for i in lonely_spans:
        labels[i] = False
        words = _words(doc.spans[i].text)
        word_edits += len(words)
        char_edits += len(" ".join(words))
    for j in lonely_refs:
        words = _words(reference.words[j].text)
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
        hyp = [w for i in ordered_spans for w in _words(doc.spans[i].text)]
        ref = [w for j in ordered_refs for w in _words(reference.words[j].text)]
        word_edits += _distance(hyp, ref)
        char_edits += _distance(" ".join(hyp), " ".join(ref))
        if hyp == ref:
            continue
        # The group differs somewhere: align its words in reading order, as for text.
        aligned = align_words(hyp, ref)
        position = 0
        for i in ordered_spans:
            count = len(_words(doc.spans[i].text))
            labels[i] = all(aligned[position : position + count])
            position += count
    ref_words = sum(len(_words(w.text)) for w in reference.words)
    ref_chars = sum(len(" ".join(_words(w.text))) for w in reference.words)
    return labels, (word_edits, ref_words, char_edits, ref_chars)

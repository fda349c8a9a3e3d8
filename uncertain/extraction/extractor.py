"""`extract_document`: a schema's fields from a document, each grounded and calibrated.

The steps: read the schema (refusing what is not supported before any call), ask the model
(`request`), parse its JSON with positions (`answer`), check each value against its field,
find it in the document (`grounding`), gather the evidence and calibrate it (`evidence`).
A document too long for the model's context is asked about in parts, split at line ends;
each field keeps the part's value it is surest of, line items are joined.

What the model gets wrong becomes part of the result, not an exception: malformed JSON or a
refusal give an `Extraction` with `error` set and every field needing review; a value that
breaks the schema gives that field no value and a reason; a property the schema lacks is
dropped and noted. Only the endpoint failing (unreachable, timed out, an HTTP error) raises
`EngineError`, as `ask` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uncertain.document import Document
from uncertain.errors import UsageError, check_choice
from uncertain.extraction.answer import AnswerError, parse_answer, value_logprobs
from uncertain.extraction.evidence import (
    default_field_calibrator,
    field_evidence,
    load_field_calibrator,
)
from uncertain.extraction.grounding import ground
from uncertain.extraction.request import (
    CONSTRAINTS,
    Constraint,
    Reply,
    ask_for_fields,
    messages_for,
)
from uncertain.extraction.results import Extraction, FieldResult
from uncertain.extraction.schema import FieldSpec, SchemaSpec, check_value, read_schema
from uncertain.fusion import Calibrator
from uncertain.llm import connect

__all__ = ["MAX_CHARS", "extract_document"]

MAX_CHARS = 7000
"""Characters of document text sent in one request: at about 3 characters a token, with the
instructions and an answer of up to 1,024 tokens, a 4,096-token context holds them. Longer
documents are asked about in parts."""


def extract_document(
    doc: Document,
    schema: Any,
    *,
    model: str,
    base_url: str | None = None,
    client: Any = None,
    calibrator: Calibrator | str | Path | None = None,
    threshold: float | None = None,
    constrain: Constraint = "auto",
    timeout: float = 300.0,
    max_tokens: int = 1024,
    seed: int | None = 0,
    max_chars: int = MAX_CHARS,
) -> Extraction:
    """Extract `schema`'s fields from `doc` (see `uncertain.extract`, which also reads files)."""
    spec = read_schema(schema)
    check_choice("constrain", constrain, CONSTRAINTS)
    if max_chars < 200:
        raise UsageError(f"max_chars must be at least 200, not {max_chars}")
    if calibrator is None:
        calibrator = default_field_calibrator()
    elif not isinstance(calibrator, Calibrator):
        calibrator = load_field_calibrator(calibrator)
    cut = calibrator.threshold if threshold is None else threshold
    if not 0.0 <= cut <= 1.0:
        raise UsageError(f"threshold must be within 0..1, not {threshold}")
    connection = connect(base_url, client, timeout)
    endpoint = connection.endpoint
    parts = split_document(doc, max_chars)
    answers: list[tuple[dict[str, FieldResult], dict[str, Any]]] = []
    notes: list[str] = []
    errors: list[str] = []
    dropped_any = False  # a property the schema lacks was dropped from some part's answer
    used_model = model
    for number, part in enumerate(parts, 1):
        reply = ask_for_fields(
            connection,
            messages_for(part, spec),
            spec,
            model=model,
            constraint=constrain,
            max_tokens=max_tokens,
            seed=seed,
        )
        used_model = reply.model
        where = f"part {number} of {len(parts)}: " if len(parts) > 1 else ""
        try:
            fields, values, dropped = _read_reply(doc, spec, reply, calibrator, cut)
        except AnswerError as error:
            errors.append(f"{where}{error}")
            continue
        notes += [f"{where}{note}" for note in dropped]
        dropped_any = dropped_any or bool(dropped)
        answers.append((fields, values))
    if len(parts) > 1:
        notes.append(f"read in {len(parts)} parts of at most {max_chars} characters")
    path = doc.source.path
    if not answers:
        empty = {
            name: FieldResult(None, None, True, reasons=("no usable answer",))
            for name in spec.names
        }
        return Extraction(
            None, empty, True, "; ".join(errors), tuple(notes), used_model, endpoint, path
        )
    fields, values = _merge(spec, answers)
    value, invalid = _build(spec, values)
    if invalid:
        notes.append(invalid)
    needs_review = bool(errors or dropped_any or invalid)
    needs_review = needs_review or any(f.needs_review for f in fields.values())
    return Extraction(
        value,
        fields,
        needs_review,
        "; ".join(errors) or None,
        tuple(notes),
        used_model,
        endpoint,
        path,
    )


def split_document(doc: Document, max_chars: int) -> list[Document]:
    """`doc` itself when its text fits in `max_chars`, else parts of it cut at line ends
    (at a space where a line is longer), each a document of its own spans. No span is cut:
    a single word longer than `max_chars` makes its part that much longer."""
    if len(doc.text) <= max_chars:
        return [doc]
    parts: list[Document] = []
    start = 0
    while start < len(doc.text):
        end = min(start + max_chars, len(doc.text))
        if end < len(doc.text):
            cut = doc.text.rfind("\n", start + 1, end)
            if cut <= start:
                cut = doc.text.rfind(" ", start + 1, end)
            end = cut if cut > start else end
            end = _outside_span(doc, start, end)
        parts.append(_slice(doc, start, end))
        start = end
    return parts


def _outside_span(doc: Document, start: int, position: int) -> int:
    """`position`, moved back to the start of a span it would cut through; past its end when
    only blanks come before that span in the part (a word longer than a part goes whole:
    moving back would leave a part of no words, or an empty one and no end)."""
    for span in doc.spans:
        if span.start < position < span.end:
            return span.start if doc.text[start : span.start].strip() else span.end
    return position


def _slice(doc: Document, start: int, end: int) -> Document:
    spans = [
        s.model_copy(update={"start": s.start - start, "end": s.end - start})
        for s in doc.spans
        if s.start >= start and s.end <= end
    ]
    kept = {s.id for s in spans}
    marks = [m for m in doc.marks if all(i in kept for i in m.span_ids)]
    return Document(
        text=doc.text[start:end], spans=spans, marks=marks, pages=doc.pages, source=doc.source
    )


def _read_reply(
    doc: Document, spec: SchemaSpec, reply: Reply, calibrator: Calibrator, cut: float
) -> tuple[dict[str, FieldResult], dict[str, Any], list[str]]:
    """Each field's result and value from one reply, and notes on dropped properties;
    `AnswerError` when the reply is unusable."""
    if reply.refusal:
        raise AnswerError(
            f"model {reply.model} refused to answer ({' '.join(reply.refusal.split())[:200]})"
        )
    if not reply.text.strip():
        raise AnswerError(f"model {reply.model} gave an empty answer")
    try:
        parsed = parse_answer(reply.text)
    except AnswerError as error:
        if reply.finish_reason == "length":
            raise AnswerError(f"{error}; the answer was cut at max_tokens: raise it") from None
        raise
    answer = parsed.value
    dropped = [
        f"dropped {key!r}: a property not in the schema" for key in answer if key not in spec.names
    ]
    pending: list[tuple[str, FieldSpec, Any, str | None, tuple[int, int] | None]] = []
    values: dict[str, Any] = {}
    for field in spec.fields:
        raw = answer.get(field.name)
        value, problem = check_value(field, raw)
        if field.name not in answer:
            problem = "the model gave no value"
        values[field.name] = value
        pending.append((field.name, field, value, problem, parsed.positions.get(field.name)))
    for item in spec.items:
        rows = answer.get(item.name)
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            pending.append(
                (item.name, FieldSpec(item.name, "string"), None, "expected a list", None)
            )
            values[item.name] = []
            continue
        values[item.name] = []
        for index, row in enumerate(rows):
            row = row if isinstance(row, dict) else {}
            checked: dict[str, Any] = {}
            for field in item.fields:
                path = f"{item.name}[{index}].{field.name}"
                value, problem = check_value(field, row.get(field.name))
                checked[field.name] = value
                pending.append((path, field, value, problem, parsed.positions.get(path)))
            values[item.name].append(checked)
    results = _judge(doc, reply, pending, calibrator, cut)
    return results, values, dropped


def _judge(
    doc: Document,
    reply: Reply,
    pending: Sequence[tuple[str, FieldSpec, Any, str | None, tuple[int, int] | None]],
    calibrator: Calibrator,
    cut: float,
) -> dict[str, FieldResult]:
    judged = [(path, f, v, p, where) for path, f, v, p, where in pending if v is not None]
    evidence = []
    groundings = []
    for _, field, value, _, where in judged:
        grounding = ground(doc, field.kind, value)
        logprobs = value_logprobs(reply.tokens, reply.text, where) if where else []
        groundings.append(grounding)
        evidence.append(field_evidence(doc, field.kind, value, grounding, logprobs))
    confidences = calibrator.predict(evidence) if evidence else np.zeros(0)
    results: dict[str, FieldResult] = {}
    judged_at = {path: i for i, (path, *_rest) in enumerate(judged)}
    for path, field, value, problem, _ in pending:
        if path not in judged_at:
            reason = problem or "no value in the document, says the model"
            results[path] = FieldResult(
                None, None, problem is not None or not field.nullable, reasons=(reason,)
            )
            continue
        i = judged_at[path]
        grounding, confidence = groundings[i], float(confidences[i])
        reasons: list[str] = []
        if field.kind == "boolean":
            pass
        elif not grounding.found:
            reasons.append("not found in the document")
        elif not grounding.exact and grounding.similarity >= 0.995:
            reasons.append("found only inside longer words")
        elif not grounding.exact:
            reasons.append(f"found only approximately (similarity {grounding.similarity:.2f})")
        if evidence[i]["words_marked"]:
            reasons.append("rests on marked words")
        if confidence < cut:
            reasons.append(f"confidence {confidence:.2f} below {cut:.2f}")
        results[path] = FieldResult(
            value,
            confidence,
            confidence < cut,
            grounding.span_ids,
            tuple(reasons),
            evidence[i],
        )
    return results


def _merge(
    spec: SchemaSpec, answers: list[tuple[dict[str, FieldResult], dict[str, Any]]]
) -> tuple[dict[str, FieldResult], dict[str, Any]]:
    """One answer from the parts' answers: per scalar field the value it is surest of, the
    line items of every part in order."""
    if len(answers) == 1:
        return answers[0]
    fields: dict[str, FieldResult] = {}
    values: dict[str, Any] = {}
    for field in spec.fields:
        best = max(answers, key=lambda answer: _surety(answer[0][field.name]))
        fields[field.name] = best[0][field.name]
        values[field.name] = best[1][field.name]
    for item in spec.items:
        values[item.name] = []
        for results, answer in answers:
            offset = len(values[item.name])
            for index, row in enumerate(answer[item.name]):
                values[item.name].append(row)
                for sub in item.fields:
                    old = f"{item.name}[{index}].{sub.name}"
                    if old in results:
                        fields[f"{item.name}[{offset + index}].{sub.name}"] = results[old]
            if item.name in results:
                fields.setdefault(item.name, results[item.name])
    return fields, values


def _surety(result: FieldResult) -> float:
    return -1.0 if result.confidence is None else result.confidence


def _build(spec: SchemaSpec, values: dict[str, Any]) -> tuple[Any, str | None]:
    """The value as the schema's pydantic model (or the dict), and why it did not validate."""
    if spec.model_class is None:
        return values, None
    from pydantic import ValidationError

    try:
        return spec.model_class.model_validate(values), None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        name = spec.model_class.__name__
        return None, f"the values do not validate against {name}: {where}: {first.get('msg')}"

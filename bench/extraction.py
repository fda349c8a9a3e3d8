"""Field extraction with calibrated field confidence, on real receipts and forms.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/extraction.py [--base-url URL --model NAME]
        [--split eval] [--forms 12] [--fit [--write]] [--collect-only] [--resamples 1000]

Data (beside the repository, see the corpus README): SROIE receipts with their key fields
(`NAME.key.json`: company, date, address, total) and FUNSD forms, whose question-to-answer
links give "what is filled in for <question>?" fields (at most `MAX_PAIRS` per form, the
first `--forms` forms of a split). Pages come from the OCR cache of `bench/ocr_corpus.py`
(Tesseract alone, and cross-checked by RapidOCR in selective mode where its readings are
cached); answers from the model are cached by request under `CACHE/extraction/`, so a
refitted field calibrator is measured again without asking the model again.

A value is right when it matches the key: company, address and form answers ignoring case,
spacing and punctuation; a date as the same day; a total as the same amount.

`--fit` chooses the field calibrator's evidence by 5-fold cross-validation grouped by
document on the fit split (the mean of the per-kind and the pooled out-of-fold AUROC; within
0.005 of the best, the lowest ECE), sets the
review threshold so that the out-of-fold share sent to review equals the fit error rate,
and with `--write` saves it as `uncertain/calibration/fields.json`. Nothing in the fit reads
`eval/`.

The report (default `--split eval`) prints per field kind and reading: fields, accuracy,
AUROC of the field confidence for right against wrong beside two peers (the model's own mean
token probability for the value; the mean calibrated OCR confidence of the value's words),
ECE, and at the default threshold and at a review share equal to the error rate (1x): the
share sent to review and the wrong fields that pass silently per 100 fields. Intervals: 95%
bootstrap over documents.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from _common import CACHE, CALIBRATION, intervals, with_interval
from ocr_corpus import DEFAULT_CACHE, Item, cross_checked, items, rapid_readings, tesseract_doc

from uncertain.document import Document
from uncertain.evaluate import auroc, expected_calibration_error
from uncertain.extraction import (
    EVIDENCE,
    Constraint,
    extract_document,
    fit_field_calibrator,
    load_field_calibrator,
    review_threshold,
)
from uncertain.extraction.grounding import normalize
from uncertain.extraction.schema import parse_amount, parse_date
from uncertain.fusion import fuse

MAX_PAIRS = 4
ANSWERS = CACHE / "extraction"
TARGETS = {"auroc": 0.90, "ece": 0.05, "silent_1x": 3.0}
TIE = 0.005

RECEIPT_SCHEMA: dict[str, Any] = {
    "title": "receipt",
    "type": "object",
    "properties": {
        "company": {
            "type": "string",
            "description": "the name of the company that issued the receipt, in full",
        },
        "date": {"type": "string", "format": "date", "description": "the date of the receipt"},
        "address": {
            "type": "string",
            "description": "the company's full address, all its lines, as printed",
        },
        "total": {"type": "number", "description": "the total amount paid"},
    },
}
RECEIPT_COMPARE = {"company": "text", "date": "date", "address": "text", "total": "amount"}


@dataclass
class Record:
    """One document to extract from: its page, schema, and the right value per field."""

    item: Item
    schema: dict[str, Any]
    truth: dict[str, str]
    compare: dict[str, str]
    kinds: dict[str, str]  # field -> the kind reported (company, ..., form answer)


@dataclass
class Field:
    """One extracted field, judged."""

    doc: str
    kind: str
    reading: str
    right: bool
    confidence: float  # 0 where the model gave no value
    evidence: dict[str, float] = field(default_factory=dict)

    @property
    def model_probability(self) -> float:
        e = self.evidence
        return math.exp(e["model_mean_logprob"]) if e.get("has_logprobs") else 0.0

    @property
    def ocr_confidence(self) -> float:
        e = self.evidence
        return 1 / (1 + math.exp(-e["words_mean_logit"])) if e.get("grounded") else 0.0


def receipts(split: str) -> list[Record]:
    out = []
    for item in items(split, ["receipts"]):
        key = item.path.with_suffix(".key.json")
        if key.is_file():
            truth = json.loads(key.read_text(encoding="utf-8"))
            kinds = {name: name for name in RECEIPT_COMPARE}
            out.append(Record(item, RECEIPT_SCHEMA, truth, RECEIPT_COMPARE, kinds))
    return out


def forms(split: str, limit: int) -> list[Record]:
    out = []
    for item in items(split, ["forms"]):
        labels = item.path.with_suffix(".json")
        if len(out) >= limit or not labels.is_file():
            continue
        entities = json.loads(labels.read_text(encoding="utf-8"))["form"]
        by_id = {e["id"]: e for e in entities}
        pairs: dict[str, str] = {}
        for entity in entities:
            question = " ".join(entity["text"].split())
            if entity["label"] != "question" or not normalize(question) or question in pairs:
                continue
            for a, b in entity["linking"]:
                answer = by_id.get(b)
                if a == entity["id"] and answer and answer["label"] == "answer":
                    text = " ".join(answer["text"].split())
                    if normalize(text) and len(text) <= 80:
                        pairs[question] = text
                        break
            if len(pairs) == MAX_PAIRS:
                break
        if not pairs:
            continue
        properties = {
            f"answer_{n}": {
                "type": "string",
                "description": f"what is filled in for {question!r}",
            }
            for n, question in enumerate(pairs, 1)
        }
        schema = {"title": "form", "type": "object", "properties": properties}
        truth = {f"answer_{n}": answer for n, answer in enumerate(pairs.values(), 1)}
        compare = dict.fromkeys(truth, "text")
        out.append(Record(item, schema, truth, compare, dict.fromkeys(truth, "form answer")))
    return out


def is_right(value: Any, truth: str, how: str) -> bool:
    """Whether an extracted value matches the key (see the module's docstring)."""
    if value is None:
        return False
    if how == "date":
        day = parse_date(str(truth))
        return day is not None and str(value) == day.isoformat()
    if how == "amount":
        amount = parse_amount(str(truth))
        return (
            amount is not None and isinstance(value, (int, float)) and abs(value - amount) < 0.005
        )
    return normalize(str(value)) == normalize(truth)


class NotCached(Exception):
    """An answer that `--cached-only` would have had to ask the model for."""


class CachedClient:
    """An `openai.OpenAI` client whose answers are kept on disk by request, so that a report
    never asks the model twice for the same request."""

    def __init__(self, base_url: str, folder: Path, timeout: float, offline: bool = False) -> None:
        import openai

        self.inner = openai.OpenAI(
            api_key="not-needed", base_url=base_url, timeout=timeout, max_retries=0
        )
        self.base_url = base_url
        self.api_key = "not-needed"
        self.folder = folder
        self.asked = 0
        self.offline = offline
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **request: Any) -> Any:
        import httpx
        import openai
        from openai.types.chat import ChatCompletion

        key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:32]
        target = self.folder / f"{key}.json"
        if target.is_file():
            kept = json.loads(target.read_text())
            if "refused" in kept:  # a request the server refused: refuse it again
                response = httpx.Response(kept["refused"], request=httpx.Request("POST", "/"))
                raise openai.APIStatusError(kept["message"], response=response, body=None)
            return ChatCompletion.model_validate(kept)
        if self.offline:
            raise NotCached(request.get("model", ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            answer = self.inner.chat.completions.create(**request)
        except openai.APIStatusError as error:
            if 400 <= error.status_code < 600:
                refused = {"refused": error.status_code, "message": error.message}
                target.write_text(json.dumps(refused))
            raise
        self.asked += 1
        target.write_text(answer.model_dump_json())
        return answer


def readings(item: Item) -> dict[str, Document]:
    """The page read by Tesseract alone, and cross-checked by RapidOCR where cached; fused."""
    tess = tesseract_doc(item, DEFAULT_CACHE)
    out = {"tesseract": fuse(tess)}
    rapid = rapid_readings(item, DEFAULT_CACHE)
    if rapid is not None:
        out["rapidocr"] = fuse(cross_checked(tess, rapid))
    return out


def collect(
    records: Sequence[Record],
    client: CachedClient,
    model: str,
    calibrator: Any,
    constrain: Constraint,
) -> list[Field]:
    out: list[Field] = []
    for record in records:
        started = time.monotonic()
        for reading, doc in readings(record.item).items():
            try:
                extraction = extract_document(
                    doc,
                    record.schema,
                    model=model,
                    client=client,
                    calibrator=calibrator,
                    constrain=constrain,
                )
            except NotCached:
                continue
            for name, truth in record.truth.items():
                result = extraction.fields.get(name)
                value = None if result is None else result.value
                confidence = (
                    0.0 if result is None or result.confidence is None else result.confidence
                )
                out.append(
                    Field(
                        record.item.key,
                        record.kinds[name],
                        reading,
                        is_right(value, truth, record.compare[name]),
                        confidence,
                        dict(result.evidence) if result is not None else {},
                    )
                )
        if client.asked:
            seconds = time.monotonic() - started
            print(
                f"  {record.item.split} {record.item.path.name}: {seconds:.0f} s", file=sys.stderr
            )
    return out


# -- fitting --------------------------------------------------------------------------------

CANDIDATES: dict[str, list[str]] = {
    "minimal": ["grounded", "words_min_logit", "model_mean_logprob"],
    "minimal+kind": [
        "grounded", "words_min_logit", "model_mean_logprob", "kind_number", "kind_date",
        "kind_string",
    ],
    "grounding+kind": [
        "grounded", "exact", "similarity", "words_min_logit", "words_marked", "kind_number",
        "kind_date", "kind_string", "repeated", "log_candidates",
    ],
    "grounding+kind+lines": [
        "grounded", "exact", "similarity", "words_min_logit", "words_marked", "kind_number",
        "kind_date", "kind_string", "repeated", "log_candidates", "line_share",
    ],
    "grounding+kind+lines+model": [
        "grounded", "exact", "similarity", "words_min_logit", "words_marked", "kind_number",
        "kind_date", "kind_string", "repeated", "log_candidates", "line_share",
        "model_mean_logprob", "model_min_logprob", "has_logprobs",
    ],
    "per-kind": [
        "grounded", "exact", "similarity", "words_marked", "kind_number", "kind_date",
        "kind_string", "repeated", "log_candidates", "line_share", "words_min_logit_number",
        "words_min_logit_date", "words_min_logit_string", "model_mean_logprob_number",
        "model_mean_logprob_date", "model_mean_logprob_string", "has_logprobs",
    ],
    "words+grounding": [
        "grounded", "exact", "similarity", "words_min_logit", "words_mean_logit", "words_marked",
    ],
    "words+grounding+model": [
        "grounded", "exact", "similarity", "words_min_logit", "words_mean_logit", "words_marked",
        "model_mean_logprob", "model_min_logprob", "has_logprobs",
    ],
    "all": list(EVIDENCE),
}  # fmt: skip


def out_of_fold(rows: Sequence[Field], features: list[str], folds: int = 5) -> np.ndarray:
    """Each field's confidence from a model fitted on the other folds (grouped by document)."""
    docs = sorted({r.doc for r in rows})
    fold_of = {d: n % folds for n, d in enumerate(docs)}
    predicted = np.zeros(len(rows))
    judged = [i for i, r in enumerate(rows) if r.evidence]
    for fold in range(folds):
        train = [i for i in judged if fold_of[rows[i].doc] != fold]
        test = [i for i in judged if fold_of[rows[i].doc] == fold]
        if not test:
            continue
        model = fit_field_calibrator(
            [rows[i].evidence for i in train], [rows[i].right for i in train], features=features
        )
        predicted[test] = model.predict([rows[i].evidence for i in test])
    return predicted


def choose(rows: Sequence[Field], write: bool) -> None:
    kinds = sorted({r.kind for r in rows})
    right = np.array([r.right for r in rows])
    scored: list[tuple[bool, float, str, np.ndarray]] = []
    for name, features in CANDIDATES.items():
        predicted = out_of_fold(rows, features)
        scores = [
            auroc(predicted[[r.kind == k for r in rows]], right[[r.kind == k for r in rows]])
            for k in kinds
        ]
        mean = float(np.nanmean(scores))
        ece = expected_calibration_error(predicted, right)
        pooled = auroc(predicted, right)
        print(
            f"  {name:24s} CV AUROC mean over kinds {mean:.3f}, pooled {pooled:.3f}, ECE {ece:.3f}"
        )
        # A field is judged among its kind, and the review threshold acts on all fields
        # together: both rankings count.
        scored.append(((mean + pooled) / 2, ece, name, predicted))
    top = max(c[0] for c in scored)
    # Within TIE of the best ranking, the better calibrated one.
    score, _, name, predicted = min((c for c in scored if c[0] >= top - TIE), key=lambda c: c[1])
    error_rate = 1 - right.mean()
    threshold = review_threshold(predicted, right)
    print(
        f"chosen: {name} (CV AUROC {score:.3f}); fit error rate {error_rate:.3f}, "
        f"review threshold {threshold:.3f}"
    )
    documents = len({r.doc for r in rows})
    about = (
        f"fitted by bench/extraction.py --fit on {documents} documents of the corpus fit split "
        f"(receipts and forms), {len(rows)} fields read by Tesseract alone and cross-checked, "
        f"{int((~right).sum())} wrong; chosen: {name}, 5-fold CV AUROC {score:.3f}"
    )
    calibrator = fit_field_calibrator(
        [r.evidence for r in rows if r.evidence],
        [r.right for r in rows if r.evidence],
        features=CANDIDATES[name],
        threshold=round(threshold, 3),
        metadata={"corpus": about},
    )
    if write:
        target = calibrator.save(CALIBRATION / "fields.json")
        print(f"wrote {target}")


# -- report ---------------------------------------------------------------------------------


def report(rows: Sequence[Field], threshold: float, resamples: int) -> None:
    groups = [*sorted({r.kind for r in rows}), "all"]
    for reading in sorted({r.reading for r in rows}):
        print(f"\n== reading: {reading} (threshold {threshold:.3f}) ==")
        for kind in groups:
            chosen = [r for r in rows if r.reading == reading and (kind == "all" or r.kind == kind)]
            if chosen:
                _report_kind(kind, chosen, threshold, resamples)


def _figures(rows: Sequence[Field], threshold: float) -> dict[str, float]:
    right = np.array([r.right for r in rows])
    confidence = np.array([r.confidence for r in rows])
    wrong = ~right
    n = len(rows)
    review = confidence < threshold
    # 1x: send to review as many fields as are wrong, the least confident first.
    order = np.argsort(confidence, kind="stable")
    at_1x = np.zeros(n, dtype=bool)
    at_1x[order[: int(wrong.sum())]] = True
    return {
        "accuracy": float(right.mean()),
        "auroc": auroc(confidence, right),
        "model peer": auroc(np.array([r.model_probability for r in rows]), right),
        "ocr peer": auroc(np.array([r.ocr_confidence for r in rows]), right),
        "ece": expected_calibration_error(confidence, right),
        "review": float(review.mean()),
        "silent": 100 * float((wrong & ~review).sum()) / n,
        "silent_1x": 100 * float((wrong & ~at_1x).sum()) / n,
    }


def _report_kind(kind: str, rows: Sequence[Field], threshold: float, resamples: int) -> None:
    docs = sorted({r.doc for r in rows})
    by_doc = [[r for r in rows if r.doc == d] for d in docs]
    point = _figures(rows, threshold)

    def sample(drawn: np.ndarray) -> list[Field]:
        return [r for i in drawn for r in by_doc[i]]

    def safe(name: str) -> Any:
        def figure(picked: list[Field]) -> float:
            if len({r.right for r in picked}) < 2 and name in ("auroc", "model peer", "ocr peer"):
                return math.nan
            return _figures(picked, threshold)[name]

        return figure

    spread = intervals(len(docs), sample, {k: safe(k) for k in point}, resamples=resamples)
    wrong = sum(not r.right for r in rows)
    print(f"{kind}: {len(rows)} fields in {len(docs)} documents, {wrong} wrong")
    for name, value in point.items():
        low, high = spread[name]
        spec = ".1f" if name.startswith("silent") else ".3f"
        line = f"  {name:12s} {with_interval(value, low, high, spec)}"
        if name in TARGETS:
            target = TARGETS[name]
            met = value <= target if name in ("ece", "silent_1x") else value >= target
            sign = "<=" if name in ("ece", "silent_1x") else ">="
            line += f"   target {sign} {target:g}: {'met' if met else 'missed'}"
        if name == "auroc":
            better = low > max(spread["model peer"][1], spread["ocr peer"][1])
            line += f"; beyond both peers' intervals: {'yes' if better else 'no'}"
        print(line)


@contextlib.contextmanager
def endpoint(base_url: str | None, threads: int) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    from downstream import local_server

    with local_server(threads) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: the test model)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--split", default="eval", choices=["fit", "eval"])
    parser.add_argument("--forms", type=int, default=12, help="forms per split")
    parser.add_argument("--kinds", default="receipts,forms")
    parser.add_argument("--fit", action="store_true", help="choose the calibrator on fit/")
    parser.add_argument("--write", action="store_true", help="save it (with --fit)")
    parser.add_argument("--collect-only", action="store_true", help="only ask and cache")
    parser.add_argument("--calibration", type=Path, help="a field calibrator to report")
    parser.add_argument(
        "--cached-only", action="store_true", help="only the documents whose answers are cached"
    )
    parser.add_argument("--constrain", choices=["auto", "json_schema", "json_object", "none"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    kinds = args.kinds.split(",")
    split = "fit" if args.fit else args.split
    records = (receipts(split) if "receipts" in kinds else []) + (
        forms(split, args.forms) if "forms" in kinds else []
    )
    if not records:
        print(f"no {split} documents: is the corpus beside the repository?", file=sys.stderr)
        return 2
    calibrator = load_field_calibrator(args.calibration or CALIBRATION / "fields.json")
    folder = ANSWERS / args.model
    # The test model's server (llama-cpp-python) holds output to a schema with `json_object`
    # and a `schema`, and refuses `json_schema`; another server is left to `auto`.
    constrain: Constraint = args.constrain or ("auto" if args.base_url else "json_object")
    print(f"{len(records)} {split} documents ({', '.join(kinds)}), model {args.model}")
    if args.cached_only:
        client = CachedClient(args.base_url or "http://127.0.0.1:9/v1", folder, 1.0, offline=True)
        rows = collect(records, client, args.model, calibrator, constrain)
    else:
        with endpoint(args.base_url, args.threads) as url:
            client = CachedClient(url, folder, args.timeout)
            rows = collect(records, client, args.model, calibrator, constrain)
    print(f"asked the model {client.asked} times (the rest from the cache)")
    if args.collect_only:
        return 0
    if args.fit:
        choose(rows, args.write)
        return 0
    report(rows, calibrator.threshold, args.resamples)
    return 0


if __name__ == "__main__":
    sys.exit(main())

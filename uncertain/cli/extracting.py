"""`uncertain extract` (a schema's fields from each file, as JSON lines or files) and
`uncertain calibrate-fields` (a field calibrator fitted on the user's labelled fields).

Both are registered on the one Typer app of `commands`; exit status and per-file errors are
those of `transcribe`: a bad file, or an endpoint that fails for it, is one line naming the
file and the batch goes on; a bad schema or calibrator is a usage error before any file is
read.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from uncertain._files import atomic_write_text
from uncertain.cli.commands import _check_output_folder, app
from uncertain.cli.inputs import (
    INPUT_TIMEOUT,
    STDIN,
    iter_inputs,
    output_stems,
    read_stream,
    streamed,
)
from uncertain.cli.progress import BatchProgress
from uncertain.cli.run import Run
from uncertain.errors import OutputError, UncertainError

if TYPE_CHECKING:
    from uncertain.document import Document
    from uncertain.extraction import Extraction
    from uncertain.fusion import Calibrator

__all__ = [
    "EXTRACT_FORMATS",
    "Extracting",
    "calibrate_fields",
    "extract",
    "extract_file",
    "read_labels",
]

EXTRACT_FORMATS = {"json": ".fields.json", "html": ".fields.html"}
"""`extract`'s output formats and the suffix of each one's file."""


@dataclass(frozen=True)
class Extracting:
    """What `extract` does with each input: how it is read, what is asked, where it goes."""

    read_options: dict[str, Any]
    """Keyword arguments of `uncertain.read`."""
    extract_options: dict[str, Any]
    """Keyword arguments of `extract_document` (all but the document)."""
    formats: list[str]
    out_dir: Path | None
    """None: JSON lines on standard output."""
    evidence: bool
    input_timeout: float


@app.command()
def extract(
    files: Annotated[
        list[Path],
        typer.Argument(
            readable=False,
            help="Images, PDFs, audio or video, document JSONs written by uncertain, folders, "
            "or - for stdin.",
        ),
    ],
    schema: Annotated[
        Path,
        typer.Option(
            readable=False,
            help="JSON Schema of the fields: a flat object of strings, numbers, integers, "
            "booleans and dates (format date), and lists of such objects for line items.",
        ),
    ],
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")],
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 "
            "(default: OPENAI_BASE_URL, else OpenAI; the key comes from OPENAI_API_KEY)."
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Write NAME.fields.json (and NAME.fields.html) here instead of JSON lines "
            "on stdout.",
        ),
    ] = None,
    output_format: Annotated[
        list[str],
        typer.Option(
            "--output-format",
            "-f",
            help="json, or html (the report with the fields beside the page or transcript; "
            "needs -o); repeatable.",
        ),
    ] = ["json"],  # noqa: B006 - typer needs a literal default
    cross_check: Annotated[
        str | None,
        typer.Option(help="`rapidocr` to read scans a second time; a Whisper model for speech."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Spoken language (Whisper), or Tesseract languages like eng+deu."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fields below this probability need review (default: the calibrator's).",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            readable=False, help="Field calibrator JSON from `uncertain calibrate-fields`."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for each answer.")
    ] = 300.0,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence", help="Add each field's evidence (for labelling and calibrate-fields)."
        ),
    ] = False,
    input_timeout: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds stdin may take to send data."),
    ] = INPUT_TIMEOUT,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no summary on stderr.")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Extract a schema's fields from files, each with a calibrated confidence, the words it
    came from and whether a person should check it.

    Without -o: one JSON line per file on stdout ({"path", "fields": {NAME: {"value",
    "confidence", "needs_review", "span_ids", "reasons"}}, "needs_review", "error", "notes",
    "model"}). With -o DIR: DIR/NAME.fields.json, and DIR/NAME.fields.html with -f html.
    """
    run = Run(quiet, debug)
    formats = _formats(output_format, output_dir)
    try:
        raw_schema = _read_schema(schema)
        field_calibrator = None if calibration is None else _read_calibrator(calibration)
    except Refused as error:
        refuse(run, str(error))
    job = Extracting(
        read_options={"language": language, "cross_check": cross_check},
        extract_options={
            "schema": raw_schema,
            "model": model,
            "base_url": base_url,
            "calibrator": field_calibrator,
            "threshold": threshold,
            "timeout": timeout,
        },
        formats=formats,
        out_dir=output_dir,
        evidence=evidence,
        input_timeout=input_timeout,
    )
    if output_dir is not None:
        _check_output_folder(output_dir, run)
    inputs = list(iter_inputs(files, run, allow_special=None))
    with BatchProgress(run, len(inputs)) as progress:
        for index, (path, stem) in enumerate(zip(inputs, output_stems(inputs), strict=True)):
            left = len(inputs) - index - 1
            if not extract_file(path, stem, job, run, progress, left):
                break
    if not inputs and not run.failed:
        run.err.print("error: no files to extract from found", markup=False)
        raise typer.Exit(1)
    raise typer.Exit(1 if run.failed else 0)


def extract_file(
    path: Path, stem: str, job: Extracting, run: Run, progress: BatchProgress, left: int
) -> bool:
    """One input of a batch: read it (or load it, for a document JSON), extract its fields,
    print or write them (each file atomically), and report a failure in one line. Returns
    False when no later output could be written either (a full disk, standard output gone).
    """
    with run.one_file(path, left, progress.end_file) as outcome:
        source = _source(path, job.input_timeout)
        doc = _document(path, source, job, progress)
        from uncertain.extraction import extract_document

        extraction = extract_document(doc, **job.extract_options)
        data = extraction.to_dict(evidence=job.evidence)
        if job.out_dir is None:
            _print_line(json.dumps(data, ensure_ascii=False))
        else:
            _write(doc, data, path, stem, job)
        if not run.quiet:
            run.err.print(_summary(path, extraction), markup=False)
    return outcome.go_on


def _source(path: Path, timeout: float) -> Path | bytes:
    return read_stream(path, timeout) if streamed(path) else path


def _document(
    path: Path, source: Path | bytes, job: Extracting, progress: BatchProgress
) -> Document:
    from uncertain.api import read
    from uncertain.document import Document

    if isinstance(source, Path) and source.suffix.lower() == ".json":
        return Document.load(source)
    callback = progress.start_file(path, source)
    doc = read(source, **job.read_options, progress=callback)
    if isinstance(source, bytes):
        doc.source.path = str(path)
    return doc


def _print_line(line: str) -> None:
    try:
        typer.echo(line)
    except OSError as error:  # a closed pipe, > /dev/full
        raise OutputError(
            "standard output", f"cannot be written ({error.strerror})", errno=error.errno
        ) from None


def _write(doc: Document, data: dict[str, Any], path: Path, stem: str, job: Extracting) -> None:
    assert job.out_dir is not None
    for fmt in job.formats:
        target = job.out_dir / (stem + EXTRACT_FORMATS[fmt])
        if fmt == "json":
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        else:
            from uncertain.exporters import export_fields_html

            href = None
            if path != STDIN:
                href = os.path.relpath(path.resolve(), job.out_dir.resolve())
            text = export_fields_html(doc, data, media_href=href)
        atomic_write_text(target, text)


def _summary(path: Path, extraction: Extraction) -> str:
    review = extraction.review
    fields = len(extraction.fields)
    line = f"{path}: {fields} field{'s' * (fields != 1)}, {len(review)} to review"
    if review:
        line += f" ({', '.join(review[:6])}{', ...' if len(review) > 6 else ''})"
    if extraction.error:
        line += f"; {extraction.error}"
    return line


def _formats(values: list[str], output_dir: Path | None) -> list[str]:
    formats = list(dict.fromkeys(f for value in values for f in value.split(",") if f))
    unknown = [f for f in formats if f not in EXTRACT_FORMATS]
    if unknown or not formats:
        raise typer.BadParameter(
            f"unknown format {', '.join(unknown)}; choose json or html",
            param_hint="--output-format",
        )
    if output_dir is None and formats != ["json"]:
        raise typer.BadParameter(
            "html is written to a folder: add -o DIR", param_hint="--output-format"
        )
    return formats


class Refused(Exception):
    """A usage error found in a file the user named (a schema, a calibrator, labels): its
    message names the file, and the command exits 2 before doing any work."""


def refuse(run: Run, message: str) -> NoReturn:
    """Report a usage error in one line and exit 2."""
    run.err.print(f"error: {message}", markup=False)
    raise typer.Exit(2)


def _read_schema(path: Path) -> dict[str, Any]:
    """The JSON Schema in `path`, checked as `extract` will use it; `Refused` naming the
    file when it cannot be read or is not supported."""
    from uncertain.extraction import read_schema

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Refused(f"{path}: cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refused(f"{path}: not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise Refused(f"{path}: a JSON Schema is an object, not {type(raw).__name__}")
    try:
        read_schema(raw)
    except UncertainError as error:
        raise Refused(f"{path}: {error}") from None
    return raw


def _read_calibrator(path: Path) -> Calibrator:
    from uncertain.extraction import load_field_calibrator

    try:
        return load_field_calibrator(path)
    except (UncertainError, OSError, ValueError) as error:
        message = str(error)
        if not message.startswith(str(path)):
            message = f"{path}: {message}"
        raise Refused(message) from None


@app.command("calibrate-fields")
def calibrate_fields(
    labels: Annotated[
        Path,
        typer.Argument(
            readable=False,
            help='JSON lines: {"evidence": {...}, "right": true|false} per field, or '
            'lines written by `uncertain extract --evidence` with "right": true|false added '
            "to each field checked (fields without it are left out).",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the field calibrator JSON.")
    ],
    features: Annotated[
        str | None,
        typer.Option(
            help="Evidence names to fit on, comma-separated (default: the bundled calibrator's)."
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fields below this need review (default: the one that sends as many fields "
            "to review as were wrong).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Fit a field calibrator on your own labelled fields, for `extract --calibration`."""
    import numpy as np

    from uncertain.extraction import fit_field_calibrator, review_threshold

    run = Run(quiet=False, debug=debug)
    try:
        evidence, right = read_labels(labels)
    except Refused as error:
        refuse(run, str(error))
    names = None if features is None else [n.strip() for n in features.split(",") if n.strip()]
    wrong = right.count(False)
    try:
        calibrator = fit_field_calibrator(
            evidence,
            right,
            features=names,
            metadata={"fitted_on": f"{len(right)} labelled fields, {wrong} wrong"},
        )
    except UncertainError as error:
        refuse(run, f"{labels}: {error}")
    confidences = calibrator.predict(evidence)
    if threshold is None:
        threshold = review_threshold(confidences, right)
        chosen = "sends as many fields to review as were wrong"
    else:
        chosen = "as given"
    calibrator.threshold = threshold
    share = float(np.mean(confidences < threshold))
    try:
        calibrator.save(output)
    except UncertainError as error:
        run.fail(output, error)
        raise typer.Exit(1) from None
    typer.echo(
        f"field calibrator written to {output} (fitted on {len(right)} fields, {wrong} wrong; "
        f"threshold {threshold:.3f} {chosen}: {share:.0%} of these fields to review)"
    )


def read_labels(path: Path) -> tuple[list[dict[str, float]], list[bool]]:
    """Each labelled field's evidence and whether it was right, from a JSON lines file
    (either form `calibrate-fields` accepts); `Refused` naming the line for a bad one."""
    evidence: list[dict[str, float]] = []
    right: list[bool] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise Refused(f"{path}: cannot be read ({reason})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            for row, label in _labelled(json.loads(line)):
                evidence.append(row)
                right.append(label)
        except (json.JSONDecodeError, ValueError) as error:
            problem = "not JSON" if isinstance(error, json.JSONDecodeError) else str(error)
            raise Refused(f"{path}:{number}: {problem}") from None
    if not right:
        raise Refused(
            f'{path}: no labelled fields (add "right": true or false to the fields checked)'
        )
    return evidence, right


def _labelled(line: Any) -> Iterator[tuple[dict[str, float], bool]]:
    """The (evidence, right) pairs in one parsed line; ValueError saying what is wrong."""
    if not isinstance(line, dict):
        raise ValueError("expected a JSON object")
    if "fields" in line and "evidence" not in line:
        fields = line["fields"]
        if not isinstance(fields, dict):
            raise ValueError('"fields" is not an object')
        for name, field in fields.items():
            # Fields without a label, or without a value (nothing was calibrated), are left out.
            if isinstance(field, dict) and "right" in field and field.get("evidence") != {}:
                yield _pair(field, f"field {name!r}: ")
        return
    yield _pair(line, "")


def _pair(item: dict[str, Any], where: str) -> tuple[dict[str, float], bool]:
    label = item.get("right")
    if not isinstance(label, bool):
        raise ValueError(f'{where}"right" must be true or false')
    raw = item.get("evidence")
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f'{where}no "evidence" (write the lines with `extract --evidence`)')
    row: dict[str, float] = {}
    for key, value in raw.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{where}evidence {key!r} is not a number")
        row[str(key)] = float(value)
    return row, label

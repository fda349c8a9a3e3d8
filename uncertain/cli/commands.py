"""The commands of `uncertain`, one function each, and the per-file step of `transcribe`.

Exit status: 0 when every file succeeded, 1 when some failed, 2 for usage errors and when
no output can be written at all. A bad file is reported in one line and the batch goes on;
no traceback reaches the user unless `--debug` is given.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

from uncertain._files import ensure_output_folder
from uncertain.adapters import sniff
from uncertain.cli.inputs import (
    INPUT_TIMEOUT,
    STDIN,
    iter_inputs,
    output_stems,
    read_stream,
    streamed,
)
from uncertain.cli.progress import BatchProgress, TerminalView
from uncertain.cli.run import Run
from uncertain.errors import OutputError, UncertainError

if TYPE_CHECKING:
    from uncertain.document import Document
    from uncertain.evaluate import BoxReference
    from uncertain.render import MarksOption, Style

__all__ = [
    "Transcription",
    "app",
    "ask",
    "calibrate",
    "evaluate",
    "main",
    "render",
    "schema",
    "transcribe",
    "transcribe_file",
]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Speech and scanned documents to text that knows how sure it is.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def transcribe(
    files: Annotated[
        list[Path],
        typer.Argument(
            readable=False, help="Audio, video, image or PDF files, folders, or - for stdin."
        ),
    ],
    model: Annotated[
        str, typer.Option(help="Whisper model: tiny.en (bundled), base, a name or a folder.")
    ] = "tiny.en",
    language: Annotated[
        str | None,
        typer.Option(help="Spoken language (Whisper), or Tesseract languages like eng+deu."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Folder for output files.")
    ] = None,
    output_format: Annotated[
        list[str],
        typer.Option(
            "--output-format",
            "-f",
            help="text, json, jsonl, md, prompt, vtt, srt, hocr, alto, html, or all (repeatable).",
        ),
    ] = ["text"],  # noqa: B006 - typer needs a literal default
    threshold: Annotated[
        str | None,
        typer.Option(
            "--threshold",
            "--marks",
            help="Mark words below this probability, or a preset of the calibrator: review "
            "(default: at most twice the error rate), recall (90% of the errors), prompt "
            "(at most the error rate, for LLM prompts).",
        ),
    ] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibrator JSON from `uncertain calibrate`.")
    ] = None,
    cross_check: Annotated[
        str | None,
        typer.Option(
            help="Second Whisper model to cross-check speech with (e.g. base); `rapidocr` to "
            "read scans a second time with RapidOCR (extra rapidocr)."
        ),
    ] = None,
    cross_check_mode: Annotated[
        str,
        typer.Option(
            help="RapidOCR cross-check: `selective` (only lines with a weak word) or `full`."
        ),
    ] = "selective",
    alternatives: Annotated[
        int, typer.Option(min=0, help="N-best hypotheses for word alternatives.")
    ] = 0,
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve", help="Per word, take the reading most likely right (see `resolve`)."
        ),
    ] = False,
    seed: Annotated[
        int,
        typer.Option(
            min=0, help="Seed for Whisper windows that fall back to sampling (repeatable runs)."
        ),
    ] = 0,
    style: Annotated[str, typer.Option(help="Prompt style for -f prompt.")] = "inline",
    dpi: Annotated[
        int, typer.Option(min=50, max=1200, help="Resolution for rendering PDF pages.")
    ] = 300,
    skip_existing: Annotated[
        bool, typer.Option(help="Skip inputs whose outputs all exist.")
    ] = False,
    allow_special: Annotated[
        bool,
        typer.Option(help="Read named pipes and devices named on the command line."),
    ] = False,
    input_timeout: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds stdin, a pipe or a device may take to send data."),
    ] = INPUT_TIMEOUT,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No terminal view, no progress.")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Transcribe files into annotated output: each word with how sure it is."""
    run = Run(quiet, debug)
    _check_cross_check_mode(cross_check_mode)
    formats = _output_formats(output_format)
    cut = _marks_value(threshold, "--threshold")
    job = Transcription(
        read_options={
            "model": model,
            "language": language,
            "device": device,
            "alternatives": alternatives,
            "cross_check": cross_check,
            "cross_check_mode": cross_check_mode,
            "calibration": calibration,
            "threshold": cut,
            "dpi": dpi,
            "seed": seed,
        },
        resolve=resolve,
        formats=formats,
        out_dir=output_dir or Path("."),
        write_files=output_dir is not None or formats != ["text"],
        skip_existing=skip_existing,
        style=style,
        input_timeout=input_timeout,
    )
    if job.write_files:
        _check_output_folder(job.out_dir, run)
    inputs = list(iter_inputs(files, run, allow_special))
    # The view marks what fuse marked; a probability also shows in its legend.
    view = (
        None if quiet else TerminalView(run, len(inputs), cut if isinstance(cut, float) else None)
    )
    with BatchProgress(run, len(inputs)) as progress:
        for index, (path, stem) in enumerate(zip(inputs, output_stems(inputs), strict=True)):
            left = len(inputs) - index - 1
            if not transcribe_file(path, stem, job, run, progress, view, left):
                break
    if view is not None:
        view.finish()
    if not inputs and not run.failed:
        run.err.print("error: no audio, video, image or PDF files found", markup=False)
        raise typer.Exit(1)
    raise typer.Exit(1 if run.failed else 0)


@dataclass(frozen=True)
class Transcription:
    """What `transcribe` does with each input: how it is read, and where its outputs go."""

    read_options: dict[str, Any]
    """Keyword arguments of `uncertain.read` (all but `progress`)."""
    resolve: bool
    formats: list[str]
    out_dir: Path
    write_files: bool
    """False for the terminal view alone (`-f text` without `-o`)."""
    skip_existing: bool
    style: str
    input_timeout: float


def transcribe_file(
    path: Path,
    stem: str,
    job: Transcription,
    run: Run,
    progress: BatchProgress,
    view: TerminalView | None,
    left: int,
) -> bool:
    """One input of a batch: read and fuse it, show its view, write each of its formats
    (each file atomically, named `stem` plus the format's suffix), and report a failure in
    one line. Returns False when no later input could be written either (a full disk,
    standard output gone): the batch stops there, with `left` inputs unread."""
    from uncertain import exporters
    from uncertain.api import read

    stream = streamed(path)
    if job.write_files and job.skip_existing and not stream and _written(path, stem, job):
        return True
    with run.one_file(path, left, progress.end_file) as outcome:
        source: Path | bytes = read_stream(path, job.input_timeout) if stream else path
        doc = read(source, **job.read_options, progress=progress.start_file(path, source))
        if stream:
            doc.source.path = str(path)
        if job.resolve:
            from uncertain.resolution import resolve as resolve_document

            doc = resolve_document(doc)
        if view is not None:
            view.show(path, doc)
        if job.write_files:
            media_href = (
                None if path == STDIN else os.path.relpath(path.resolve(), job.out_dir.resolve())
            )
            for fmt in exporters.expand_formats(job.formats, doc):
                exporters.write(doc, fmt, job.out_dir, stem, style=job.style, media_href=media_href)
    return outcome.go_on


def _check_output_folder(folder: Path, run: Run) -> None:
    """Before any work: when nothing can be written, say so once (exit 2), not once per file."""
    try:
        ensure_output_folder(folder)
    except OutputError as error:
        run.err.print(f"error: {error}", markup=False)
        raise typer.Exit(2) from None


def _output_formats(values: list[str]) -> list[str]:
    """The formats asked for (`-f a,b -f c` gives a, b, c); a usage error names unknown ones."""
    from uncertain import exporters

    formats = [f for value in values for f in value.split(",") if f]
    known = set(exporters.FORMATS) | {"all"}
    unknown = [f for f in formats if f not in known]
    if unknown:
        raise typer.BadParameter(
            f"unknown format {', '.join(unknown)}; choose from {', '.join(sorted(known))}",
            param_hint="--output-format",
        )
    return formats


def _written(path: Path, stem: str, job: Transcription) -> bool:
    """Whether every output this input would get exists already (`--skip-existing`)."""
    from uncertain import exporters

    return all(
        (job.out_dir / (stem + exporters.FORMATS[f].suffix)).exists()
        for f in _planned_formats(job.formats, path)
    )


def _planned_formats(formats: list[str], path: Path) -> list[str]:
    """Formats that `all` will produce for this input, judged by its content before reading."""
    from uncertain import exporters

    if "all" not in formats:
        return formats
    kind = sniff(path).kind
    return exporters.formats_for_kind(kind)


@app.command()
def render(
    document: Annotated[
        Path, typer.Argument(readable=False, help="A document JSON written by uncertain.")
    ],
    style: Annotated[
        str, typer.Option(help="inline, brackets, footnotes, json or plain.")
    ] = "inline",
    marks: Annotated[
        str | None,
        typer.Option(
            "--marks",
            "--threshold",
            help="Which marks: auto (the document's), none, a probability (every span below "
            "it), or a preset of the calibrator that fused the document: review, recall, "
            "prompt (fewest marks, for LLM prompts).",
        ),
    ] = None,
    alternatives: Annotated[int, typer.Option(min=0, help="Alternatives per mark.")] = 0,
    digits: Annotated[
        int | None,
        typer.Option(min=0, max=6, help="Show p, the probability a mark is right, to N decimals."),
    ] = None,
    ids: Annotated[bool, typer.Option(help="Show span ids in marks.")] = False,
    max_marks: Annotated[
        int | None, typer.Option(min=0, help="Keep only the least confident N marks.")
    ] = None,
    positions: Annotated[bool, typer.Option(help="Include times or page positions.")] = False,
    task: Annotated[
        str | None, typer.Option(help="Print chat messages (JSON) for this task instead of text.")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Render a document as prompt text that carries its uncertainty."""
    from uncertain.document import Document
    from uncertain.render import render as render_document
    from uncertain.render import to_messages

    run = Run(quiet=True, debug=debug)
    chosen = _marks_value(marks, "--marks", ("auto", "marks", "none"))
    try:
        doc = Document.load(document)
        options: dict[str, Any] = {
            "alternatives": alternatives,
            "digits": digits,
            "ids": ids,
            "max_marks": max_marks,
            "positions": positions,
        }
        if chosen is not None:
            options["marks"] = chosen
        if task is not None:
            messages = to_messages(doc, task, style=cast("Style", style), **options)
            typer.echo(json.dumps(messages, ensure_ascii=False, indent=2))
        else:
            typer.echo(render_document(doc, style=cast("Style", style), **options))
    except (UncertainError, ValueError) as error:
        run.fail(document, error)
        raise typer.Exit(1) from None


def _marks_value(value: str | None, option: str, words: tuple[str, ...] = ()) -> float | str | None:
    """A marks or threshold option: a probability, or one of `words` or the preset names; a
    usage error (exit 2) names the choices."""
    from uncertain.errors import UsageError, check_choice
    from uncertain.fusion.presets import PRESETS

    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            check_choice(option.lstrip("-"), value, (*words, *PRESETS))
        except UsageError as error:
            raise typer.BadParameter(f"{error} or a probability", param_hint=option) from None
        return value
    if not 0.0 <= number <= 1.0:
        raise typer.BadParameter(
            f"{value} is not a probability in 0..1 (nor one of {', '.join((*words, *PRESETS))})",
            param_hint=option,
        )
    return number


def _check_cross_check_mode(mode: str) -> None:
    if mode not in ("selective", "full"):
        raise typer.BadParameter(
            f"unknown mode {mode!r}; choose selective or full", param_hint="--cross-check-mode"
        )


@app.command()
def ask(
    source: Annotated[
        Path,
        typer.Argument(
            readable=False, help="A document JSON written by uncertain, or a file to read."
        ),
    ],
    question: Annotated[str, typer.Argument(help="What to ask about the document.")],
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")],
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 "
            "(default: OPENAI_BASE_URL, else OpenAI; the key comes from OPENAI_API_KEY)."
        ),
    ] = None,
    style: Annotated[
        str, typer.Option(help="Prompt style: inline, brackets, footnotes, json or plain.")
    ] = "inline",
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for the answer.")
    ] = 120.0,
    marks: Annotated[
        str,
        typer.Option(
            help="Marks in the prompt: auto (the document's), none, a probability, or a preset: "
            "prompt (fewest marks), review, recall."
        ),
    ] = "auto",
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Ask an LLM about a document; print the answer and the weak spots it rests on."""
    from uncertain.document import Document
    from uncertain.llm import ask as ask_model

    chosen = _marks_value(marks, "--marks", ("auto", "marks", "none"))
    run = Run(quiet=True, debug=debug)
    try:
        if source.suffix.lower() == ".json":
            doc = Document.load(source)
        else:
            from uncertain.api import read

            doc = read(source)
        answer = ask_model(
            doc,
            question,
            model=model,
            base_url=base_url,
            style=cast("Style", style),
            timeout=timeout,
            marks=cast("MarksOption", chosen),
        )
    except (UncertainError, ValueError) as error:
        run.fail(source, error)
        raise typer.Exit(1) from None
    typer.echo(answer.text)
    if answer.hits:
        typer.echo("\nrests on uncertain words:")
        for hit in answer.hits:
            typer.echo(f"  - {hit}")
    else:
        typer.echo("\nrests on no marked words")


def _documents_with_references(
    files: list[Path], refs: Path | None, run: Run, options: dict[str, Any]
) -> Iterator[tuple[Path, Document, str | BoxReference]]:
    """Each input read (or loaded, for .json documents) with its reference text."""
    from uncertain.api import read
    from uncertain.document import Document
    from uncertain.evaluate import find_box_reference, find_reference

    for path in iter_inputs(files, run):
        try:
            # Word boxes (FUNSD NAME.json) where the reference has them: its NAME.txt is not
            # in reading order.
            reference: str | BoxReference | None = find_box_reference(path, refs)
            if reference is None:
                reference = find_reference(path, refs).read_text(encoding="utf-8")
            doc = Document.load(path) if path.suffix == ".json" else read(path, **options)
            yield path, doc, reference
        except Exception as error:
            run.fail(path, error)


@app.command("eval")
def evaluate(
    files: Annotated[
        list[Path],
        typer.Argument(readable=False, help="Inputs (or document JSONs) with reference texts."),
    ],
    refs: Annotated[
        Path | None,
        typer.Option(
            help="Folder of references NAME.ref.txt or NAME.txt, or word boxes NAME.json "
            "(FUNSD; scored by place) (default: beside each file)."
        ),
    ] = None,
    model: Annotated[str, typer.Option(help="Whisper model.")] = "tiny.en",
    cross_check: Annotated[
        str | None, typer.Option(help="As for transcribe: a second model, or rapidocr.")
    ] = None,
    cross_check_mode: Annotated[
        str, typer.Option(help="RapidOCR cross-check: selective or full.")
    ] = "selective",
    calibration: Annotated[Path | None, typer.Option(help="Calibrator JSON to evaluate.")] = None,
    threshold: Annotated[
        str | None,
        typer.Option(help="Flag threshold: a probability, or a preset (review, recall, prompt)."),
    ] = None,
    diagram: Annotated[
        Path | None, typer.Option(help="Write a reliability diagram PNG here.")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Measure WER, AUROC, calibration error and flag rates against reference texts."""
    from uncertain.evaluate import evaluate as evaluate_pairs
    from uncertain.evaluate import labelled_signals, reliability_diagram

    run = Run(quiet=False, debug=debug)
    _check_cross_check_mode(cross_check_mode)
    cut = _marks_value(threshold, "--threshold")
    options = {
        "model": model,
        "calibration": calibration,
        "threshold": cut,
        "cross_check": cross_check,
        "cross_check_mode": cross_check_mode,
    }
    pairs = [
        (doc, reference)
        for _, doc, reference in _documents_with_references(files, refs, run, options)
    ]
    if pairs:
        try:
            # A preset flags by the marks fuse made with it; a probability flags below it.
            report = evaluate_pairs(pairs, threshold=cut if isinstance(cut, float) else None)
            typer.echo(str(report))
            if diagram is not None:
                _, labels, confidences = labelled_signals(pairs)
                reliability_diagram(confidences, labels, diagram)
                typer.echo(f"reliability diagram: {diagram}")
        except UncertainError as error:
            run.fail(diagram or "evaluation", error)
    raise typer.Exit(1 if run.failed or not pairs else 0)


@app.command()
def calibrate(
    files: Annotated[
        list[Path], typer.Argument(readable=False, help="Your inputs, each with a reference text.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the calibrator JSON.")
    ],
    refs: Annotated[
        Path | None, typer.Option(help="Folder of references (default: beside each file).")
    ] = None,
    model: Annotated[str, typer.Option(help="Whisper model the calibrator is for.")] = "tiny.en",
    kind: Annotated[
        str,
        typer.Option(
            help="logistic (several signals), boosted (trees over them; needs the fit "
            "extra) or isotonic (one signal)."
        ),
    ] = "logistic",
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Fit a calibrator on your own files and references."""
    from uncertain.evaluate import fit_calibrator

    run = Run(quiet=False, debug=debug)
    docs = [
        (doc, reference)
        for _, doc, reference in _documents_with_references(
            files, refs, run, {"model": model, "fuse": False}
        )
    ]
    if not docs:
        run.err.print("error: nothing to fit on", markup=False)
        raise typer.Exit(1)
    try:
        calibrator = fit_calibrator(docs, kind=kind)
        calibrator.save(output)
    except UncertainError as error:
        run.fail(output, error)
        raise typer.Exit(1) from None
    typer.echo(f"calibrator written to {output} (fitted on {len(docs)} files)")
    raise typer.Exit(1 if run.failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a document (the JSON contract)."""
    from uncertain.document import Document

    typer.echo(json.dumps(Document.model_json_schema(), indent=2))


def main() -> None:
    """Entry point of the `uncertain` command."""
    try:
        app()
    except KeyboardInterrupt:
        Console(stderr=True).print(
            "interrupted: outputs already written are complete", markup=False
        )
        sys.exit(130)

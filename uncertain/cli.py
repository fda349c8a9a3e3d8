"""The `uncertain` command line.

    uncertain transcribe FILES_OR_DIRS... [-f FORMAT] [-o DIR]   annotated transcripts
    uncertain render DOC.json --style inline                      a document as prompt text
    uncertain ask FILE_OR_JSON "question" --model NAME            ask an LLM, see weak spots
    uncertain eval FILES --refs DIR                               how good the confidences are
    uncertain calibrate FILES --refs DIR -o my.json               fit a calibrator on your data
    uncertain schema                                              the JSON Schema of a document

Exit status: 0 when every file succeeded, 1 when some failed, 2 for usage errors and when
no output can be written at all. A bad file is reported in one line and the batch goes on;
no traceback reaches the user unless `--debug` is given.
"""

from __future__ import annotations

import json
import os
import select
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

from uncertain._files import NOTHING_MORE_FITS, ensure_output_folder, special_file_kind
from uncertain.adapters import sniff
from uncertain.errors import InputError, OutputError, UncertainError

if TYPE_CHECKING:
    from uncertain.api import CrossCheckMode, Device
    from uncertain.document import Document
    from uncertain.evaluate import BoxReference
    from uncertain.render import Style

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Speech and scanned documents to text that knows how sure it is.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

STDIN = Path("-")
# Seconds standard input or an allowed special file may take to send its first bytes, and
# may pause later, before it is given up on: nothing waits forever.
INPUT_TIMEOUT = 30.0


class Run:
    """What one command invocation needs to report files and keep going."""

    def __init__(self, quiet: bool, debug: bool) -> None:
        self.quiet = quiet
        self.debug = debug
        self.failed = 0
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def fail(self, name: str | Path, error: BaseException, also: str = "") -> None:
        """Report a file that failed, in one line (`also` appended as a last clause), and
        count it."""
        self.failed += 1
        if self.debug:
            self.err.print_exception()
        if isinstance(error, OutputError):
            message = str(error)  # names the output folder or file at fault
        elif isinstance(error, InputError) and error.source in (None, "<bytes>"):
            # Read from standard input or a pipe: name what the user gave, not "<bytes>".
            message = f"{name}: {error.problem}" + (f"; {error.hint}" if error.hint else "")
        elif isinstance(error, UncertainError):
            message = str(error)
            if not message.startswith(str(name)):
                message = f"{name}: {message}"
        else:
            message = (
                f"{name}: internal error ({type(error).__name__}: {error}); rerun with --debug"
            )
        self.err.print(f"error: {message}" + (f"; {also}" if also else ""), markup=False)

    def skip(self, name: str | Path, reason: str) -> None:
        """Report a file left out of a folder walk, in one line; the batch goes on."""
        self.err.print(f"skipped: {name}: {reason}", markup=False)


def _special_kind(path: Path) -> str | None:
    """What `path` is when it is a pipe, socket or device; None for files, folders, and paths
    that cannot be looked at (those are reported when read)."""
    try:
        return special_file_kind(os.stat(path).st_mode)
    except OSError:
        return None


def iter_inputs(paths: list[Path], run: Run, allow_special: bool | None = None) -> Iterator[Path]:
    """Files named, and media files found under folders named (each real folder once).

    Files named explicitly are yielded (a bad one is reported when read), except pipes,
    sockets and devices: reading those can wait forever, so they are reported unless
    `allow_special` (the command's `--allow-special`; None where a command has no such
    option). Files found while walking a folder are yielded only when they are regular files
    whose content is a supported medium: references and notes beside the recordings are
    skipped quietly, pipes, sockets and devices with a line saying so.
    """
    seen_dirs: set[str] = set()
    for path in paths:
        special = None if path == STDIN else _special_kind(path)
        if special is not None:
            if special == "socket":
                hint = "pipe its data into - instead"
            elif allow_special:
                yield path
                continue
            elif allow_special is None:
                hint = "copy it to a file first"
            else:
                hint = "pass --allow-special to read from it, or - for standard input"
            run.fail(path, InputError(path, f"is a {special}, not a regular file", hint))
            continue
        if path == STDIN or not path.is_dir():
            yield path
            continue
        for folder, dirs, files in os.walk(path, followlinks=True, onerror=None):
            real = os.path.realpath(folder)
            if real in seen_dirs:  # a symlink loop, or a folder reached twice
                dirs[:] = []
                continue
            seen_dirs.add(real)
            dirs.sort()
            for name in sorted(files):
                candidate = Path(folder) / name
                if name.startswith(".") or name.endswith((".part", ".ref.txt")):
                    continue
                special = _special_kind(candidate)
                if special is not None:
                    run.skip(candidate, f"is a {special}, not a regular file")
                    continue
                try:
                    sniff(candidate)
                except InputError as error:
                    if error.problem == "permission denied":
                        run.fail(candidate, error)
                    continue
                yield candidate


def output_stems(paths: list[Path]) -> list[str]:
    """Output names for a batch: each input's stem, made unique so that no output of one
    input overwrites another's (`a.wav` and `a.png` give `a.wav` and `a.png`; the same name
    in two folders gives `x` and `x-2`). The same inputs always get the same names."""
    plain = ["stdin" if p == STDIN else p.stem for p in paths]
    clashing = {stem for stem in plain if plain.count(stem) > 1}
    taken: set[str] = set()
    stems = []
    for path, stem in zip(paths, plain, strict=True):
        name = path.name if stem in clashing and path != STDIN else stem
        unique, number = name, 1
        while unique in taken:
            number += 1
            unique = f"{name}-{number}"
        taken.add(unique)
        stems.append(unique)
    return stems


def read_stream(path: Path, timeout: float) -> bytes:
    """All bytes of standard input (`-`) or of a pipe or device the user allowed.

    Waits at most `timeout` seconds for the first bytes and for each later pause, and stops
    as soon as the first bytes show an unsupported medium, so an endless device such as
    /dev/zero is not read to its end.
    """
    if path == STDIN:
        try:
            handle = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # a replaced stdin (tests, notebooks)
            return sys.stdin.buffer.read()
        if os.isatty(handle):
            raise InputError(
                "-", "standard input is a terminal", "pipe a file in: uncertain transcribe - < FILE"
            )
        return _read_handle(handle, "-", timeout)
    try:
        # Non-blocking: opening a pipe would otherwise wait for a writer, without a timeout.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise InputError(path, f"cannot be opened ({error.strerror})") from None
    try:
        return _read_handle(handle, str(path), timeout)
    finally:
        os.close(handle)


def _read_handle(handle: int, name: str, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # select() works on pipes only on POSIX; elsewhere a read simply waits.
        if os.name == "posix" and not select.select([handle], [], [], timeout)[0]:
            problem = (
                f"sent no data for {timeout:g} s after {size} bytes"
                if size
                else f"sent no data within {timeout:g} s"
            )
            raise InputError(
                name, problem, "check what writes to it, or allow more with --input-timeout"
            )
        try:
            chunk = os.read(handle, 1 << 20)
        except BlockingIOError:  # woken without data; wait again
            continue
        except OSError as error:
            raise InputError(name, f"cannot be read ({error.strerror})") from None
        if not chunk:
            return b"".join(chunks)
        if size < 64 <= size + len(chunk):
            try:
                sniff(b"".join(chunks) + chunk)
            except InputError as error:
                raise InputError(name, error.problem, error.hint) from None
        chunks.append(chunk)
        size += len(chunk)


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
        float | None, typer.Option(min=0.0, max=1.0, help="Mark spans below this probability.")
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
    from uncertain import exporters
    from uncertain.api import read

    run = Run(quiet, debug)
    _check_cross_check_mode(cross_check_mode)
    formats = [f for value in output_format for f in value.split(",") if f]
    known = set(exporters.FORMATS) | {"all"}
    unknown = [f for f in formats if f not in known]
    if unknown:
        raise typer.BadParameter(
            f"unknown format {', '.join(unknown)}; choose from {', '.join(sorted(known))}",
            param_hint="--output-format",
        )
    write_files = output_dir is not None or formats != ["text"]
    out_dir = output_dir or Path(".")
    if write_files:
        try:  # before any work: when nothing can be written, say so once, not once per file
            ensure_output_folder(out_dir)
        except OutputError as error:
            run.err.print(f"error: {error}", markup=False)
            raise typer.Exit(2) from None
    out = Console(highlight=False, soft_wrap=True)
    inputs = list(iter_inputs(files, run, allow_special))
    progress = BatchProgress(run, len(inputs))
    with progress:
        for index, (path, stem) in enumerate(zip(inputs, output_stems(inputs), strict=True)):
            streamed = path == STDIN or _special_kind(path) is not None
            try:
                if write_files and skip_existing and not streamed:
                    doc_formats = _planned_formats(formats, path)
                    if all(
                        (out_dir / (stem + exporters.FORMATS[f].suffix)).exists()
                        for f in doc_formats
                    ):
                        continue
                source: Path | bytes = read_stream(path, input_timeout) if streamed else path
                doc = read(
                    source,
                    model=model,
                    language=language,
                    device=cast("Device", device),
                    alternatives=alternatives,
                    cross_check=cross_check,
                    cross_check_mode=cast("CrossCheckMode", cross_check_mode),
                    calibration=calibration,
                    threshold=threshold,
                    dpi=dpi,
                    progress=progress.start_file(path, source),
                )
                if streamed:
                    doc.source.path = str(path)
                if resolve:
                    from uncertain.resolution import resolve as resolve_document

                    doc = resolve_document(doc)
                if not quiet:
                    try:
                        if len(inputs) > 1:
                            out.rule(str(path), style="dim")
                        exporters.print_terminal(doc, out, threshold=threshold)
                    except OSError as error:  # e.g. > /dev/full, or a closed pipe
                        raise OutputError(
                            "standard output",
                            f"cannot be written ({error.strerror})",
                            errno=error.errno,
                        ) from None
                if write_files:
                    media_href = (
                        None
                        if path == STDIN
                        else os.path.relpath(path.resolve(), out_dir.resolve())
                    )
                    for fmt in exporters.expand_formats(formats, doc):
                        exporters.write(doc, fmt, out_dir, stem, style=style, media_href=media_href)
            except KeyboardInterrupt:
                raise
            except OutputError as error:
                # No later output would fit either.
                if error.errno in NOTHING_MORE_FITS or error.target == "standard output":
                    left = len(inputs) - index - 1
                    unread = f"stopped with {left} more input{'s' * (left != 1)} unread"
                    run.fail(path, error, unread if left else "")
                    break
                run.fail(path, error)
            except Exception as error:  # one bad file never stops the batch
                run.fail(path, error)
            finally:
                progress.end_file()
    if not inputs and not run.failed:
        run.err.print("error: no audio, video, image or PDF files found", markup=False)
        raise typer.Exit(1)
    raise typer.Exit(1 if run.failed else 0)


def _planned_formats(formats: list[str], path: Path) -> list[str]:
    """Formats that `all` will produce for this input, judged by its content before reading."""
    from uncertain import exporters

    if "all" not in formats:
        return formats
    kind = sniff(path).kind
    return exporters.formats_for_kind(kind)


class BatchProgress:
    """Progress bars on standard error: files done in the batch (when there are several), and
    the current file by seconds decoded or pages read. Hidden with --quiet or when standard
    error is not a terminal."""

    def __init__(self, run: Run, files: int) -> None:
        self.bars: Any = None
        self.batch: Any = None
        self.current: Any = None
        if run.quiet or not run.err.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            console=run.err,
            transient=True,
        )
        if files > 1:
            self.batch = self.bars.add_task("files", total=files, unit="")
        self.current = self.bars.add_task("", total=None, unit="", visible=False)

    def __enter__(self) -> BatchProgress:
        if self.bars is not None:
            self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.__exit__(*exc)

    def start_file(
        self, path: Path, source: Path | bytes | None = None
    ) -> Callable[[float, float | None], None] | None:
        """Show `path` as the current file (read from `source` when given: the bytes read from
        standard input or a pipe); returns the callback the adapters report to."""
        if self.bars is None:
            return None
        kind = sniff(path if source is None else source).kind
        unit = "s" if kind in ("audio", "video") else "pages"
        self.bars.reset(self.current, description=path.name, total=None, unit=unit, visible=True)

        def report(done: float, total: float | None) -> None:
            self.bars.update(self.current, completed=done, total=total)

        return report

    def end_file(self) -> None:
        if self.bars is None:
            return
        self.bars.update(self.current, visible=False)
        if self.batch is not None:
            self.bars.advance(self.batch)


@app.command()
def render(
    document: Annotated[
        Path, typer.Argument(readable=False, help="A document JSON written by uncertain.")
    ],
    style: Annotated[
        str, typer.Option(help="inline, brackets, footnotes, json or plain.")
    ] = "inline",
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Mark every span below this instead of the marks."),
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
    try:
        doc = Document.load(document)
        options: dict[str, Any] = {
            "alternatives": alternatives,
            "digits": digits,
            "ids": ids,
            "max_marks": max_marks,
            "positions": positions,
        }
        if threshold is not None:
            options["marks"] = threshold
        if task is not None:
            messages = to_messages(doc, task, style=cast("Style", style), **options)
            typer.echo(json.dumps(messages, ensure_ascii=False, indent=2))
        else:
            typer.echo(render_document(doc, style=cast("Style", style), **options))
    except (UncertainError, ValueError) as error:
        run.fail(document, error)
        raise typer.Exit(1) from None


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
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Ask an LLM about a document; print the answer and the weak spots it rests on."""
    from uncertain.document import Document
    from uncertain.llm import ask as ask_model

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
def evaluate_command(
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
        float | None, typer.Option(min=0.0, max=1.0, help="Flag threshold.")
    ] = None,
    diagram: Annotated[
        Path | None, typer.Option(help="Write a reliability diagram PNG here.")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Measure WER, AUROC, calibration error and flag rates against reference texts."""
    from uncertain.evaluate import evaluate, labelled_signals, reliability_diagram

    run = Run(quiet=False, debug=debug)
    _check_cross_check_mode(cross_check_mode)
    options = {
        "model": model,
        "calibration": calibration,
        "threshold": threshold,
        "cross_check": cross_check,
        "cross_check_mode": cross_check_mode,
    }
    pairs = [
        (doc, reference)
        for _, doc, reference in _documents_with_references(files, refs, run, options)
    ]
    if pairs:
        try:
            report = evaluate(pairs, threshold=threshold)
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
        str, typer.Option(help="logistic (several signals) or isotonic (one signal).")
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

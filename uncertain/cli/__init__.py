"""The `uncertain` command line.

    uncertain transcribe FILES_OR_DIRS... [-f FORMAT] [-o DIR]   annotated transcripts
    uncertain render DOC.json --style inline                      a document as prompt text
    uncertain ask FILE_OR_JSON "question" --model NAME            ask an LLM, see weak spots
    uncertain extract FILES --schema S.json --model NAME          fields, each with confidence
    uncertain calibrate-fields LABELS.jsonl -o fields.json        fit a field calibrator
    uncertain eval FILES --refs DIR                               how good the confidences are
    uncertain calibrate FILES --refs DIR -o my.json               fit a calibrator on your data
    uncertain schema                                              the JSON Schema of a document

Exit status: 0 when every file succeeded, 1 when some failed, 2 for usage errors and when
no output can be written at all. A bad file is reported in one line and the batch goes on;
no traceback reaches the user unless `--debug` is given.

Modules: `inputs` (files, folders, standard input and pipes, output names), `progress`
(progress bars and the terminal view), `run` (reporting a failed file and counting it),
`commands` (the Typer app, one function per command, and `transcribe`'s per-file step),
`extracting` (`extract` and `calibrate-fields`, registered on the same app).
"""

from uncertain.cli.commands import (
    Transcription,
    app,
    ask,
    calibrate,
    evaluate,
    main,
    render,
    schema,
    transcribe,
    transcribe_file,
)
from uncertain.cli.extracting import calibrate_fields, extract, extract_file
from uncertain.cli.inputs import INPUT_TIMEOUT, STDIN, iter_inputs, output_stems, read_stream
from uncertain.cli.progress import BatchProgress, TerminalView
from uncertain.cli.run import Run

evaluate_command = evaluate  # the name `uncertain eval`'s function had before

__all__ = [
    "BatchProgress",
    "INPUT_TIMEOUT",
    "Run",
    "STDIN",
    "TerminalView",
    "Transcription",
    "app",
    "ask",
    "calibrate",
    "calibrate_fields",
    "evaluate",
    "evaluate_command",
    "extract",
    "extract_file",
    "iter_inputs",
    "main",
    "output_stems",
    "read_stream",
    "render",
    "schema",
    "transcribe",
    "transcribe_file",
]

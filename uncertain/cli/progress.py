"""What a batch shows on the terminal: progress bars on standard error, and each document's
coloured view on standard output with the legend once at the end of the run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from uncertain.adapters import sniff
from uncertain.cli.run import Run
from uncertain.errors import OutputError

if TYPE_CHECKING:
    from uncertain.document import Document

__all__ = ["BatchProgress", "TerminalView"]


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
        """Count the current file as done (read, skipped or failed)."""
        if self.bars is None:
            return
        self.bars.update(self.current, visible=False)
        if self.batch is not None:
            self.bars.advance(self.batch)


class TerminalView:
    """Each document's terminal view on standard output (under a rule naming its file when
    the batch has several), then one legend for them all (`finish`).

    Standard output that cannot be written (a full disk, a closed pipe) raises `OutputError`
    naming it from `show` (the batch reports it against the file and stops), and is reported
    by `finish`; after either, no legend is printed.
    """

    def __init__(self, run: Run, files: int, threshold: float | None) -> None:
        self.run = run
        self.out = Console(highlight=False, soft_wrap=True)
        self.files = files
        self.threshold = threshold
        self.shown = 0
        self.broken = False

    def show(self, path: Path, doc: Document) -> None:
        """Print the view of `doc`, read from `path`."""
        from uncertain.exporters.text import print_terminal

        with self._writing():
            if self.files > 1:
                self.out.rule(str(path), style="dim")
            print_terminal(doc, self.out, threshold=self.threshold, legend=False)
        self.shown += 1

    def finish(self) -> None:
        """Print the legend once, after the last view (none when no view was printed)."""
        from uncertain.exporters.text import print_legend

        if not self.shown or self.broken:
            return
        try:
            with self._writing():
                print_legend(self.out)
        except OutputError as error:
            self.run.fail("standard output", error)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:  # e.g. > /dev/full, or a closed pipe
            self.broken = True
            raise OutputError(
                "standard output", f"cannot be written ({error.strerror})", errno=error.errno
            ) from None

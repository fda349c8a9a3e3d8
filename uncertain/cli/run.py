"""One command invocation's reporting: a failed file in one line, a skipped one, the count,
and the rule that one bad input never stops a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from uncertain._files import NOTHING_MORE_FITS
from uncertain.errors import InputError, OutputError, UncertainError

__all__ = ["Outcome", "Run"]


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

    @contextmanager
    def one_file(self, name: str | Path, left: int, done: Callable[[], None]) -> Iterator[Outcome]:
        """The work on one input of a batch: any failure becomes one line and the batch goes
        on, except an output error after which nothing more could be written (a full disk,
        standard output gone), which ends the batch with `left` inputs unread: then
        `outcome.go_on` is False. `done` runs whatever happened (the progress display's end of
        the file)."""
        outcome = Outcome()
        try:
            yield outcome
        except KeyboardInterrupt:
            raise
        except OutputError as error:
            if error.errno in NOTHING_MORE_FITS or error.target == "standard output":
                unread = f"stopped with {left} more input{'s' * (left != 1)} unread"
                self.fail(name, error, unread if left else "")
                outcome.go_on = False
            else:
                self.fail(name, error)
        except Exception as error:  # one bad file, or one failed request, never stops the batch
            self.fail(name, error)
        finally:
            done()


class Outcome:
    """Whether a batch goes on after one input (`Run.one_file`)."""

    def __init__(self) -> None:
        self.go_on = True

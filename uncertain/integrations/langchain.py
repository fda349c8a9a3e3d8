"""LangChain: load audio, video, images and PDFs as `langchain_core` documents that keep doubt.

    from uncertain.integrations.langchain import UncertainLoader

    docs = UncertainLoader(["call.wav", "scan.png"], style="inline").load()
    docs[0].page_content                 # the prompt text, weak words marked
    docs[0].metadata["mean_confidence"]  # flat metadata: strings and numbers only
    Document.from_json(docs[0].metadata["uncertain_document"])  # every span, signal and mark

One `langchain_core.documents.Document` per file. `page_content` is the text rendered in
`style` (`inline`, `brackets`, `footnotes`, `json`, `plain`), or the plain transcript for
`style=None`. Metadata is flat (see `uncertain.integrations.document_metadata`) with the full
document as one JSON string under `uncertain_document`. A bad file raises `InputError`, or with
`on_error="skip"` is logged (logger `uncertain.integrations`) and left out; the skipped files and
their errors are kept in `loader.skipped`. Needs the `langchain` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uncertain.document import Document
from uncertain.errors import InputError, UsageError
from uncertain.integrations import (
    DOCUMENT_KEY,
    OnError,
    check_style,
    document_metadata,
    expand_paths,
    page_content,
    read_files,
    read_options,
)

if TYPE_CHECKING:
    from langchain_core.documents import Document as LCDocument

    from uncertain.render import Style

__all__ = ["DOCUMENT_KEY", "INSTALL_HINT", "UncertainLoader", "to_langchain"]

INSTALL_HINT = 'pip install "uncertain-ingest[langchain]"'

try:
    from langchain_core.document_loaders import BaseLoader as _BaseLoader
except ImportError:  # the loader still imports; using it names the extra to install

    class _BaseLoader:  # type: ignore[no-redef]
        def __init__(self) -> None:
            raise ImportError(f"UncertainLoader needs langchain-core: {INSTALL_HINT}")


def _lc_document_class() -> type[LCDocument]:
    try:
        from langchain_core.documents import Document as LCDocument
    except ImportError as error:
        raise ImportError(f"to_langchain needs langchain-core: {INSTALL_HINT}") from error
    return LCDocument


def to_langchain(
    doc: Document, style: Style | None = "inline", *, source: str | Path | None = None
) -> LCDocument:
    """`doc` as a LangChain document: rendered text, flat metadata, the full JSON under one key.

    `source` overrides the `source` metadata (default: the path the document was read from).
    """
    check_style(style)
    metadata = document_metadata(doc, style)
    if source is not None:
        metadata["source"] = str(source)
    return _lc_document_class()(page_content=page_content(doc, style), metadata=metadata)


class UncertainLoader(_BaseLoader):
    """A LangChain document loader for any file `uncertain.read` takes.

    Args:
        paths: one file or several, read in the order given.
        style: how `page_content` is rendered (`inline`, `brackets`, `footnotes`, `json`,
            `plain`), or None for the plain transcript.
        on_error: `raise` (default): a bad file raises `InputError`; `skip`: it is logged and
            left out, and recorded in `skipped`.
        options: passed to `uncertain.read` (`model`, `language`, `threshold`, `dpi`, ...).
    """

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        style: Style | None = "inline",
        on_error: OnError = "raise",
        **options: Any,
    ) -> None:
        super().__init__()
        check_style(style)
        if on_error not in ("raise", "skip"):
            raise UsageError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.paths = list(expand_paths(paths))
        self.style = style
        self.on_error: OnError = on_error
        self.options = read_options(options)
        self.skipped: list[tuple[Path, InputError]] = []

    def lazy_load(self) -> Iterator[LCDocument]:
        """Read the files one at a time, yielding one LangChain document per readable file."""
        self.skipped = []
        for path, doc in read_files(self.paths, self.options, self.on_error, self.skipped):
            yield to_langchain(doc, self.style, source=path)

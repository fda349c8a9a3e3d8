"""LlamaIndex: read audio, video, images and PDFs into `llama_index` documents that keep doubt.

    from uncertain.integrations.llamaindex import UncertainReader

    docs = UncertainReader(style="inline").load_data(["call.wav", "scan.png"])
    docs[0].text                           # the prompt text, weak words marked
    docs[0].metadata["marked_share"]       # flat metadata: strings and numbers only

It also plugs into `SimpleDirectoryReader(file_extractor={".wav": UncertainReader(), ...})`.

One `llama_index.core.schema.Document` per file. `text` is the document rendered in `style`, or
the plain transcript for `style=None`. Metadata is flat (see
`uncertain.integrations.document_metadata`); the full document is one JSON string under
`uncertain_document`, excluded from both the embedding text and the LLM's metadata view
(`excluded_embed_metadata_keys`, `excluded_llm_metadata_keys`), so it never bloats a prompt or
an embedding. A bad file raises `InputError`, or with `on_error="skip"` is logged (logger
`uncertain.integrations`) and left out, and recorded in `reader.skipped`. Needs the
`llamaindex` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    logger,
    page_content,
    read_files,
    read_options,
)

if TYPE_CHECKING:
    from llama_index.core.schema import Document as LIDocument

    from uncertain.render import Style

__all__ = ["DOCUMENT_KEY", "INSTALL_HINT", "UncertainReader", "to_llamaindex"]

INSTALL_HINT = 'pip install "uncertain-ingest[llamaindex]"'

try:
    from llama_index.core.readers.base import BaseReader as _BaseReader
except ImportError:  # the reader still imports; using it names the extra to install

    class _BaseReader:  # type: ignore[no-redef]
        def __init__(self) -> None:
            raise ImportError(f"UncertainReader needs llama-index-core: {INSTALL_HINT}")


def _li_document_class() -> type[LIDocument]:
    try:
        from llama_index.core.schema import Document as LIDocument
    except ImportError as error:
        raise ImportError(f"to_llamaindex needs llama-index-core: {INSTALL_HINT}") from error
    return LIDocument


def to_llamaindex(
    doc: Document,
    style: Style | None = "inline",
    *,
    source: str | Path | None = None,
    extra_info: Mapping[str, Any] | None = None,
) -> LIDocument:
    """`doc` as a LlamaIndex document: rendered text, flat metadata, the full JSON under one key.

    `source` overrides the `source` metadata (default: the path the document was read from);
    `extra_info` adds metadata (uncertain's own keys win on a clash). The full-JSON key is
    excluded from embeddings and from the metadata the LLM sees.
    """
    check_style(style)
    metadata: dict[str, Any] = dict(extra_info or {})
    metadata.update(document_metadata(doc, style))
    if source is not None:
        metadata["source"] = str(source)
    return _li_document_class()(
        text=page_content(doc, style),
        metadata=metadata,
        excluded_embed_metadata_keys=[DOCUMENT_KEY],
        excluded_llm_metadata_keys=[DOCUMENT_KEY],
    )


class UncertainReader(_BaseReader):
    """A LlamaIndex reader for any file `uncertain.read` takes.

    Args:
        style: how the text is rendered (`inline`, `brackets`, `footnotes`, `json`, `plain`),
            or None for the plain transcript.
        on_error: `raise` (default): a bad file raises `InputError`; `skip`: it is logged and
            left out, and recorded in `skipped`.
        options: passed to `uncertain.read` (`model`, `language`, `threshold`, `dpi`, ...).
    """

    def __init__(
        self, *, style: Style | None = "inline", on_error: OnError = "raise", **options: Any
    ) -> None:
        super().__init__()
        check_style(style)
        if on_error not in ("raise", "skip"):
            raise UsageError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.style = style
        self.on_error: OnError = on_error
        self.options = read_options(options)
        self.skipped: list[tuple[Path, InputError]] = []

    def lazy_load_data(
        self,
        file: str | Path | Iterable[str | Path] | None = None,
        extra_info: Mapping[str, Any] | None = None,
        *,
        file_paths: str | Path | Iterable[str | Path] | None = None,
        fs: Any = None,
    ) -> Iterator[LIDocument]:
        """Read `file` (one path or several) or `file_paths`, one document per readable file.

        `extra_info` is added to each document's metadata; `fs` (an fsspec file system, as
        `SimpleDirectoryReader` passes) is read through when given.
        """
        chosen = file if file is not None else file_paths
        if chosen is None:
            raise TypeError("pass file (a path or paths) or file_paths")
        self.skipped = []
        paths = list(expand_paths(chosen))
        if fs is not None:
            yield from self._load_through(fs, paths, extra_info)
            return
        for path, doc in read_files(paths, self.options, self.on_error, self.skipped):
            yield to_llamaindex(doc, self.style, source=path, extra_info=extra_info)

    def load_data(
        self,
        file: str | Path | Iterable[str | Path] | None = None,
        extra_info: Mapping[str, Any] | None = None,
        *,
        file_paths: str | Path | Iterable[str | Path] | None = None,
        fs: Any = None,
    ) -> list[LIDocument]:
        """All documents of `lazy_load_data`, as a list."""
        return list(self.lazy_load_data(file, extra_info, file_paths=file_paths, fs=fs))

    def _load_through(
        self, fs: Any, paths: list[Path], extra_info: Mapping[str, Any] | None
    ) -> Iterator[LIDocument]:
        from uncertain.api import read

        for path in paths:
            try:
                with fs.open(str(path), "rb") as stream:
                    data = stream.read()
                doc = read(data, **self.options)
            except (OSError, InputError) as error:
                problem = (
                    error
                    if isinstance(error, InputError)
                    else InputError(path, f"cannot read ({error})", "check the path")
                )
                if self.on_error == "raise":
                    raise problem from None
                logger.warning("skipped %s", problem)
                self.skipped.append((path, problem))
                continue
            yield to_llamaindex(doc, self.style, source=path, extra_info=extra_info)

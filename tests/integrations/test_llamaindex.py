"""UncertainReader and to_llamaindex against the real llama-index-core, on the samples."""

from __future__ import annotations

import shutil
from pathlib import Path

import fsspec
import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document as LIDocument
from llama_index.core.schema import MetadataMode

from uncertain.api import read
from uncertain.document import Document
from uncertain.errors import InputError
from uncertain.integrations import DOCUMENT_KEY
from uncertain.integrations.llamaindex import UncertainReader, to_llamaindex
from uncertain.render import render


def test_reader_gives_rendered_text_and_flat_metadata(samples_dir: Path) -> None:
    path = samples_dir / "synthetic_drug.wav"
    reader = UncertainReader()
    assert isinstance(reader, BaseReader)
    (doc,) = reader.load_data([path])
    expected = read(path)
    assert isinstance(doc, LIDocument)
    assert doc.text == render(expected, "inline")
    assert Document.from_json(doc.metadata[DOCUMENT_KEY]).to_json() == expected.to_json()
    assert doc.metadata["source"] == str(path)
    assert doc.metadata["word_count"] == len(expected.spans)
    assert all(isinstance(v, (str, int, float)) for v in doc.metadata.values())


def test_full_json_is_kept_out_of_embeddings_and_llm_metadata(drug_doc: Document) -> None:
    doc = to_llamaindex(drug_doc, style="footnotes")
    assert doc.text == render(drug_doc, "footnotes")
    assert DOCUMENT_KEY in doc.excluded_embed_metadata_keys
    assert DOCUMENT_KEY in doc.excluded_llm_metadata_keys
    for mode in (MetadataMode.LLM, MetadataMode.EMBED):
        content = doc.get_content(metadata_mode=mode)
        assert DOCUMENT_KEY not in content
        assert '"spans"' not in content
        assert "mean_confidence" in content
    assert DOCUMENT_KEY in doc.get_content(metadata_mode=MetadataMode.ALL)


def test_plugs_into_simple_directory_reader(samples_dir: Path, tmp_path: Path) -> None:
    shutil.copy(samples_dir / "jfk.wav", tmp_path / "jfk.wav")
    directory = SimpleDirectoryReader(
        input_dir=str(tmp_path), file_extractor={".wav": UncertainReader(style=None)}
    )
    (doc,) = directory.load_data()
    assert doc.text == read(tmp_path / "jfk.wav").text
    # SimpleDirectoryReader's own file metadata is kept beside uncertain's.
    assert doc.metadata["file_name"] == "jfk.wav"
    assert doc.metadata["engine"] == "faster-whisper"


def test_lazy_load_file_paths_and_fsspec(samples_dir: Path, jfk_doc: Document) -> None:
    reader = UncertainReader(style="plain")
    lazy = reader.lazy_load_data(file_paths=[samples_dir / "jfk.wav"])
    assert not isinstance(lazy, list)
    assert [d.text for d in lazy] == [jfk_doc.text]
    (through_fs,) = reader.load_data(samples_dir / "jfk.wav", fs=fsspec.filesystem("file"))
    assert through_fs.text == jfk_doc.text
    assert through_fs.metadata["source"] == str(samples_dir / "jfk.wav")
    with pytest.raises(TypeError, match="file"):
        reader.load_data()


def test_bad_files_raise_or_are_skipped(
    samples_dir: Path, corrupt_wav: Path, jfk_doc: Document
) -> None:
    with pytest.raises(InputError, match=r"corrupt\.wav"):
        UncertainReader().load_data([corrupt_wav])
    missing = samples_dir / "no-such-file.wav"
    skipping = UncertainReader(style=None, on_error="skip")
    docs = skipping.load_data([missing, corrupt_wav, samples_dir / "jfk.wav"])
    assert [d.text for d in docs] == [jfk_doc.text]
    assert [path for path, _ in skipping.skipped] == [missing, corrupt_wav]
    # Through a file system the same rules hold.
    fs = fsspec.filesystem("file")
    with pytest.raises(InputError, match="no-such-file"):
        UncertainReader().load_data([missing], fs=fs)
    assert skipping.load_data([missing, samples_dir / "jfk.wav"], fs=fs)[0].text == jfk_doc.text
    assert [path for path, _ in skipping.skipped] == [missing]
